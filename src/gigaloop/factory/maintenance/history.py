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

from gigaloop.factory.maintenance.health import FEATURES, daily_condition, group_median

KEYS = ["machine_id", "day"]
DAY = pd.Timedelta(days=1)


def _stops_per_day(downtime: pd.DataFrame) -> pd.DataFrame:
    """:func:`~gigaloop.factory.maintenance.stops.daily_stops` of rows already read."""
    stops = downtime[~downtime.planned.astype(bool) & (downtime.cause != "breakdown")
                     & downtime.machine_id.notna()]
    stops = stops.assign(day=stops.event_time.to_numpy().astype("datetime64[D]")
                         .astype("datetime64[ns]"))
    return stops.groupby(KEYS, as_index=False).agg(stops=("hours", "size"),
                                                   stop_hours=("hours", "sum"))


def _machine_days_in(rows: pd.DataFrame, others: pd.DataFrame) -> np.ndarray:
    """Whether each row's machine-day is among those of ``others`` (integer keys)."""
    machine, _ = pd.factorize(np.concatenate([rows.machine_id.to_numpy(),
                                              others.machine_id.to_numpy()]))
    day = np.concatenate([rows.day.to_numpy(), others.day.to_numpy()]).astype("datetime64[D]")
    key = machine.astype(np.int64) << 32 | (day.astype(np.int64) & 0xFFFFFFFF)
    return np.isin(key[:len(rows)], key[len(rows):])


def _replace(held: pd.DataFrame, fresh: pd.DataFrame
             ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``held`` with the machine-days of ``fresh`` replaced or added, sorted by machine, day
    (on integer keys: cheaper than a sort on strings), with its machine codes (in name
    order) and day numbers."""
    both = fresh if held.empty else pd.concat([held, fresh], ignore_index=True)
    machine, _ = pd.factorize(both.machine_id, sort=True)
    day = both.day.to_numpy().astype("datetime64[D]").astype(np.int64)
    newer = np.arange(len(both)) >= len(held)
    order = np.lexsort((newer, day, machine))
    machine, day = machine[order], day[order]
    last = np.r_[(machine[1:] != machine[:-1]) | (day[1:] != day[:-1]), True]
    return both.take(order[last]).reset_index(drop=True), machine[last], day[last]


@dataclass
class ConditionLog:
    """Daily condition of every machine read so far: ``daily`` has the columns of
    :func:`~gigaloop.factory.maintenance.health.daily_condition`, sorted by machine and day.

    The readings of the newest day held (and any newer) are kept as they were read
    (``pending``), so that the day's next snapshots are aggregated with them without
    reading them again; the daily medians are taken here, in NumPy, as DuckDB takes them
    (the two middle values interpolated).
    """

    running_min_mm_s: float = 0.05
    daily: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    read_until: datetime | None = None
    pending: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    machine_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    day_numbers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    machine_rows: dict[str, slice] = field(default_factory=dict, repr=False)

    def recent(self, days: int) -> pd.DataFrame:
        """The rows of ``daily`` on any day among some machine's last ``days`` days (all that
        :func:`~gigaloop.factory.maintenance.health.recent_index` reads of it)."""
        code, day = self.machine_codes, self.day_numbers
        ends = np.flatnonzero(np.r_[code[1:] != code[:-1], True])
        last = np.repeat(ends, np.diff(np.r_[-1, ends])) - np.arange(code.size) < days
        return self.daily.iloc[np.flatnonzero(np.isin(day, np.unique(day[last])))]

    def update(self, view: Any, now: datetime) -> pd.DataFrame:
        """Read what was ingested since the last update; returns the machine-days (re)made."""
        since = None if self.daily.empty else self.read_until
        new = self._running(view.ingested_since("machine_readings", since,
                                                ["machine_id", "event_time", *FEATURES]))
        self.read_until = now
        if self.daily.empty or self.pending.empty:
            fresh = _daily_medians(new)
        else:
            oldest = self.pending.day.min()
            late = new[new.day < oldest]
            new = new[new.day >= oldest]
            kept = self.pending[_machine_days_in(self.pending, new)]
            fresh = _daily_medians(pd.concat([kept, new], ignore_index=True))
            if not late.empty:  # older machine-days: aggregate them again from all readings
                keys = late[KEYS].drop_duplicates()
                readings = view.table("machine_readings")
                again = self._execute(view, readings.filter(
                    (readings.event_time >= keys.day.min().to_pydatetime())
                    & (readings.event_time < (keys.day.max() + DAY).to_pydatetime())))
                fresh = pd.concat([again.merge(keys, on=KEYS), fresh], ignore_index=True)
            new = pd.concat([self.pending, new], ignore_index=True)
        if not fresh.empty:
            self.daily, self.machine_codes, self.day_numbers = _replace(self.daily, fresh)
            starts = np.flatnonzero(np.r_[True, self.machine_codes[1:] != self.machine_codes[:-1]])
            names = self.daily.machine_id.to_numpy()[starts]
            self.machine_rows = {str(m): slice(a, b) for m, a, b in
                                 zip(names, starts, np.r_[starts[1:], len(self.daily)],
                                     strict=True)}
        if not self.daily.empty:
            self.pending = new[new.day >= self.daily.day.max()].reset_index(drop=True)
        return fresh

    def _running(self, rows: Any) -> pd.DataFrame:
        """Snapshots of a running machine: machine_id, day and the features."""
        rows = rows.filter(pc.greater_equal(rows["vibration_rms"], self.running_min_mm_s))
        day = rows["event_time"].to_numpy().astype("datetime64[D]").astype("datetime64[ns]")
        frame = rows.drop_columns(["event_time"]).to_pandas()
        frame.insert(1, "day", day)
        return frame

    def _execute(self, view: Any, readings: ir.Table) -> pd.DataFrame:
        frame = view.execute(daily_condition(readings, running_min_mm_s=self.running_min_mm_s))
        frame["day"] = pd.to_datetime(frame["day"])
        return frame.astype(dict.fromkeys(FEATURES, float))


def _daily_medians(rows: pd.DataFrame) -> pd.DataFrame:
    """Per machine and day: ``readings`` and the median of each feature, sorted."""
    columns = ["machine_id", "day", "readings", *FEATURES]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    machine, machines = pd.factorize(rows.machine_id, sort=True)
    days = rows.day.to_numpy().astype("datetime64[D]").astype(np.int64)
    group = machine.astype(np.int64) * (days.max() - days.min() + 1) + (days - days.min())
    ids, first, counts = np.unique(group, return_index=True, return_counts=True)
    group = np.searchsorted(ids, group)
    out = {"machine_id": np.asarray(machines, dtype=object)[machine[first]],
           "day": rows.day.to_numpy()[first], "readings": counts}
    for feature in FEATURES:
        out[feature] = group_median(rows[feature].to_numpy(dtype=float), group)
    return pd.DataFrame(out)


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


__all__ = ["ConditionLog", "MaintenanceLog", "StopLog"]
