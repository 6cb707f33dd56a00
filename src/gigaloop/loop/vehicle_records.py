"""Everything root cause needs about each vehicle, kept up to date from new rows only.

:class:`VehicleRecords` reads, at each :meth:`~VehicleRecords.update`, only the rows
ingested since its last one (the ``ingested_at`` column; every row is read exactly once)
and keeps them per vehicle: how it was built (vehicle attributes, lots and suppliers,
machines, process readings), its delivery, its usage as additive sums
(:func:`gigaloop.fleet.usage_sums`) and its first failure per component. Each read is one
Ibis expression, so the same code runs on DuckDB and on Spark. A fresh instance — after a
restart — reads the whole store once and holds the same records.

>>> import tempfile
>>> from gigaloop.store import Store
>>> records = VehicleRecords()
>>> records.update(Store(tempfile.mkdtemp()))
>>> len(records.vehicles)
0
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import pandas as pd

from gigaloop.fleet.usage import USAGE_SUMS, usage_sums
from gigaloop.loop.kpis import Tables
from gigaloop.schema import INGESTED_AT

#: Vehicle columns that are attributes in their own right.
VEHICLE_ATTRIBUTES = ("shift", "model", "trim", "hardware_revision", "design_revision")


class VehicleRecords:
    """Per-vehicle records, grown from each update's new rows.

    ``vehicles``: one row per built vehicle (index ``vin``): ``build_date``,
    :data:`VEHICLE_ATTRIBUTES`, and once delivered ``delivered_on``, ``climate_region``;
    ``lots``: ``vin, part_number, lot_id, supplier_id``; ``machines``: ``vin, station_id,
    machine_id``; ``readings``: ``vin, station_id, parameter, value``; ``usage``: the sums
    of :data:`~gigaloop.fleet.usage.USAGE_SUMS` per ``vin``; ``first_failures``:
    ``(vin, component)`` → first failure time.
    """

    def __init__(self) -> None:
        self.cursor: datetime | None = None
        self.vehicles = pd.DataFrame(columns=["build_date", *VEHICLE_ATTRIBUTES,
                                              "delivered_on", "climate_region"])
        self.usage = pd.DataFrame(columns=list(USAGE_SUMS), dtype=float)
        self.first_failures = pd.Series(dtype="datetime64[us]")
        self._lots: list[pd.DataFrame] = []
        self._machines: list[pd.DataFrame] = []
        self._readings: list[pd.DataFrame] = []

    @property
    def lots(self) -> pd.DataFrame:
        return _joined(self._lots, ["vin", "part_number", "lot_id", "supplier_id"])

    @property
    def machines(self) -> pd.DataFrame:
        return _joined(self._machines, ["vin", "station_id", "machine_id"])

    @property
    def readings(self) -> pd.DataFrame:
        return _joined(self._readings, ["vin", "station_id", "parameter", "value"])

    def update(self, view: Tables) -> None:
        """Read the rows ingested since the last update (all of them the first time).

        ``view`` is a store or a store as of an instant (its ``cutoff`` becomes the cursor).
        """
        cutoff = getattr(view, "cutoff", None)

        def new(name: str) -> ibis.Table:
            table = view.table(name)
            return table if self.cursor is None else table.filter(
                table[INGESTED_AT] > self.cursor)

        vehicles = new("vehicles").select("vin", "build_date", *VEHICLE_ATTRIBUTES)
        customers = new("customers").select("vin", "delivered_on", "climate_region")
        lots = new("vehicle_lots").join(view.table("lots").select("lot_id", "supplier_id"),
                                        "lot_id")
        stations = new("vehicle_stations")
        readings = new("process_readings")
        failures = new("component_failures")
        frames = {name: view.execute(expr) for name, expr in {
            "vehicles": vehicles, "customers": customers,
            "lots": lots.select("vin", "part_number", "lot_id", "supplier_id"),
            "machines": stations.filter(stations.machine_id.notnull()).select(
                "vin", "station_id", "machine_id"),
            "readings": readings.select("vin", "station_id", "parameter", "value"),
            "usage": usage_sums(new("telemetry_daily"), view.table("customers")),
            "failures": failures.group_by(["vin", "component"]).aggregate(
                first=failures.event_time.min()),
            "latest": _latest(view, new),
        }.items()}
        self._add(frames)
        latest = frames["latest"].iloc[0, 0] if len(frames["latest"]) else None
        self.cursor = cutoff if cutoff is not None else (
            pd.Timestamp(latest).to_pydatetime() if pd.notna(latest) else self.cursor)

    def _add(self, frames: dict[str, pd.DataFrame]) -> None:
        built = frames["vehicles"].set_index("vin")
        built["delivered_on"] = pd.NaT
        built["climate_region"] = None
        self.vehicles = built if self.vehicles.empty else pd.concat([self.vehicles, built])
        delivered = frames["customers"].set_index("vin")
        self.vehicles.loc[delivered.index, "delivered_on"] = delivered.delivered_on
        self.vehicles.loc[delivered.index, "climate_region"] = delivered.climate_region
        self._lots.append(frames["lots"])
        self._machines.append(frames["machines"])
        self._readings.append(frames["readings"])
        usage = frames["usage"].set_index("vin").astype(float)
        self.usage = usage if self.usage.empty else self.usage.add(usage, fill_value=0.0)
        first = frames["failures"].set_index(["vin", "component"])["first"]
        self.first_failures = first if self.first_failures.empty else pd.concat(
            [self.first_failures, first]).groupby(level=[0, 1]).min()


def _latest(view: Tables, new: Any) -> ibis.Table:
    """The newest ``ingested_at`` among the new vehicle and telemetry rows (the cursor of a
    store read without a cutoff)."""
    stamps = [new(name).select(INGESTED_AT) for name in ("vehicles", "telemetry_daily")]
    union = ibis.union(*stamps)
    return union.aggregate(latest=union[INGESTED_AT].max())


def _joined(chunks: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Chunks as one frame, merged in place so the next read is free."""
    if not chunks:
        return pd.DataFrame(columns=columns)
    if len(chunks) > 1:
        chunks[:] = [pd.concat(chunks, ignore_index=True)]
    return chunks[0]
