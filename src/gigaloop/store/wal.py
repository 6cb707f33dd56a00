"""A table's write-ahead log: rows acknowledged but not yet in Parquet, on disk and in memory.

Each accepted batch is appended to an Arrow IPC stream file,
``root/<table>/_wal/<generation>.arrows``, and handed to the OS before :meth:`TableLog.append`
returns (``fsync=True`` also forces it to the disk), so a write that returned survives
the process. The same batches stay in memory as the table's *tail*, which readers union
with the Parquet files. When the tail is flushed to Parquet, every partition's file is
named after the log's generation (``part-<generation>.parquet``) and the log is deleted
only after all of them are in place; replaying a log after a crash skips the partitions
whose file is already there, so a row is never written twice.

A crash can leave a torn last message; :func:`read_log` drops it (its write never
returned, so it was never acknowledged).

>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> log = TableLog(folder, pa.schema([("n", pa.int64())]))
>>> log.append(pa.table({"n": [1, 2]})); log.append(pa.table({"n": [3]}))
>>> log.rows, log.tail().num_rows
(3, 3)
>>> [(path == log.path, rows["n"].to_pylist()) for path, rows in logs(folder)]
[(True, [1, 2, 3])]
>>> log.close(); log.discard(); list(logs(folder))
[]
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.errors import StoreError
from gigaloop.schema import INGESTED_AT, Table

if TYPE_CHECKING:
    from gigaloop.store.layout import Layout

WAL_DIR = "_wal"
SUFFIX = ".arrows"


class TableLog:
    """The open log of one table and its tail (the rows it holds, as Arrow batches)."""

    def __init__(self, folder: Path, schema: pa.Schema, *, fsync: bool = False) -> None:
        self.folder = Path(folder)
        self.schema = schema
        self.fsync = fsync
        self.generation = uuid.uuid4().hex
        self.rows = 0
        self.newest = ""  # the newest partition the tail holds rows of
        self._batches: list[pa.RecordBatch] = []
        self._stamps: list[datetime | None] = []  # each batch's ingestion instant, if one
        self._file: BinaryIO | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None
        self._broken = False
        # logs set aside by :meth:`seal`: generation → (batches, stamps), still in the tail
        self._sealed: dict[str, tuple[list[pa.RecordBatch], list[datetime | None]]] = {}

    @property
    def path(self) -> Path:
        return self.folder / f"{self.generation}{SUFFIX}"

    @property
    def broken(self) -> bool:
        """True after a failed append: flush the tail before appending again."""
        return self._broken

    def append(self, rows: pa.Table, newest: str = "", stamp: datetime | None = None) -> None:
        """Log ``rows`` (in the log's schema) durably, then add them to the tail; ``stamp``
        is their one ingestion instant, if they share one (:meth:`between` selects by it)."""
        if self._broken:
            raise StoreError("the log must be flushed after a failed write", path=str(self.path))
        batches = rows.to_batches()
        position = 0
        try:
            if self._writer is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "wb")  # noqa: SIM115 (kept open)
                self._writer = pa.ipc.new_stream(self._file, self.schema)
            assert self._file is not None
            position = self._file.tell()
            for batch in batches:
                self._writer.write_batch(batch)
            self._file.flush()  # handed to the OS (one system call) before write returns
            if self.fsync:
                os.fsync(self._file.fileno())
        except (OSError, pa.ArrowException) as exc:
            self._tear_down(position)
            message = f"could not log a write to {self.path}: {exc}"
            raise StoreError(message, path=str(self.path)) from exc
        self._batches += batches
        self._stamps += [stamp] * len(batches)
        self.rows += rows.num_rows
        self.newest = max(self.newest, newest)

    @property
    def sealed(self) -> bool:
        """True while a sealed log awaits :meth:`release`."""
        return bool(self._sealed)

    def tail(self) -> pa.Table:
        """The logged rows, sealed ones first, zero-copy (empty with the schema when none)."""
        return pa.Table.from_batches(self._all()[0], self.schema)

    def seal(self) -> tuple[str, pa.Table]:
        """Set the logged rows aside for a flush (their generation and rows): they stay in
        the tail, and their log on disk, until :meth:`release`; appends go to a new log."""
        self.close()
        generation, rows = self.generation, pa.Table.from_batches(self._batches, self.schema)
        self._sealed[generation] = (self._batches, self._stamps)
        self.generation = uuid.uuid4().hex
        self.rows, self.newest, self._batches, self._stamps = 0, "", [], []
        return generation, rows

    def release(self, generation: str) -> None:
        """A sealed log's rows are in Parquet: delete the log and drop them from the tail."""
        del self._sealed[generation]
        (self.folder / f"{generation}{SUFFIX}").unlink(missing_ok=True)

    def _all(self) -> tuple[list[pa.RecordBatch], list[datetime | None]]:
        """Every batch of the tail (sealed ones first) and its stamp."""
        if not self._sealed:
            return self._batches, self._stamps
        batches = [b for held, _ in self._sealed.values() for b in held] + self._batches
        stamps = [s for _, held in self._sealed.values() for s in held] + self._stamps
        return batches, stamps

    def between(self, after: datetime, until: datetime) -> pa.Table:
        """The tail's rows ingested in (``after``, ``until``]: whole batches picked by their
        stamp, so a daily read costs what it returns, not the size of the tail."""
        batches, stamps = self._all()
        if any(stamp is None for stamp in stamps):
            tail = self.tail()
            stamp = tail[INGESTED_AT]
            keep = pc.and_(pc.greater(stamp, pa.scalar(after, stamp.type)),
                           pc.less_equal(stamp, pa.scalar(until, stamp.type)))
            return tail.filter(keep)
        chosen = [batch for batch, stamp in zip(batches, stamps, strict=True)
                  if after < stamp <= until]  # type: ignore[operator]
        return pa.Table.from_batches(chosen, self.schema)

    def close(self) -> None:
        """Close the log file (its rows stay logged until :meth:`discard`)."""
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()
        self._writer = self._file = None

    def discard(self) -> None:
        """The tail is in Parquet: delete the log and start a new generation, empty."""
        self.close()
        self.path.unlink(missing_ok=True)
        self.generation = uuid.uuid4().hex
        self.rows, self.newest, self._batches, self._broken = 0, "", [], False
        self._stamps = []

    def _tear_down(self, position: int) -> None:
        """Cut a partly written message off the log; it was never acknowledged."""
        self._broken = True
        if self._file is not None:
            with contextlib.suppress(OSError):  # else the torn message is dropped when read
                self._file.truncate(position)
        self._writer = None  # the stream cannot go on after a failed message
        if self._file is not None:
            self._file.close()
            self._file = None


def read_log(path: Path) -> pa.Table | None:
    """Every whole batch of a log file (a torn last message is dropped); None if unreadable."""
    batches = []
    try:
        with pa.OSFile(str(path), "rb") as source:
            reader = pa.ipc.open_stream(source)
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
                except (pa.ArrowInvalid, OSError):
                    break  # a torn message: the write it belonged to never returned
            return pa.Table.from_batches(batches, reader.schema)
    except (pa.ArrowInvalid, OSError):
        return None  # torn before its schema was whole: it holds no acknowledged row


def logs(folder: Path) -> Iterator[tuple[Path, pa.Table]]:
    """``(path, rows)`` of every log in ``folder``, oldest first (its stem: the generation)."""
    if not folder.is_dir():
        return
    paths = sorted(folder.glob(f"*{SUFFIX}"), key=lambda p: p.stat().st_mtime_ns)
    for path in paths:
        rows = read_log(path)
        yield path, rows if rows is not None else pa.table({})


def replay_logs(layout: Layout, tables: Iterable[Table]) -> None:
    """Write the logs a crashed writer left to Parquet (skipping partitions already
    written), then delete them."""
    for spec in tables:
        for path, rows in logs(layout.table_dir(spec.name) / WAL_DIR):
            if rows.num_rows:
                layout.write(spec, rows.cast(spec.arrow_schema()), stem=path.stem)
            path.unlink()
