"""The main job: the twin (or a plant) → ingest → store → daily decision cycle → summary.

``run_job`` is what ``gigaloop run`` calls. Each day the twin is a
:class:`~gigaloop.ingest.Source` read through :func:`~gigaloop.ingest.ingest`, exactly as a
connector's data would be; the decision modules then run on the store as of that day and
write what they produce (decisions, findings, change requests, alarms) through the same
path. The run folder holds ``store/`` (Parquet), ``truth/`` (the scenario's hidden truth,
read only by ``gigaloop score``), ``summary.json`` and ``report.html``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gigaloop import __version__
from gigaloop.customer.revenue import by_cohort
from gigaloop.errors import ConfigError, MissingExtraError
from gigaloop.ingest import Source, ingest
from gigaloop.loop import worker
from gigaloop.loop.contract import DecisionModule
from gigaloop.loop.cycle import DailyCycle
from gigaloop.loop.kpis import compute_kpis
from gigaloop.loop.records import changes_from_store, findings_from_store
from gigaloop.loop.score import TRUTH_PATH
from gigaloop.store import Store
from gigaloop.twin import Twin, TwinDay, load_scenario
from gigaloop.twin.ahead import TwinAhead
from gigaloop.web.report import write_report

if TYPE_CHECKING:
    from gigaloop.fleet.registry import Signer

#: Every decision module there is, by name: the class, as ``"module:Class"`` (the cycle
#: sorts them by their dependencies). Imported only when a run asks for it, so a run
#: without the loop loads no model library. Root cause, changes and impact share one
#: state: :func:`decision_modules` builds them together.
MODULES: dict[str, str] = {
    "rootcause": "gigaloop.loop.modules:RootCauseModule",
    "changes": "gigaloop.loop.modules:ChangeModule",
    "impact": "gigaloop.loop.modules:ImpactModule",
    "maintenance": "gigaloop.factory.maintenance:MaintenanceModule",
    "process_control": "gigaloop.factory.process_control:ProcessControlModule",
    "energy": "gigaloop.factory.energy:EnergyModule",
    "predictive_service": "gigaloop.customer.predictive_service:PredictiveServiceModule",
    "driving_model": "gigaloop.fleet.learning:LearningModule",
    "rollout": "gigaloop.fleet.rollout:RolloutModule",
    "cell_rollout": "gigaloop.fleet.cell_rollout:CellRolloutModule",
    "offers": "gigaloop.customer.offers:OffersModule",
    "insurance": "gigaloop.customer.premiums:InsuranceModule",
    "inspection": "gigaloop.factory.inspection.module:InspectionModule",
}
#: What ``gigaloop run`` runs unless told otherwise: every module. Process control stops
#: drifts in the plant before many vehicles fail; its alarms are findings the scorer
#: credits, and hypotheses root cause tests first (:mod:`gigaloop.loop.signals`).
#: How a day's rows reach the store: ``deliver(source, now)`` → results per table.
Deliver = Callable[[Source, datetime], dict[str, Any]]
DEFAULT_MODULES = ("rootcause", "changes", "impact", "maintenance", "predictive_service",
                   "energy", "process_control", "driving_model", "rollout", "cell_rollout",
                   "offers", "insurance")
#: Modules a run adds only when asked (``--modules``): vision inspection scores every
#: unit's images, which adds about 50 s to a year (docs/vision.md). Without its extra a run
#: skips it, saying so (the core install has no torch); the plant keeps its legacy
#: cameras. It runs first when asked for: its verdicts are rows root cause reads that day.
OPTIONAL_MODULES = ("inspection",)
log = logging.getLogger("gigaloop.run")


@dataclass(frozen=True)
class RunOptions:
    """What ``gigaloop run`` was asked for (``fleet``: vehicles already on the road at day 0)."""

    days: int = 365
    scale: str = "small"
    seed: int = 1
    scenario: Path | str | None = None  # a TOML file, or a packaged scenario's name
    loop: bool = True
    out: Path = Path("runs/latest")
    fleet: int = 0
    modules: tuple[str, ...] = DEFAULT_MODULES
    #: "inprocess": the twin's rows straight to ingest; "mqtt": through a broker, as
    #: Sparkplug B and JSON, written by the MQTT connector (docs/connectors.md).
    transport: str = "inprocess"
    broker: str | None = None  # HOST:PORT for "mqtt"; default: a private Mosquitto
    #: root cause scans owners' complaints about each component as failure modes of their
    #: own (docs/loop.md, "Owners' complaints"); False: claims and rate measures only
    complaints: bool = True


def decision_modules(names: tuple[str, ...] = DEFAULT_MODULES, *,
                     complaints: bool = True) -> list[DecisionModule]:
    """The named decision modules, fresh; unknown names raise :class:`ConfigError`.
    ``complaints``: whether root cause scans owners' complaints."""
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        raise ConfigError(f"unknown decision modules {unknown}; known: {', '.join(MODULES)}")
    from gigaloop.loop.finding import RootCauseConfig
    from gigaloop.loop.modules import loop_modules  # the loop's libraries, when asked for

    shared = {m.name: m for m in loop_modules(RootCauseConfig(complaints=complaints))}
    modules = []
    for name in names:
        try:
            modules.append(shared[name] if name in shared else _module_class(name)())
        except MissingExtraError as exc:
            if name not in OPTIONAL_MODULES:
                raise
            log.warning("decision module %r skipped: %s", name, exc)
    return modules


