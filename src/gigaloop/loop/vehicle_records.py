"""Everything root cause needs about each vehicle, kept up to date from new rows only.

:class:`VehicleRecords` reads, at each :meth:`~VehicleRecords.update`, only the rows
ingested since its last one (the ``ingested_at`` column; every row is read exactly once)
and keeps them per vehicle, in NumPy arrays indexed by ``vid`` (the order vehicles were
read in): how it was built (vehicle attributes, lots and suppliers, machines, process
readings) as integer level codes assigned once as rows arrive, its delivery, its usage as
additive sums (a rate measure's only up to the first replacement of its part), its first
failure per component and its owner's first complaint per topic
(``feedback`` rows through the customer's id; a row from a repair visit's survey follows the
claim it is about, so only other channels count). Rows come as Arrow through the store's
read of what is new (:meth:`gigaloop.store.Store.ingested_between`: the in-memory tail or
one statement on DuckDB, an Ibis filter on Spark), so the same code runs on DuckDB and on
Spark. A fresh instance — after a restart — reads the whole store once and holds the same
records.

>>> import tempfile
>>> from gigaloop.store import Store
>>> records = VehicleRecords()
>>> records.update(Store(tempfile.mkdtemp()))
>>> len(records)
0
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.fleet.usage import (
    measure_component,
    telemetry_columns,
    usage_sum_names,
    usage_terms,
)
from gigaloop.schema import INGESTED_AT, RATE_MEASURES, RateMeasure

#: Feedback channels that are no complaint of their own: a repair visit's survey follows the
#: claim it is about.
NOT_COMPLAINTS = ("service",)
#: Vehicle columns that are attributes in their own right.
VEHICLE_ATTRIBUTES = ("shift", "model", "trim", "hardware_revision", "design_revision")
#: A vehicle delivered up to this many days before the store's history begins still counts
#: as watched from delivery: the first days' rows arrive late or not at all (a car offline
#: for up to a week, claims filed up to ten days late), so the history's first day is itself
#: a little late.
HISTORY_GRACE_DAYS = 14
NEVER = np.iinfo(np.int64).max  # no failure yet (first failure times are µs since 1970)


class Levels:
    """Integer codes for the labels of a column, assigned in order of first sight.

    >>> levels = Levels()
    >>> levels.encode(pa.array(["b", None, "a", "b"])).tolist(), levels.labels
    ([0, -1, 1, 0], ['b', 'a'])
    """

    def __init__(self) -> None:
        self._code: dict[Any, int] = {}
        self.labels: list[Any] = []

    def encode(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """The code of each value (−1 = null), new labels getting the next codes."""
        present = pc.unique(values).drop_null()
        codes = [self._code.setdefault(label, len(self._code)) for label in present.to_pylist()]
        self.labels = list(self._code)
        at = pc.index_in(values, value_set=present).fill_null(-1)
        return np.array([*codes, -1], dtype=np.int64)[at.to_numpy()]


class VehicleRecords:
    """Per-vehicle records, grown from each update's new rows; arrays indexed by ``vid``.

    ``vin``, ``build_date``, ``delivered_on`` (NaT until delivered), ``climate`` (None until
    delivered); ``codes``: :data:`VEHICLE_ATTRIBUTES` kind → level code (labels in
    ``levels[kind]``); ``lots``: part → (lot code, supplier code) (labels in ``lot_levels``,
    ``supplier_levels``); ``machines``: station → machine code (``machine_levels``);
    ``inspections``: (station, inspection) → verdict (0 passed, 1 failed);
    ``readings``: (station, parameter) → value (NaN: none) and ``read`` the same → whether a
    row came; ``usage`` (vid, :func:`~gigaloop.fleet.usage.usage_sum_names` of
    ``measures``, the rate measures kept: by default all the schema declares) sums, a
    measure's without the days from its part's first replacement on; ``replaced``: each
    measured part → the day a visit first replaced it (NaT: never; telemetry of the days
    after it that was read before the visit's row came stays in the sums);
    ``first_failure``: component → first failure time in µs (``NEVER``: none; a part a
    visit removed and found degraded counts as failed then);
    ``first_complaint``: feedback topic → the owner's first complaint time, the same way;
    ``customer_id`` (None until delivered); ``history_from``: the first day of the fleet's
    history in the store (its earliest telemetry day or claim; NaT before any). Codes are −1
    where nothing is known.
    """

    def __init__(self, measures: tuple[RateMeasure, ...] = RATE_MEASURES) -> None:
        self.measures = measures
        self.usage_sums = usage_sum_names(measures)
        self._measured_parts = {measure_component(m) for m in measures}
        self.cursor: datetime | None = None
        self.vin = np.empty(0, dtype=object)
        self.build_date = np.empty(0, dtype="datetime64[D]")
        self.delivered_on = np.empty(0, dtype="datetime64[D]")
        self.climate = np.empty(0, dtype=object)
        self.levels = {kind: Levels() for kind in VEHICLE_ATTRIBUTES}
        self.codes = {kind: np.empty(0, dtype=np.int64) for kind in VEHICLE_ATTRIBUTES}
        self.lot_levels, self.supplier_levels, self.machine_levels = Levels(), Levels(), Levels()
        self.lots: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.machines: dict[str, np.ndarray] = {}
        #: (station, inspection) → verdict per vehicle: 0 passed, 1 failed, −1 none
        self.inspections: dict[tuple[str, str], np.ndarray] = {}
        self.readings: dict[tuple[str, str], np.ndarray] = {}
        self.read: dict[tuple[str, str], np.ndarray] = {}
        self.usage = np.zeros((0, len(self.usage_sums)))
        self.first_failure: dict[str, np.ndarray] = {}
        self.replaced: dict[str, np.ndarray] = {}
        self.first_complaint: dict[str, np.ndarray] = {}
        self.customer_id = np.empty(0, dtype=object)
        self.history_from = np.datetime64("NaT", "D")
        self._customers = pa.array([], pa.string())  # customer ids, vid order, to look up
        self._unmatched_feedback: pa.Table | None = None  # of customers not read yet
        self._by_vin = np.empty(0, dtype=np.int64)  # vids in VIN order
        self._known = pa.array([], pa.string())  # the VINs, vid order, to look rows up in
        self._supplier_of_lot = np.empty(0, dtype=np.int64)  # lot code → supplier code
        self._unmatched_failures: pa.Table | None = None  # of VINs not read yet

    def __len__(self) -> int:
        return len(self.vin)

    def delivered_by(self, day: date) -> np.ndarray:
        """The vids of the vehicles delivered by ``day``, in VIN order."""
        delivered = self.delivered_on[self._by_vin]
        return self._by_vin[delivered <= np.datetime64(day, "D")]  # NaT: not delivered

    def watched_by(self, day: date) -> np.ndarray:
        """The vids of the vehicles delivered by ``day`` whose life in service the store
        holds from the start, in VIN order: delivered no more than :data:`HISTORY_GRACE_DAYS`
        before :attr:`history_from`. A vehicle of an installed base, on the road for years
        before the store's history begins, has failures and repairs nobody recorded; counted
        as at risk since its delivery it would look immortal at every age the store never
        saw, and every level it does not hold would look frail beside it."""
        chosen = self.delivered_by(day)
        if np.isnat(self.history_from):
            return chosen
        start = self.history_from - np.timedelta64(HISTORY_GRACE_DAYS, "D")
        return chosen[self.delivered_on[chosen] >= start]

    def update(self, view: Any) -> None:
        """Read the rows ingested since the last update (all of them the first time).

        ``view`` is a store as of an instant (:class:`gigaloop.store.StoreView`; its
        ``cutoff`` becomes the cursor) or a store (read to its newest row).
        """
        until = getattr(view, "cutoff", None)
        store = getattr(view, "store", view)
        if until is None:
            newest = store.execute(store.table("vehicles")[INGESTED_AT].max())
            until = self.cursor if pd.isna(newest) else pd.Timestamp(newest).to_pydatetime()
        if until is None or (self.cursor is not None and until <= self.cursor):
            return

        def new(name: str, *columns: str) -> pa.Table:
            return store.ingested_between(name, self.cursor, until, list(columns))

        self._add_lot_suppliers(new("lots", "lot_id", "supplier_id"))
        self._add_vehicles(new("vehicles", "vin", "build_date", *VEHICLE_ATTRIBUTES))
        self._add_deliveries(new("customers", "vin", "customer_id", "delivered_on",
                                 "climate_region"))
        self._add_lots(new("vehicle_lots", "vin", "part_number", "lot_id"))
        self._add_machines(new("vehicle_stations", "vin", "station_id", "machine_id"))
        self._add_readings(new("process_readings", "vin", "station_id", "parameter", "value"))
        self._add_inspections(new("inspection_results", "vin", "station_id", "inspection",
                                  "passed"))
        visits = new("service_visits", "vin", "component", "event_time", "part_condition")
        self._add_replacements(visits)  # before telemetry: the days after count not
        self._add_usage(new("telemetry_daily", *telemetry_columns(self.measures)))
        self._add_failures(new("component_failures", "vin", "component", "event_time"))
        self._add_removals(visits)
        self._add_feedback(new("feedback", "customer_id", "channel", "topic", "event_time"))
        self.cursor = until

    def _vids(self, rows: pa.Table) -> np.ndarray:
        """Each row's vehicle (−1: a VIN not read)."""
        return pc.index_in(rows["vin"], value_set=self._known).fill_null(-1).to_numpy()

    def _add_lot_suppliers(self, rows: pa.Table) -> None:
        lots = self.lot_levels.encode(rows["lot_id"])
        suppliers = self.supplier_levels.encode(rows["supplier_id"])
        self._supplier_of_lot = _grown(self._supplier_of_lot, len(self.lot_levels.labels), -1)
        self._supplier_of_lot[lots] = suppliers

    def _add_vehicles(self, rows: pa.Table) -> None:
        if not rows.num_rows:
            return
        first, n = len(self), len(self) + rows.num_rows
        vins = rows["vin"].to_numpy()
        self.vin = np.concatenate([self.vin, vins])
        self._known = pa.array(self.vin, pa.string())
        self.build_date = np.concatenate([self.build_date, rows["build_date"].to_numpy()])
        self.delivered_on = _grown(self.delivered_on, n, np.datetime64("NaT"))
        self.climate = _grown(self.climate, n, None)
        self.customer_id = _grown(self.customer_id, n, None)
        for kind in VEHICLE_ATTRIBUTES:
            self.codes[kind] = np.concatenate([self.codes[kind],
                                               self.levels[kind].encode(rows[kind])])
        for part, (lot, supplier) in self.lots.items():
            self.lots[part] = (_grown(lot, n, -1), _grown(supplier, n, -1))
        tables: tuple[tuple[dict[Any, np.ndarray], Any], ...] = (
            (self.machines, -1), (self.inspections, -1), (self.readings, np.nan),
            (self.read, False), (self.first_failure, NEVER), (self.first_complaint, NEVER),
            (self.replaced, np.datetime64("NaT", "D")))
        for table, fill in tables:
            for key, values in table.items():
                table[key] = _grown(values, n, fill)
        self.usage = np.concatenate([self.usage, np.zeros((n - first, len(self.usage_sums)))])
        added = first + np.argsort(vins, kind="stable")
        sorted_vins = self.vin[self._by_vin]
        self._by_vin = np.insert(self._by_vin, np.searchsorted(sorted_vins, vins[added - first]),
                                 added)
        if self._unmatched_failures is not None:
            unmatched, self._unmatched_failures = self._unmatched_failures, None
            self._add_failures(unmatched)

    def _add_deliveries(self, rows: pa.Table) -> None:
        vid = self._vids(rows)
        known = vid >= 0
        self.delivered_on[vid[known]] = rows["delivered_on"].to_numpy()[known]
        self.climate[vid[known]] = rows["climate_region"].to_numpy()[known]
        if known.any():
            self.customer_id[vid[known]] = rows["customer_id"].to_numpy(
                zero_copy_only=False)[known]
            self._customers = pa.array(self.customer_id, pa.string())
            if self._unmatched_feedback is not None:
                unmatched, self._unmatched_feedback = self._unmatched_feedback, None
                self._add_feedback(unmatched)

    def _add_lots(self, rows: pa.Table) -> None:
        vid = self._vids(rows)
        lots = self.lot_levels.encode(rows["lot_id"])
        suppliers = np.where(lots >= 0, self._supplier_of_lot[lots], -1)
        for (part,), at in _grouped(vid, rows["part_number"]):
            lot, supplier = self.lots.setdefault(part, (np.full(len(self), -1, np.int64),
                                                       np.full(len(self), -1, np.int64)))
            lot[vid[at]], supplier[vid[at]] = lots[at], suppliers[at]

    def _add_machines(self, rows: pa.Table) -> None:
        rows = rows.filter(pc.is_valid(rows["machine_id"]))
        vid = self._vids(rows)
        machines = self.machine_levels.encode(rows["machine_id"])
        for (station,), at in _grouped(vid, rows["station_id"]):
            codes = self.machines.setdefault(station, np.full(len(self), -1, np.int64))
            codes[vid[at]] = machines[at]

    def _add_readings(self, rows: pa.Table) -> None:
        vid = self._vids(rows)
        values = rows["value"].to_numpy().astype(float)
        for key, at in _grouped(vid, rows["station_id"], rows["parameter"]):
            self.readings.setdefault(key, np.full(len(self), np.nan))[vid[at]] = values[at]
            self.read.setdefault(key, np.zeros(len(self), dtype=bool))[vid[at]] = True

    def _add_inspections(self, rows: pa.Table) -> None:
        vid = self._vids(rows)
        failed = (~rows["passed"].to_numpy(zero_copy_only=False)).astype(np.int64)
        for key, at in _grouped(vid, rows["station_id"], rows["inspection"]):
            verdicts = self.inspections.setdefault(key, np.full(len(self), -1, np.int64))
            verdicts[vid[at]] = failed[at]

    def _history_from(self, times: pa.ChunkedArray) -> None:
        """Move :attr:`history_from` to the earliest day of ``times`` if it is earlier."""
        first = pc.min(times).as_py()
        if first is not None:
            day = np.datetime64(pd.Timestamp(first).date(), "D")
            self.history_from = day if np.isnat(self.history_from) else min(
                self.history_from, day)

    def _add_usage(self, rows: pa.Table) -> None:
        self._history_from(rows["day"])
        vid = self._vids(rows)
        delivered = np.where(vid >= 0, self.delivered_on[vid], np.datetime64("NaT"))
        # unknown or undelivered: counts not
        replaced = {part: np.where(vid >= 0, days[vid], np.datetime64("NaT"))
                    for part, days in self.replaced.items()}
        terms, counts = usage_terms(rows, delivered, self.measures, replaced)
        n = len(self)
        slot = np.where(counts, vid, n)  # rows that count not go to a last, dropped slot
        for column, name in enumerate(self.usage_sums):
            term = terms[name]
            term = np.where(np.isnan(term) & counts, 0.0, term)  # a missing value adds nothing
            self.usage[:, column] += np.bincount(slot, term, minlength=n + 1)[:n]

    def _add_failures(self, rows: pa.Table) -> None:
        self._history_from(rows["event_time"])
        vid = self._vids(rows)
        _keep_earliest(self.first_failure, len(self), vid, rows, "component")
        self._unmatched_failures = _with_unmatched(self._unmatched_failures, rows, vid)

    def _add_replacements(self, rows: pa.Table) -> None:
        """Each vehicle's first replacement day of each part a rate measure is of: every
        visit fits a new part (a repair after a failure, a campaign, a predictive visit)."""
        vid = self._vids(rows)
        day = rows["event_time"].to_numpy().astype("datetime64[D]")
        for (component,), at in _grouped(vid, rows["component"]):
            if component in self._measured_parts:
                first = self.replaced.setdefault(component, np.full(
                    len(self), np.datetime64("NaT", "D")))
                np.fmin.at(first, vid[at], day[at])

    def _add_removals(self, rows: pa.Table) -> None:
        """A part removed before it failed and found degraded counts as its failure: the
        visit took the claim it would have made (a booking policy that replaces weak
        parts early would otherwise hide their cause)."""
        degraded = pc.equal(rows["part_condition"], "degraded").fill_null(False)
        self._add_failures(rows.filter(degraded).select(["vin", "component", "event_time"]))

    def _add_feedback(self, rows: pa.Table) -> None:
        """First complaint per topic and vehicle, from feedback of other channels than
        :data:`NOT_COMPLAINTS`, through the customer's id."""
        rows = rows.filter(pc.invert(pc.is_in(rows["channel"], value_set=pa.array(
            NOT_COMPLAINTS, pa.string()))).fill_null(True))
        vid = pc.index_in(rows["customer_id"], value_set=self._customers).fill_null(
            -1).to_numpy()
        _keep_earliest(self.first_complaint, len(self), vid, rows, "topic")
        self._unmatched_feedback = _with_unmatched(self._unmatched_feedback, rows, vid)


def _keep_earliest(first: dict[str, np.ndarray], n: int, vid: np.ndarray, rows: pa.Table,
                   label: str) -> None:
    """Per value of ``label`` (a component, a topic), each vehicle's earliest
    ``event_time`` in ``first`` (vehicles ``vid``; -1: not known yet)."""
    when = rows["event_time"].to_numpy().astype("datetime64[us]")
    moment = np.where(np.isnat(when), NEVER, when.view(np.int64))
    for value in pc.unique(rows[label]).drop_null().to_pylist():
        first.setdefault(value, np.full(n, NEVER))
    for (value,), at in _grouped(vid, rows[label]):
        np.minimum.at(first[value], vid[at], moment[at])


def _with_unmatched(kept: pa.Table | None, rows: pa.Table, vid: np.ndarray) -> pa.Table | None:
    """``kept`` plus the ``rows`` whose vehicle is not known yet (``vid`` -1)."""
    if not (vid < 0).any():
        return kept
    unmatched = rows.filter(pa.array(vid < 0))
    return unmatched if kept is None else pa.concat_tables([kept, unmatched])


def _grouped(vid: np.ndarray, *columns: pa.ChunkedArray):
    """(labels, row positions) per combination of non-null labels of ``columns``, over the
    rows of known vehicles (``vid`` ≥ 0), rows in order."""
    levels = [Levels() for _ in columns]
    codes = np.column_stack([lv.encode(c) for lv, c in zip(levels, columns, strict=True)])
    rows = np.flatnonzero((vid >= 0) & (codes >= 0).all(axis=1))
    if not len(rows):
        return
    keys, group = np.unique(codes[rows], axis=0, return_inverse=True)
    order = np.argsort(group.ravel(), kind="stable")  # rows by group, in order within one
    ends = np.cumsum(np.bincount(group.ravel(), minlength=len(keys)))
    for key, at in zip(keys, np.split(rows[order], ends[:-1]), strict=True):
        yield tuple(lv.labels[k] for lv, k in zip(levels, key, strict=True)), at


def _grown(values: np.ndarray, n: int, fill: Any) -> np.ndarray:
    """``values`` extended to length ``n`` with ``fill``."""
    return np.concatenate([values, np.full(n - len(values), fill, dtype=values.dtype)])
