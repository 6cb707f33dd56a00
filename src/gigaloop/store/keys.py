"""Key checks, run in DuckDB over Arrow batches and the stored Parquet files.

* duplicates inside a batch (first copy kept),
* keys already stored: identical rows are *unchanged*, different ones *conflict*;
  only key columns are read to find them, and only the partitions a batch touches when
  the partition column is part of the key (``telemetry_daily``: ``(vin, day)``),
* referenced values (``vehicles.vin``), cached in memory and extended on every write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.errors import EngineError
from gigaloop.schema import INGESTED_AT, Table, get_table
from gigaloop.store.layout import Layout, partitions_of

ROW = "__row"


@contextmanager
def duckdb_errors(action: str) -> Iterator[None]:
    """Translate DuckDB's errors into :class:`EngineError`."""
    try:
        yield
    except duckdb.Error as exc:
        raise EngineError(f"DuckDB failed while {action}: {exc}", engine="duckdb") from exc


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class KeyIndex:
    """Answers key questions for one store; holds the cache of referenced values."""

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")
        self._known: dict[str, pa.Array] = {}

    def close(self) -> None:
        self._con.close()

    def known(self, ref: str) -> pa.Array:
        """Distinct stored values of ``"table.column"`` (loaded once, then kept current)."""
        if ref not in self._known:
            name, column = ref.split(".")
            files = self._layout.files(name)
            if files:
                sql = f"SELECT DISTINCT {_quote(column)} AS v FROM read_parquet(?)"
                with duckdb_errors(f"reading {ref}"):
                    values = self._con.sql(sql, params=[[str(f) for f in files]]).to_arrow_table()
                self._known[ref] = values["v"].combine_chunks()
            else:
                self._known[ref] = pa.array([], get_table(name).column(column).arrow_type)
        return self._known[ref]

    def remember(self, table: Table, written: pa.Table) -> None:
        """Add newly written values to the cached references that point at ``table``."""
        for ref, values in list(self._known.items()):
            name, column = ref.split(".")
            if name == table.name and written.num_rows:
                merged = pa.concat_arrays([values, written[column].combine_chunks()])
                self._known[ref] = pc.unique(merged)

    def later_duplicates(self, table: Table, rows: pa.Table) -> np.ndarray:
        """Positions (``__row``) of rows whose key appeared earlier in ``rows``."""
        keys = ", ".join(_quote(k) for k in table.key)
        self._con.register("batch_keys", rows.select([*table.key, ROW]))
        try:
            with duckdb_errors(f"checking duplicate keys of {table.name}"):
                ((distinct,),) = self._con.execute(
                    f"SELECT count(*) FROM (SELECT DISTINCT {keys} FROM batch_keys)"
                ).fetchall()
                if distinct == rows.num_rows:
                    return np.empty(0, dtype=np.int64)
                found = self._con.sql(
                    f"SELECT {ROW} FROM batch_keys "
                    f"QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY {ROW}) > 1"
                ).to_arrow_table()
        finally:
            self._con.unregister("batch_keys")
        return found[ROW].to_numpy()

    def stored(self, table: Table, rows: pa.Table) -> np.ndarray:
        """Positions (``__row``) of rows whose key is already stored (reads key columns only)."""
        files = self._files_for(table, rows) if rows.num_rows else []
        if not files:
            return np.empty(0, dtype=np.int64)
        where, params = self._range_filter(table, rows)
        on = " AND ".join(f"b.{_quote(k)} = s.{_quote(k)}" for k in table.key)
        keys = ", ".join(_quote(k) for k in table.key)
        self._con.register("batch_rows", rows.select([*table.key, ROW]))
        try:
            with duckdb_errors(f"looking up stored keys of {table.name}"):
                matched = self._con.sql(
                    f"SELECT b.{ROW} FROM batch_rows b SEMI JOIN "
                    f"(SELECT {keys} FROM read_parquet(?) {where}) s ON {on}",
                    params=[[str(f) for f in files], *params],
                ).to_arrow_table()
        finally:
            self._con.unregister("batch_rows")
        return matched[ROW].to_numpy()

    def unchanged(self, table: Table, rows: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """Split rows whose key is stored into (identical to the stored row, different).

        Every column but ``ingested_at`` is compared; floats exactly.
        """
        files = [str(f) for f in self._files_for(table, rows)]
        columns = [c for c in table.column_names if c != INGESTED_AT]
        on = " AND ".join(f"b.{_quote(k)} = s.{_quote(k)}" for k in table.key)
        equal = " AND ".join(f"b.{_quote(c)} IS NOT DISTINCT FROM s.{_quote(c)}" for c in columns)
        self._con.register("batch_rows", rows)
        try:
            with duckdb_errors(f"comparing rows of {table.name} with stored ones"):
                same = self._con.sql(
                    f"SELECT b.{ROW}, bool_or({equal}) AS same FROM batch_rows b "
                    f"JOIN read_parquet(?) s ON {on} GROUP BY b.{ROW}",
                    params=[files],
                ).to_arrow_table()
        finally:
            self._con.unregister("batch_rows")
        positions = same[ROW].to_numpy()
        identical = same["same"].to_numpy(zero_copy_only=False).astype(bool)
        return positions[identical], positions[~identical]

    def _files_for(self, table: Table, rows: pa.Table) -> list[Any]:
        """Stored files that can hold the batch's keys (pruned by month when possible)."""
        if table.partition_by is None or table.partition_by not in table.key:
            return self._layout.files(table.name)
        return self._layout.files(table.name, partitions_of(rows[table.partition_by]))

    @staticmethod
    def _range_filter(table: Table, rows: pa.Table) -> tuple[str, list[Any]]:
        """``WHERE k BETWEEN lo AND hi`` on ordered key columns, so row-group stats prune."""
        clauses, params = [], []
        for k in table.key:
            if table.column(k).dtype in ("date", "timestamp", "int64"):
                bounds = pc.min_max(rows[k]).as_py()
                clauses.append(f"{_quote(k)} BETWEEN ? AND ?")
                params += [bounds["min"], bounds["max"]]
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params
