"""fork_map: the same results as a plain map, in order, whatever the forked copy does."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from gigaloop.ml import forked
from gigaloop.ml.forked import fork_map


def test_results_in_order_from_both_processes() -> None:
    parent = os.getpid()

    def slow_square(x: int) -> tuple[int, bool]:
        time.sleep(0.02)
        return x * x, os.getpid() == parent

    results = fork_map(slow_square, range(20))
    assert [square for square, _ in results] == [x * x for x in range(20)]
    here = [mine for _, mine in results]
    assert any(here) and not all(here)  # both processes took items


def test_arrays_come_back_intact() -> None:
    rng = np.random.default_rng(0)
    blocks = [rng.normal(size=(100, 7)) for _ in range(6)]
    for block, total in zip(blocks, fork_map(lambda b: b.sum(axis=0), blocks), strict=True):
        np.testing.assert_array_equal(block.sum(axis=0), total)


def test_a_failure_is_raised_here() -> None:
    def fragile(x: int) -> int:
        if x == 3:
            raise ValueError("item 3 is bad")
        return x

    with pytest.raises(ValueError, match="item 3"):
        fork_map(fragile, range(8))


def test_a_copy_that_hangs_is_killed_and_its_items_mapped_here(monkeypatch) -> None:
    monkeypatch.setattr(forked, "GRACE_SECONDS", 0.5)
    monkeypatch.setattr(forked, "PATIENCE", 0.0)
    parent = os.getpid()

    def hangs_in_copy(x: int) -> int:
        if os.getpid() != parent:
            time.sleep(60)
        time.sleep(0.01)
        return -x

    started = time.monotonic()
    assert fork_map(hangs_in_copy, range(6)) == [0, -1, -2, -3, -4, -5]
    assert time.monotonic() - started < 30
