"""A second process for a module's heavy, pure computation, so the day goes on beside it.

The daily cycle runs on one core; the machine has at least two. A module whose work
splits into reading the store (here) and a pure computation on what it read (a
function of picklable arguments, e.g. root cause's scans of a population) hands the
computation to :func:`submit` and lets the cycle run the modules that do not wait for it
meanwhile (:class:`gigaloop.loop.cycle.DailyCycle`, a module's ``start``). The worker is
one process, forked from a server that has imported the loop already, started on first
use and stopped at exit. ``GIGALOOP_WORKER=0`` (or a single core) computes in place
instead: the same results, one after the other.

>>> submit(sum, [1, 2, 3]).result()
6
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: Imported by the fork server once, so each task starts without loading them.
PRELOAD = ["gigaloop.loop.rootcause"]

_pool: ProcessPoolExecutor | None = None


def enabled() -> bool:
    """Whether :func:`submit` uses the second process (two cores or more, not turned off)."""
    return os.environ.get("GIGALOOP_WORKER", "1") != "0" and (os.cpu_count() or 1) >= 2


def submit(function: Callable[..., T], *args: Any) -> Future[T]:
    """``function(*args)`` in the worker process (or here, see :func:`enabled`)."""
    if not enabled():
        done: Future[T] = Future()
        try:
            done.set_result(function(*args))
        except Exception as exc:  # handed over as the worker would: at .result()
            done.set_exception(exc)
        return done
    return _worker().submit(function, *args)


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


__all__ = ["enabled", "shutdown", "submit"]
