"""Flushes and compactions whose Parquet files are encoded in a background thread.

Encoding a month of telemetry takes a good part of a second, and pyarrow does it without
the interpreter lock, so the store hands it to one worker thread and goes on. The table's
log is *sealed* first (:meth:`~gigaloop.store.wal.TableLog.seal`): its rows stay in the
tail that reads see and its file stays on disk, while new writes go to a new log. The
worker only writes hidden temporary files (:meth:`~gigaloop.store.layout.Layout.stage`);
the store's own thread moves them into place and only then releases the sealed log, so
a reader never sees a row twice or not at all, and a crash at any point loses no
acknowledged row (the sealed log is replayed on the next open, temporary files dropped).

A compaction is handed over the same way: the worker merges a partition's files into a
hidden temporary file (:meth:`~gigaloop.store.layout.Layout.merge`), and the store's thread
swaps it in for exactly the files it merged (:meth:`~gigaloop.store.layout.Layout.swap_in`);
files written to the partition meanwhile stay beside it.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from gigaloop.schema import Table, get_table
from gigaloop.store.layout import Layout, Staged
from gigaloop.store.wal import TableLog


class Flusher:
    """One sealed log per table at most, its files staged by a single worker thread."""

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._pool: ThreadPoolExecutor | None = None
        # table → (sealed log's generation, its rows, their staging; None: to retry here)
        self._sealed: dict[str, tuple[str, pa.Table, Future[list[Staged]] | None]] = {}
        # (table, partition) → the files being merged, and the merge
        self._merging: dict[tuple[str, str], tuple[list[Path], Future[Staged]]] = {}

    def tables(self) -> list[str]:
        """Tables with a sealed log or a compaction not finished yet."""
        return list(dict.fromkeys([*self._sealed, *(name for name, _ in self._merging)]))

    def _worker(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="gigaloop-flush")
        return self._pool

    def start(self, table: Table, log: TableLog) -> None:
        """Seal ``log`` and stage its rows' files in the background (none pending for it)."""
        assert table.name not in self._sealed
        generation, rows = log.seal()
        staging = self._worker().submit(self._layout.stage, table, rows, generation)
        self._sealed[table.name] = (generation, rows, staging)

    def finish(
        self, name: str, log: TableLog, *, wait: bool = True
    ) -> tuple[pa.Table, list[Path]] | None:
        """Move the staged files of ``name``'s sealed log into place, then release the log;
        its rows and files, or None (nothing sealed, or not staged yet and not ``wait``).

        A failed staging is retried in this thread, and raises while it fails; the rows
        stay logged and in the tail meanwhile.
        """
        if name not in self._sealed:
            return None
        generation, rows, staging = self._sealed[name]
        if not wait and staging is not None and not staging.done():
            return None
        try:
            if staging is None:
                staged = self._layout.stage(get_table(name), rows, generation)
            else:
                staged = staging.result()
            written = self._layout.commit(get_table(name), staged)
        except BaseException:
            self._sealed[name] = (generation, rows, None)
            raise
        del self._sealed[name]
        log.release(generation)
        return rows, written

    def compact(self, table: Table, partition: str) -> None:
        """Merge the partition's files in the background (unless a merge of it is pending)."""
        files = list(self._layout.files(table.name, [partition]))
        if len(files) > 1 and (table.name, partition) not in self._merging:
            merging = self._worker().submit(self._layout.merge, table, partition, files)
            self._merging[table.name, partition] = (files, merging)

    def compact_settled(self, table: Table, newest: str, compact_after: int) -> None:
        """Compact the table's months before ``newest`` (the month just written) that have
        several files, and any month with more than ``compact_after``, in the background."""
        for partition in self._layout.partitions(table.name):
            files = len(self._layout.files(table.name, [partition]))
            if files > 1 and (partition < newest or files > compact_after):
                self.compact(table, partition)

    def finish_compactions(self, name: str, *, wait: bool = True) -> bool:
        """Swap in the table's finished merges (every one, waiting, with ``wait``); whether
        any was. A failed merge raises (its files stay as they were)."""
        swapped = False
        for table, partition in [key for key in self._merging if key[0] == name]:
            files, merging = self._merging[table, partition]
            if not wait and not merging.done():
                continue
            del self._merging[table, partition]
            self._layout.swap_in(get_table(table), partition, files, merging.result())
            swapped = True
        return swapped

    def close(self) -> None:
        """Stop the worker (call after every sealed log is finished)."""
        if self._pool is not None:
            self._pool.shutdown()
