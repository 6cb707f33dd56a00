"""64-bit row hashes, a growing set of them that answers "stored?" for a batch at once,
and the set of values a reference points at.

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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_MIN_BITS_LOG2 = 16  # 8 KiB of bitmap for a small table
_BITS_PER_HASH = 8  # rebuild the bitmap, twice as large, when it is fuller than this
_FEW = 64  # a value set probes this many values or fewer in Python
_BATCH_SHARE = 0.25  # and a batch this large against the set with Arrow's hash lookup


class HashSet:
    """Sorted runs of ``uint64`` hashes behind a bitmap of their top bits."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []
        self._size = 0
        self._bits_log2 = _MIN_BITS_LOG2
        self._bits = np.zeros((1 << self._bits_log2) // 64, dtype=np.uint64)

    def __len__(self) -> int:
        return self._size

    def add(self, hashes: np.ndarray, *, ordered: bool = False) -> None:
        """Add hashes (any order, or ascending when ``ordered``; a hash added twice is
        harmless)."""
        run = np.asarray(hashes, dtype=np.uint64)
        if not ordered:
            run = np.sort(run)
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
    """The distinct values of one column (the ids a reference points at), exactly.

    Held as a Python set, so adding or probing a few values costs microseconds whatever
    the set's size; a batch at least a quarter of the set's size (a day of telemetry
    against the fleet's VINs) is probed by Arrow's own hash lookup over every value
    instead, which beats converting it to Python objects.

    >>> vins = ValueSet(pa.array(["A1", "B2"]))
    >>> vins.add(pa.array(["C3", "A1", None]))
    >>> vins.contains(pa.array(["C3", "Z9", None, "A1"])).tolist(), len(vins)
    ([True, False, False, True], 3)
    """

    def __init__(self, values: pa.Array) -> None:
        self._type = values.type
        self._held: set[object] = set()
        self._added: list[pa.Array] = []  # what each add brought, for Arrow's lookup
        self._every: pa.Array | None = None  # their concatenation, once asked for
        self.add(values)

    def __len__(self) -> int:
        return len(self._held)

    def add(self, values: pa.Array | pa.ChunkedArray) -> None:
        """Add values (nulls and values already held are skipped)."""
        values = self._typed(values)
        held = self._held
        new = [v for v in dict.fromkeys(values.to_pylist()) if v is not None and v not in held]
        if new:
            held.update(new)
            self._added.append(pa.array(new, self._type))
            self._every = None

    def contains(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """A boolean mask: True where the value is in the set (null never is)."""
        values = self._typed(values)
        if len(values) > _FEW and len(values) >= _BATCH_SHARE * len(self._held):
            if self._every is None:
                self._every = pa.concat_arrays(self._added or [values[:0]])
            inside: np.ndarray = pc.is_in(values, value_set=self._every).to_numpy(
                zero_copy_only=False)
            return inside
        held = self._held
        return np.fromiter((v in held for v in values.to_pylist()), bool, len(values))

    def _typed(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        return values if values.type == self._type else values.cast(self._type)


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
