"""64-bit row hashes, and a growing set of them that answers "stored?" for a batch at once.

:func:`hash_rows` hashes every row of an Arrow table with NumPy alone: each value is
folded from its bits (strings 8 bytes at a time, their length first, a multiply and a
shift per word), and each column is folded into the row's hash by splitmix64's finaliser,
so the same key hashes alike in every process and with every library version, and a
batch of a few rows costs microseconds.

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

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_MIN_BITS_LOG2 = 16  # 8 KiB of bitmap for a small table
_BITS_PER_HASH = 8  # rebuild the bitmap, twice as large, when it is fuller than this
_MANY_NEEDLES = 1024  # from this many lookups, a run's hash table beats binary search
_SMALL_SET = 4096  # up to this many values, a value set is probed with pyarrow's is_in


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


class ValueSet:
    """The distinct values of one column, exactly, found by their hashes.

    Kept in sorted runs (hashes sorted, values in the same order), merged like a binary
    counter as :class:`HashSet`'s, so adding costs ``O(log n)`` amortised per value, never
    a pass over all of them. :meth:`contains` looks every value up in the largest run and
    each smaller run only for the values not found yet, through a hash table of the run
    built on its first lookup (a large run rarely changes); a hash hit is confirmed by
    comparing the values.

    >>> vins = ValueSet(pa.array(["A1", "B2"]))
    >>> vins.add(pa.array(["C3", "A1", None]))
    >>> vins.contains(pa.array(["C3", "Z9", None, "A1"])).tolist(), len(vins)
    ([True, False, False, True], 3)
    """

    def __init__(self, values: pa.Array, hasher: Callable[[pa.Table], np.ndarray] | None = None):
        self._hasher = hasher or hash_rows
        self._type = values.type
        self._runs: list[tuple[np.ndarray, pa.Array]] = []  # largest first
        self._tables: list[pd.Index | None] = []  # each run's hashes, once looked up
        self._small: pa.Array | None = None  # every value, while the set is small
        self.add(values)

    def __len__(self) -> int:
        return sum(len(hashes) for hashes, _ in self._runs)

    def add(self, values: pa.Array | pa.ChunkedArray) -> None:
        """Add values (nulls and values already held are skipped)."""
        values = self._typed(values)
        if values.null_count:
            values = values.drop_null()
        hashes = self._hash(values)
        held = self._contains(values, hashes)
        if held.any():
            values, hashes = values.filter(pa.array(~held)), hashes[~held]
        if len(values) == 0:
            return
        if len(np.unique(hashes)) < len(values):  # repeats in the batch (or rare collisions
            values = pc.unique(values)  # of distinct values, which pc.unique keeps apart)
            hashes = self._hash(values)
        order = np.argsort(hashes)
        self._runs.append((hashes[order], values.take(order)))
        self._tables.append(None)
        self._small = None
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= len(self._runs[-1][0]):
            last = self._runs.pop()
            self._tables.pop()
            self._runs[-1], self._tables[-1] = _merge(self._runs[-1], last), None

    def contains(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """A boolean mask: True where the value is in the set (null never is).

        A small set (a few thousand values: sites, stations, machines) is probed by Arrow's
        own hash lookup, which beats hashing the batch here; a large one by its runs.
        """
        values = self._typed(values)
        if len(self) <= _SMALL_SET:
            if self._small is None:
                self._small = pa.concat_arrays([held for _, held in self._runs] or [values[:0]])
            inside: np.ndarray = pc.is_in(values, value_set=self._small).to_numpy(
                zero_copy_only=False)
            return inside
        return self._contains(values, self._hash(values))

    def _typed(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        return values if values.type == self._type else values.cast(self._type)

    def _hash(self, values: pa.Array) -> np.ndarray:
        return self._hasher(pa.table({"v": values}))

    def _contains(self, values: pa.Array, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(values), dtype=bool)
        left = np.arange(len(values))  # positions not found yet
        for run, (stored, held) in enumerate(self._runs):
            if len(left) == 0:
                break
            at = self._find(run, hashes[left])
            match = at >= 0
            hit, at = left[match], at[match]
            if len(hit) == 0:
                continue
            needles = values if len(hit) == len(values) else values.take(hit)
            same = pc.equal(needles, held.take(at))
            if same.null_count:
                same = pc.fill_null(same, False)
            same = same.to_numpy(zero_copy_only=False)
            if not same.all():  # a hash shared by several stored values: compare with all
                shared = held.filter(pa.array(np.isin(stored, hashes[hit[~same]])))
                again = pc.is_in(values.take(hit[~same]), value_set=shared)
                same[~same] = again.to_numpy(zero_copy_only=False)
            found[hit[same]] = True
            left = left[~found[left]]
        return found

    def _find(self, run: int, needles: np.ndarray) -> np.ndarray:
        """Where each hash sits in run ``run`` (its first place), -1 where it is absent.

        Many needles go through the run's hash table, a few (or hashes shared by several
        values) through a binary search: a table lookup costs tens of microseconds more.
        """
        stored = self._runs[run][0]
        if len(needles) >= _MANY_NEEDLES:
            table = self._tables[run]
            if table is None:
                table = self._tables[run] = pd.Index(stored)
            if table.is_unique:
                found: np.ndarray = table.get_indexer(needles)
                return found
        at = np.minimum(np.searchsorted(stored, needles), len(stored) - 1)
        return np.where(stored[at] == needles, at, -1)


def _merge(
    first: tuple[np.ndarray, pa.Array], second: tuple[np.ndarray, pa.Array]
) -> tuple[np.ndarray, pa.Array]:
    """Two sorted runs as one (hashes sorted, values in the same order)."""
    at = np.searchsorted(first[0], second[0])
    hashes = np.insert(first[0], at, second[0])
    order = np.insert(np.arange(len(first[0])), at, len(first[0]) + np.arange(len(second[0])))
    return hashes, pa.concat_arrays([first[1], second[1]]).take(order)


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
    """One value per value, to be finalised by :func:`hash_rows`: text folded from its
    bytes, numbers, dates and times as their bits."""
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        hashes = _hash_strings(values, np.int32)
    elif pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        hashes = _hash_strings(values, np.int64)
    else:
        if pa.types.is_boolean(kind):
            values = values.cast(pa.int8())
        numbers = values.view(_INTEGERS[values.type.bit_width])
        if values.null_count:
            numbers = pc.fill_null(numbers, 0)
        hashes = numbers.to_numpy().astype(np.int64, copy=False).view(np.uint64)
    if values.null_count:
        hashes = np.where(values.is_null().to_numpy(zero_copy_only=False), _NULL, hashes)
    return hashes


def _hash_strings(values: pa.Array, offset_type: type) -> np.ndarray:
    """Each string's bytes, 8 at a time, folded into its length (so ``"a"`` ≠ ``"a\\0"``).

    The bytes are laid out as a zero-padded matrix, one row per string, read as 8-byte
    little-endian words: equal-length strings (VINs, ids) are one reshape, others one
    scatter. A column with a few very long strings hashes word by word instead.
    """
    offsets_buffer, data_buffer = values.buffers()[1:]
    size = np.dtype(offset_type).itemsize
    stored: np.ndarray = np.frombuffer(
        offsets_buffer, offset_type, len(values) + 1, values.offset * size
    )
    offsets: np.ndarray = stored.astype(np.int64)
    lengths = np.diff(offsets)
    hashes = lengths.view(np.uint64) ^ _SEED
    first, total = int(offsets[0]), int(offsets[-1] - offsets[0])
    if total == 0:
        return hashes
    data = np.frombuffer(data_buffer, np.uint8, total, first)
    shortest, longest = int(lengths.min()), int(lengths.max())
    width = -(-longest // 8) * 8
    if len(values) * width > 4 * total + 4096:
        return _hash_long_strings(hashes, data, offsets - first, lengths)
    if shortest == longest == width:
        words = data.view("<u8").reshape(len(values), width // 8)
    else:
        padded = np.zeros((len(values), width), dtype=np.uint8)
        if shortest == longest:
            padded[:, :longest] = data.reshape(len(values), longest)
        else:
            shift = np.arange(len(values)) * width - offsets[:-1] + first  # byte → its slot
            padded.reshape(-1)[np.arange(total) + np.repeat(shift, lengths)] = data
        words = padded.view("<u8")
    for word in range(width // 8):
        folded = _fold(hashes, words[:, word])
        hashes = folded if 8 * word < shortest else np.where(lengths > 8 * word, folded, hashes)
    return hashes


def _hash_long_strings(
    hashes: np.ndarray, data: np.ndarray, starts: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """:func:`_hash_strings` for ragged columns: the 8-byte word at each start, gathered."""
    padded = np.zeros(len(data) + 8, dtype=np.uint8)
    padded[:-8] = data
    # the little-endian 8-byte word starting at each byte: overlapping windows, no copy
    windows = np.lib.stride_tricks.as_strided(padded, (len(data), 8), (1, 1), writeable=False)
    word_at = windows.view("<u8")[:, 0]
    for start in range(0, int(lengths.max()), 8):
        live = np.flatnonzero(lengths > start)
        words = word_at[starts[live] + start] & _LOW_BYTES[np.minimum(lengths[live] - start, 8)]
        hashes[live] = _fold(hashes[live], words)
    return hashes


def _fold(hashes: np.ndarray, words: np.ndarray) -> np.ndarray:
    """One more 8-byte word into each string's running hash (cheap: :func:`hash_rows`
    finalises every column's hash with :func:`_mix`)."""
    folded = hashes ^ words  # a new array; the rest works in place
    folded *= _SEED
    folded ^= folded >> np.uint64(29)
    return folded


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, element-wise (uint64 arithmetic wraps)."""
    mixed = values ^ (values >> np.uint64(30))  # a new array; the rest works in place
    mixed *= np.uint64(0xBF58476D1CE4E5B9)
    mixed ^= mixed >> np.uint64(27)
    mixed *= np.uint64(0x94D049BB133111EB)
    mixed ^= mixed >> np.uint64(31)
    return mixed
