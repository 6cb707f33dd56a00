"""A second process for a module's heavy, pure computation, so the day goes on beside it.

The daily cycle runs on one core; the machine has at least two. A module whose work
splits into reading the store (here) and a pure computation on what it read (a
function of picklable arguments, e.g. root cause's scans of a population) hands the
computation to :func:`submit` and lets the cycle run the modules that do not wait for it
meanwhile (:class:`gigaloop.loop.cycle.DailyCycle`, a module's ``start``). The worker is
one process, forked from a server that has imported the loop already, started on first
use and stopped at exit. ``GIGALOOP_WORKER=0`` (or a single core, or a main script the
worker could not import, such as one read from standard input) computes in place
instead: the same results, one after the other. A worker that dies mid-task (killed, out
of memory) costs time, not the run: the task is computed in place, and the next
:func:`submit` starts a fresh worker.

>>> submit(sum, [1, 2, 3]).result()
6
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: Imported by the fork server once, so each task starts without loading them.
PRELOAD = ["gigaloop.loop.rootcause"]

log = logging.getLogger("gigaloop.loop.worker")
_pool: ProcessPoolExecutor | None = None


def enabled() -> bool:
    """Whether :func:`submit` uses the second process: two cores or more, not turned off,
    and a main script the worker can import (a file, or none)."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    return (os.environ.get("GIGALOOP_WORKER", "1") != "0" and (os.cpu_count() or 1) >= 2
            and (main is None or os.path.isfile(main)))


class Pending(Generic[T]):
    """A submitted task; :meth:`result` waits for it (computed in place if the worker
    died)."""

    def __init__(self, future: Future[T], function: Callable[..., T], args: tuple) -> None:
        self._future, self._function, self._args = future, function, args

    def result(self, timeout: float | None = None) -> T:
        try:
            return self._future.result(timeout)
        except BrokenProcessPool:
            log.warning("the worker process died; computing %s in place",
                        getattr(self._function, "__name__", "the task"))
            shutdown()
            return self._function(*self._args)


def submit(function: Callable[..., T], *args: Any) -> Pending[T]:
    """``function(*args)`` in the worker process (or here, see :func:`enabled`)."""
    if not enabled():
        done: Future[T] = Future()
        try:
            done.set_result(function(*args))
        except Exception as exc:  # handed over as the worker would: at .result()
            done.set_exception(exc)
        return Pending(done, function, args)
    return Pending(_worker().submit(function, *args), function, args)


def _worker() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        atexit.register(shutdown)
    return _pool


def shutdown() -> None:
    """Stop the worker (it starts again on the next :func:`submit`)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


__all__ = ["Pending", "enabled", "shutdown", "submit"]