def provision(modules: list[DecisionModule], twin: Twin) -> None:
    """One OTA signing key per run, in memory: the modules that send software sign with
    it (:func:`hand_signer`), and the twin's vehicles trust it from the factory."""
    from gigaloop.fleet.registry import Signer

    signer = Signer.generate()
    hand_signer(modules, signer)
    twin.provision(signer.trusted())


def sign_with_key_file(modules: list[DecisionModule], path: Path) -> None:
    """:func:`hand_signer` with the key kept in ``path`` (created on first use:
    :meth:`~gigaloop.fleet.registry.Signer.from_file`)."""
    from gigaloop.fleet.registry import Signer

    hand_signer(modules, Signer.from_file(path))


def hand_signer(modules: list[DecisionModule], signer: Signer) -> None:
    """Give every module that sends software (``sign_with``) the one key and counter it
    signs with. The counter starts after the highest the modules have used: a vehicle
    refuses a manifest whose sequence is not above the last it took (a replay), so modules
    resumed from an earlier ``gigaloop decide`` go on from where they stopped."""
    senders: list[Any] = [m for m in modules if hasattr(m, "sign_with")]  # learning, rollout
    signer.sequence = max([signer.sequence, *(m.signer.sequence for m in senders)])
    for module in senders:
        module.sign_with(signer)


def _module_class(name: str) -> Callable[[], DecisionModule]:
    module, _, cls = MODULES[name].partition(":")
    made: Callable[[], DecisionModule] = getattr(import_module(module), cls)
    return made


