"""Where each key hash sits in a table's tail, kept as the tail grows and is flushed.

The tail (rows logged, not yet in Parquet) grows at its end with every write and loses its
oldest rows when they reach Parquet, so it is always a suffix of the rows ever logged.
Rows are numbered from the first one logged (*absolute* positions); a lookup answers in
positions within today's tail. Hashes live in sorted runs, each with its rows' positions,
merged like a binary counter (a run is merged with the one before it while that one is
no longer than it) and each run covers a contiguous span of rows, so a run older than the
tail is dropped whole and a merge leaves out the rows already flushed. Finding a batch's
few re-sent keys thus costs a binary search per run, not a sort of the whole tail.

>>> index = TailIndex()
>>> index.extend(np.array([10, 20, 30], dtype=np.uint64))
>>> index.extend(np.array([40], dtype=np.uint64))
>>> index.keep_last(3)  # the oldest row (hash 10) reached Parquet
>>> asked, at = index.find(np.array([40, 10, 20], dtype=np.uint64))
>>> asked.tolist(), at.tolist()  # which hash asked, and its position in the tail
([2, 0], [0, 2])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_NONE = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class _Run:
    hashes: np.ndarray  # sorted
    positions: np.ndarray  # absolute position of each hash's row
    first: int  # the span of rows the run covers: [first, end)
    end: int


class TailIndex:
    """Key hashes of one table's tail, by position."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []
        self._start = 0  # absolute position of the tail's first row
        self._end = 0  # one past its last

    def __len__(self) -> int:
        return self._end - self._start

    def extend(self, hashes: np.ndarray, order: np.ndarray | None = None) -> None:
        """Add the hashes of rows just logged, in their order (``order``: their stable
        ascending order, when the caller has it)."""
        if len(hashes) == 0:
            return
        if order is None:
            order = np.argsort(hashes, kind="stable")
        self._runs.append(_Run(np.asarray(hashes, np.uint64)[order], self._end + order,
                               self._end, self._end + len(hashes)))
        self._end += len(hashes)
        while len(self._runs) > 1 and len(self._runs[-2].hashes) <= len(self._runs[-1].hashes):
            last = self._runs.pop()
            self._runs[-1] = self._merged(self._runs[-1], last)

    def keep_last(self, rows: int) -> None:
        """The tail now holds only its last ``rows`` rows (the others reached Parquet)."""
        if rows > len(self):
            raise ValueError(f"the tail holds {len(self)} rows, not {rows}")
        self._start = self._end - rows
        self._runs = [run for run in self._runs if run.end > self._start]

    def find(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each tail row whose hash is asked: the index of the hash asked, and the row's
        position in the tail (a hash held by several rows answers once per row)."""
        asked, found = [_NONE], [_NONE]
        hashes = np.asarray(hashes, np.uint64)
        for run in self._runs:
            left = np.searchsorted(run.hashes, hashes, side="left")
            count = np.searchsorted(run.hashes, hashes, side="right") - left
            total = int(count.sum())
            if total == 0:
                continue
            which = np.repeat(np.arange(len(hashes)), count)
            offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
            positions = run.positions[left[which] + offset]
            live = positions >= self._start
            asked.append(which[live])
            found.append(positions[live] - self._start)
        return np.concatenate(asked), np.concatenate(found)

    def _merged(self, older: _Run, newer: _Run) -> _Run:
        hashes = np.concatenate([older.hashes, newer.hashes])
        positions = np.concatenate([older.positions, newer.positions])
        live = positions >= self._start
        hashes, positions = hashes[live], positions[live]
        order = np.argsort(hashes, kind="stable")
        return _Run(hashes[order], positions[order], max(older.first, self._start), newer.end)
