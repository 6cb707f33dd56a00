"""The road from a car to the store: which fleet rows arrive, when, how often, at what time.

The fleet's own rows are perfect; :class:`Uplink` passes them on as connected-vehicle data
really arrives (levels: the scenario's ``[data]`` table, sources in ``docs/twin-fleet.md``):

* a car goes offline for 1–``max_offline_days`` days: its rows of those days (telemetry,
  trigger clips, diagnostic codes) are held and arrive in one burst the day it reconnects,
  with their own ``day`` / ``event_time``;
* dealers file a share of warranty claims and service visits 1–``claim_max_late_days``
  days late;
* a share of rows is re-sent (same key, same values) 1–``duplicate_max_days`` days after
  it first arrived;
* some vehicle-days of ``telemetry_daily`` are never sent, and cars go silent for good
  (telematics unit failure, opt-out);
* a few cars' clocks are off by minutes to hours (their event times shifted).

Whatever the uplink holds back when the run ends never arrives. The fleet's truth and
counts are not touched: only what reaches the store changes. Everything is drawn per
table and day as whole arrays.

>>> import pyarrow as pa
>>> from gigaloop.twin.scenario import DataQuality
>>> vins = pa.array(["V1", "V2"])
>>> day0 = {"feedback": pa.table({"x": [1]})}
>>> Uplink(DataQuality(perfect=True), np.random.default_rng(0)).send(0, day0, vins) is day0
True
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.twin.tables import concat

if TYPE_CHECKING:
    from gigaloop.twin.scenario import DataQuality

#: Tables the car sends over its own cellular link.
CAR_TABLES = ("telemetry_daily", "trigger_events", "scenes", "diagnostic_codes")
#: Tables dealers file (warranty claims, service visits).
DEALER_TABLES = ("component_failures", "service_visits")
NEVER = np.iinfo(np.int64).max
US_PER_MINUTE = 60_000_000


class Uplink:
    """Per car: the day it reconnects, the day it falls silent, its clock offset; the rows
    held back with the day each arrives; counts of what happened to the rows."""

    def __init__(self, levels: DataQuality, rng: np.random.Generator) -> None:
        self.levels = levels
        self._rng = rng
        self._reconnect = np.empty(0, np.int64)
        self._silent = np.empty(0, np.int64)
        self._skew_us = np.empty(0, np.int64)
        self._held: dict[str, dict[int, list[pa.Table]]] = {}  # table → day → rows
        self.counts = {k: 0 for k in ("late", "duplicates", "lost_gap", "lost_silent",
                                      "skewed")}

    def send(self, day: int, tables: dict[str, pa.Table], vins: pa.Array
             ) -> dict[str, pa.Table]:
        """What of ``tables`` (the fleet's rows of ``day``; ``vins``: its field's VINs in
        field order) reaches the store on ``day``, with rows held from earlier days."""
        if self.levels.off:
            return tables
        self._grow(day, len(vins))
        self._go_offline(day)
        out = dict(tables)
        cars = self._cars(out, vins)
        for name in (*CAR_TABLES, *DEALER_TABLES):
            if name not in out:   # a source that does not send this table
                continue
            table = out[name]
            today = [self._route(name, day, table, cars.get(name))] if table.num_rows else []
            out[name] = concat([*today, *self._held.get(name, {}).pop(day, [])] or [out[name]])
        return out

    # ---- cars ------------------------------------------------------------------------------
    def _grow(self, day: int, n: int) -> None:
        """State for cars new to the field: online, a day they fall silent, a clock."""
        new = n - len(self._reconnect)
        if new <= 0:
            return
        lv, rng = self.levels, self._rng
        silent = np.full(new, NEVER)
        if lv.silent_per_year > 0:   # exponential lifetimes: that share silent within a year
            days = rng.exponential(-365 / math.log1p(-lv.silent_per_year), new)
            silent = np.minimum(day + np.floor(days), 1e12).astype(np.int64)
        skewed = rng.random(new) < lv.skewed_car_share
        minutes = rng.uniform(lv.skew_min_minutes, lv.skew_max_minutes, new)
        sign = rng.choice((-1, 1), new)
        skew = np.where(skewed, sign * minutes * US_PER_MINUTE, 0).astype(np.int64)
        self._reconnect = np.concatenate([self._reconnect, np.zeros(new, np.int64)])
        self._silent = np.concatenate([self._silent, silent])
        self._skew_us = np.concatenate([self._skew_us, skew])

    def _go_offline(self, day: int) -> None:
        """Cars online today lose their link with probability ``offline_per_day``."""
        online = np.flatnonzero(self._reconnect <= day)
        lost = online[self._rng.random(len(online)) < self.levels.offline_per_day]
        self._reconnect[lost] = day + self._rng.integers(
            1, self.levels.max_offline_days + 1, len(lost))

    @staticmethod
    def _cars(tables: dict[str, pa.Table], vins: pa.Array) -> dict[str, np.ndarray]:
        """Field index of each car-sent row's VIN (−1: not in the field), per table; one
        lookup for all of them (building the lookup is most of its cost)."""
        names = [name for name in CAR_TABLES if name in tables]
        columns = [tables[name]["vin"] for name in names]
        found = pc.index_in(pa.chunked_array([c for col in columns for c in col.chunks],
                                             pa.string()), value_set=vins)
        index = np.nan_to_num(found.to_numpy(), nan=-1).astype(np.int64)
        ends = np.cumsum([len(c) for c in columns])
        return dict(zip(names, np.split(index, ends[:-1]), strict=True))

    # ---- rows ------------------------------------------------------------------------------
    def _route(self, name: str, day: int, table: pa.Table, car: np.ndarray | None
               ) -> pa.Table:
        """The rows of ``table`` that arrive today; the others are held for their day (or
        lost), and re-sent copies held for a later one. ``car``: the field index of each
        row's car, for car-sent tables (a car not in the field sends as-is)."""
        lv, rng = self.levels, self._rng
        if car is not None:
            known = car >= 0
            car = np.where(known, car, 0)
            arrive = np.where(known, np.maximum(self._reconnect[car], day), day)
            silent = known & (self._silent[car] <= day)
            self.counts["lost_silent"] += int(silent.sum())
            arrive[silent] = -1
            if name == "telemetry_daily" and lv.gap_share:
                gap = ~silent & (rng.random(len(car)) < lv.gap_share)
                self.counts["lost_gap"] += int(gap.sum())
                arrive[gap] = -1
            skew = np.where(known, self._skew_us[car], 0)
            if skew.any():
                table = self._shift(table, skew)
        else:
            late = rng.random(table.num_rows) < lv.claim_late_share
            arrive = day + np.where(late, rng.integers(1, lv.claim_max_late_days + 1,
                                                       table.num_rows), 0)
        self.counts["late"] += int((arrive > day).sum())
        sent = np.flatnonzero(arrive >= 0)
        again = sent[rng.random(len(sent)) < lv.duplicate_share]
        self.counts["duplicates"] += len(again)
        later = np.flatnonzero(arrive > day)
        self._hold(name, table, np.concatenate([later, again]), np.concatenate([
            arrive[later], arrive[again] + rng.integers(1, lv.duplicate_max_days + 1,
                                                        len(again))]))
        now = arrive == day
        return table if now.all() else table.filter(pa.array(now))

    def _hold(self, name: str, table: pa.Table, rows: np.ndarray, days: np.ndarray) -> None:
        """Keep ``table``'s ``rows`` until ``days``: one take, sorted by day, sliced."""
        if not len(rows):
            return
        order = np.argsort(days, kind="stable")
        taken = table.take(pa.array(rows[order]))
        when, first, count = np.unique(days[order], return_index=True, return_counts=True)
        held = self._held.setdefault(name, {})
        for d, start, n in zip(when.tolist(), first.tolist(), count.tolist(), strict=True):
            held.setdefault(d, []).append(taken.slice(start, n))

    def _shift(self, table: pa.Table, skew_us: np.ndarray) -> pa.Table:
        """``event_time`` moved by each row's clock offset (µs)."""
        self.counts["skewed"] += int((skew_us != 0).sum())
        k = table.schema.get_field_index("event_time")
        column = table.column(k)
        shifted = pc.add(column.combine_chunks(), pa.array(skew_us, pa.duration("us")))
        return table.set_column(k, table.schema.field(k), shifted.cast(column.type))
