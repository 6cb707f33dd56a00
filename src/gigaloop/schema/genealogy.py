"""Genealogy: which unit was built from which lots, at which stations, by which shift."""

from gigaloop.schema.plant import SHIFTS
from gigaloop.schema.table import Table, col

SUPPLIERS = Table("suppliers", "genealogy", "Part suppliers.", key=("supplier_id",), event=False,
                  columns=(
    col("supplier_id", "string", "supplier id"),
    col("name", "string", "supplier name"),
    col("country", "string", "country"),
))

PARTS = Table("parts", "genealogy", "Part numbers.", key=("part_number",), event=False, columns=(
    col("part_number", "string", "part number"),
    col("name", "string", "battery_cell, casting, camera, …"),
    col("category", "string", "battery, body, electronics, chassis, …"),
))

LOTS = Table("lots", "genealogy", "A lot (batch) of one part from one supplier.",
             key=("lot_id",), partition_by="event_time", columns=(
    col("lot_id", "string", "lot id"),
    col("part_number", "string", "part", references="parts.part_number"),
    col("supplier_id", "string", "supplier", references="suppliers.supplier_id"),
    col("manufactured_on", "date", "when the supplier made it"),
    col("quantity", "int64", "units in the lot", min=1),
))

VEHICLES = Table(
    "vehicles", "genealogy", "One built unit (vehicle). event_time is when it left end of line.",
    key=("vin",), partition_by="event_time", columns=(
        col("vin", "string", "vehicle identification number"),
        col("build_date", "date", "day built"),
        col("site_id", "string", "plant", references="sites.site_id"),
        col("line_id", "string", "line", references="lines.line_id"),
        col("shift", "string", "shift that completed it", choices=SHIFTS),
        col("model", "string", "model"),
        col("trim", "string", "trim"),
        col("hardware_revision", "string", "sensor / computer hardware revision"),
        col("design_revision", "string", "engineering design revision"),
    ))

VEHICLE_LOTS = Table(
    "vehicle_lots", "genealogy", "Which lot of each part went into a vehicle.",
    key=("vin", "part_number"), partition_by="event_time", columns=(
        col("vin", "string", "vehicle", references="vehicles.vin"),
        col("part_number", "string", "part", references="parts.part_number"),
        col("lot_id", "string", "lot", references="lots.lot_id"),
    ))

VEHICLE_STATIONS = Table(
    "vehicle_stations", "genealogy", "Each station a vehicle passed: machine and shift.",
    key=("vin", "station_id"), partition_by="event_time", columns=(
        col("vin", "string", "vehicle", references="vehicles.vin"),
        col("station_id", "string", "station", references="stations.station_id"),
        col("machine_id", "string", "machine", nullable=True),
        col("shift", "string", "shift", choices=SHIFTS),
    ))

TABLES = (SUPPLIERS, PARTS, LOTS, VEHICLES, VEHICLE_LOTS, VEHICLE_STATIONS)
