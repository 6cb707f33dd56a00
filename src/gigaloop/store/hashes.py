"""64-bit row hashes, and a growing set of them that answers "stored?" for a batch at once.

:func:`hash_rows` hashes every row of an Arrow table with NumPy alone: splitmix64 over
the values (strings 8 bytes at a time, their length first), so the same key hashes alike
in every process and with every library version, and a batch of a few rows costs
microseconds.

Hashes live in sorted runs, merged like a binary counter (a run is merged with the one
before it while that one is no longer than it), so adding ``n`` hashes in daily batches
costs ``O(n log n)`` overall and a lookup searches ``O(log n)`` runs. A bitmap indexed by
the top bits of each hash (8 to 32 bits per stored hash) answers most misses without
touching the runs, so checking a batch of new keys costs about the same on day 365 as on
day 1.

A hit only says the *hash* is stored; the caller checks those rows' keys exactly.

>>> first, second, again = hash_rows(pa.table({"vin": ["A1", "B2", "A1"], "n": [1, 1, 1]}))
>>> bool(first == again), bool(first == second)
(True, False)
>>> keys = HashSet()
>>> keys.add(np.array([5, 1, 9], dtype=np.uint64))
>>> keys.add(np.array([7], dtype=np.uint64))
>>> keys.contains(np.array([1, 2, 7, 9], dtype=np.uint64)).tolist()
[True, False, True, True]
>>> len(keys)
4
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MIN_BITS_LOG2 = 16  # 8 KiB of bitmap for a small table
_BITS_PER_HASH = 8  # rebuild the bitmap, twice as large, when it is fuller than this


class HashSet:
    """Sorted runs of ``uint64`` hashes behind a bitmap of their top bits."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []
        self._size = 0
        self._bits_log2 = _MIN_BITS_LOG2
        self._bits = np.zeros((1 << self._bits_log2) // 64, dtype=np.uint64)

    def __len__(self) -> int:
        return self._size

    def add(self, hashes: np.ndarray) -> None:
        """Add hashes (any order; a hash added twice is harmless)."""
        run = np.sort(np.asarray(hashes, dtype=np.uint64))
        if len(run) == 0:
            return
        self._runs.append(run)
        self._size += len(run)
        while len(self._runs) > 1 and len(self._runs[-2]) <= len(self._runs[-1]):
            last = self._runs.pop()
            self._runs[-1] = np.sort(np.concatenate([self._runs[-1], last]), kind="stable")
        if self._size * _BITS_PER_HASH > (1 << self._bits_log2):
            self._bits_log2 = max(_MIN_BITS_LOG2, (self._size * 2 * _BITS_PER_HASH).bit_length())
            self._bits = np.zeros((1 << self._bits_log2) // 64, dtype=np.uint64)
            for stored in self._runs:
                self._mark(stored)
        else:
            self._mark(run)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """A boolean mask: True where the hash is in the set."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        word, bit = self._slots(hashes)
        maybe = np.flatnonzero(self._bits[word] & bit)
        found = np.zeros(len(hashes), dtype=bool)
        if len(maybe) == 0:
            return found
        maybe = maybe[np.argsort(hashes[maybe])]  # sorted needles search runs far faster
        candidates = hashes[maybe]
        hit = np.zeros(len(candidates), dtype=bool)
        for run in self._runs:
            at = np.minimum(np.searchsorted(run, candidates), len(run) - 1)
            hit |= run[at] == candidates
        found[maybe] = hit
        return found

    def _slots(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The bitmap word and the bit within it of each hash (from its top bits)."""
        slot = hashes >> np.uint64(64 - self._bits_log2)
        return slot >> np.uint64(6), np.left_shift(np.uint64(1), slot & np.uint64(63))

    def _mark(self, run: np.ndarray) -> None:
        """Set the bits of a sorted run (so its words come in order, repeats side by side)."""
        word, bit = self._slots(run)
        first = np.flatnonzero(np.r_[True, word[1:] != word[:-1]])
        self._bits[word[first]] |= np.bitwise_or.reduceat(bit, first)


_SEED = np.uint64(0x9E3779B97F4A7C15)
_NULL = np.uint64(0x5BD1E9955BD1E995)
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(9)], dtype=np.uint64)
_INTEGERS = {8: pa.int8(), 16: pa.int16(), 32: pa.int32(), 64: pa.int64()}


def hash_rows(rows: pa.Table) -> np.ndarray:
    """A ``uint64`` hash of each row over all its columns (order matters; null is a value)."""
    hashes = np.full(rows.num_rows, _SEED, dtype=np.uint64)
    for column in rows.columns:
        hashes = _mix((hashes * _SEED) ^ _hash_values(column.combine_chunks()))
    return hashes


def _hash_values(values: pa.Array) -> np.ndarray:
    """One hash per value: text by its bytes, numbers, dates and times by their bits."""
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        hashes = _hash_strings(values.cast(pa.binary()))
    else:
        if pa.types.is_boolean(kind):
            values = values.cast(pa.int8())
        numbers = pc.fill_null(values.view(_INTEGERS[values.type.bit_width]), 0)
        hashes = _mix(numbers.to_numpy().astype(np.int64).view(np.uint64))
    if values.null_count:
        hashes[values.is_null().to_numpy(zero_copy_only=False)] = _NULL
    return hashes


def _hash_strings(values: pa.Array) -> np.ndarray:
    """Each string's bytes, 8 at a time, folded into its length (so ``"a"`` ≠ ``"a\\0"``)."""
    offsets_buffer, data_buffer = values.buffers()[1:]
    offsets = np.frombuffer(offsets_buffer, np.int32, len(values) + 1, values.offset * 4)
    starts, lengths = offsets[:-1].astype(np.int64), np.diff(offsets).astype(np.int64)
    data = np.zeros((data_buffer.size if data_buffer else 0) + 8, dtype=np.uint8)
    if data_buffer:
        data[:-8] = np.frombuffer(data_buffer, np.uint8)
    # the little-endian 8-byte word starting at each byte: overlapping windows, no copy
    windows = np.lib.stride_tricks.as_strided(data, (len(data) - 7, 8), (1, 1), writeable=False)
    word_at = windows.view("<u8")[:, 0]
    hashes = _mix(lengths.view(np.uint64) ^ _SEED)
    shortest = int(lengths.min(initial=0))
    for start in range(0, int(lengths.max(initial=0)), 8):
        if start + 8 <= shortest:  # a whole word of every string: no masks, no selection
            hashes = _mix((hashes * _SEED) ^ word_at[starts + start])
            continue
        live = np.flatnonzero(lengths > start)
        words = word_at[starts[live] + start] & _LOW_BYTES[np.minimum(lengths[live] - start, 8)]
        hashes[live] = _mix((hashes[live] * _SEED) ^ words)
    return hashes


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, element-wise (uint64 arithmetic wraps)."""
    mixed = values ^ (values >> np.uint64(30))  # a new array; the rest works in place
    mixed *= np.uint64(0xBF58476D1CE4E5B9)
    mixed ^= mixed >> np.uint64(27)
    mixed *= np.uint64(0x94D049BB133111EB)
    mixed ^= mixed >> np.uint64(31)
    return mixed
