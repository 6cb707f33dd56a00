"""How a table is described: columns with types, units, keys and checks.

>>> t = Table("demo", "fleet", "A demo.", key=("vin",), columns=(
...     Column("vin", "string", "vehicle id"),
...     Column("miles", "float64", "distance driven", unit="mi", min=0),
... ))
>>> t.arrow_schema()
vin: string not null
miles: double not null
event_time: timestamp[us] not null
ingested_at: timestamp[us] not null
>>> t.column("miles").unit
'mi'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import available_timezones

import pyarrow as pa

from gigaloop.errors import SchemaError

DType = Literal["string", "int64", "float64", "bool", "date", "timestamp"]

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),  # naive UTC everywhere; Spark runs with UTC session time
}

#: Value sets too large to list as ``choices``: name → (the values, what a value outside is).
DOMAINS: dict[str, tuple[frozenset[str], str]] = {
    "iana_timezone": (frozenset(available_timezones()),
                      "not an IANA time zone (e.g. America/Los_Angeles, Europe/Berlin)"),
}

#: Every event row carries both: when it happened at the source, when the store took it.
EVENT_TIME = "event_time"
INGESTED_AT = "ingested_at"


@dataclass(frozen=True)
class Column:
    """One column: name, type, meaning, unit, and the checks a value must pass.

    ``references`` is ``"table.column"``: a value must exist there (e.g. a known VIN).
    ``choices`` lists the allowed values of a categorical column; ``domain`` names a set
    too large to list (:data:`DOMAINS`: ``"iana_timezone"``). ``consistent_by`` names the
    columns within whose values this one may not change: a reading's unit is the unit
    first stored for its station and parameter (kA stays kA; A is refused).
    """

    name: str
    dtype: DType
    description: str
    unit: str | None = None
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    references: str | None = None
    choices: tuple[str, ...] | None = None
    domain: str | None = None
    consistent_by: tuple[str, ...] | None = None

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.dtype]


@dataclass(frozen=True)
class Table:
    """A table of the data model.

    ``key`` is the natural key (writing a row whose key is stored changes nothing).
    Event tables have ``event_time`` and ``ingested_at`` columns (added automatically);
    ``partition_by`` names the column whose month lays out the Parquet files.
    """

    name: str
    domain: Literal["plant", "genealogy", "fleet", "customer", "software", "loop", "system"]
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    event: bool = True
    partition_by: str | None = None
    all_columns: tuple[Column, ...] = field(init=False, repr=False)
    _arrow_schema: pa.Schema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cols = list(self.columns)
        if self.event:
            if EVENT_TIME not in {c.name for c in cols}:
                cols.append(Column(EVENT_TIME, "timestamp", "when it happened at the source"))
            cols.append(Column(INGESTED_AT, "timestamp", "when the store took the row"))
        object.__setattr__(self, "all_columns", tuple(cols))
        object.__setattr__(self, "_arrow_schema", pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in cols]))
        names = [c.name for c in cols]
        if len(set(names)) != len(names):
            raise SchemaError("duplicate column names", table=self.name)
        missing = [k for k in self.key if k not in names]
        if missing:
            raise SchemaError(f"key columns {missing} are not columns", table=self.name)
        if self.partition_by is not None and self.partition_by not in names:
            raise SchemaError("partition column is not a column", table=self.name)
        for c in cols:
            if c.domain is not None and c.domain not in DOMAINS:
                raise SchemaError(f"{c.name}: unknown domain {c.domain!r}", table=self.name)
            if c.consistent_by and not set(c.consistent_by) <= set(names):
                raise SchemaError(f"{c.name}: consistent_by names no column", table=self.name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.all_columns]

    def column(self, name: str) -> Column:
        for col in self.all_columns:
            if col.name == name:
                return col
        raise SchemaError(f"table {self.name!r} has no column {name!r}", table=self.name)

    def arrow_schema(self) -> pa.Schema:
        """The table's Arrow schema (built once: every write asks for it)."""
        return self._arrow_schema


def col(name: str, dtype: DType, description: str, **kw: object) -> Column:
    """Shorthand used by the table modules."""
    return Column(name, dtype, description, **kw)  # type: ignore[arg-type]
