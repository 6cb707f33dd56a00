"""Key checks: an in-memory index of key hashes, and exact checks in DuckDB where it hits.

* duplicates inside a batch (first copy kept; a later copy the same row, or another): a
  batch whose key hashes are all distinct has none; otherwise only the rows whose hash
  repeats are compared, key by key,
* keys already stored: each table's key hashes are computed once from the key columns of
  its files and tail (the logged rows not yet in Parquet) and extended on every write
  (:class:`~gigaloop.store.hashes.HashSet`). Only rows whose hash is stored are compared
  with the stored rows — the tail in Arrow first, the files in DuckDB for rows the tail did
  not hold: identical rows
  are *unchanged*, different ones *conflict*, and a row whose hash merely collides is new.
  A batch of new keys reads no stored file and runs no query, and its rows later than
  every stored row in the key's date column (:func:`ordered_key`) skip even the hash lookup,
* referenced values (``vehicles.vin``): read once into a
  :class:`~gigaloop.store.hashes.ValueSet` and extended by every write, so checking a
  reference costs the same on day 365 as on day 1.

Keys are hashed by :func:`~gigaloop.store.hashes.hash_rows` (NumPy, no seed), so equal
keys hash alike in every process; hashes are never saved.

>>> import tempfile
>>> from gigaloop.schema import get_table
>>> from gigaloop.store.layout import Layout
>>> sites = get_table("sites")
>>> index = KeyIndex(Layout(tempfile.mkdtemp()))
>>> rows = pa.table({"site_id": ["S1", "S2", "S1"]})
>>> index.later_duplicates(sites, rows, key_hashes(sites, rows), np.arange(3)).tolist()
[2]
>>> index.close()
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.errors import EngineError
from gigaloop.schema import INGESTED_AT, Column, Table, get_table
from gigaloop.store.consistency import FirstValues
from gigaloop.store.hashes import HashSet, ValueSet, hash_rows
from gigaloop.store.layout import Layout, partitions_of
from gigaloop.store.tail_index import TailIndex

ROW = "__row"
HASH = "__hash"

_NONE = np.empty(0, dtype=np.int64)


@contextmanager
def duckdb_errors(action: str) -> Iterator[None]:
    """Translate DuckDB's errors into :class:`EngineError`."""
    try:
        yield
    except duckdb.Error as exc:
        raise EngineError(f"DuckDB failed while {action}: {exc}", engine="duckdb") from exc


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def key_hashes(table: Table, rows: pa.Table) -> np.ndarray:
    """The hash of each row's key (its key columns, in the table's types)."""
    columns = []
    for name in table.key:
        values, kind = rows[name], table.column(name).arrow_type
        columns.append(values if values.type == kind else values.cast(kind))
    return hash_rows(pa.table(columns, names=list(table.key)))


def ordered_key(table: Table) -> str | None:
    """The key column whose newest stored value rules out the most new rows at a glance: a
    date or time (rows arrive roughly in time order), else an integer; None without one.

    >>> from gigaloop.schema import get_table
    >>> ordered_key(get_table("telemetry_daily")), ordered_key(get_table("sites"))
    ('day', None)
    """
    for kinds in (("date", "timestamp"), ("int64",)):
        for name in table.key:
            if table.column(name).dtype in kinds:
                return name
    return None


def _tail_matches(
    table: Table, rows: pa.Table, tail: pa.Table, asked: np.ndarray, at: np.ndarray
) -> dict[str, np.ndarray]:
    """``__row`` of the rows whose key the in-memory ``tail`` holds, and whether all values
    agree (nulls alike, NaNs alike, floats exactly). ``asked`` and ``at`` pair rows with tail
    rows of the same key hash; a pair whose keys differ is a hash collision and left out.

    >>> from gigaloop.schema import get_table
    >>> sites = get_table("sites")
    >>> tail = pa.table({"site_id": ["S1", "S2"], "name": ["a", "b"], "region": ["R", "R"],
    ...                  "timezone": ["UTC", "UTC"]})
    >>> rows = tail.append_column(ROW, pa.array([7, 8])).set_column(
    ...     1, "name", pa.array(["a", "changed"]))
    >>> found = _tail_matches(sites, rows, tail, np.array([0, 1, 1]), np.array([0, 1, 0]))
    >>> found[ROW].tolist(), found["same"].tolist()
    ([7, 8], [True, False])
    """
    columns = [c for c in table.column_names if c != INGESTED_AT]
    sent = rows.take(pa.array(asked)).combine_chunks()
    stored = _rows_at(tail, at).combine_chunks()
    same_key = np.ones(len(asked), dtype=bool)
    same = np.ones(len(asked), dtype=bool)
    for column in columns:
        new, old = sent[column], stored[column]
        agree = _alike(new, old if old.type == new.type else old.cast(new.type))
        if column in table.key:
            same_key &= agree
        same &= agree
    return {ROW: sent[ROW].to_numpy()[same_key], "same": same[same_key]}


