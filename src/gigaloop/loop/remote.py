"""Decision modules that run beside the others, in the worker process, on a replica of the
store: the second core decides them while the first runs the plant's modules.

A *remote group* is a set of modules that share no state with the others and read only
the store (``gigaloop run`` makes one of the customer and fleet-learning modules:
:data:`gigaloop.run.APART_MODULES`). It keeps a replica of the store, fed every batch the
store logs (:attr:`Store.mirror_to`, :meth:`Store.mirror`: the same rows). Each day
(:meth:`RemoteGroup.start`, then :meth:`Running.result`):

1. the batches logged since the group's last day go to the replica: yesterday's
   decisions and emitted rows — re-stamped just after the group's last cutoff, since
   they arrived after it read as of then, so its incremental reads (rows ingested since
   its last day) see them — then the twin's day;
2. the group's modules decide, in their order, on the replica as of the day, while the
   cycle runs the other modules;
3. the cycle sends their actions and writes their decisions and rows after the other
   modules' (:class:`~gigaloop.loop.cycle.DailyCycle`).

So a module of the group sees the day's data and everything the modules wrote before the
day — no row any module writes that day, its group's included (a rollout starts the day
after a model's shadow passed) — and the other modules see the group's rows from the
next day (a module outside the group that reads them reads them whole, or by event
time). The group decides in the worker process (:mod:`gigaloop.loop.worker`; on a scan
day the worker decides the group's day first and this process scans root cause's modes)
when there is a second core, else here, on a replica here: the same results.

The group's modules live in the worker for the whole run; :meth:`RemoteGroup.close`
drops them and deletes the replica. A signing key the modules need goes with them (to this
process's own child only).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from gigaloop.errors import ConfigError
from gigaloop.loop import worker
from gigaloop.loop.contract import DayContext, Decision, DecisionModule
from gigaloop.schema import INGESTED_AT


@dataclass
class Outcome:
    """What one module of the group decided on a day: its decisions, the rows it emitted
    and the seconds it took."""

    module: str
    decisions: list[Decision]
    emitted: dict[str, list[dict[str, Any]]]
    seconds: float


@dataclass
class GroupDay:
    """The group's day: each module's :class:`Outcome`, and the seconds its replica took to
    log the batches."""

    outcomes: list[Outcome]
    replica_seconds: float


def decide_all(modules: Sequence[DecisionModule], day: int, now: datetime,
               view: Any) -> list[Outcome]:
    """Each module due on ``day`` decides on ``view``, in order; nothing is written."""
    outcomes = []
    for module in modules:
        if day % max(1, module.every_days):
            continue
        ctx = DayContext(day, now, view)
        clock = time.perf_counter()
        decisions = module.decide(ctx)
        outcomes.append(Outcome(module.name, decisions, ctx.emitted,
                                time.perf_counter() - clock))
    return outcomes


class Running:
    """A day of the group under way; :meth:`result` waits for its outcomes."""

    def __init__(self, future: Future[GroupDay]) -> None:
        self._future = future

    def result(self) -> GroupDay:
        try:
            return self._future.result()
        except BrokenProcessPool as exc:
            raise RuntimeError(
                "the worker process, which ran the customer and fleet modules, died (out of "
                "memory?); "
                "their state is lost with it: run again, or with GIGALOOP_WORKER=0 to keep "
                "every module in one process") from exc


class RemoteGroup:
    """The group's modules (in dependency order), the store whose batches feed the
    replica, and the replica's folder (``root``, deleted on :meth:`close`). The store must
    be empty when the group starts."""

    def __init__(self, modules: Sequence[DecisionModule], store: Any, root: Path) -> None:
        unfit = [m.name for m in modules if hasattr(m, "setup") or hasattr(m, "start")]
        if unfit:
            raise ConfigError(f"modules {unfit} cannot run apart: they ask the source "
                              "before their first day (setup) or share the worker (start)")
        self.modules = list(modules)
        self.names = {m.name for m in self.modules}
        self._store, self._root = store, Path(root)
        self._pool: Executor | None = None
        self._host: _Host | None = None
        self._batches: list[tuple[str, pa.Table]] = []
        self._day_starts = 0
        store.mirror_to = lambda table, rows: self._batches.append((table, rows))
        if worker.enabled():
            self._pool = worker.pool()
            self._pool.submit(_open, self.modules, str(self._root),
                              _signing_key(self.modules)).result()
        else:
            self._host = _Host(self.modules, self._root)

    @property
    def remote(self) -> bool:
        """Whether the modules run in the worker process (else here)."""
        return self._pool is not None

    def mark(self) -> None:
        """The day's modules begin: what the store logs from now on goes to the group's
        next day."""
        self._day_starts = len(self._batches)

    def start(self, day: int, now: datetime) -> Running:
        """Hand the day to the group: the batches logged before :meth:`mark`, then its
        modules' turn (at once, here, when it has no process of its own)."""
        batches = self._batches[:self._day_starts]
        self._batches = self._batches[self._day_starts:]
        self._day_starts = 0
        if self._host is not None:
            done: Future[GroupDay] = Future()
            done.set_result(self._host.day(day, now, batches))
            return Running(done)
        assert self._pool is not None
        return Running(self._pool.submit(_day, day, now, batches))

    def close(self) -> None:
        """Drop the group's modules and delete its replica."""
        self._store.mirror_to = None
        if self._pool is not None:
            with contextlib.suppress(BrokenProcessPool):
                self._pool.submit(_close).result()
            self._pool = None
        if self._host is not None:
            self._host.replica.close()
            self._host = None
        shutil.rmtree(self._root, ignore_errors=True)


