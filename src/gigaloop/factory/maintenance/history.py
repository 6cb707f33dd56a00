"""What the maintenance module has read from the store, kept between days and read by increment.

Each log remembers up to which instant (``read_until``, compared with the store's
``ingested_at``) it has read its table, and on :meth:`update` fetches only what was ingested
after it, through ``StoreView.ingested_since`` (no Ibis expression compiled a day), so a day
costs the same in the first week of a run as in the fifth year. A fresh log (a restarted
module) reads the whole table once.

* :class:`ConditionLog` — daily condition per machine
  (:func:`~gigaloop.factory.maintenance.health.daily_condition`, the medians taken here in
  NumPy). Daily medians do not add up, so a machine-day that new readings touch is
  aggregated again from all its readings: those of the newest day held (snapshots of one
  UTC day arrive in two ingests when the plant's day is not a UTC day) are kept on the log;
  an older machine-day that late readings touch is aggregated again by a query.
* :class:`MaintenanceLog` — per machine the last maintenance that clears wear and the
  last of the module's own orders carried out (maxima: they merge).
* :class:`StopLog` — minor stops per machine and day
  (:func:`~gigaloop.factory.maintenance.stops.daily_stops`: counts and hours, which add).

``tests/factory/test_maintenance_module.py`` checks that a log updated day by day (days split
across ingests, late readings) equals one read at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow.compute as pc

from gigaloop.factory.maintenance.health import (
    FEATURES,
    Baseline,
    daily_condition,
    deviations,
    group_median,
    last_days,
)

KEYS = ["machine_id", "day"]


def _stops_per_day(downtime: pd.DataFrame) -> pd.DataFrame:
    """:func:`~gigaloop.factory.maintenance.stops.daily_stops` of rows already read."""
    stops = downtime[~downtime.planned.astype(bool) & (downtime.cause != "breakdown")
                     & downtime.machine_id.notna()]
    stops = stops.assign(day=stops.event_time.to_numpy().astype("datetime64[D]")
                         .astype("datetime64[ns]"))
    return stops.groupby(KEYS, as_index=False).agg(stops=("hours", "size"),
                                                   stop_hours=("hours", "sum"))


@dataclass(frozen=True)
class Rows:
    """Machine-days (or raw snapshots, one reading each) as arrays: ``machine`` names, UTC
    ``day`` numbers (days since 1970), ``readings`` and the features (a column each)."""

    machine: np.ndarray
    day: np.ndarray
    readings: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return self.day.size

    def take(self, rows: np.ndarray) -> Rows:
        return Rows(self.machine[rows], self.day[rows], self.readings[rows], self.values[rows])

    @staticmethod
    def concat(*parts: Rows) -> Rows:
        return Rows(*(np.concatenate([getattr(p, f) for p in parts])
                      for f in ("machine", "day", "readings", "values")))

    @staticmethod
    def of(frame: pd.DataFrame) -> Rows:
        """The rows of a :func:`~gigaloop.factory.maintenance.health.daily_condition` frame."""
        return Rows(frame.machine_id.to_numpy(dtype=object),
                    _day_numbers(pd.to_datetime(frame.day).to_numpy()),
                    frame.readings.to_numpy(dtype=np.int64),
                    frame[list(FEATURES)].to_numpy(dtype=float))


def _day_numbers(moments: np.ndarray) -> np.ndarray:
    return moments.astype("datetime64[D]").astype(np.int64)


def _moment(day: np.datetime64) -> datetime:
    return day.astype("datetime64[us]").item()


def _machine_days_in(rows: Rows, others: Rows) -> np.ndarray:
    """Whether each row's machine-day is among those of ``others`` (integer keys)."""
    machine, _ = pd.factorize(np.concatenate([rows.machine, others.machine]))
    key = machine.astype(np.int64) << 32 | np.concatenate([rows.day, others.day])
    return np.isin(key[:len(rows)], key[len(rows):])