def run_job(
    options: RunOptions, *, on_day: Callable[[int, dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Simulate ``options.days`` days, run the loop each day, write the run folder.

    ``on_day(day, write_results)`` is called after each day (the CLI's progress bar).
    Returns the summary that was written to ``summary.json``.
    """
    worker.refuse_when_reimported("run_job")
    out = options.out
    for stale in ("store", "truth", "decisions.jsonl", "summary.json", "score.json",
                  "report.html"):
        target = out / stale
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    out.mkdir(parents=True, exist_ok=True)

    store = Store(out / "store")
    try:
        modules = decision_modules(options.modules, complaints=options.complaints) \
            if options.loop else []
        with _twin(options, modules) as twin:
            cycle = DailyCycle(modules, twin, store)
            with _transport(options, store) as deliver:
                seconds = _simulate(options.days, twin, deliver, cycle, on_day)
            if isinstance(twin, TwinAhead):  # its own process's time, and this one's wait
                seconds["twin_waited"], seconds["twin"] = seconds["twin"], twin.seconds
            skipped = sorted(set(options.modules) - {m.name for m in modules}) \
                if options.loop else []
            return _summarise(options, twin, store, {**seconds, **cycle.seconds}, skipped)
    finally:
        store.close()  # the store's log goes to Parquet; the run folder is complete


@contextmanager
def _twin(options: RunOptions, modules: list[DecisionModule]) -> Iterator[Twin | TwinAhead]:
    """The run's twin: here when a module may act on it; else, when the worker may run
    (:func:`gigaloop.loop.worker.enabled`), in a process of its own that simulates ahead
    of the store (:mod:`gigaloop.twin.ahead`) — the same rows, sooner. Not with an
    installed base: its genealogy (millions of rows on day 0) costs more to hand over than
    the overlap saves (3 days of a 1,000,000-vehicle base: 69.7 s ahead, 63.1 s here)."""
    if modules or options.fleet or not worker.enabled():
        twin = Twin.from_scenario(options.scenario, scale=options.scale, seed=options.seed,
                                  fleet=options.fleet)
        provision(modules, twin)
        yield twin
        return
    from gigaloop.fleet.registry import Signer

    with TwinAhead(load_scenario(options.scenario), days=options.days, scale=options.scale,
                   seed=options.seed, fleet=options.fleet,
                   trusted=Signer.generate().trusted(), context=worker.context()) as ahead:
        yield ahead


@contextmanager
def _transport(options: RunOptions, store: Store) -> Iterator[Deliver]:
    """How a day's rows reach the store: ``ingest`` in process, or a broker and the MQTT
    connector (a private Mosquitto unless ``options.broker`` names one)."""
    if options.transport == "inprocess":
        yield lambda source, now: ingest(source, store, now)
        return
    if options.transport != "mqtt":
        raise ConfigError(f"unknown transport {options.transport!r}; use inprocess or mqtt")
    from gigaloop.ingest.broker import Mosquitto
    from gigaloop.ingest.mqtt_transport import MqttTransport

    with ExitStack() as stack:
        if options.broker is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="gigaloop-mqtt-"))
            host, port = "127.0.0.1", stack.enter_context(Mosquitto(folder)).port
        else:
            host, _, number = options.broker.rpartition(":")
            if not host or not number.isdigit():
                raise ConfigError(f"--broker {options.broker!r}: give HOST:PORT")
            port = int(number)
        yield stack.enter_context(MqttTransport(store, host, port)).deliver


def _simulate(days: int, twin: Twin | TwinAhead, deliver: Deliver, cycle: DailyCycle,
              on_day: Callable[[int, dict[str, Any]], None] | None) -> dict[str, float]:
    """Each day: the twin's rows to the store, then the decision modules; seconds spent."""
    seconds = {"twin": 0.0, "ingest": 0.0}
    for day in range(days):
        now = twin.day_end(day)
        started = time.perf_counter()
        source = TwinDay(twin, day)
        source.simulate()
        simulated = time.perf_counter()
        results = deliver(source, now)
        seconds["twin"] += simulated - started
        seconds["ingest"] += time.perf_counter() - simulated
        cycle.run_day(day, now)
        if on_day is not None:
            on_day(day, results)
    return seconds


def _summarise(options: RunOptions, twin: Twin | TwinAhead, store: Store,
               seconds: dict[str, float], skipped: list[str] | None = None) -> dict[str, Any]:
    """Truth to its folder; KPIs, findings and changes from the store; report and summary."""
    out = options.out
    started = time.perf_counter()
    twin.write_truth(out / TRUTH_PATH)
    kpis = compute_kpis(store, end=twin.day_end(options.days - 1))
    kpis.update({k: v for k, v in twin.world_kpis().items() if k in kpis})
    summary: dict[str, Any] = {
        "run": {
            "days": options.days,
            "seed": options.seed,
            "scale": options.scale,
            "fleet": options.fleet,
            "scenario": twin.scenario.scenario.name,
            "loop": options.loop,
            "complaints": options.complaints,
            "version": __version__,
            "modules": [m for m in options.modules if m not in (skipped or [])]
            if options.loop else [],
            "skipped_modules": skipped or [],
            "transport": options.transport,
            "timings": {},
        },
        "kpis": kpis,
        "findings": findings_from_store(store),
        "changes": changes_from_store(store),
        "software_by_cohort": by_cohort(store, end=twin.day_end(options.days - 1)),
    }
    seconds["summary"] = time.perf_counter() - started
    started = time.perf_counter()
    write_report(store, summary, out / "report.html")
    seconds["report"] = time.perf_counter() - started
    summary["run"]["timings"] = {name: round(value, 2) for name, value in seconds.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n",
                                      encoding="utf-8")
    return summary
