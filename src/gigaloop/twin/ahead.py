"""The twin in a process of its own, simulating ahead of the store.

With no decision module, nothing acts on the twin (``gigaloop run --no-loop``): its days
need not wait for the store, as a real plant's do not. :class:`TwinAhead` steps the twin in
a second process and hands each day's tables over while this process ingests the day
before. Handing a day over waits until this process takes it, so the twin runs about a
day ahead, never more than a pipe's buffer: a slow store holds the twin back, not memory.
The tables are the twin's own, the same to the bit as stepping it in place: a twin is
seeded, and with nothing acting on it, where it runs changes nothing. They travel as Arrow
IPC streams, their buffers written as they are (pickling them cost the two processes
about five times as much CPU, measured on a year's days 120–150).

It answers what a run asks of a :class:`~gigaloop.twin.world.Twin` that nothing acts on:
:meth:`step`, :meth:`day_end`, :meth:`write_truth`, :meth:`world_kpis` and ``scenario``;
an action (:meth:`apply`) is refused.
:attr:`seconds` is the time the twin spent simulating, in its own process.

>>> import multiprocessing
>>> from gigaloop.twin import load_scenario
>>> context = multiprocessing.get_context("forkserver")
>>> ahead = TwinAhead(load_scenario(), days=2, context=context)
>>> tables = ahead.step(0)
>>> "vehicles" in ahead.step(1), ahead.day_end(1) > ahead.day_end(0)
(True, True)
>>> ahead.close()
"""

from __future__ import annotations

import signal
import time
import traceback
from collections.abc import Callable
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from gigaloop.actuate import Action, Receipt
from gigaloop.errors import ActuationError, GigaloopError
from gigaloop.twin.scenario import Scenario
from gigaloop.twin.world import Twin

T = TypeVar("T")


class TwinAhead:
    """A :class:`Twin` of ``scenario`` stepped in a child process started from ``context``
    (a :mod:`multiprocessing` context); ``trusted``: the OTA keys its vehicles trust
    (:meth:`Twin.provision`). Errors in the child are raised here, by the call that waits
    for it."""

    def __init__(self, scenario: Scenario, *, days: int, scale: str = "small", seed: int = 0,
                 fleet: int = 0, trusted: dict[str, bytes] | None = None,
                 context: Any) -> None:
        self.scenario = scenario
        self.seconds = 0.0
        self._days = days
        self._next_day = 0
        self._world_kpis: dict[str, int] | None = None
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_simulate_ahead, name="gigaloop-twin", daemon=True,
            args=(child, scenario, scale, seed, fleet, trusted or {}, days))
        self._process.start()
        child.close()
        try:
            self._day_ends: list[datetime] = self._receive("ready")
        except BaseException:
            self.close()
            raise

    def day_end(self, day: int) -> datetime:
        """Naive UTC at which the rows of ``day`` are ingested (:meth:`Twin.day_end`)."""
        return self._day_ends[day]

    def step(self, day: int) -> dict[str, pa.Table]:
        """The rows of ``day`` (days in order from 0), as :meth:`Twin.step` returns them."""
        if day != self._next_day or day >= self._days:
            raise GigaloopError(f"the twin steps days in order up to {self._days - 1}: "
                                f"expected day {self._next_day}, got {day}", day=day)
        names, seconds = self._receive("day")
        tables = {name: self._receive_table(name) for name in names}
        self._next_day += 1
        self.seconds += seconds
        return tables

    def apply(self, action: Action) -> Receipt:
        """Refuse: a twin simulated ahead has already run the day an action would change
        (run it in place, :class:`Twin`, to act on it)."""
        raise ActuationError(f"the twin runs ahead of the store, where nothing acts on it: "
                             f"{action.kind} cannot reach it; run it in place to act on it",
                             kind=action.kind)

    def write_truth(self, path: Path | str) -> None:
        """The twin writes its truth at ``path`` (:meth:`Twin.write_truth`), once every day
        has been read; its :meth:`world_kpis` come back with it."""
        self._conn.send(("finish", str(path)))
        self._world_kpis = self._receive("finished")

    def world_kpis(self) -> dict[str, int]:
        """:meth:`Twin.world_kpis`, as of :meth:`write_truth`."""
        if self._world_kpis is None:
            raise GigaloopError("the twin's world KPIs come with its truth: call write_truth")
        return self._world_kpis

    def close(self) -> None:
        """Stop the child process (it stops by itself once the truth is written)."""
        self._conn.close()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self) -> TwinAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _receive(self, kind: str) -> Any:
        message = self._from_child(self._conn.recv, kind)
        if message[0] == "error":
            error, trace = message[1], message[2]
            error.add_note(f"in the twin's process:\n{trace}")
            raise error
        assert message[0] == kind, (message[0], kind)
        return message[1] if len(message) == 2 else message[1:]

    def _receive_table(self, name: str) -> pa.Table:
        """A table the child sent (:func:`_ipc_stream`); its columns are views of the
        received bytes."""
        data = self._from_child(self._conn.recv_bytes, f"table {name}")
        return pa.ipc.open_stream(pa.py_buffer(data)).read_all()

    def _from_child(self, receive: Callable[[], T], kind: str) -> T:
        try:
            return receive()
        except (EOFError, OSError) as exc:
            code = self._process.exitcode
            raise GigaloopError(
                f"the twin's process ended (exit code {code}) before sending its {kind}: "
                "killed, or out of memory? Run again with GIGALOOP_WORKER=0 to simulate it "
                "in this process", exitcode=code) from exc


def _simulate_ahead(conn: Connection, scenario: Scenario, scale: str, seed: int, fleet: int,
                    trusted: dict[str, bytes], days: int) -> None:
    """The child: build the twin, send its days, then write its truth when asked. Ctrl-C is
    the reader's to handle: it closes the pipe, and this process ends quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        twin = Twin(scenario, scale=scale, seed=seed, fleet=fleet)
        twin.provision(trusted)
        conn.send(("ready", [twin.day_end(day) for day in range(days)]))
        for day in range(days):
            started = time.perf_counter()
            tables = twin.step(day)
            # every stream is written before the day is announced: a table that cannot be
            # written fails here, as an error message, not halfway through the day's bytes
            streams = [_ipc_stream(table) for table in tables.values()]
            conn.send(("day", list(tables), time.perf_counter() - started))
            for stream in streams:
                conn.send_bytes(stream)
        message = conn.recv()
        assert message[0] == "finish", message
        twin.write_truth(message[1])
        conn.send(("finished", twin.world_kpis()))
    except _READER_GONE:
        return  # the reader went away (it failed, or was stopped): nothing to tell
    except BaseException as exc:  # handed to the reader, which raises it
        _send_error(conn, exc, traceback.format_exc())
    finally:
        conn.close()


def _ipc_stream(table: pa.Table) -> pa.Buffer:
    """``table`` as one Arrow IPC stream (schema, metadata and chunks kept)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


#: what the pipe raises once the reader has closed its end
_READER_GONE = (EOFError, BrokenPipeError, ConnectionResetError)


def _send_error(conn: Connection, error: BaseException, trace: str) -> None:
    """``error`` to the reader as it was raised, or as its text if it cannot travel."""
    try:
        try:
            conn.send(("error", error, trace))
        except _READER_GONE:
            raise
        except Exception:
            conn.send(("error", GigaloopError(f"{type(error).__name__}: {error}"), trace))
    except _READER_GONE:
        pass
