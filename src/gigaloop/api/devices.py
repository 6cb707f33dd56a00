"""What a device token may write: rows of its own source, in the tables a device sends.

A device token is bound to one source id. Each table a device may send has a *source
column*; every row of the batch must carry the token's source id there, or the whole
batch is refused (403) and nothing is written. Tables without a source column (reference
data such as ``vehicles`` or ``customers``) take batches from an ``admin`` token only;
the loop's own tables (``decisions``, ``findings``, ``change_requests``, ``spc_alarms``)
and ``quarantine`` are never ingested.

>>> import pyarrow as pa
>>> check_device_rows("machine_readings", pa.table({"machine_id": ["M1", "M1"]}), "M1")
>>> check_device_rows("machine_readings", pa.table({"machine_id": ["M1", "M2"]}), "M1")
Traceback (most recent call last):
gigaloop.errors.AccessDenied: 1 of 2 rows name another machine_id than this device's 'M1'
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.errors import AccessDenied

#: table → the column that names the row's source (a device writes only its own).
SOURCE_COLUMNS: dict[str, str] = {
    "machine_readings": "machine_id",      # a machine's condition monitor
    "process_readings": "station_id",      # a station's PLC / OPC UA server
    "inspection_results": "station_id",    # an inspection station
    "inspection_images": "station_id",     # a vision station's camera
    "rework_results": "station_id",        # the repair bay, for the station that sent it
    "energy_readings": "site_id",          # a site's energy meter
    "telemetry_daily": "vin",              # a vehicle
    "trigger_events": "vin",
    "diagnostic_codes": "vin",
    "crashes": "vin",
}
#: Tables the loop writes itself; no payload may write them.
LOOP_TABLES = frozenset({"decisions", "findings", "change_requests", "spc_alarms", "quarantine"})


def check_loop_table(table: str) -> None:
    if table in LOOP_TABLES:
        raise AccessDenied(f"{table} is written by the loop (or the store), never ingested",
                           table=table)


def check_device_rows(table: str, rows: pa.Table, source_id: str) -> None:
    """Refuse the batch unless every row names ``source_id`` in the table's source column."""
    column = SOURCE_COLUMNS.get(table)
    if column is None:
        devices = ", ".join(sorted(SOURCE_COLUMNS))
        raise AccessDenied(f"a device may not write {table} (devices write: {devices})",
                           table=table)
    if rows.num_rows == 0:
        return
    if column not in rows.column_names:
        raise AccessDenied(f"every row must name its source in {column}", table=table)
    values = rows[column].cast(pa.string()) if rows[column].type != pa.string() else rows[column]
    own = pc.fill_null(pc.equal(values, source_id), False)
    foreign = rows.num_rows - pc.sum(own.cast(pa.int64())).as_py()
    if foreign:
        raise AccessDenied(f"{foreign} of {rows.num_rows} rows name another {column} than this "
                           f"device's {source_id!r}", table=table, source_id=source_id)
