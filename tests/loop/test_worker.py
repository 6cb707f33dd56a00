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


def test_the_work_runs_in_another_process_and_errors_come_back(two_processes):
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


def test_warmed_the_worker_is_started_before_the_first_task(two_processes):
    worker.shutdown()
    worker.warm()
    pool = worker._pool
    assert pool is not None  # the process is launched by a thread of its own
    pid, total = worker.submit(_pid_and_sum, [2, 3]).result(timeout=60)
    assert total == 5 and pid != os.getpid() and worker._pool is pool


def test_warming_a_worker_that_is_off_starts_nothing(monkeypatch):
    monkeypatch.setenv("GIGALOOP_WORKER", "0")
    worker.shutdown()
    worker.warm()
    assert worker._pool is None


def _die_unless_in(parent: int) -> str:
    if os.getpid() != parent:
        os._exit(1)  # the worker dies mid-task
    return "computed here"


def test_a_worker_that_dies_costs_time_not_the_result(two_processes):
    assert worker.submit(_die_unless_in, os.getpid()).result(timeout=60) == "computed here"
    assert worker.submit(_pid_and_sum, [1]).result(timeout=60)[1] == 1  # a fresh worker


def test_a_main_script_the_worker_cannot_import_keeps_the_work_in_place(monkeypatch):
    import sys
    from types import SimpleNamespace

    monkeypatch.setitem(sys.modules, "__main__", SimpleNamespace(__file__="/nowhere/<stdin>"))
    assert not worker.enabled()


def _setup_pid(offset: int) -> tuple[int, int]:
    return os.getpid(), offset


def _slow_step(state: tuple[int, int], item: int) -> tuple[int, int]:
    import time

    time.sleep(0.05)
    return state[0], state[1] + item


def test_shared_items_are_taken_by_both_processes_each_once(two_processes):
    worker.submit(sum, [0]).result(timeout=60)  # started: a cold start could miss the items
    shared = worker.share(_setup_pid, _slow_step, 40, 100)
    results = shared.result()
    assert [value for _, value in results] == list(range(100, 140))
    assert len({pid for pid, _ in results}) == 2  # the worker took some, this process too


def _die_in_worker(parent: int, item: int) -> int:
    if os.getpid() != parent:
        os._exit(1)
    return item


def test_items_a_dead_worker_took_are_computed_here(two_processes):
    parent = os.getpid()
    assert worker.share(_pid_setup_for, _die_in_worker, 6, parent).result() == list(range(6))
    assert worker.submit(_pid_and_sum, [1]).result(timeout=60)[1] == 1  # a fresh worker


def _pid_setup_for(parent: int) -> int:
    return parent


def test_shared_off_computes_every_item_here(monkeypatch):
    monkeypatch.setenv("GIGALOOP_WORKER", "0")
    results = worker.share(_setup_pid, _slow_step, 3, 7).result()
    assert results == [(os.getpid(), 7), (os.getpid(), 8), (os.getpid(), 9)]


def test_a_job_at_the_top_of_an_unguarded_script_is_refused_when_a_child_imports_it(tmp_path):
    """A worker's server imports the main script as ``__mp_main__`` (runpy, as
    multiprocessing does): a job called at its top level, unguarded, must not run there."""
    import runpy

    from gigaloop.errors import ConfigError

    script = tmp_path / "job.py"
    script.write_text("from gigaloop.loop import worker\n"
                      "worker.refuse_when_reimported('run_job')\n", encoding="utf-8")
    runpy.run_path(str(script), run_name="__main__")  # the script itself: runs
    with pytest.raises(ConfigError, match="__name__ == \"__main__\""):
        runpy.run_path(str(script), run_name="__mp_main__")
    guarded = tmp_path / "guarded.py"
    guarded.write_text("def main():\n    from gigaloop.loop import worker\n"
                       "    worker.refuse_when_reimported('run_job')\n"
                       "if __name__ == '__main__':\n    main()\n", encoding="utf-8")
    runpy.run_path(str(guarded), run_name="__mp_main__")  # guarded: nothing runs
