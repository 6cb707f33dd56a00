"""The batch path: the daily decision cycle over a store that no twin wrote.

``gigaloop decide --store DIR`` is what a plant with files (or any connector) and no
broker runs: the same decision modules as ``gigaloop run``, day by day, each reading
``store.as_of(now)`` — the rows *ingested* by the end of its day — and writing its
decisions, findings, SPC alarms and change requests into the store as the cycle always
does. Actions go to a recording :class:`~gigaloop.actuate.LoggingActuator` (nothing
outside is touched); every action stays in the ``decisions`` table.

The calendar is the store's own. The plant's timezone is the first site's (``sites``,
by ``site_id``; UTC without sites), in local *standard* time all year, like the twin's
clock; a day ends at its local midnight, which is the cycle's ``now``. Day 0 is the
local day of the earliest ingestion (a row ingested at exactly midnight belongs to the
day that midnight ends). Only days that have ended are decided unless ``--as-of`` asks
for a later one: a day decided while rows of it are still arriving would leave those
rows to the whole-table readers only (modules that read what is new since their last
day would skip them). What ``decide`` has done is kept beside the store folder:
``decide-state.json`` (the calendar, the last day done) and ``decide-modules.pickle``
(the modules' state: charts in Phase II, open change requests, read cursors), so a
second run resumes after the last day done with the modules as they were, and decides
as one long run would have. ``--since`` starts the modules afresh from that day instead.
A folder whose loop ``gigaloop run`` ran (its ``summary.json``) is decided from the day
after the run's last, by fresh modules that rebuild their state from the store. Software
instructions are signed with the fleet's update key, kept beside the store
(``ota-signing-key.pem``, created on first use with its public key in ``.pub``; or
``--signing-key``), and numbered on from the last one sent: vehicles provisioned once with
that public key accept every later run's, in order.

>>> from datetime import date, datetime
>>> calendar = Calendar(date(2025, 1, 6), "America/Chicago")
>>> calendar.day_end(0)
datetime.datetime(2025, 1, 7, 6, 0)
>>> calendar.day_of(datetime(2025, 1, 7, 6, 0)), calendar.day_of(datetime(2025, 1, 7, 6, 1))
(0, 1)
>>> calendar.day_of_date(date(2025, 2, 5))
30
"""

from __future__ import annotations

import json
import pickle
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from gigaloop import __version__
from gigaloop.actuate import LoggingActuator
from gigaloop.errors import ConfigError
from gigaloop.loop import worker
from gigaloop.loop.contract import DecisionModule
from gigaloop.loop.cycle import DailyCycle
from gigaloop.loop.modules import ChangeModule
from gigaloop.loop.records import changes_from_store, findings_from_store
from gigaloop.run import DEFAULT_MODULES, decision_modules, sign_with_key_file
from gigaloop.schema import INGESTED_AT, TABLES
from gigaloop.store import Store

#: Tables the decision modules write (and ``quarantine``, the store's own): their
#: ingestion times say when ``decide`` ran, not when data came, so they set no calendar.
MODULE_TABLES = frozenset({"decisions", "findings", "change_requests", "spc_alarms",
                           "offer_assignments", "quarantine"})
STATE_FILE = "decide-state.json"
SIGNING_KEY_FILE = "ota-signing-key.pem"  # the vehicles trust its public key (.pub)
MODULES_FILE = "decide-modules.pickle"  # written and read by decide only: a local file
SUMMARY_FILE = "decide-summary.json"


@dataclass(frozen=True)
class Calendar:
    """Days of a plant: day 0 is ``start`` (a local date); a day ends at local midnight."""

    start: date
    timezone: str

    @property
    def offset(self) -> timedelta:
        """Local standard time minus UTC (the same all year, as the twin's clock)."""
        noon = datetime.combine(self.start, time(12), ZoneInfo(self.timezone))
        return (noon.utcoffset() or timedelta()) - (noon.dst() or timedelta())

    def day_end(self, day: int) -> datetime:
        """Naive UTC of the local midnight that ends ``day``."""
        return datetime.combine(self.start + timedelta(days=day + 1), time()) - self.offset

    def day_of(self, moment: datetime) -> int:
        """The day an instant (naive UTC) belongs to; midnight belongs to the day it ends."""
        local = moment + self.offset - timedelta(microseconds=1)
        return (local.date() - self.start).days

    def day_of_date(self, day: date) -> int:
        return (day - self.start).days


