"""Both cores for independent computations: the items of a list are mapped here and in a
forked copy of this process, each taking the next item not yet taken (so a few costly
items balance), and the results come back in order.

The copy inherits all inputs by ``fork`` (nothing is pickled on the way in), returns
its results through a pipe, and leaves with ``os._exit`` (none of this process's
clean-up runs twice). Where ``fork`` is missing (Windows; macOS prefers not to), on one
core, or when the copy fails or outlives its share by far, its items are mapped here:
the results are the same, only later. The function must not write anything shared (a
store, a file); a copy's side effects are lost.

>>> fork_map(lambda x: x * x, range(5))
[0, 1, 4, 9, 16]
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import select
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: The copy may take this many times the parent's own share, plus :data:`GRACE_SECONDS`,
#: before it is killed and its items are mapped here.
PATIENCE = 10.0
GRACE_SECONDS = 60.0


def fork_map(function: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """``[function(item) for item in items]``, shared with a forked copy of this process."""
    work = list(items)
    if len(work) < 2 or not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        return [function(item) for item in work]
    taken = multiprocessing.get_context("fork").Value("l", 0)  # items handed out so far
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the copy's coverage is not collected
        os.close(read_end)
        _child(function, work, taken, write_end)
    os.close(write_end)
    started = time.monotonic()
    try:
        results = dict(_take(function, work, taken))
    except BaseException:
        _stop(pid, read_end)
        raise
    patience = GRACE_SECONDS + PATIENCE * (time.monotonic() - started)
    results |= _receive(pid, read_end, patience) or {}
    return [results[i] if i in results else function(item) for i, item in enumerate(work)]


def _take(function: Callable[[T], R], work: list[T], taken: Any) -> Iterator[tuple[int, R]]:
    """(position, result) of each item this process takes, until none is left."""
    while True:
        with taken.get_lock():
            position = taken.value
            taken.value += 1
        if position >= len(work):
            return
        yield position, function(work[position])


def _child(function: Callable, work: list, taken: Any,
           write_end: int) -> None:  # pragma: no cover - runs in the copy
    status = 1
    try:
        payload = pickle.dumps(dict(_take(function, work, taken)),
                               protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        status = 0
    finally:
        os._exit(status)


def _receive(pid: int, read_end: int, patience: float) -> dict | None:
    """The copy's results by position, or None if it failed or took longer than
    ``patience`` s (its items are then mapped here)."""
    deadline = time.monotonic() + patience
    chunks = []
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return None
            chunk = pipe.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return pickle.loads(b"".join(chunks)) if status == 0 else None


def _stop(pid: int, read_end: int) -> None:
    os.close(read_end)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


__all__ = ["fork_map"]
