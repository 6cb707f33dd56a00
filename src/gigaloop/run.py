"""The main job: the twin (or a plant) → ingest → store → daily decision cycle → summary.

``run_job`` is what ``gigaloop run`` calls. The run folder holds ``store/`` (Parquet),
``truth/`` (the scenario's hidden truth, read only by ``gigaloop score``),
``decisions.jsonl``, ``summary.json`` and ``report.html``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gigaloop import __version__
from gigaloop.customer import PredictiveServiceModule
from gigaloop.errors import ConfigError
from gigaloop.factory.energy import EnergyModule
from gigaloop.factory.maintenance import MaintenanceModule
from gigaloop.factory.process_control import ProcessControlModule
from gigaloop.loop.cycle import DailyCycle, DecisionModule
from gigaloop.loop.kpis import compute_kpis
from gigaloop.loop.modules import ChangeModule, ImpactModule, RootCauseModule
from gigaloop.loop.score import TRUTH_PATH, read_truth, truth_timeline
from gigaloop.store import Store
from gigaloop.twin import Twin
from gigaloop.web.report import write_report

#: Every decision module there is, by name (the cycle sorts them by their dependencies).
MODULES: dict[str, Callable[[], DecisionModule]] = {
    "rootcause": RootCauseModule,
    "changes": ChangeModule,
    "impact": ImpactModule,
    "maintenance": MaintenanceModule,
    "process_control": ProcessControlModule,
    "energy": EnergyModule,
    "predictive_service": PredictiveServiceModule,
}
#: What ``gigaloop run`` runs unless told otherwise. Process control is opt-in
#: (``--modules``): it stops drifts in the plant before any vehicle fails, which the
#: field-based scoring cannot credit yet.
DEFAULT_MODULES = ("rootcause", "changes", "impact", "maintenance", "predictive_service",
                   "energy")


@dataclass(frozen=True)
class RunOptions:
    """What ``gigaloop run`` was asked for."""

    days: int = 365
    scale: str = "small"
    seed: int = 1
    scenario: Path | None = None
    loop: bool = True
    out: Path = Path("runs/latest")
    modules: tuple[str, ...] = DEFAULT_MODULES


def decision_modules(names: tuple[str, ...] = DEFAULT_MODULES) -> list[DecisionModule]:
    """The named decision modules, fresh; unknown names raise :class:`ConfigError`."""
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        raise ConfigError(f"unknown decision modules {unknown}; known: {', '.join(MODULES)}")
    return [MODULES[name]() for name in names]


def run_job(
    options: RunOptions, *, on_day: Callable[[int, dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Simulate ``options.days`` days, run the loop each day, write the run folder.

    ``on_day(day, write_results)`` is called after each day (the CLI's progress bar).
    Returns the summary that was written to ``summary.json``.
    """
    out = options.out
    for stale in ("store", "truth", "decisions.jsonl", "summary.json", "score.json",
                  "report.html"):
        target = out / stale
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    out.mkdir(parents=True, exist_ok=True)

    twin = Twin.from_scenario(options.scenario, scale=options.scale, seed=options.seed)
    store = Store(out / "store")
    cycle = DailyCycle(decision_modules(options.modules) if options.loop else [], twin,
                       log_path=out / "decisions.jsonl")

    for day in range(options.days):
        now = twin.day_end(day)
        results = store.write_many(twin.step(day), ingested_at=now, source="twin")
        cycle.run_day(day, now, store.as_of(now))
        if alarms := cycle.board.get("spc_alarms"):  # the module refills it each day
            store.write("spc_alarms", alarms, ingested_at=now, source="process_control")
        if on_day is not None:
            on_day(day, results)

    end = twin.day_end(options.days - 1)
    twin.write_truth(out / TRUTH_PATH)
    kpis = compute_kpis(store, end=end)
    kpis.update({k: v for k, v in twin.world_kpis().items() if k in kpis})
    summary = {
        "run": {
            "days": options.days,
            "seed": options.seed,
            "scale": options.scale,
            "scenario": twin.scenario.scenario.name,
            "loop": options.loop,
            "version": __version__,
            "modules": list(options.modules) if options.loop else [],
        },
        "kpis": kpis,
        "findings": _findings(cycle),
        "changes": cycle.board.get("changes", []),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n",
                                      encoding="utf-8")
    truth = read_truth(out)  # shown in the report's timeline only; the loop never saw it
    write_report(store, summary, out / "report.html",
                 truth_timeline(truth) if truth is not None else None)
    return summary


def _findings(cycle: DailyCycle) -> list[dict[str, Any]]:
    """Every finding once, in its latest state (modules update their records in place)."""
    seen: dict[str, dict[str, Any]] = {}
    for decision in cycle.decisions:
        if decision.finding is not None:
            seen.setdefault(str(decision.finding.get("id")), decision.finding)
    return list(seen.values())