@dataclass(frozen=True)
class DecideOptions:
    """What ``gigaloop decide`` was asked for (dates are the plant's local dates)."""

    store: Path
    as_of: date | None = None
    since: date | None = None
    modules: tuple[str, ...] = DEFAULT_MODULES
    now: datetime | None = None  # the wall clock (naive UTC; default: now)
    approval: str = "automatic"  # or "reviewed": changes wait for a person's verdict
    max_days: int | None = None  # decide at most this many days (the service: one at a time)
    #: The fleet's OTA update key (PEM; created on first use, its public key beside it):
    #: default ``STORE/../ota-signing-key.pem``.
    signing_key: Path | None = None


def store_calendar(store: Store) -> tuple[Calendar, datetime]:
    """The store's calendar and its newest ingestion (of data, not of the modules' rows)."""
    spans = [store.execute(table.aggregate(first=table[INGESTED_AT].min(),
                                           last=table[INGESTED_AT].max())).iloc[0]
             for table in (store.table(name) for name, spec in sorted(TABLES.items())
                           if name not in MODULE_TABLES and INGESTED_AT in spec.column_names)]
    spans = [span for span in spans if pd.notna(span["first"])]
    if not spans:
        raise ConfigError(f"{store.root} holds no ingested data; run gigaloop ingest first",
                          store=str(store.root))
    sites = store.execute(store.table("sites").order_by("site_id").select("timezone").limit(1))
    zone = str(sites.timezone.iloc[0]) if len(sites) and sites.timezone.iloc[0] else "UTC"
    start = Calendar(date(2000, 1, 1), zone)
    day0 = start.start + timedelta(days=start.day_of(min(_naive(s["first"]) for s in spans)))
    return Calendar(day0, zone), max(_naive(s["last"]) for s in spans)


