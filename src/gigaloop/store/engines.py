"""Query engines behind the store: the same Ibis expressions on DuckDB or PySpark.

An engine turns a table's Parquet files into an Ibis table and translates its own
errors into :class:`~gigaloop.errors.EngineError`. DuckDB reads each table through a
view over a glob of its files ``UNION ALL`` its tail (the logged rows not yet in
Parquet, registered zero-copy from Arrow), re-registered after the tail grows. Spark
reads files only (``reads_tail = False``): the store flushes tails before Spark reads,
and Spark's view is re-created after its files change (its file listing is cached).
Both report the same Ibis schema for a table.

>>> from gigaloop.schema import get_table
>>> ibis_schema(get_table("sites"))
ibis.Schema {
  site_id   string
  name      string
  region    string
  timezone  string
}
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from gigaloop.errors import EngineError, require
from gigaloop.schema import INGESTED_AT, Table, get_table
from gigaloop.store.layout import PART_GLOB, Layout

DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
_IBIS_TYPES = {
    "string": "string",
    "int64": "int64",
    "float64": "float64",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}


def ibis_schema(table: Table) -> ibis.Schema:
    """The Ibis schema every engine reports for ``table`` (every column nullable)."""
    return ibis.schema({c.name: _IBIS_TYPES[c.dtype] for c in table.all_columns})


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Engine(ABC):
    """What the store needs from a query engine: views over files, and its error types."""

    name: ClassVar[str]
    reads_tail: ClassVar[bool] = False  # False: the store flushes tails before reading
    con: Any  # the Ibis backend
    errors: tuple[type[BaseException], ...]

    def __init__(self) -> None:
        self._tables: dict[str, ir.Table] = {}
        self._stale: set[str] = set()

    def table(self, table: Table, layout: Layout) -> ir.Table:
        """The table's Ibis expression, cast so that column types match :func:`ibis_schema`."""
        if table.name not in self._tables:
            self._register(table, layout)
            expr = self._view(table)
            have = expr.schema()
            casts = {n: t for n, t in ibis_schema(table).items() if have[n] != t}
            self._tables[table.name] = expr.cast(casts) if casts else expr
        return self._tables[table.name]

    def written(self, table: Table, layout: Layout) -> None:
        """The table's files changed; its view is refreshed before the next query."""
        if table.name in self._tables:
            self._stale.add(table.name)

    def refresh(self, layout: Layout) -> None:
        """Re-create the views of tables whose files changed since they were registered."""
        for name in sorted(self._stale):
            self._register(get_table(name), layout)
        self._stale.clear()

    @contextmanager
    def translate(self, action: str) -> Iterator[None]:
        """Raise the engine's own errors as :class:`EngineError` (original in ``__cause__``)."""
        try:
            yield
        except self.errors as exc:
            message = f"{self.name} failed while {action}: {exc}"
            raise EngineError(message, engine=self.name) from exc

    def ingested_between(self, table: Table, layout: Layout, after: datetime | None,
                         until: datetime, columns: list[str]) -> pa.Table:
        """``columns`` of the rows of ``table`` ingested in (``after``, ``until``], as Arrow
        (through Ibis here; engines may run it more directly)."""
        expr = self.table(table, layout)
        stamp = expr[INGESTED_AT]
        keep = stamp <= until if after is None else (stamp > after) & (stamp <= until)
        with self.translate(f"reading new rows of {table.name}"):
            return self.con.to_pyarrow(expr.filter(keep).select(*columns))

    @abstractmethod
    def _register(self, table: Table, layout: Layout) -> None:
        """(Re)create the engine's view of ``table`` from its current files."""

    @abstractmethod
    def _view(self, table: Table) -> ir.Table:
        """The Ibis table over the registered view."""


