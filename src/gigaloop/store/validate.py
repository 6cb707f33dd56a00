"""Column checks of a batch against its table, vectorised with pyarrow.compute.

A batch is first made into Arrow (:func:`to_arrow`), then :func:`check` casts every
column to its declared type and tests nullability, ranges, choices and references.
Each failed rule is a boolean mask with a reason that names the column; a row is
rejected if any mask holds for it. Only rejected rows ever meet per-row Python.

>>> from gigaloop.schema import get_table
>>> batch = to_arrow([{"site_id": "S1", "name": "Fremont", "region": "CAISO",
...                    "timezone": "America/Los_Angeles"},
...                   {"site_id": None, "name": "Austin", "region": "ERCOT",
...                    "timezone": "America/Chicago"}])
>>> typed, rejected = check(get_table("sites"), batch, known=lambda ref: pa.array([]))
>>> typed.num_rows, rejected.count, rejected.reasons_of([1])
(2, 1, ['site_id: missing'])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.errors import SchemaError
from gigaloop.schema import INGESTED_AT, Column, Table
from gigaloop.store.engines import DUCKDB_TYPES

Rows: TypeAlias = pa.Table | pd.DataFrame | Sequence[Mapping[str, Any]]

#: DuckDB types to try-cast into; text with a UTC offset is honoured, then made naive UTC.
_TRY_TYPES = {**DUCKDB_TYPES, "timestamp": "TIMESTAMPTZ"}


class Rejections:
    """Why rows of a batch are rejected: one boolean mask per reason."""

    def __init__(self, num_rows: int) -> None:
        self.num_rows = num_rows
        self._masks: dict[str, np.ndarray] = {}

    def add(self, reason: str, mask: np.ndarray | pa.Array | pa.ChunkedArray) -> None:
        """Reject the rows where ``mask`` is true (null counts as false)."""
        if not isinstance(mask, np.ndarray):
            if not pc.any(mask).as_py():
                return
            mask = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
        elif not mask.any():
            return
        if reason in self._masks:
            self._masks[reason] = self._masks[reason] | mask
        else:
            self._masks[reason] = mask.astype(bool, copy=True)

    def add_rows(self, reason: str, positions: np.ndarray) -> None:
        mask = np.zeros(self.num_rows, dtype=bool)
        mask[positions] = True
        self.add(reason, mask)

    @property
    def mask(self) -> np.ndarray:
        """True for every rejected row."""
        combined = np.zeros(self.num_rows, dtype=bool)
        for mask in self._masks.values():
            combined |= mask
        return combined

    @property
    def count(self) -> int:
        return int(self.mask.sum()) if self._masks else 0

    def counts(self) -> dict[str, int]:
        """Rows per reason (a row with two reasons counts under both)."""
        return {reason: int(mask.sum()) for reason, mask in self._masks.items()}

    def reasons_of(self, positions: Iterable[int]) -> list[str]:
        """The reasons of each row at ``positions``, joined with ``; ``."""
        return ["; ".join(r for r, m in self._masks.items() if m[i]) for i in positions]


def to_arrow(rows: Rows) -> pa.Table:
    """Any accepted batch form as an Arrow table; mixed-type columns become text.

    >>> to_arrow([{"a": 1}, {"a": "x", "b": 2.5}]).to_pylist()
    [{'a': '1', 'b': None}, {'a': 'x', 'b': 2.5}]
    """
    if isinstance(rows, pa.Table):
        return rows
    if isinstance(rows, pd.DataFrame):
        try:
            return pa.Table.from_pandas(rows, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            columns = {str(name): rows[name].tolist() for name in rows.columns}
    else:
        columns = {}
        for row in rows:
            for name in row:
                columns.setdefault(name, [])
        columns = {name: [row.get(name) for row in rows] for name in columns}
    return pa.table({name: _array(values) for name, values in columns.items()})


def _array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if _is_missing(v) else str(v) for v in values], pa.string())


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def conform(table: Table, batch: pa.Table) -> pa.Table:
    """The batch's columns in table order; a nullable column it lacks is added as nulls.

    Raises :class:`SchemaError` for unknown columns or a missing required column: that is
    a sender's mistake about the whole batch, not a bad row. ``ingested_at`` is dropped
    (the store sets it). A batch with no rows and no columns (``[]``) is an empty batch.
    """
    names = [c.name for c in table.all_columns if c.name != INGESTED_AT]
    if batch.num_columns == 0 and batch.num_rows == 0:
        return pa.table([pa.array([], table.column(n).arrow_type) for n in names], names=names)
    unknown = [n for n in batch.column_names if n not in names and n != INGESTED_AT]
    if unknown:
        raise SchemaError(
            f"{table.name}: unknown columns {unknown}; drop them or map them to the table's "
            f"columns {names}",
            table=table.name,
        )
    if len(set(batch.column_names)) != batch.num_columns:
        raise SchemaError(f"{table.name}: a column name appears twice", table=table.name)
    missing = [n for n in names if n not in batch.column_names and not table.column(n).nullable]
    if missing:
        raise SchemaError(
            f"{table.name}: required columns {missing} are absent from the batch; send them "
            "(rows with a null value in them are quarantined, a missing column is refused)",
            table=table.name,
        )
    arrays = [
        batch[n] if n in batch.column_names else pa.nulls(len(batch), table.column(n).arrow_type)
        for n in names
    ]
    return pa.table(arrays, names=names)


def check(
    table: Table, batch: pa.Table, known: Callable[[str], pa.Array]
) -> tuple[pa.Table, Rejections]:
    """Cast ``batch`` to the table's types and test every column rule.

    ``known(ref)`` returns the values stored under a ``"table.column"`` reference.
    Returns the typed rows (all of them, without ``ingested_at``) and the rejections.
    """
    received = conform(table, batch)
    rejected = Rejections(received.num_rows)
    typed = []
    for name, original in zip(received.column_names, received.columns, strict=True):
        column = table.column(name)
        values = _cast(column, original, rejected)
        _check_values(table, column, original, values, rejected, known)
        typed.append(values)
    return pa.table(typed, schema=_without_ingested_at(table)), rejected


def _without_ingested_at(table: Table) -> pa.Schema:
    schema = table.arrow_schema()
    return pa.schema([f.with_nullable(True) for f in schema if f.name != INGESTED_AT])


def _cast(column: Column, original: pa.ChunkedArray, rejected: Rejections) -> pa.ChunkedArray:
    target = column.arrow_type
    if original.type == target:
        return original
    if pa.types.is_timestamp(original.type) and pa.types.is_timestamp(target):
        return pc.cast(original, target, safe=False)  # zone dropped: values are UTC already
    try:
        return pc.cast(original, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = _try_cast(column, original)
    failed = pc.and_(pc.is_null(values), pc.is_valid(original))
    rejected.add(f"{column.name}: not a {column.dtype}", failed)
    return values


def _try_cast(column: Column, original: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cast value by value in DuckDB, null where a value does not convert."""
    sql_type = _TRY_TYPES[column.dtype]
    textual = pa.types.is_string(original.type) or pa.types.is_large_string(original.type)
    if column.dtype == "int64" and textual:
        integral = "regexp_full_match(trim(v), '[+-]?[0-9]+([.]0*)?')"
        expr = f"CASE WHEN {integral} THEN TRY_CAST(trim(v) AS BIGINT) END"
    elif column.dtype == "int64" and pa.types.is_floating(original.type):
        expr = "CASE WHEN v = trunc(v) THEN TRY_CAST(v AS BIGINT) END"
    elif column.dtype != "string" and not textual:
        expr = f"TRY_CAST(CAST(v AS VARCHAR) AS {sql_type})"
    else:
        expr = f"TRY_CAST(v AS {sql_type})"
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("batch_column", pa.table({"v": original}))
        result = con.sql(f"SELECT {expr} AS v FROM batch_column").to_arrow_table()["v"]
    finally:
        con.close()
    return pc.cast(result, column.arrow_type, safe=False)


