"""Column checks of a batch against its table, vectorised with pyarrow.compute.

A batch is first made into Arrow (:func:`to_arrow`), then :func:`check` casts every
column to its declared type and tests nullability, ranges, choices and references.
Each failed rule is a boolean mask with a reason that names the column; a row is
rejected if any mask holds for it. Only rejected rows ever meet per-row Python. A clean
column costs one cheap test per rule (a null count, a NumPy min and max, one set lookup):
masks are only built for the rules that fail. References are looked up in a
:class:`~gigaloop.store.hashes.ValueSet` kept by the caller, never rebuilt per batch.

>>> from gigaloop.schema import get_table
>>> batch = to_arrow([{"site_id": "S1", "name": "Fremont", "region": "CAISO",
...                    "timezone": "America/Los_Angeles"},
...                   {"site_id": None, "name": "Austin", "region": "ERCOT",
...                    "timezone": "America/Chicago"}])
>>> typed, rejected = check(get_table("sites"), batch, known=lambda ref: None)
>>> typed.num_rows, rejected.count, rejected.reasons_of([1])
(2, 1, ['site_id: missing'])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeAlias

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.errors import SchemaError
from gigaloop.schema import EVENT_TIME, INGESTED_AT, Column, Table
from gigaloop.schema.table import DOMAINS
from gigaloop.store.consistency import FirstValues
from gigaloop.store.engines import DUCKDB_TYPES

Rows: TypeAlias = pa.Table | pd.DataFrame | Sequence[Mapping[str, Any]]


class Known(Protocol):
    """Stored values of a referenced column (a :class:`~gigaloop.store.hashes.ValueSet`)."""

    def contains(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray: ...


#: How far after its ingestion a row's event_time may lie (clocks a few hours off pass).
FUTURE_SLACK = timedelta(days=1)

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
    names, schema = _shape(table)
    if batch.num_columns == 0 and batch.num_rows == 0:
        return schema.empty_table()
    if batch.column_names == names:
        return batch
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
        batch[n] if n in batch.column_names else pa.nulls(len(batch), schema.field(n).type)
        for n in names
    ]
    return pa.table(arrays, names=names)


_SHAPES: dict[str, tuple[Table, list[str], pa.Schema]] = {}


def _shape(table: Table) -> tuple[list[str], pa.Schema]:
    """The table's column names and Arrow schema without ``ingested_at`` (all nullable)."""
    cached = _SHAPES.get(table.name)
    if cached is None or cached[0] is not table:
        schema = table.arrow_schema()
        schema = pa.schema([f.with_nullable(True) for f in schema if f.name != INGESTED_AT])
        cached = _SHAPES[table.name] = (table, schema.names, schema)
    return cached[1], cached[2]


def check(
    table: Table, batch: pa.Table, known: Callable[[str], Known | None], *,
    received_at: datetime | None = None,
    firsts: Callable[[Table, Column], FirstValues] | None = None,
) -> tuple[pa.Table, Rejections]:
    """Cast ``batch`` to the table's types and test every column rule.

    ``known(ref)`` holds the values stored under a ``"table.column"`` reference (``None``:
    nothing is stored there); ``firsts(table, column)`` the first stored values of a
    ``consistent_by`` column. An ``event_time`` more than :data:`FUTURE_SLACK` after
    ``received_at`` (naive UTC) is refused: a clock far ahead. Returns the typed rows (all
    of them, without ``ingested_at``) and the rejections.
    """
    received = conform(table, batch)
    rejected = Rejections(received.num_rows)
    typed = []
    for column, original in zip(_columns(table), received.columns, strict=True):
        values = _cast(column, original, rejected)
        _check_values(table, column, original, values, rejected, known)
        typed.append(values)
    rows = pa.table(typed, schema=_shape(table)[1])
    if received_at is not None and EVENT_TIME in rows.column_names:
        latest = pa.scalar(received_at + FUTURE_SLACK, pa.timestamp("us"))
        rejected.add(f"{EVENT_TIME}: more than a day after it was received (a clock ahead?)",
                     pc.greater(rows[EVENT_TIME], latest))
    for column in _columns(table):
        if column.consistent_by and firsts is not None:
            by = ", ".join(column.consistent_by)
            rejected.add(f"{column.name}: not the {column.name} first stored for its {by}",
                         firsts(table, column).differs(rows))
    return rows, rejected