class DuckDBEngine(Engine):
    """Embedded DuckDB, in memory: glob views over the Parquet files plus each table's tail.

    ``tail(name)`` returns the table's logged rows not yet in Parquet (Arrow, possibly
    empty); they are registered zero-copy and re-registered when the tail changes.
    """

    name = "duckdb"
    reads_tail = True

    def __init__(self, tail: Callable[[str], pa.Table]) -> None:
        import duckdb

        super().__init__()
        self.con = ibis.duckdb.connect()
        self.con.raw_sql("SET TimeZone = 'UTC'")
        self.con.raw_sql("SET enable_progress_bar = false")  # no bars in the CLI's output
        # files never change in place: their footers are read once, not on every query
        self.con.raw_sql("SET parquet_metadata_cache = true")
        self.errors = (duckdb.Error,)
        self._tail = tail
        self._with_files: dict[str, bool] = {}  # table → whether its view reads files

    def _register(self, table: Table, layout: Layout) -> None:
        """Register the table's tail under its fixed name and, when the table's first file
        appeared (or on the first call), create its view: the files' glob and the tail.
        DuckDB binds a view again at every query, so the glob finds files written since
        and the name finds the tail registered last; re-creating the view each time the
        tail changed cost about 2 s of a year's run."""
        tail_name = f"__tail_{table.name}"
        self.con.con.register(tail_name, self._tail(table.name))
        has_files = layout.has_files(table.name)
        if self._with_files.get(table.name) == has_files:
            return
        sources = [f"SELECT * FROM {_quote(tail_name)}"]
        if has_files:
            glob = layout.glob(table.name).replace("'", "''")
            sources.insert(0, "SELECT * FROM "
                              f"read_parquet('{glob}', hive_partitioning = false)")
        with self.translate(f"registering {table.name}"):
            self.con.raw_sql(
                f"CREATE OR REPLACE VIEW {_quote(table.name)} AS {' UNION ALL '.join(sources)}"
            )
        self._with_files[table.name] = has_files

    def _view(self, table: Table) -> ir.Table:
        return self.con.table(table.name)

    def ingested_between(self, table: Table, layout: Layout, after: datetime | None,
                         until: datetime, columns: list[str]) -> pa.Table:
        """One parameterised SQL statement on the table's view: no expression to compile, so
        a module's daily read of what is new costs about a millisecond plus the scan."""
        self.table(table, layout)  # registered
        where = f"{_quote(INGESTED_AT)} <= $until"
        params: dict[str, Any] = {"until": until}
        if after is not None:
            where += f" AND {_quote(INGESTED_AT)} > $after"
            params["after"] = after
        sql = (f"SELECT {', '.join(_quote(c) for c in columns)} FROM {_quote(table.name)} "
               f"WHERE {where}")
        with self.translate(f"reading new rows of {table.name}"):
            rows = self.con.con.sql(sql, params=params).to_arrow_table()
        schema = table.arrow_schema()
        return rows.cast(pa.schema([schema.field(c).with_nullable(True) for c in columns]))


class SparkEngine(Engine):
    """PySpark (local mode by default) through Ibis's pyspark backend, session in UTC.

    Spark caches a folder's file listing in each view, so a view is re-created after its
    table is written, lazily, before the next query the store runs.
    """

    name = "spark"

    def __init__(self, session: Any = None) -> None:
        require("pyspark", "spark")
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        super().__init__()
        self.session = session if session is not None else local_session()
        self.session.conf.set("spark.sql.session.timeZone", "UTC")
        self.con = ibis.pyspark.connect(self.session)
        self.errors = (PySparkException, Py4JError)
        self._prefix = f"gigaloop_{uuid.uuid4().hex[:8]}_"  # stores may share one session

    def _register(self, table: Table, layout: Layout) -> None:
        schema = spark_schema(table)
        with self.translate(f"registering {table.name}"):
            if layout.has_files(table.name):
                frame = (
                    self.session.read.schema(schema)
                    .option("recursiveFileLookup", "true")
                    .option("pathGlobFilter", PART_GLOB)
                    .parquet(str(layout.table_dir(table.name)))
                )
            else:
                frame = self.session.createDataFrame([], schema)
            frame.createOrReplaceTempView(self._prefix + table.name)

    def _view(self, table: Table) -> ir.Table:
        return self.con.table(self._prefix + table.name)


def local_session() -> Any:
    """A small local Spark session: two cores, no UI, two shuffle partitions, UTC."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("gigaloop")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def spark_schema(table: Table) -> Any:
    """The Spark ``StructType`` of a table (timestamps are ``TIMESTAMP_NTZ``: naive UTC)."""
    from pyspark.sql import types as T

    types = {
        "string": T.StringType(),
        "int64": T.LongType(),
        "float64": T.DoubleType(),
        "bool": T.BooleanType(),
        "date": T.DateType(),
        "timestamp": T.TimestampNTZType(),
    }
    return T.StructType([T.StructField(c.name, types[c.dtype], True) for c in table.all_columns])