@dataclass
class ConditionLog:
    """Daily condition of every machine read so far, as arrays sorted by machine and day:
    ``names`` (the machines, sorted), ``machine_codes`` (into ``names``), ``day_numbers``,
    ``readings`` and ``values`` (the daily median of each feature, a column each);
    ``machine_rows`` the slice of each machine. ``daily`` is the same as a frame with the
    columns of :func:`~gigaloop.factory.maintenance.health.daily_condition`.

    The readings of the newest day held (and any newer) are kept as they were read
    (``pending``), so that the day's next snapshots are aggregated with them without
    reading them again; the daily medians are taken here, in NumPy, as DuckDB takes them
    (the two middle values interpolated).
    """

    running_min_mm_s: float = 0.05
    read_until: datetime | None = None
    names: np.ndarray = field(default_factory=lambda: np.zeros(0, object), repr=False)
    machine_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    day_numbers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    readings: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, len(FEATURES))),
                               repr=False)
    machine_rows: dict[str, slice] = field(default_factory=dict, repr=False)
    pending: Rows | None = field(default=None, repr=False)
    _daily: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def empty(self) -> bool:
        return self.day_numbers.size == 0

    @property
    def daily(self) -> pd.DataFrame:
        """Machine, day, readings and the features, a row per machine-day held."""
        if self._daily is None:
            self._daily = pd.DataFrame({
                "machine_id": self.names[self.machine_codes],
                "day": self.day_numbers.astype("datetime64[D]").astype("datetime64[ns]"),
                "readings": self.readings,
                **{f: self.values[:, k] for k, f in enumerate(FEATURES)}})
        return self._daily

    def vibration(self, machine: str) -> tuple[np.ndarray, np.ndarray]:
        """The days (datetime64) and daily vibration RMS of ``machine``."""
        rows = self.machine_rows[machine]
        return (self.day_numbers[rows].astype("datetime64[D]"),
                self.values[rows, FEATURES.index("vibration_rms")])

    def deviation_index(self, baseline: Baseline) -> pd.DataFrame:
        """``machine_id``, ``day`` and the ``d_<feature>`` deviations of every machine with a
        baseline, as :func:`~gigaloop.factory.maintenance.health.health_index` gives them."""
        row = self._baseline_rows(baseline)
        rows = np.flatnonzero(row >= 0)
        deviation, _ = deviations(self.values[rows], row[rows], self.day_numbers[rows], baseline)
        return pd.DataFrame({"machine_id": self.names[self.machine_codes[rows]],
                             "day": self.day_numbers[rows].astype("datetime64[D]")
                             .astype("datetime64[ns]"),
                             **{f"d_{f}": deviation[:, k] for k, f in enumerate(FEATURES)}})

    def recent_index(self, baseline: Baseline, days: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:func:`~gigaloop.factory.maintenance.health.recent_index` of the log: machine,
        ``hi``, ``vibration_rms`` and ``z_vibration_rms`` of the rows it scores."""
        row = self._baseline_rows(baseline)
        known = np.flatnonzero(row >= 0)
        rows = known[last_days(self.machine_codes[known], self.day_numbers[known], days)]
        _, z = deviations(self.values[rows], row[rows], self.day_numbers[rows], baseline)
        vibration = FEATURES.index("vibration_rms")
        return (self.names[self.machine_codes[rows]], np.sqrt(np.mean(z**2, axis=1)),
                self.values[rows, vibration], z[:, vibration])

    def _baseline_rows(self, baseline: Baseline) -> np.ndarray:
        """Each row's machine in ``baseline`` (-1: none)."""
        return baseline.median.index.get_indexer(self.names)[self.machine_codes]

    def update(self, view: Any, now: datetime) -> Rows:
        """Read what was ingested since the last update; returns the machine-days (re)made."""
        since = None if self.empty else self.read_until
        new = self._running(view.ingested_since("machine_readings", since,
                                                ["machine_id", "event_time", *FEATURES]))
        self.read_until = now
        if self.empty or not self.pending:
            fresh = _daily_medians(new)
        else:
            oldest = self.pending.day.min()
            late, new = new.take(new.day < oldest), new.take(new.day >= oldest)
            kept = self.pending.take(_machine_days_in(self.pending, new))
            fresh = _daily_medians(Rows.concat(kept, new))
            if len(late):  # older machine-days: aggregate them again from all readings
                readings = view.table("machine_readings")
                first, end = np.array([late.day.min(), late.day.max() + 1], "datetime64[D]")
                again = self._execute(view, readings.filter(
                    (readings.event_time >= _moment(first)) & (readings.event_time < _moment(end))))
                fresh = Rows.concat(again.take(_machine_days_in(again, late)), fresh)
            new = Rows.concat(self.pending, new)
        if len(fresh):
            self._merge(fresh)
        if not self.empty:
            self.pending = new.take(new.day >= self.day_numbers.max())
        return fresh

    def _merge(self, fresh: Rows) -> None:
        """Replace or add the machine-days of ``fresh``, keeping the rows sorted."""
        names = np.unique(np.concatenate([self.names, fresh.machine]))
        if names.size != self.names.size:
            self.machine_codes = np.searchsorted(names, self.names)[self.machine_codes]
            self.names = names
        key = np.searchsorted(names, fresh.machine).astype(np.int64) << 32 | fresh.day
        order = np.argsort(key, kind="stable")
        key, fresh = key[order], fresh.take(order)
        held = self.machine_codes << 32 | self.day_numbers
        at = np.searchsorted(held, key)
        found = at < held.size
        found[found] = held[at[found]] == key[found]
        self.readings[at[found]] = fresh.readings[found]
        self.values[at[found]] = fresh.values[found]
        added, at = ~found, at[~found]
        self.machine_codes = np.insert(self.machine_codes, at, key[added] >> 32)
        self.day_numbers = np.insert(self.day_numbers, at, fresh.day[added])
        self.readings = np.insert(self.readings, at, fresh.readings[added])
        self.values = np.insert(self.values, at, fresh.values[added], axis=0)
        starts = np.flatnonzero(np.r_[True, self.machine_codes[1:] != self.machine_codes[:-1]])
        self.machine_rows = {str(names[self.machine_codes[a]]): slice(a, b) for a, b in
                             zip(starts, np.r_[starts[1:], self.day_numbers.size], strict=True)}
        self._daily = None

    def _running(self, rows: Any) -> Rows:
        """Snapshots of a running machine."""
        rows = rows.filter(pc.greater_equal(rows["vibration_rms"], self.running_min_mm_s))
        return Rows(rows["machine_id"].to_numpy(zero_copy_only=False).astype(object),
                    _day_numbers(rows["event_time"].to_numpy()),
                    np.ones(rows.num_rows, np.int64),
                    np.column_stack([rows[f].to_numpy() for f in FEATURES])
                    if rows.num_rows else np.zeros((0, len(FEATURES))))

    def _execute(self, view: Any, readings: ir.Table) -> Rows:
        return Rows.of(view.execute(daily_condition(readings,
                                                    running_min_mm_s=self.running_min_mm_s)))


def _daily_medians(rows: Rows) -> Rows:
    """Per machine and day: the number of readings and the median of each feature, sorted."""
    if not len(rows):
        return rows
    machine, machines = pd.factorize(rows.machine, sort=True)
    days = rows.day
    group = machine.astype(np.int64) * (days.max() - days.min() + 1) + (days - days.min())
    ids, first, counts = np.unique(group, return_index=True, return_counts=True)
    group = np.searchsorted(ids, group)
    return Rows(np.asarray(machines, dtype=object)[machine[first]], days[first], counts,
                group_median(rows.values, group))


@dataclass
class MaintenanceLog:
    """Per machine: ``last_reset``, the last maintenance of any kind but calibration (it
    clears wear; a calibration re-zeroes process parameters only), and ``last_ours``, the
    last one a reason with one of ``prefixes`` (the module's orders) or a corrective repair
    names."""

    prefixes: tuple[str, ...] = ()
    last_reset: dict[str, datetime] = field(default_factory=dict)
    last_ours: dict[str, datetime] = field(default_factory=dict)
    read_until: datetime | None = None

    def update(self, view: Any, now: datetime) -> None:
        """Read the maintenance events ingested since the last update."""
        events = view.ingested_since("maintenance_events", self.read_until,
                                     ["machine_id", "kind", "reason", "event_time"])
        self.read_until = now
        if not events.num_rows:
            return
        events = events.to_pandas()
        events = events[events.kind.to_numpy() != "calibration"]
        reason = events.reason.fillna("").astype(str)
        ours = (events.kind == "corrective").to_numpy()
        for prefix in self.prefixes:
            ours |= reason.str.startswith(prefix).to_numpy()
        for rows, held in ((events, self.last_reset), (events[ours], self.last_ours)):
            for machine, moment in rows.groupby("machine_id").event_time.max().items():
                moment = pd.Timestamp(moment).to_pydatetime()
                held[str(machine)] = max(held.get(str(machine), moment), moment)


@dataclass
class StopLog:
    """Minor stops read so far: ``daily`` as :func:`~gigaloop.factory.maintenance.stops.
    daily_stops` (machine, day, stops, stop hours)."""

    daily: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    read_until: datetime | None = None

    def update(self, view: Any, now: datetime) -> pd.DataFrame:
        """Read the downtime ingested since the last update; returns all stops so far."""
        fresh = _stops_per_day(view.ingested_since(
            "downtime_events", self.read_until,
            ["machine_id", "planned", "cause", "hours", "event_time"]).to_pandas())
        self.read_until = now
        if not fresh.empty:
            both = pd.concat([self.daily, fresh], ignore_index=True) if len(self.daily) else fresh
            self.daily = both.groupby(KEYS, as_index=False)[["stops", "stop_hours"]].sum()
        return self.daily


__all__ = ["ConditionLog", "MaintenanceLog", "Rows", "StopLog"]
