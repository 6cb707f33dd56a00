"""Where a table's Parquet files live, and how they are written and merged without tearing.

``root/<table>/<partition>/part-<uuid>.parquet``, the partition being the month
(``YYYY-MM``) of the table's ``partition_by`` column, or ``all``. Partition folders are
plain names, not hive ``key=value`` columns, so DuckDB and Spark type every column from
the file alone.

Every file is written under a hidden temporary name in its final folder and moved into
place with :func:`os.replace`, so a reader sees a whole file or none. Compaction records
what it replaces in a small manifest before swapping, so a crash half-way is finished
(or undone) by :meth:`Layout.recover` when the store is next opened.

>>> import datetime as dt, tempfile
>>> from gigaloop.schema import get_table
>>> layout = Layout(tempfile.mkdtemp())
>>> sites = get_table("sites")
>>> rows = pa.table({"site_id": ["S1"], "name": ["Fremont"], "region": ["CAISO"],
...                  "timezone": ["America/Los_Angeles"]}, schema=sites.arrow_schema())
>>> [p.parent.name for p in layout.write(sites, rows)]
['all']
>>> month_of(dt.date(2024, 3, 9))
'2024-03'
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gigaloop.errors import StoreError
from gigaloop.schema import Table

PART_GLOB = "part-*.parquet"
Staged = tuple[Path, Path]  # a file written under its temporary name, and its final name
UNPARTITIONED = "all"
MANIFEST = "_compaction.json"
#: Rows per Parquet row group (DuckDB's own size): small enough that a key lookup in a
#: file of millions of rows skips all but a few groups by their min/max statistics.
ROW_GROUP_ROWS = 122_880


def month_of(value: date) -> str:
    """The partition name of a date or datetime."""
    return f"{value.year:04d}-{value.month:02d}"


def months_of(column: pa.ChunkedArray) -> np.ndarray:
    """The month of every value as ``yyyymm`` integers (dates or timestamps)."""
    return pc.add(pc.multiply(pc.year(column), 100), pc.month(column)).to_numpy()


def month_name(yyyymm: int) -> str:
    return f"{yyyymm // 100:04d}-{yyyymm % 100:02d}"


def partitions_of(column: pa.ChunkedArray) -> list[str]:
    """Partition names a non-empty date or timestamp column touches."""
    bounds = pc.min_max(column).as_py()
    first, last = month_of(bounds["min"]), month_of(bounds["max"])
    if first == last:
        return [first]
    return [month_name(m) for m in np.unique(months_of(column))]


class Layout:
    """The Parquet files of every table under one root folder.

    The layout of the root's one ``writer`` reads each table's file list from disk once and
    keeps it current as it writes and compacts, so a write lists no folder; any other
    layout (a reader, a test looking on) lists the folders every time it is asked.
    """

    def __init__(self, root: Path | str, *, writer: bool = False) -> None:
        self.root = Path(root)
        self.writer = writer
        self._listing: dict[str, dict[str, list[Path]]] = {}  # table → partition → live files

    def table_dir(self, name: str) -> Path:
        return self.root / name

    def glob(self, name: str) -> str:
        """A glob matching every live file of the table (what DuckDB views read)."""
        return str(self.table_dir(name) / "*" / PART_GLOB)

    def partitions(self, name: str) -> list[str]:
        return sorted(self._files_of(name))

    def files(self, name: str, partitions: Iterable[str] | None = None) -> list[Path]:
        """Live data files of the table, optionally only those of some partitions."""
        listing = self._files_of(name)
        chosen = sorted(listing) if partitions is None else sorted(set(partitions))
        return [file for partition in chosen for file in listing.get(partition, [])]

    def has_files(self, name: str) -> bool:
        return any(self._files_of(name).values())

    def split(self, table: Table, rows: pa.Table) -> dict[str, pa.Table]:
        """Rows grouped by partition name (one pass when a batch sits in one month)."""
        if table.partition_by is None:
            return {UNPARTITIONED: rows}
        column = rows[table.partition_by]
        names = partitions_of(column)
        if len(names) == 1:
            return {names[0]: rows}
        months = months_of(column)
        return {month_name(m): rows.filter(pa.array(months == m)) for m in np.unique(months)}

    def write(self, table: Table, rows: pa.Table, stem: str | None = None) -> list[Path]:
        """Write rows (validated, in the table's schema) as one file per partition.

        With a ``stem`` the files are ``part-<stem>.parquet`` and a partition that already
        has that file is skipped: writing the same rows with the same stem again (a log
        replayed after a crash) adds nothing. If a file fails, those written before it are
        deleted again, so the rows are in Parquet whole or not at all.
        """
        return self.commit(table, self.stage(table, rows, stem))

    def stage(self, table: Table, rows: pa.Table, stem: str | None = None) -> list[Staged]:
        """The costly half of :meth:`write`: each partition's file under its hidden
        temporary name, invisible to readers. Touches nothing else of the layout, so it may
        run in another thread; a failure deletes what it staged."""
        staged: list[Staged] = []
        try:
            for partition, part in self.split(table, rows).items():
                name = f"part-{stem or uuid.uuid4().hex}.parquet"
                final = self.table_dir(table.name) / partition / name
                if stem is not None and final.exists():
                    continue
                staged.append((self._write_file(final, in_key_order(table, part)), final))
        except BaseException:
            for temp, _ in staged:
                temp.unlink(missing_ok=True)
            raise
        return staged

    def commit(self, table: Table, staged: list[Staged]) -> list[Path]:
        """Move staged files into place (all of them, or none if one fails); their paths."""
        listing = self._files_of(table.name)
        written: list[Path] = []
        try:
            for temp, final in staged:
                try:
                    os.replace(temp, final)
                except OSError as exc:
                    raise StoreError(f"could not write {final}: {exc}", path=str(final)) from exc
                written.append(final)
                listing.setdefault(final.parent.name, []).append(final)
        except BaseException:
            for path in written:  # all partitions or none: the rows are still held elsewhere
                path.unlink(missing_ok=True)
                listing[path.parent.name].remove(path)
            for temp, _ in staged[len(written) :]:
                temp.unlink(missing_ok=True)
            raise
        return written

    def compact(self, table: Table, partitions: Iterable[str] | None = None) -> None:
        """Merge the files of each partition (or of ``partitions``) into one, atomically."""
        listing = self._files_of(table.name)
        for partition in sorted(listing) if partitions is None else list(partitions):
            files = list(listing.get(partition, []))
            if len(files) >= 2:
                self.swap_in(table, partition, files, self.merge(table, partition, files))

    def merge(self, table: Table, partition: str, files: list[Path]) -> Staged:
        """The costly half of a compaction: ``files`` (of one partition) merged into one
        file under its hidden temporary name. Touches nothing else, so it may run in
        another thread while the writer adds files to the partition."""
        final = files[0].parent / f"part-{uuid.uuid4().hex}.parquet"
        temp = _temp_path(final)
        try:
            write_parquet(pq.read_table(files, schema=table.arrow_schema()), temp)
        except (OSError, pa.ArrowException) as exc:
            temp.unlink(missing_ok=True)
            message = f"could not compact {table.name}/{partition}: {exc}"
            raise StoreError(message, table=table.name, partition=partition) from exc
        return temp, final

    def swap_in(self, table: Table, partition: str, files: list[Path], merged: Staged) -> None:
        """Replace ``files`` by their ``merged`` file, crash-safely (a manifest names what
        it replaces first); files the partition gained since the merge began stay."""
        temp, final = merged
        folder = final.parent
        try:
            manifest = {"into": final.name, "replaces": [p.name for p in files]}
            _write_atomic_text(folder / MANIFEST, json.dumps(manifest))
            os.replace(temp, final)
            _finish_compaction(folder)
        except OSError as exc:
            self._listing.pop(table.name, None)  # list it again: the swap may be half-done
            message = f"could not compact {table.name}/{partition}: {exc}"
            raise StoreError(message, table=table.name, partition=partition) from exc
        listing = self._files_of(table.name)
        listing[partition] = [final, *(f for f in listing.get(partition, []) if f not in files)]

    def recover(self) -> None:
        """Finish interrupted compactions and drop temporary files left by a crash."""
        if not self.root.is_dir():
            return
        for table_dir in self.root.iterdir():
            if not table_dir.is_dir():
                continue
            for folder in table_dir.iterdir():
                if not folder.is_dir():
                    continue
                if (folder / MANIFEST).exists():
                    _finish_compaction(folder)
                for temp in folder.glob(".*.tmp"):
                    temp.unlink()

    def _files_of(self, name: str) -> dict[str, list[Path]]:
        """Partition → live files of a table (the writer's kept list, else read from disk)."""
        listing = self._listing.get(name)
        if listing is None:
            folder = self.table_dir(name)
            names = [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
            listing = {p: _live_files(folder / p) for p in names if p[0] not in "._"}
            if self.writer:
                self._listing[name] = listing
        return listing

    def _write_file(self, final: Path, rows: pa.Table) -> Path:
        """``final``'s rows under its temporary name (returned), for :meth:`commit`."""
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = _temp_path(final)
        try:
            write_parquet(rows, temp)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StoreError(f"could not write {final}: {exc}", path=str(final)) from exc
        return temp


def in_key_order(table: Table, rows: pa.Table) -> pa.Table:
    """``rows`` sorted by the table's key. Every file is written so: each of its row groups
    then covers a narrow range of keys, and a lookup of a few vehicles reads the few groups
    whose min/max can hold them instead of the whole file. A compaction concatenates such
    files, so its row groups stay sorted runs."""
    if rows.num_rows < 2:
        return rows
    return rows.take(pc.sort_indices(rows, sort_keys=[(k, "ascending") for k in table.key]))


def write_parquet(rows: pa.Table, path: Path) -> None:
    """One Parquet file, snappy, in row groups of :data:`ROW_GROUP_ROWS`; only text
    columns are dictionary-encoded (numbers and times rarely repeat, and trying a
    dictionary on them doubles the cost of a write)."""
    text = [f.name for f in rows.schema if pa.types.is_string(f.type)]
    pq.write_table(rows, path, compression="snappy", use_dictionary=text,
                   row_group_size=ROW_GROUP_ROWS)


def _temp_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp")


def _write_atomic_text(path: Path, text: str) -> None:
    temp = _temp_path(path)
    temp.write_text(text)
    os.replace(temp, path)


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
        return manifest
    except FileNotFoundError:
        return None


def _live_files(folder: Path) -> list[Path]:
    """Data files of a partition; files a finished compaction replaced are left out."""
    files = sorted(folder.glob(PART_GLOB))
    manifest = _manifest(folder)
    if manifest is None or not (folder / str(manifest["into"])).exists():
        return files
    replaced = set(manifest["replaces"])
    return [f for f in files if f.name not in replaced]


def _finish_compaction(folder: Path) -> None:
    """Delete what a compaction replaced once its merged file is in place, then the manifest."""
    manifest = _manifest(folder)
    if manifest is None:
        return
    if (folder / str(manifest["into"])).exists():
        for name in manifest["replaces"]:
            (folder / name).unlink(missing_ok=True)
    (folder / MANIFEST).unlink()


WRITER_LOCK = ".writer.lock"


def open_root(root: Path) -> tuple[Layout, Any]:
    """The root's layout and its writer lock (None while another store holds it). Only the
    lock's holder recovers what a crash left: without the lock a live writer owns the
    root, and its temporary files and half-swapped compactions are work in progress."""
    lock = writer_lock(root)
    layout = Layout(root, writer=lock is not None)
    if lock is not None:
        layout.recover()
    return layout, lock


def writer_lock(root: Path) -> Any:
    """An exclusive lock on ``root`` (an open file), or None when another store holds it."""
    handle = open(root / WRITER_LOCK, "a")  # noqa: SIM115 (held until close)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle
