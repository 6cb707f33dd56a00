"""Everything root cause needs about each vehicle, kept up to date from new rows only.

:class:`VehicleRecords` reads, at each :meth:`~VehicleRecords.update`, only the rows
ingested since its last one (the ``ingested_at`` column; every row is read exactly once)
and keeps them per vehicle: how it was built (vehicle attributes, lots and suppliers,
machines, process readings), its delivery, its usage as additive sums and its first
failure per component. Rows come through the store's read of what is new
(:meth:`gigaloop.store.Store.ingested_between`: the in-memory tail or one statement on
DuckDB, an Ibis filter on Spark), so the same code runs on DuckDB and on Spark; the new
telemetry is summed per vehicle in memory (:func:`gigaloop.fleet.usage_sums_of_rows`).
A fresh instance — after a restart — reads the whole store once and holds the same
records.

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

import pandas as pd

from gigaloop.fleet.usage import TELEMETRY_COLUMNS, USAGE_SUMS, usage_sums_of_rows
from gigaloop.schema import INGESTED_AT

#: Vehicle columns that are attributes in their own right.
VEHICLE_ATTRIBUTES = ("shift", "model", "trim", "hardware_revision", "design_revision")


class VehicleRecords:
    """Per-vehicle records, grown from each update's new rows.

    ``vehicles``: one row per built vehicle (index ``vin``, in the order they were read):
    ``build_date``, :data:`VEHICLE_ATTRIBUTES`, and once delivered ``delivered_on``,
    ``climate_region``; the genealogy refers to a vehicle by ``vid``, its position in
    ``vehicles``: ``lots``: ``vid, part_number, lot_id, supplier_id``; ``machines``: ``vid,
    station_id, machine_id``; ``readings``: ``vid, station_id, parameter, value``;
    ``usage``: the sums of :data:`~gigaloop.fleet.usage.USAGE_SUMS` per ``vin``;
    ``first_failures``: ``(vin, component)`` → first failure time.
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
        self._suppliers = pd.Series(dtype=object)  # lot → supplier

    @property
    def lots(self) -> pd.DataFrame:
        return _joined(self._lots, ["vid", "part_number", "lot_id", "supplier_id"])

    @property
    def machines(self) -> pd.DataFrame:
        return _joined(self._machines, ["vid", "station_id", "machine_id"])

    @property
    def readings(self) -> pd.DataFrame:
        return _joined(self._readings, ["vid", "station_id", "parameter", "value"])

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

        def new(name: str, *columns: str) -> pd.DataFrame:
            rows = store.ingested_between(name, self.cursor, until, list(columns))
            return rows.to_pandas(date_as_object=False)  # dates as datetime64, not objects

        lots = new("lots", "lot_id", "supplier_id")
        self._suppliers = pd.concat([self._suppliers, lots.set_index("lot_id").supplier_id])
        used = new("vehicle_lots", "vin", "part_number", "lot_id")
        used["supplier_id"] = self._suppliers.reindex(used.lot_id).to_numpy()
        stations = new("vehicle_stations", "vin", "station_id", "machine_id")
        failures = new("component_failures", "vin", "component", "event_time")
        self._add({
            "vehicles": new("vehicles", "vin", "build_date", *VEHICLE_ATTRIBUTES),
            "customers": new("customers", "vin", "delivered_on", "climate_region"),
            "lots": used,
            "machines": stations[stations.machine_id.notna()],
            "readings": new("process_readings", "vin", "station_id", "parameter", "value"),
            "telemetry": new("telemetry_daily", *TELEMETRY_COLUMNS),
            "failures": failures.groupby(["vin", "component"], as_index=False).agg(
                first=("event_time", "min")),
        })
        self.cursor = until

    def _add(self, frames: dict[str, pd.DataFrame]) -> None:
        built = frames["vehicles"].set_index("vin")
        built["build_date"] = pd.to_datetime(built["build_date"]).astype("datetime64[s]")
        built["delivered_on"] = pd.Series(pd.NaT, index=built.index, dtype="datetime64[s]")
        built["climate_region"] = None
        self.vehicles = built if self.vehicles.empty else pd.concat([self.vehicles, built])
        delivered = frames["customers"].set_index("vin")
        delivered = delivered[delivered.index.isin(self.vehicles.index)]
        self.vehicles.loc[delivered.index, "delivered_on"] = pd.to_datetime(
            delivered.delivered_on).astype("datetime64[s]")
        self.vehicles.loc[delivered.index, "climate_region"] = delivered.climate_region
        known = self.vehicles.index
        for chunks, name in ((self._lots, "lots"), (self._machines, "machines"),
                             (self._readings, "readings")):
            rows = frames[name]
            vid = known.get_indexer(rows["vin"].to_numpy())
            chunks.append(rows.drop(columns="vin").assign(vid=vid)[vid >= 0])
        usage = usage_sums_of_rows(frames["telemetry"], self.vehicles["delivered_on"])
        self.usage = usage if self.usage.empty else self.usage.add(usage, fill_value=0.0)
        first = frames["failures"].set_index(["vin", "component"])["first"]
        self.first_failures = first if self.first_failures.empty else pd.concat(
            [self.first_failures, first]).groupby(level=[0, 1]).min()


def _joined(chunks: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Chunks as one frame, merged in place so the next read is free."""
    if not chunks:
        return pd.DataFrame(columns=columns)
    if len(chunks) > 1:
        chunks[:] = [pd.concat(chunks, ignore_index=True)]
    return chunks[0]
