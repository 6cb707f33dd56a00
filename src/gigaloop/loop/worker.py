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

Work that splits into independent items (root cause's failure modes) is shared (:func:`share`):
the worker starts on it at once, and this process joins in when it asks for the result,
each taking the next item from one counter in shared memory, so neither waits while the
other has items left.

>>> submit(sum, [1, 2, 3]).result()
6
>>> share(_example_setup, _example_step, 4, 10).result()
[10, 11, 12, 13]
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import FrameType
from typing import Any, Generic, TypeVar

from gigaloop.errors import ConfigError

T = TypeVar("T")
S = TypeVar("S")

#: Imported by the fork server once, so each task starts without loading them.
PRELOAD = ["gigaloop.loop.rootcause"]

log = logging.getLogger("gigaloop.loop.worker")
_pool: ProcessPoolExecutor | None = None
#: the next item of the task being shared (:func:`share`), in memory both processes see
_counter: Any = None


def refuse_when_reimported(what: str) -> None:
    """Raise :class:`~gigaloop.errors.ConfigError` when ``what`` is called from the top level
    of a main script that a child process is importing again (the worker's server imports
    the main script, as every ``forkserver`` or ``spawn`` child does): a script without an
    ``if __name__ == "__main__":`` guard would otherwise run its job a second time, in the
    worker, over the same run folder."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if (frame.f_code.co_name == "<module>"
                and frame.f_globals.get("__name__") == "__mp_main__"):
            script = frame.f_globals.get("__file__", "the main script")
            raise ConfigError(f"{what} was called at the top level of {script}, which a "
                              "worker process is importing; put the call under "
                              "`if __name__ == \"__main__\":`")
        frame = frame.f_back


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


def warm() -> None:
    """Start the worker now, from a thread of its own (a no-op task), so that the first
    :func:`submit` or :func:`share` does not wait while the fork server imports the loop
    (about a second). Nothing when the worker is off."""
    if enabled():
        threading.Thread(target=_launch, args=(_worker(),), name="gigaloop-worker-start",
                         daemon=True).start()


def _launch(pool: ProcessPoolExecutor) -> None:
    # the executor starts its process on the first task; shut down (or broken) before
    # then, there is nothing to warm
    with contextlib.suppress(RuntimeError):
        pool.submit(int)


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


class Shared(Generic[T]):
    """A task shared with the worker (:func:`share`); :meth:`result` takes items until none is
    left, then merges in the worker's (and computes in place any a dead worker took)."""

    def __init__(self, future: Future[dict[int, T]] | None, setup: Callable[..., Any],
                 step: Callable[[Any, int], T], count: int, args: tuple) -> None:
        self._future, self._setup, self._step = future, setup, step
        self._count, self._args = count, args

    def result(self, setup: Any = None) -> list[T]:
        """Every item's result, in order; ``setup``: this process's own ``setup(*args)``
        if it made one already (else it is made when this process takes an item)."""
        shared = self._future is not None
        done = _take_turns(self._setup, self._step, self._count, self._args, setup) \
            if shared else {}
        if shared:
            assert self._future is not None
            try:
                done.update(self._future.result())
            except BrokenProcessPool:
                log.warning("the worker process died; computing its share in place")
                shutdown()
        missing = [i for i in range(self._count) if i not in done]
        if missing:
            state = self._setup(*self._args) if setup is None else setup
            done.update((i, self._step(state, i)) for i in missing)
        return [done[i] for i in range(self._count)]


def share(setup: Callable[..., S], step: Callable[[S, int], T], count: int,
          *args: Any) -> Shared[T]:
    """``[step(setup(*args), i) for i in range(count)]``, the items taken in turn by the
    worker (from now) and by this process (from :meth:`Shared.result`); each sets up once,
    if it takes an item. ``step`` must depend on ``i`` and the setup alone, so which process
    computed an item changes nothing. In place when :func:`enabled` is false."""
    if not enabled():
        return Shared(None, setup, step, count, args)
    pool = _worker()
    with _counter.get_lock():
        _counter.value = 0
    return Shared(pool.submit(_take_turns, setup, step, count, args), setup, step, count,
                  args)


def _take_turns(setup: Callable[..., S], step: Callable[[S, int], T], count: int,
                args: tuple, state: Any = None) -> dict[int, T]:
    """The items this process takes from the shared counter, computed."""
    done: dict[int, T] = {}
    while (item := _next_item(count)) is not None:
        if state is None:
            state = setup(*args)
        done[item] = step(state, item)
    return done


def _next_item(count: int) -> int | None:
    with _counter.get_lock():
        item = int(_counter.value)
        if item >= count:
            return None
        _counter.value = item + 1
        return item


def _share_counter(counter: Any) -> None:
    """The worker's initializer: the counter :func:`share` hands out items from."""
    global _counter
    _counter = counter


def context() -> Any:
    """The :mod:`multiprocessing` context the worker, and any other child process of a
    run, starts from: a fork server that has imported :data:`PRELOAD` once."""
    forkserver = multiprocessing.get_context("forkserver")
    forkserver.set_forkserver_preload(PRELOAD)
    return forkserver


def _worker() -> ProcessPoolExecutor:
    global _pool, _counter
    if _pool is None:
        forkserver = context()
        _counter = forkserver.Value("q", 0)
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=forkserver,
                                    initializer=_share_counter, initargs=(_counter,))
        atexit.register(shutdown)
    return _pool


def shutdown() -> None:
    """Stop the worker (it starts again on the next :func:`submit`)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


def _example_setup(base: int) -> int:
    return base


def _example_step(base: int, item: int) -> int:
    return base + item


__all__ = ["Pending", "Shared", "context", "enabled", "share", "shutdown", "submit"]
