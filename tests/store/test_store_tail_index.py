"""The tail index answers exactly what a scan of the tail would, through growth and flushes."""

import numpy as np
import pytest

from gigaloop.store.tail_index import TailIndex


def test_find_agrees_with_a_scan_of_the_tail_through_writes_and_flushes() -> None:
    rng = np.random.default_rng(7)
    index, tail = TailIndex(), np.empty(0, dtype=np.uint64)
    for _ in range(300):
        if rng.random() < 0.2 and len(tail):
            keep = int(rng.integers(0, len(tail) + 1))
            index.keep_last(keep)
            tail = tail[len(tail) - keep:]
        else:
            written = rng.integers(0, 500, size=int(rng.integers(0, 40))).astype(np.uint64)
            index.extend(written)
            tail = np.concatenate([tail, written])
        asked = rng.integers(0, 500, size=25).astype(np.uint64)
        which, at = index.find(asked)
        expected = {(i, p) for i, h in enumerate(asked) for p in np.flatnonzero(tail == h)}
        assert set(zip(which.tolist(), at.tolist(), strict=True)) == expected
        assert len(which) == len(expected)
        assert len(index) == len(tail)


def test_a_tail_cannot_keep_more_rows_than_it_holds() -> None:
    index = TailIndex()
    index.extend(np.array([1, 2], dtype=np.uint64))
    with pytest.raises(ValueError, match="holds 2 rows"):
        index.keep_last(3)
