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
CAR_TABLES = ("telemetry_daily", "trigger_events", "diagnostic_codes")
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
        self._held: dict[str, tuple[pa.Table, np.ndarray]] = {}
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
        for name in (*CAR_TABLES, *DEALER_TABLES):
            table = out.get(name)
            arrive = None
            if table is not None and table.num_rows:
                table, arrive = self._route(name, day, table, vins)
            out[name] = self._arriving(name, day, table, arrive)
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

    # ---- rows ------------------------------------------------------------------------------
    def _route(self, name: str, day: int, table: pa.Table, vins: pa.Array
               ) -> tuple[pa.Table, np.ndarray]:
        """The rows that will arrive, each with the day it arrives (duplicates appended)."""
        lv, rng = self.levels, self._rng
        if name in CAR_TABLES:
            car = pc.index_in(table["vin"], value_set=vins).to_numpy(zero_copy_only=False)
            car = np.nan_to_num(car, nan=-1).astype(np.int64)   # not in the field: as-is
            known = car >= 0
            car = np.where(known, car, 0)
            silent = known & (self._silent[car] <= day)
            keep = ~silent
            if name == "telemetry_daily" and lv.gap_share:
                gap = keep & (rng.random(len(car)) < lv.gap_share)
                self.counts["lost_gap"] += int(gap.sum())
                keep &= ~gap
            self.counts["lost_silent"] += int(silent.sum())
            skew = np.where(known, self._skew_us[car], 0)[keep]
            arrive = np.where(known, np.maximum(self._reconnect[car], day), day)[keep]
            table = table.filter(pa.array(keep))
            if skew.any():
                table = self._shift(table, skew)
        else:
            late = rng.random(table.num_rows) < lv.claim_late_share
            arrive = day + np.where(late, rng.integers(1, lv.claim_max_late_days + 1,
                                                       table.num_rows), 0)
        self.counts["late"] += int((arrive > day).sum())
        again = np.flatnonzero(rng.random(table.num_rows) < lv.duplicate_share)
        if again.size:
            self.counts["duplicates"] += len(again)
            later = arrive[again] + rng.integers(1, lv.duplicate_max_days + 1, len(again))
            table = concat([table, table.take(pa.array(again))])
            arrive = np.concatenate([arrive, later])
        return table, arrive

    def _shift(self, table: pa.Table, skew_us: np.ndarray) -> pa.Table:
        """``event_time`` moved by each row's clock offset (µs)."""
        self.counts["skewed"] += int((skew_us != 0).sum())
        k = table.schema.get_field_index("event_time")
        column = table.column(k)
        shifted = pc.add(column.combine_chunks(), pa.array(skew_us, pa.duration("us")))
        return table.set_column(k, table.schema.field(k), shifted.cast(column.type))

    def _arriving(self, name: str, day: int, table: pa.Table | None,
                  arrive: np.ndarray | None) -> pa.Table | None:
        """Today's rows of ``name``: those due today; the rest are held for their day."""
        parts, days = [], []
        if name in self._held:
            parts.append(self._held[name][0])
            days.append(self._held[name][1])
        if arrive is not None and table is not None:
            parts.append(table)
            days.append(arrive)
        if not parts:
            return table
        rows, when = concat(parts), np.concatenate(days)
        now = when <= day
        later = ~now
        if later.any():
            self._held[name] = (rows.filter(pa.array(later)), when[later])
        else:
            self._held.pop(name, None)
        return rows.filter(pa.array(now)) if later.any() else rows