def _columns(table: Table) -> list[Column]:
    return [c for c in table.all_columns if c.name != INGESTED_AT]


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
    known: Callable[[str], Known | None],
) -> None:
    name = column.name
    required = not column.nullable or name in table.key
    if required and original.null_count:
        rejected.add(f"{name}: missing", pc.is_null(original))
    if column.min is not None or column.max is not None:
        _check_range(column, values, rejected)  # NaN included
    elif column.dtype == "float64" and len(values):
        nan = pc.is_nan(values)  # a missing value is null: NaN is a sender's bug
        if pc.any(nan).as_py():
            rejected.add(f"{name}: not a number", nan)
    if column.choices is not None:
        inside = pc.is_in(values, value_set=_choices(column.choices))
        _reject_outside(f"{name}: not one of {', '.join(column.choices)}", inside, values, rejected)
    if column.domain is not None:
        domain, meaning = DOMAINS[column.domain]
        inside = pc.is_in(values, value_set=_choices(tuple(sorted(domain))))
        _reject_outside(f"{name}: {meaning}", inside, values, rejected)
    if column.references is not None:
        stored = known(column.references)
        inside = np.zeros(len(values), bool) if stored is None else stored.contains(values)
        _reject_outside(f"{name}: unknown {column.references}", inside, values, rejected)


def _check_range(column: Column, values: pa.ChunkedArray, rejected: Rejections) -> None:
    """NaN, below min, above max: the column's min and max decide which masks to build."""
    name = column.name
    numbers: Any = values
    less, greater = pc.less, pc.greater
    if column.dtype in ("float64", "int64") and not values.null_count:
        numbers, less, greater = values.to_numpy(), np.less, np.greater  # no copy: one chunk
        if not len(numbers):
            return
        smallest, largest = numbers.min(), numbers.max()
        if column.dtype == "float64" and np.isnan(smallest):  # NaN wins both min and max
            nan = np.isnan(numbers)
            rejected.add(f"{name}: not a number", nan)
            rest = numbers[~nan]
            smallest, largest = (rest.min(), rest.max()) if len(rest) else (None, None)
    else:  # nulls, dates, times: pyarrow skips the nulls
        bounds = pc.min_max(values).as_py()
        smallest, largest = bounds["min"], bounds["max"]
        if column.dtype == "float64" and pc.any(pc.is_nan(values)).as_py():
            rejected.add(f"{name}: not a number", pc.is_nan(values))
    if column.min is not None and smallest is not None and smallest < column.min:
        rejected.add(f"{name}: below min {column.min:g}", less(numbers, column.min))
    if column.max is not None and largest is not None and largest > column.max:
        rejected.add(f"{name}: above max {column.max:g}", greater(numbers, column.max))


def _reject_outside(
    reason: str, inside: np.ndarray | pa.ChunkedArray, values: pa.ChunkedArray, rejected: Rejections
) -> None:
    """Reject the non-null values that are not ``inside``."""
    if not isinstance(inside, np.ndarray):
        inside = inside.to_numpy(zero_copy_only=False)
    outside = ~inside
    if values.null_count:
        outside &= values.is_valid().to_numpy(zero_copy_only=False)
    rejected.add(reason, outside)


_CHOICES: dict[tuple[str, ...], pa.Array] = {}


def _choices(choices: tuple[str, ...]) -> pa.Array:
    if choices not in _CHOICES:
        _CHOICES[choices] = pa.array(choices, pa.string())
    return _CHOICES[choices]