def decide(options: DecideOptions, on_day: Callable[[int, int], None] | None = None, *,
           store: Store | None = None) -> dict[str, Any]:
    """Run the decision modules over the days of ``options``; write and return the summary.

    ``on_day(day, decisions)`` is called after each day. Days already done by an earlier
    run (``decide-state.json``) are skipped unless ``since`` asks for them. ``store``: the
    store of ``options.store`` when the caller holds it open (the service's), else one is
    opened and closed here.
    """
    worker.refuse_when_reimported("decide")
    state_path = options.store.parent / STATE_FILE
    previous = json.loads(state_path.read_text(encoding="utf-8")) if state_path.exists() else {}
    owned = store is None
    store = Store(options.store) if store is None else store
    try:
        calendar, newest = store_calendar(store)
        if previous:  # keep the numbering the first run chose (every_days depends on it)
            calendar = Calendar(date.fromisoformat(previous["day0"]), previous["timezone"])
        else:
            previous = _after_run(options.store.parent, calendar)
        ended = _last_ended_day(calendar, options.now or datetime.now(UTC).replace(tzinfo=None))
        newest_day = calendar.day_of(newest)
        last = calendar.day_of_date(options.as_of) if options.as_of else min(newest_day, ended)
        first = (calendar.day_of_date(options.since) if options.since
                 else previous.get("last_day", -1) + 1)
        if options.max_days is not None:
            last = min(last, first + options.max_days - 1)
        waiting = calendar.start + timedelta(days=newest_day) if newest_day > last else None
        if first < 0:
            raise ConfigError(f"--since {options.since} is before the store's first day "
                              f"{calendar.start}", since=str(options.since))
        modules = _modules(options, previous, resume=options.since is None)
        sign_with_key_file(modules, options.signing_key
                           or options.store.parent / SIGNING_KEY_FILE)
        cycle = DailyCycle(_approving(modules, options.approval), LoggingActuator(), store)
        made: Counter[str] = Counter()
        acted: Counter[str] = Counter()
        reported: Counter[str] = Counter()
        for day in range(first, last + 1):
            decisions = cycle.run_day(day, calendar.day_end(day))
            for d in decisions:
                made[d.module] += 1
                acted[d.module] += d.action is not None
                reported[d.module] += d.finding is not None
            if on_day is not None:
                on_day(day, len(decisions))
        done = max(last, previous.get("last_day", -1))
        if last >= first:
            (options.store.parent / MODULES_FILE).write_bytes(pickle.dumps(cycle.modules))
        state_path.write_text(json.dumps({
            "day0": calendar.start.isoformat(), "timezone": calendar.timezone,
            "last_day": done, "modules": list(options.modules), "version": __version__},
            indent=2) + "\n",
            encoding="utf-8")
        summary = {
            "decide": {
                "store": str(options.store), "version": __version__,
                "day0": calendar.start.isoformat(), "timezone": calendar.timezone,
                "days": [first, last] if last >= first else [],
                "as_of": calendar.day_end(last).isoformat(), "modules": list(options.modules),
                "waiting": waiting.isoformat() if waiting else None,
                "decisions": {m: {"decisions": made[m], "actions": acted[m],
                                  "findings_reported": reported[m]} for m in options.modules},
                "timings": {name: round(s, 2) for name, s in cycle.seconds.items()},
            },
            "findings": findings_from_store(store),
            "changes": changes_from_store(store),
        }
    finally:
        if owned:
            store.close()
    (options.store.parent / SUMMARY_FILE).write_text(
        json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return summary


def _after_run(folder: Path, calendar: Calendar) -> dict[str, Any]:
    """Where a ``gigaloop run`` folder (its ``summary.json``) left the cycle: after its
    last day, when its loop ran (its modules decided every day; fresh ones rebuild their
    state from the store), else nowhere (``{}``: every day is still to decide)."""
    summary = folder / "summary.json"
    if not summary.exists():
        return {}
    run = json.loads(summary.read_text(encoding="utf-8")).get("run", {})
    if not run.get("loop"):
        return {}
    return {"day0": calendar.start.isoformat(), "timezone": calendar.timezone,
            "last_day": int(run["days"]) - 1}


def _last_ended_day(calendar: Calendar, now: datetime) -> int:
    """The newest day whose local midnight has passed at ``now``."""
    day = calendar.day_of(now)
    return day if calendar.day_end(day) <= now else day - 1


def _modules(options: DecideOptions, previous: dict[str, Any],
             resume: bool) -> list[DecisionModule]:
    """The modules as the last run left them (resuming), else fresh."""
    saved = options.store.parent / MODULES_FILE
    if not (resume and previous and saved.exists()):
        return decision_modules(options.modules)
    if previous.get("modules") != list(options.modules) or \
            previous.get("version") != __version__:
        raise ConfigError(
            f"the last decide on {options.store} ran modules {previous.get('modules')} "
            f"(gigaloop {previous.get('version')}); resume with those, or start again "
            f"with --since {previous['day0']}", store=str(options.store))
    modules: list[DecisionModule] = pickle.loads(saved.read_bytes())  # written by decide
    return modules


def _approving(modules: list[DecisionModule], approval: str) -> list[DecisionModule]:
    """The modules, their change requests approved as ``approval`` says
    (:class:`~gigaloop.loop.changes.ChangeConfig`)."""
    for module in modules:
        if isinstance(module, ChangeModule):
            module.config = replace(module.config, approval=approval)
    return modules


def _naive(moment: Any) -> datetime:
    """A stamp as a naive-UTC datetime (pandas Timestamps included)."""
    value: datetime = moment.to_pydatetime() if hasattr(moment, "to_pydatetime") else moment
    return value.replace(tzinfo=None)


__all__ = ["Calendar", "DecideOptions", "decide", "store_calendar"]