def _check_values(
    table: Table,
    column: Column,
    original: pa.ChunkedArray,
    values: pa.ChunkedArray,
    rejected: Rejections,
    known: Callable[[str], pa.Array],
) -> None:
    name = column.name
    required = not column.nullable or name in table.key
    if required and original.null_count:
        rejected.add(f"{name}: missing", pc.is_null(original))
    if column.dtype == "float64" and (column.min is not None or column.max is not None):
        total = pc.sum(values).as_py()  # NaN if any value is NaN: one pass on the happy path
        if total is not None and math.isnan(total):
            rejected.add(f"{name}: not a number", pc.is_nan(values))
    if column.min is not None or column.max is not None:
        bounds = pc.min_max(values).as_py()
        if column.min is not None and bounds["min"] is not None and bounds["min"] < column.min:
            rejected.add(f"{name}: below min {column.min:g}", pc.less(values, column.min))
        if column.max is not None and bounds["max"] is not None and bounds["max"] > column.max:
            rejected.add(f"{name}: above max {column.max:g}", pc.greater(values, column.max))
    if column.choices is not None:
        allowed = pa.array(column.choices, pa.string())
        rejected.add(
            f"{name}: not one of {', '.join(column.choices)}",
            pc.and_(pc.invert(pc.is_in(values, value_set=allowed)), pc.is_valid(values)),
        )
    if column.references is not None:
        stored = known(column.references)
        rejected.add(
            f"{name}: unknown {column.references}",
            pc.and_(pc.invert(pc.is_in(values, value_set=stored)), pc.is_valid(values)),
        )
