"""The worker process: the same result as in place, errors at ``result()``, and off when
asked."""

from __future__ import annotations

import os

import pytest

from gigaloop.loop import worker


def _pid_and_sum(values: list[int]) -> tuple[int, int]:
    return os.getpid(), sum(values)


def _fail() -> None:
    raise ValueError("bad scan")


@pytest.mark.skipif(not worker.enabled(), reason="one core or GIGALOOP_WORKER=0")
def test_the_work_runs_in_another_process_and_errors_come_back():
    pid, total = worker.submit(_pid_and_sum, [1, 2, 3]).result(timeout=60)
    assert total == 6 and pid != os.getpid()
    with pytest.raises(ValueError, match="bad scan"):
        worker.submit(_fail).result(timeout=60)


def test_turned_off_it_computes_in_place(monkeypatch):
    monkeypatch.setenv("GIGALOOP_WORKER", "0")
    assert not worker.enabled()
    assert worker.submit(_pid_and_sum, [4]).result() == (os.getpid(), 4)
    with pytest.raises(ValueError, match="bad scan"):
        worker.submit(_fail).result()