class _Host:
    """The group's side: its modules and the replica they read."""

    def __init__(self, modules: list[DecisionModule], root: Path) -> None:
        from gigaloop.store import Store

        self.modules, self.replica = modules, Store(root)
        self.cutoff: datetime | None = None  # the last day's

    def day(self, day: int, now: datetime,
            batches: list[tuple[str, pa.Table]]) -> GroupDay:
        clock = time.perf_counter()
        for table, rows in batches:
            self.replica.mirror(table, _after(rows, self.cutoff))
        logged = time.perf_counter() - clock
        self.cutoff = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
        return GroupDay(decide_all(self.modules, day, now, self.replica.as_of(now)), logged)


def _after(rows: pa.Table, cutoff: datetime | None) -> pa.Table:
    """``rows`` ingested after ``cutoff``: those stamped at or before it, 1 µs after it."""
    if cutoff is None or INGESTED_AT not in rows.column_names or not rows.num_rows:
        return rows
    stamp = rows[INGESTED_AT][0].as_py()
    if stamp > cutoff:
        return rows
    later = pa.repeat(pa.scalar(cutoff + timedelta(microseconds=1), pa.timestamp("us")),
                      rows.num_rows)
    column = rows.column_names.index(INGESTED_AT)
    return rows.set_column(column, rows.schema.field(column), later)


def _signing_key(modules: Sequence[DecisionModule]) -> tuple[type, bytes, int] | None:
    """The signer the modules share (``sign_with``), as its class, raw key and sequence (a
    pickled :class:`~gigaloop.fleet.registry.Signer` leaves its key behind)."""
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    for module in modules:
        signer = getattr(module, "signer", None) if hasattr(module, "sign_with") else None
        if signer is not None:
            raw = signer.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            return type(signer), raw, signer.sequence
    return None


#: In the group's process: its side.
_host: _Host | None = None


def _open(modules: list[DecisionModule], root: str,
          key: tuple[type, bytes, int] | None) -> None:
    """The group's process: its modules (with the run's signer back) and an empty replica."""
    global _host
    if key is not None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        kind, raw, sequence = key
        signer = kind(Ed25519PrivateKey.from_private_bytes(raw), sequence)
        for module in modules:
            if hasattr(module, "sign_with"):
                module.sign_with(signer)
    _host = _Host(modules, Path(root))


def _close() -> None:
    global _host
    if _host is not None:
        _host.replica.close()
        _host = None


def _day(day: int, now: datetime, batches: list[tuple[str, pa.Table]]) -> GroupDay:
    if _host is None:  # a fresh worker: the one that held the modules died
        raise RuntimeError("the worker process that held the customer and fleet modules was "
                           "replaced; their state is lost: run again, or with "
                           "GIGALOOP_WORKER=0 to keep every module in one process")
    return _host.day(day, now, batches)


__all__ = ["GroupDay", "Outcome", "RemoteGroup", "Running", "decide_all"]
