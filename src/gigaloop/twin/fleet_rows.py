"""Rows of the fleet and customer tables, gathered in batches and built as Arrow tables.

Columns may be NumPy arrays, Arrow arrays (VINs are taken from one Arrow array by index,
never rebuilt as Python strings), lists, or a scalar repeated over the batch.

>>> rows = Rows()
>>> rows.add("feedback", feedback_id=serial_ids("FB", 0, 2), customer_id=["CU-1", "CU-2"],
...          channel="app", rating=np.array([5, 2]), topic="overall",
...          event_time=day_times(date(2025, 1, 1), 0, np.array([3600.0, 7200.0])))
>>> table = rows.tables()["feedback"]
>>> table.num_rows, table.column("feedback_id")[1].as_py(), table.schema.field("rating").type
(2, 'FB-000000001', DataType(int64))
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.errors import SchemaError
from gigaloop.schema import INGESTED_AT, get_table
from gigaloop.schema.customer import TABLES as CUSTOMER_TABLES
from gigaloop.schema.fleet import TABLES as FLEET_TABLES
from gigaloop.twin.tables import column

#: Every table :meth:`gigaloop.twin.fleet.Fleet.step` returns, in write order.
FLEET_OUTPUTS = tuple(t.name for t in (*FLEET_TABLES, *CUSTOMER_TABLES))
US_PER_S = 1_000_000
ID_DIGITS = 9


@functools.cache
def schema_of(name: str) -> pa.Schema:
    """The table's Arrow schema without ``ingested_at`` (the store stamps it)."""
    return pa.schema([f for f in get_table(name).arrow_schema() if f.name != INGESTED_AT])


def build(name: str, columns: Mapping[str, Any], n: int) -> pa.Table:
    """A table of ``n`` rows with exactly the schema's columns and types."""
    schema = schema_of(name)
    missing = set(schema.names) - set(columns)
    if missing:
        raise SchemaError(f"fleet built {name} without columns {sorted(missing)}", table=name)
    arrays = [column(columns[f.name], f.type, n) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def serial_ids(prefix: str, start: int, n: int) -> pa.Array:
    """``prefix-000000042``-style ids numbered from ``start``."""
    return numbered_ids(prefix, np.arange(start, start + n, dtype=np.int64))


def numbered_ids(prefix: str, numbers: np.ndarray, suffix: str = "",
                 valid: np.ndarray | None = None) -> pa.Array:
    """``prefix-``, each number (≥ 0) zero-padded to nine digits, and ``suffix``; null
    where ``valid`` is False.

    The text is laid out as bytes and handed to Arrow as one buffer (no per-row strings).

    >>> numbered_ids("SUB", np.array([7, 1_234_567_890])).to_pylist()
    ['SUB-000000007', 'SUB-1234567890']
    >>> numbered_ids("clips/TR", np.array([3, 4]), ".mp4", np.array([True, False])).to_pylist()
    ['clips/TR-000000003.mp4', None]
    """
    numbers = np.asarray(numbers, dtype=np.int64)
    n = len(numbers)
    mask = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    if n and numbers.max() >= 10**ID_DIGITS:   # rare: longer numbers keep all their digits
        text = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), ID_DIGITS, "0")
        ids = pc.binary_join_element_wise(prefix + "-", text, suffix, "")
        none = pa.scalar(None, pa.string())
        return ids if valid is None else pc.if_else(pa.array(valid), ids, none)
    head = np.frombuffer(prefix.encode() + b"-", np.uint8)
    tail = np.frombuffer(suffix.encode(), np.uint8)
    start, end = len(head), len(head) + ID_DIGITS
    width = end + len(tail)
    text = np.empty((width, n), np.uint8)   # one row per character, transposed at the end
    text[:start] = head[:, None]
    text[end:] = tail[:, None]
    rest = numbers.astype(np.uint32)        # below 10**9: division by a scalar is quick
    for place in range(end - 1, start - 1, -1):
        tens = rest // 10
        text[place] = rest - tens * 10
        rest = tens
    text[start:end] += ord("0")
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets),
                                       pa.py_buffer(np.ascontiguousarray(text.T)), mask)


def day_times(start: date, day: int, seconds: np.ndarray | float) -> np.ndarray:
    """Naive-UTC ``datetime64[us]`` of ``seconds`` after midnight of ``start + day``."""
    midnight = np.datetime64(start, "us") + np.timedelta64(day, "D")
    return midnight + (np.asarray(seconds) * US_PER_S).astype("timedelta64[us]")


class Rows:
    """Batches of rows per table for one day; :meth:`tables` builds every output table."""

    def __init__(self) -> None:
        self._batches: dict[str, list[pa.Table]] = {name: [] for name in FLEET_OUTPUTS}

    def add(self, name: str, **columns: Any) -> None:
        lengths = {len(v) for v in columns.values()
                   if not (v is None or isinstance(v, str | float | int | bool | np.generic))}
        if len(lengths) != 1:
            raise SchemaError(f"columns of {name} have lengths {sorted(lengths)}", table=name)
        n = lengths.pop()
        if n:
            self._batches[name].append(build(name, columns, n))

    def add_table(self, name: str, table: pa.Table) -> None:
        if table.num_rows:
            self._batches[name].append(table)

    def tables(self) -> dict[str, pa.Table]:
        """One table per output (empty ones included), batches concatenated."""
        out = {}
        for name, parts in self._batches.items():
            if not parts:
                out[name] = schema_of(name).empty_table()
            else:
                out[name] = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
        return out
