"""Columnar Sparkplug B: a table's rows as array metrics, decoded with NumPy.

A metric per reading costs the connector several microseconds of Python (protobuf field
access, its properties); a plant that sends many readings a second sends them as
**columns** instead — gigaloop's convention on Sparkplug B 3.0's array datatypes. In one
DDATA, metrics named ``<table>/<column>`` (``process_readings/vin``,
``process_readings/value`` …), each an array of the same length, are that many rows of
``<table>`` (``process_readings`` or ``machine_readings``); the device in the topic is
the ``station_id`` of process readings. ``event_time`` is an ``Int64Array`` of
microseconds since the epoch (UTC) or a ``DateTimeArray`` of milliseconds; a process
reading's ``unit`` defaults to the ``unit`` property its parameter had in the DBIRTH.
Strings are ``StringArray`` (UTF-8, each ended by a NUL byte), numbers any of the
integer, ``FloatArray`` or ``DoubleArray`` types (little-endian, packed).

>>> import numpy as np
>>> strings(b"5YJ1\\x005YJ2\\x00").to_pylist()
['5YJ1', '5YJ2']
>>> numbers(31, np.array([1.5, 2.0]).tobytes()).tolist()
[1.5, 2.0]
>>> block_of("process_readings/value"), block_of("weld_current")
(('process_readings', 'value'), None)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from gigaloop.ingest.messages import RejectedMessage, table_from_columns
from gigaloop.schema import get_table

#: The tables a DDATA may carry as columns, and the column the topic's device fills.
TABLES = {"process_readings": "station_id", "machine_readings": None}
STRING_ARRAY, DATETIME_ARRAY, INT64_ARRAY = 33, 34, 25
_NUMBERS = {22: "<i1", 23: "<i2", 24: "<i4", 25: "<i8", 26: "<u1", 27: "<u2", 28: "<u4",
            29: "<u8", 30: "<f4", 31: "<f8", 34: "<i8"}


def block_of(name: str) -> tuple[str, str] | None:
    """``(table, column)`` when a metric name is a column of a columnar block."""
    table, _, column = name.partition("/")
    return (table, column) if column and table in TABLES else None


def strings(raw: bytes) -> pa.Array:
    """A ``StringArray`` value (NUL-ended UTF-8 strings) as an Arrow string array."""
    data = np.frombuffer(raw, np.uint8)
    ends = np.flatnonzero(data == 0)
    if len(data) and (not len(ends) or ends[-1] != len(data) - 1):
        raise ValueError("a StringArray must end each string with a NUL byte")
    offsets = np.zeros(len(ends) + 1, np.int32)
    offsets[1:] = ends - np.arange(len(ends))  # each string's end, its NULs taken out
    array = pa.StringArray.from_buffers(len(ends), pa.py_buffer(offsets),
                                        pa.py_buffer(data[data != 0].tobytes()))
    try:
        array.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise ValueError(f"a StringArray holds text that is not UTF-8: {exc}") from None
    return array


def numbers(datatype: int, raw: bytes) -> np.ndarray:
    """A numeric array metric's values."""
    dtype = np.dtype(_NUMBERS[datatype])
    if len(raw) % dtype.itemsize:
        raise ValueError(f"{len(raw)} bytes is not a whole number of {dtype.itemsize}-byte "
                         "values")
    return np.frombuffer(raw, dtype)


def decode_blocks(metrics: list[tuple[str, Any]], device: str,
                  units: dict[str, str]) -> dict[str, pa.Table]:
    """The rows of each table whose columns ``metrics`` (``(table/column, metric)``) hold.

    Raises :class:`RejectedMessage` when a block cannot be read: a datatype that is not an
    array, columns of different lengths, bytes that are not whole values.
    """
    columns: dict[str, dict[str, Any]] = {}
    for name, metric in metrics:
        table, column = block_of(name) or ("", "")
        try:
            columns.setdefault(table, {})[column] = _column(column, metric)
        except (ValueError, KeyError) as exc:
            detail = str(exc) if isinstance(exc, ValueError) else \
                f"datatype {metric.datatype} is not a Sparkplug B array"
            raise RejectedMessage(f"{name}: {detail}", table=table) from None
    decoded = {}
    for table, values in columns.items():
        lengths = {len(v) for v in values.values()}
        if len(lengths) != 1:
            raise RejectedMessage(f"{table}: columns of different lengths "
                                  f"{sorted(lengths)}", table=table)
        count = lengths.pop()
        device_column = TABLES[table]
        if device_column is not None:
            values[device_column] = pa.array([device] * count, pa.string())
        if table == "process_readings" and "unit" not in values and "parameter" in values:
            values["unit"] = _units_of(values["parameter"], units)
        times = values.pop("event_time", None)
        rows = table_from_columns(get_table(table), values, count)
        if times is not None:
            rows = rows.set_column(rows.column_names.index("event_time"), "event_time",
                                   pa.array(times, pa.int64()).cast(pa.timestamp("us")))
        decoded[table] = rows
    return decoded


def _column(column: str, metric: Any) -> Any:
    if metric.datatype == STRING_ARRAY:
        return strings(metric.bytes_value)
    values = numbers(metric.datatype, metric.bytes_value)
    if column == "event_time":
        if metric.datatype not in (INT64_ARRAY, DATETIME_ARRAY):
            raise ValueError("event_time must be an Int64Array (µs) or DateTimeArray (ms)")
        return values * 1000 if metric.datatype == DATETIME_ARRAY else values
    return values


def _units_of(parameters: pa.Array, units: dict[str, str]) -> pa.Array:
    """Each reading's unit, from its parameter's DBIRTH ``unit`` (null when it had none)."""
    names = parameters.dictionary_encode()
    known = pa.array([units.get(str(p)) for p in names.dictionary.to_pylist()], pa.string())
    return known.take(names.indices)


__all__ = ["TABLES", "block_of", "decode_blocks", "numbers", "strings"]