def _alike(new: pa.ChunkedArray, old: pa.ChunkedArray) -> np.ndarray:
    """Where two columns hold the same value: nulls alike, NaNs alike, floats exactly."""
    floating = pa.types.is_floating(new.type)
    if new.null_count == 0 and old.null_count == 0:
        if floating:
            a, b = new.to_numpy(), old.to_numpy()
            return np.asarray((a == b) | (np.isnan(a) & np.isnan(b)))
        return np.asarray(pc.equal(new, old).to_numpy(zero_copy_only=False))
    alike = pc.or_kleene(pc.equal(new, old), pc.and_(pc.is_null(new), pc.is_null(old)))
    if floating:
        alike = pc.or_kleene(alike, pc.and_(pc.is_nan(new), pc.is_nan(old)))
    return np.asarray(pc.fill_null(alike, False).to_numpy(zero_copy_only=False))


def _rows_at(table: pa.Table, positions: np.ndarray) -> pa.Table:
    """The rows at ``positions``: a few as zero-copy slices (``take`` copies every chunk's
    columns), many by ``take``."""
    if len(positions) > 1000:
        return table.take(pa.array(positions))
    return pa.concat_tables([table.slice(int(p), 1) for p in positions]) if len(positions) \
        else table.slice(0, 0)


class KeyIndex:
    """Answers key questions for one store; holds its key hashes and referenced values."""

    def __init__(self, layout: Layout, tail: Callable[[str], pa.Table] | None = None) -> None:
        """``tail(name)``: a table's rows logged but not yet in Parquet (default: none)."""
        self._layout = layout
        self._tail = tail or (lambda name: get_table(name).arrow_schema().empty_table())
        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")
        self._known: dict[str, ValueSet] = {}
        self._hashes: dict[str, HashSet] = {}
        self._tail_indexes: dict[str, TailIndex] = {}  # where each tail key hash sits
        self._newest: dict[str, Any] = {}  # the newest stored value of each ordered_key
        self._firsts: dict[tuple[str, str], FirstValues] = {}  # consistent_by columns

    def close(self) -> None:
        self._con.close()

    def known(self, ref: str) -> ValueSet:
        """Stored values of ``"table.column"`` (read once, then extended by every write)."""
        if ref not in self._known:
            name, column = ref.split(".")
            files = self._layout.files(name)
            values = self._tail(name)[column].combine_chunks()
            known = ValueSet(values)
            if files:
                sql = f"SELECT DISTINCT {_quote(column)} AS v FROM read_parquet(?)"
                with duckdb_errors(f"reading {ref}"):
                    stored = self._con.sql(sql, params=[[str(f) for f in files]]).to_arrow_table()
                known.add(stored["v"])
            self._known[ref] = known
        return self._known[ref]

    def first_values(self, table: Table, column: Column) -> FirstValues:
        """The first stored value of a ``consistent_by`` column per group (read once, then
        extended by every write)."""
        if (table.name, column.name) not in self._firsts:
            assert column.consistent_by is not None
            firsts = FirstValues(column.consistent_by, column.name)
            files = self._layout.files(table.name)
            if files:
                by = ", ".join(_quote(c) for c in column.consistent_by)
                order = f"arg_min({_quote(column.name)}, {INGESTED_AT})" \
                    if INGESTED_AT in table.column_names else f"any_value({_quote(column.name)})"
                sql = (f"SELECT {by}, {order} AS {_quote(column.name)} FROM read_parquet(?) "
                       f"GROUP BY {by}")
                with duckdb_errors(f"reading the {column.name} of {table.name}"):
                    firsts.add(self._con.sql(sql, params=[[str(f) for f in files]])
                               .to_arrow_table())
            firsts.add(self._tail(table.name))
            self._firsts[table.name, column.name] = firsts
        return self._firsts[table.name, column.name]

    def later_duplicates(self, table: Table, rows: pa.Table, hashes: np.ndarray,
                         candidates: np.ndarray) -> np.ndarray:
        """Those of the ``candidates`` (positions in ``rows``, ascending) whose key appeared
        at an earlier candidate; ``hashes``: every row's key hash."""
        again, _, different = self.repeated_in_batch(table, rows, hashes, candidates)
        return np.sort(np.concatenate([again, different]))

    def repeated_in_batch(self, table: Table, rows: pa.Table, hashes: np.ndarray,
                          candidates: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`later_duplicates` split: the same row again (as a message delivered twice
        sends it) with the position of its first copy, and a different row under a key
        already in the batch. Every column but ``ingested_at`` is compared with the key's
        first row; floats exactly."""
        ordered = np.sort(hashes[candidates])
        repeated = ordered[1:][ordered[1:] == ordered[:-1]]
        if len(repeated) == 0:
            return _NONE, _NONE, _NONE
        suspects = candidates[np.isin(hashes[candidates], repeated)]
        keys = ", ".join(_quote(k) for k in table.key)
        window = f"(PARTITION BY {keys} ORDER BY {ROW})"
        sql = (
            f"SELECT {ROW}, first_value({ROW}) OVER {window} AS first FROM batch "
            f"QUALIFY row_number() OVER {window} > 1 ORDER BY {ROW}"
        )
        suspected = rows.select(list(table.key)).take(pa.array(suspects)).append_column(
            ROW, pa.array(suspects))
        found = self._query(sql, suspected, f"checking duplicate keys of {table.name}")
        later, first = found[ROW].astype(np.int64), found["first"].astype(np.int64)
        if len(later) == 0:
            return _NONE, _NONE, _NONE
        again, before = _rows_at(rows, later), _rows_at(rows, first)
        same = np.ones(len(later), dtype=bool)
        for column in (c for c in rows.column_names if c != INGESTED_AT):
            same &= _alike(again[column], before[column])
        return later[same], first[same], later[~same]

    def stored(self, table: Table, rows: pa.Table, hashes: np.ndarray,
               candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Those of the ``candidates`` (positions in ``rows``) whose key is stored: (identical
        rows, different ones). Every column but ``ingested_at`` is compared; floats exactly.
        """
        if len(candidates) == 0:
            return _NONE, _NONE
        index = self._stored_hashes(table)
        candidates = candidates[~self._after_newest(table, rows)[candidates]]
        hit = candidates[index.contains(hashes[candidates])]
        if len(hit) == 0:
            return _NONE, _NONE
        suspects = rows.take(pa.array(hit)).append_column(ROW, pa.array(hit)).append_column(
            HASH, pa.array(hashes[hit], pa.uint64()))
        return self._compare(table, suspects)

    def new(self, table: Table, rows: pa.Table, hashes: np.ndarray) -> np.ndarray:
        """Which ``rows`` are new: neither an earlier row's key again nor a stored key."""
        keep = np.ones(rows.num_rows, dtype=bool)
        keep[self.later_duplicates(table, rows, hashes, np.arange(rows.num_rows))] = False
        keep[np.concatenate(self.stored(table, rows, hashes, np.flatnonzero(keep)))] = False
        return keep

    def remember(self, table: Table, written: pa.Table, hashes: np.ndarray) -> None:
        """Add a written batch: its key hashes, and its values to the cached references."""
        order = np.argsort(hashes, kind="stable")  # one sort serves both indexes
        if table.name in self._hashes:
            self._hashes[table.name].add(hashes[order], ordered=True)
            self._note_newest(table, written)
        if table.name in self._tail_indexes:
            self._tail_indexes[table.name].extend(hashes, order)
        for ref, known in self._known.items():
            name, column = ref.split(".")
            if name == table.name and written.num_rows:
                known.add(written[column])
        for (name, _), firsts in self._firsts.items():
            if name == table.name:
                firsts.add(written)

    def _stored_hashes(self, table: Table) -> HashSet:
        if table.name not in self._hashes:
            index = HashSet()
            files = self._layout.files(table.name)
            index.add(key_hashes(table, self._tail(table.name)))
            if files:
                keys = ", ".join(_quote(k) for k in table.key)
                sql = f"SELECT {keys} FROM read_parquet(?)"
                with duckdb_errors(f"reading the keys of {table.name}"):
                    stored = self._con.sql(sql, params=[[str(f) for f in files]]).to_arrow_table()
                index.add(key_hashes(table, stored))
                self._note_newest(table, stored)
            self._note_newest(table, self._tail(table.name))
            self._hashes[table.name] = index
        return self._hashes[table.name]

    def _after_newest(self, table: Table, rows: pa.Table) -> np.ndarray:
        """True for rows whose :func:`ordered_key` value is later than every stored one's:
        their key cannot be stored (a day of telemetry, but for its late and re-sent rows)."""
        column, newest = ordered_key(table), self._newest.get(table.name)
        if column is None or newest is None:
            return np.zeros(rows.num_rows, dtype=bool)
        later = pc.greater(rows[column], pa.scalar(newest, rows[column].type))
        return np.asarray(pc.fill_null(later, False).to_numpy(zero_copy_only=False))

    def _note_newest(self, table: Table, rows: pa.Table) -> None:
        column = ordered_key(table)
        if column is None or rows.num_rows == 0:
            return
        latest = pc.max(rows[column]).as_py()
        held = self._newest.get(table.name)
        if latest is not None and (held is None or latest > held):
            self._newest[table.name] = latest

    def _compare(self, table: Table, rows: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """Match rows with the stored tail, then the rest with the stored files, on the key;
        a row without a match is new. A key is stored once, so a row the tail answers needs
        no file: a re-sent row usually finds its first copy still in the tail, found by its
        key hash (:class:`~gigaloop.store.tail_index.TailIndex`) and compared value by value."""
        tail = self._tail(table.name)
        same, different = [_NONE], [_NONE]
        asked, at = (self._tail_index(table, tail).find(rows[HASH].to_numpy())
                     if tail.num_rows else (_NONE, _NONE))
        if len(asked):
            found = _tail_matches(table, rows, tail, asked, at)
            same.append(found[ROW][found["same"]])
            different.append(found[ROW][~found["same"]])
            rows = rows.filter(pa.array(~np.isin(rows[ROW].to_numpy(), found[ROW])))
        files = [str(f) for f in self._files_for(table, rows)] if rows.num_rows else []
        if files:
            where, bounds = self._range_filter(table, rows)
            columns = [c for c in table.column_names if c != INGESTED_AT]
            on = " AND ".join(f"b.{_quote(k)} = s.{_quote(k)}" for k in table.key)
            equal = " AND ".join(f"b.{_quote(c)} IS NOT DISTINCT FROM s.{_quote(c)}"
                                 for c in columns)
            sql = (f"SELECT b.{ROW}, bool_or({equal}) AS same FROM batch b "
                   f"JOIN (SELECT * FROM read_parquet(?) {where}) s ON {on} GROUP BY b.{ROW}")
            found = self._query(sql, rows.select([*columns, ROW]),
                                f"comparing rows of {table.name} with stored ones",
                                [files, *bounds])
            identical = found["same"].astype(bool)
            same.append(found[ROW][identical])
            different.append(found[ROW][~identical])
        return np.concatenate(same), np.concatenate(different)

    def _tail_index(self, table: Table, tail: pa.Table) -> TailIndex:
        """The table's tail index, cut to the tail's length (a flush took its oldest rows);
        rebuilt from the tail's keys when it was never built or does not end, or begin,
        with the tail's own rows."""
        index = self._tail_indexes.get(table.name)
        n = tail.num_rows
        if index is not None and len(index) >= n:
            index.keep_last(n)
            if n == 0:
                return index
            ends = key_hashes(table, pa.concat_tables([tail.slice(0, 1), tail.slice(n - 1)]))
            asked, at = index.find(ends)
            if {(0, 0), (1, n - 1)} <= set(zip(asked.tolist(), at.tolist(), strict=True)):
                return index
        index = TailIndex()
        index.extend(key_hashes(table, tail))
        self._tail_indexes[table.name] = index
        return index

    def _query(
        self, sql: str, batch: pa.Table, action: str, params: list[Any] | None = None
    ) -> dict[str, np.ndarray]:
        """Run ``sql`` with ``batch`` registered as ``batch``; columns as NumPy arrays."""
        self._con.register("batch", batch)
        try:
            with duckdb_errors(action):
                result: dict[str, np.ndarray] = self._con.execute(sql, params).fetchnumpy()
                return result
        finally:
            self._con.unregister("batch")

    def _files_for(self, table: Table, rows: pa.Table) -> list[Any]:
        """Stored files that can hold the rows' keys (pruned by month when possible)."""
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
