"""The store: validated, idempotent writes of Parquet files; reads as Ibis tables.

>>> import datetime as dt, tempfile
>>> store = Store(tempfile.mkdtemp())
>>> day = dt.datetime(2024, 1, 2)
>>> store.write("sites", [{"site_id": "S1", "name": "Fremont", "region": "CAISO",
...                        "timezone": "America/Los_Angeles"}], ingested_at=day)
WriteResult(table='sites', received=1, written=1, unchanged=0, quarantined=0, reasons={})
>>> store.write("lines", [{"line_id": "L1", "site_id": "S1", "name": "GA1"},
...                       {"line_id": "L2", "site_id": "S9", "name": "GA2"}], ingested_at=day)
WriteResult(table='lines', received=2, written=1, unchanged=0, quarantined=1,
            reasons={'site_id: unknown sites.site_id': 1})
>>> store.count("lines"), store.execute(store.quarantine().reason)[0]
(1, 'site_id: unknown sites.site_id')
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from glob import glob
from pathlib import Path
from typing import Any, Literal

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.errors import ConfigError, StoreError
from gigaloop.schema import INGESTED_AT, TABLES, Table, get_table, write_order
from gigaloop.store.engines import DuckDBEngine, Engine, SparkEngine
from gigaloop.store.flushing import Flusher
from gigaloop.store.keys import KeyIndex, key_hashes
from gigaloop.store.layout import WRITER_LOCK, month_of, open_root
from gigaloop.store.quarantine import quarantine_rows
from gigaloop.store.result import WriteResult
from gigaloop.store.totals import FileSums, grouped_sums
from gigaloop.store.validate import Rejections, Rows, check, to_arrow
from gigaloop.store.view import StoreView, naive_utc
from gigaloop.store.wal import WAL_DIR, TableLog, replay_logs

QUARANTINE = "quarantine"


class Store:
    """Tables of :data:`gigaloop.schema.TABLES` as Parquet under ``root``, read through Ibis.

    ``engine`` is ``"duckdb"`` (embedded) or ``"spark"`` (needs ``gigaloop[spark]``;
    ``spark`` is an existing session, else a small local one is started). One store
    writes a root at a time and holds its lock until :meth:`close`; its reads see every
    acknowledged write. A store opened on a root whose lock is held leaves the holder's
    logs, and the files it is writing, alone, reads only what it has flushed, and refuses
    to write.

    A write is acknowledged once its rows are in the table's write-ahead log
    (:mod:`gigaloop.store.wal`; ``fsync=True`` forces each one to the disk) and in the
    table's in-memory tail, which DuckDB reads beside the Parquet files. The tail goes to
    Parquet, one file per partition, when it holds ``flush_rows`` rows, when a later month
    of the table is written, before Spark reads, and on :meth:`compact` and :meth:`close`;
    a log left by a crash is replayed into Parquet when the root is next opened. The first
    two flushes run in the background (:mod:`gigaloop.store.flushing`). Daily
    writes thus leave about one file per month. A partition is compacted when a flush
    leaves it with more than one file and a later month is written, or more than
    ``compact_after`` files (``None``: only when :meth:`compact` is called); such a
    compaction is merged in the background too and swapped in by a later write. Key checks
    run against an in-memory index of key hashes (:mod:`gigaloop.store.keys`): a batch of
    new keys reads no stored file, so a small daily write costs the same on day 365 as on
    day 1.
    """

    def __init__(
        self,
        root: Path | str,
        *,
        engine: Literal["duckdb", "spark"] = "duckdb",
        spark: Any = None,
        compact_after: int | None = 32,
        flush_rows: int = 1_000_000,
        fsync: bool = False,
    ) -> None:
        self.root = Path(root)
        self.compact_after = compact_after
        self.flush_rows = flush_rows
        self.root.mkdir(parents=True, exist_ok=True)
        self._layout, self._lock = open_root(self.root)
        self._logs = {
            name: TableLog(self._layout.table_dir(name) / WAL_DIR, spec.arrow_schema(), fsync=fsync)
            for name, spec in TABLES.items()
        }
        if self._lock is not None:  # else a live writer owns the logs there: leave them
            replay_logs(self._layout, TABLES.values())
        self._keys = KeyIndex(self._layout, self._tail)
        self._flusher = Flusher(self._layout)
        # table → newest ingested_at in its Parquet files (tables found with files: read later)
        self._disk_upto = {n: datetime.min for n in TABLES if not self._layout.has_files(n)}
        self._file_sums: dict[str, FileSums] = {}  # table → sums kept per file
        self._engine: Engine
        if engine == "duckdb":
            self._engine = DuckDBEngine(self._tail)
        elif engine == "spark":
            self._engine = SparkEngine(spark)
        else:
            raise ConfigError(f"unknown engine {engine!r}; use 'duckdb' or 'spark'", engine=engine)

    @property
    def con(self) -> Any:
        """The Ibis backend the tables live in."""
        return self._engine.con

    @property
    def engine(self) -> str:
        return self._engine.name

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r}, engine={self.engine!r})"

    # ---- reading -------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        """The whole table (empty, with its schema, until something is written)."""
        spec = get_table(name)
        self._before_reading()
        return self._engine.table(spec, self._layout)

    def quarantine(self) -> ir.Table:
        """Rejected rows: table_name, row_hash, reason, row_json, source, event_time, …"""
        return self.table(QUARANTINE)

    def as_of(self, cutoff: datetime) -> StoreView:
        """The store as it was at ``cutoff``: only rows ingested by then."""
        return StoreView(self, naive_utc(cutoff))

    def count(self, name: str) -> int:
        return int(self.execute(self.table(name).count()))

    def to_pyarrow(self, expr: ir.Expr) -> Any:
        """Run an expression; Arrow table, array or scalar (same types on every engine)."""
        self._before_reading()
        with self._engine.translate("running a query"):
            return self.con.to_pyarrow(expr)

    def totals(self, name: str, columns: list[str]) -> dict[str, float]:
        """The sum of each numeric column over the whole table (nulls skipped), kept per
        Parquet file (:mod:`gigaloop.store.totals`): a total over millions of rows reads
        only the files written since the last call, and the rows not yet flushed."""
        sums = self.group_totals(name, columns, None)
        return {c: float(sums[c].sum()) for c in columns}

    def group_totals(self, name: str, columns: list[str], by: str | None) -> pd.DataFrame:
        """:meth:`totals` per value of the column ``by``: a frame indexed by it."""
        self._before_reading()
        files = sorted(Path(p) for p in glob(self._layout.glob(get_table(name).name)))
        parts = [self._file_sums.setdefault(name, FileSums()).by_group(files, columns, by)]
        if self._engine.reads_tail:  # else the tail was flushed by _before_reading
            parts.append(grouped_sums(self._tail(name), columns, by))
        return pd.concat(parts).groupby(level=0, dropna=False).sum()

    def ingested_between(self, name: str, after: datetime | None, until: datetime,
                         columns: list[str] | None = None) -> pa.Table:
        """Rows of ``name`` ingested in (``after``, ``until``] (all up to ``until`` when
        ``after`` is None), as Arrow with the table's types: the read a module makes of
        what is new since its last run. On DuckDB it is one prepared statement, with no
        Ibis expression to compile.

        >>> import datetime as dt, tempfile
        >>> store = Store(tempfile.mkdtemp())
        >>> site = [{"site_id": "S1", "name": "F", "region": "CAISO", "timezone": "UTC"}]
        >>> _ = store.write("sites", site, ingested_at=dt.datetime(2025, 1, 1))
        >>> day = dt.datetime(2025, 1, 2)
        >>> rows = [{"site_id": "S1", "hvac_kwh": 1.0, "process_kwh": 2.0, "lighting_kwh": 0.5,
        ...          "outside_temp_c": 20.0, "indoor_temp_c": 22.0, "tariff_usd_per_kwh": 0.1,
        ...          "carbon_g_per_kwh": 300.0, "event_time": day}]
        >>> _ = store.write("energy_readings", rows, ingested_at=day)
        >>> store.ingested_between("energy_readings", None, day, ["hvac_kwh"]).num_rows
        1
        >>> store.ingested_between("energy_readings", day, day, ["hvac_kwh"]).num_rows
        0
        """
        spec = get_table(name)
        if INGESTED_AT not in spec.column_names:
            raise StoreError(f"{name} has no {INGESTED_AT}: read it whole with table()",
                             table=name)
        wanted = columns if columns is not None else [c.name for c in spec.all_columns]
        after = None if after is None else naive_utc(after)
        until = naive_utc(until)
        on_disk = self._on_disk_upto(spec)
        if after is not None and on_disk is not None and after >= on_disk:
            # everything newer is still in memory
            return self._logs[spec.name].between(after, until).select(wanted)
        self._before_reading()
        return self._engine.ingested_between(spec, self._layout, after, until, wanted)

    def _on_disk_upto(self, spec: Table) -> datetime | None:
        """The newest ``ingested_at`` in the table's Parquet files (``datetime.min`` for none;
        None while unknown: found on open and not read yet while rows sit in the tail)."""
        log = self._logs[spec.name]
        if spec.name not in self._disk_upto and not log.rows and not log.sealed:
            newest = self.to_pyarrow(self._engine.table(spec, self._layout)[INGESTED_AT].max())
            self._disk_upto[spec.name] = newest.as_py() or datetime.min
        return self._disk_upto.get(spec.name)

    def execute(self, expr: ir.Expr) -> Any:
        """Run an expression; a DataFrame, Series or Python value built from its Arrow result."""
        result = self.to_pyarrow(expr)
        if isinstance(result, pa.Scalar):
            return result.as_py()
        return result.to_pandas()

    # ---- writing -------------------------------------------------------------------------
    def write(
        self, table: str, rows: Rows, *, ingested_at: datetime, source: str | None = None
    ) -> WriteResult:
        """Validate and append ``rows``; bad rows go to quarantine, stored keys are skipped.

        A row already stored with the same values is *unchanged*; one whose key is stored
        with other values is quarantined ("conflicts with stored row"). Writing the same
        batch again changes nothing, and so does the same row twice in one batch (a message
        delivered again); another row under a key the batch already holds is quarantined
        ("duplicate key in batch"). Quarantine rows are written before the data file.

        Rows may be Arrow, pandas or a list of dicts; values are cast to the column types
        (text such as CSV fields included). A batch that does not fit the table at all (an
        unknown table, an unknown column, a required column absent) raises
        :class:`~gigaloop.errors.SchemaError`: that is the sender's mistake, not a bad row.
        """
        self._require_lock("write", table)
        spec = get_table(table)
        stamp = naive_utc(ingested_at)
        self._settle(wait=False)
        received = to_arrow(rows)
        typed, rejected = check(spec, received, self._keys.known, received_at=stamp,
                                firsts=self._keys.first_values)
        hashes = key_hashes(spec, typed)
        candidates = np.flatnonzero(~rejected.mask)
        # the same row twice in a batch (a message delivered again) changes nothing; another
        # row under a key the batch already holds is quarantined
        again, first, differing = self._keys.repeated_in_batch(spec, typed, hashes, candidates)
        rejected.add_rows("duplicate key in batch", differing)
        candidates = np.flatnonzero(~rejected.mask)
        if len(again):
            candidates = np.setdiff1d(candidates, again)
        unchanged, conflicting = self._keys.stored(spec, typed, hashes, candidates)
        clash = np.isin(first, conflicting)  # a copy of a row that conflicts conflicts too
        unchanged = np.concatenate([unchanged, again[~clash]])
        conflicting = np.concatenate([conflicting, again[clash]])
        if spec.name == QUARANTINE:  # a rejection is its key: kept again later, it is unchanged
            unchanged, conflicting = np.concatenate([unchanged, conflicting]), conflicting[:0]
        rejected.add_rows("conflicts with stored row", conflicting)
        keep = ~rejected.mask
        keep[unchanged] = False
        self._quarantine(spec, received, rejected, stamp, source)
        written = self._append(spec, typed if keep.all() else typed.filter(keep), hashes[keep],
                               stamp)
        result = WriteResult(
            spec.name, received.num_rows, written, len(unchanged), rejected.count, rejected.counts()
        )
        assert result.received == result.written + result.unchanged + result.quarantined
        return result

    def write_many(
        self, batches: Mapping[str, Rows], *, ingested_at: datetime, source: str | None = None
    ) -> dict[str, WriteResult]:
        """Write several tables, referenced tables first (:func:`gigaloop.schema.write_order`)."""
        return {
            name: self.write(name, batches[name], ingested_at=ingested_at, source=source)
            for name in write_order(list(batches))
        }

    def flush(self, name: str | None = None) -> None:
        """Write the logged rows of ``name`` (or of every table) to Parquet, then drop the
        log; the compactions this starts (or that were under way) are finished too."""
        for table_name in [name] if name is not None else list(TABLES):
            self._flush(get_table(table_name))
            self._finish_compactions(table_name)

    def compact(self, name: str | None = None) -> None:
        """Merge the files of each partition into one (of ``name``, or of every table)."""
        self._require_lock("compact", name)
        for table_name in [name] if name is not None else list(TABLES):
            spec = get_table(table_name)
            self._flush(spec)
            self._finish_compactions(spec.name)
            self._layout.compact(spec)
            self._engine.written(spec, self._layout)

    def close(self) -> None:
        """Flush every log to Parquet and release the store's DuckDB connections.

        A Spark session is left running.
        """
        self.flush()
        for log in self._logs.values():
            log.close()
        self._flusher.close()
        self._keys.close()
        if self.engine == "duckdb":
            self.con.disconnect()
        if self._lock is not None:
            self._lock.close()  # releases the writer's lock

    def _require_lock(self, what: str, table: str | None) -> None:
        """Refuse to change a root that another store is writing."""
        if self._lock is None:
            raise StoreError(f"cannot {what}: {self.root} is being written by another store "
                             f"(it holds {WRITER_LOCK}); {what} through that one, or open "
                             "this root again once it is closed; reading here is fine",
                             table=table)

    def _tail(self, name: str) -> pa.Table:
        return self._logs[name].tail()

    def _before_reading(self) -> None:
        if not self._engine.reads_tail:
            for name, log in self._logs.items():
                if log.rows or log.sealed:
                    self._flush(get_table(name))
        self._engine.refresh(self._layout)

    def _append(self, spec: Table, rows: pa.Table, hashes: np.ndarray, stamp: datetime) -> int:
        """Log rows (typed; ``hashes``: their key hashes), as one batch; the key index
        follows."""
        if rows.num_rows == 0:
            return 0
        columns = list(rows.columns)
        if INGESTED_AT in spec.column_names:
            columns.append(pa.repeat(pa.scalar(stamp, pa.timestamp("us")), rows.num_rows))
        data = pa.Table.from_arrays(columns, schema=spec.arrow_schema()).combine_chunks()
        log = self._logs[spec.name]
        newest = month_of(pc.max(data[spec.partition_by]).as_py()) if spec.partition_by else ""
        if log.broken:
            self._flush(spec)
        elif log.rows and newest > log.newest:
            self._flush_behind(spec)
        log.append(data, newest, stamp if INGESTED_AT in spec.column_names else None)
        self._keys.remember(spec, data, hashes)
        if log.rows >= self.flush_rows:
            self._flush_behind(spec)
        self._engine.written(spec, self._layout)
        return data.num_rows

    def _flush(self, spec: Table) -> None:
        """The table's tail as one Parquet file per partition, named after its log."""
        self._settle(spec.name)
        log = self._logs[spec.name]
        if not log.rows:
            if log.broken:
                log.discard()
            return
        tail = log.tail()
        written = self._layout.write(spec, tail, stem=log.generation)
        log.discard()
        self._flushed(spec, tail, written)

    def _flush_behind(self, spec: Table) -> None:
        """:meth:`_flush`, its files encoded in the background (see :meth:`_settle`)."""
        self._settle(spec.name)  # one sealed log per table: files land in log order
        self._flusher.start(spec, self._logs[spec.name])

    def _settle(self, name: str | None = None, *, wait: bool = True) -> None:
        """Finish the background flushes of ``name`` (or of every table; without ``wait``
        only those whose files are ready): see :meth:`Flusher.finish`."""
        for table in [name] if name is not None else self._flusher.tables():
            finished = self._flusher.finish(table, self._logs[table], wait=wait)
            if finished is not None:
                self._flushed(get_table(table), *finished)
            if self._flusher.finish_compactions(table, wait=False):
                self._engine.written(get_table(table), self._layout)

    def _finish_compactions(self, name: str | None = None) -> None:
        """Wait for the background compactions of ``name`` (or of every table) and swap them in."""
        for table in [name] if name is not None else self._flusher.tables():
            if self._flusher.finish_compactions(table):
                self._engine.written(get_table(table), self._layout)

    def _flushed(self, spec: Table, rows: pa.Table, written: list[Path]) -> None:
        """After ``rows`` reached Parquet as ``written``: what is on disk, compaction, views."""
        if INGESTED_AT in rows.column_names and spec.name in self._disk_upto:
            self._disk_upto[spec.name] = max(
                self._disk_upto[spec.name], pc.max(rows[INGESTED_AT]).as_py()
            )
        if self.compact_after is not None and written:
            self._flusher.compact_settled(spec, max(p.parent.name for p in written),
                                          self.compact_after)
        self._engine.written(spec, self._layout)

    def _quarantine(self, spec: Table, received: pa.Table, rejected: Rejections,
                    stamp: datetime, source: str | None) -> None:
        """Keep every rejected row with its reasons; rows already quarantined are skipped."""
        if not rejected.count:
            return
        quarantine = get_table(QUARANTINE)
        rows = quarantine_rows(spec, received, rejected, stamp, source)
        hashes = key_hashes(quarantine, rows)
        keep = self._keys.new(quarantine, rows, hashes)
        self._append(quarantine, rows.filter(keep), hashes[keep], stamp)

