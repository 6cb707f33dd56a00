"""OPC UA data changes → ``process_readings`` / ``machine_readings`` rows.

:class:`RowAssembler` keeps what rows need across notifications: each station's
``current_vin`` history (a reading's VIN is the one in force at its source timestamp),
the latest setpoint per parameter, and machine snapshots still being filled (a snapshot
is one row: every column of a machine at one source timestamp; it is written once every
column the machine has arrived, or ``SNAPSHOT_LINGER_S`` after its first one, the
missing columns then null). A server queues notifications per variable, so the columns
of several snapshots arrive variable by variable, not snapshot by snapshot.

>>> import datetime as dt
>>> from gigaloop.ingest.opcua_space import Binding
>>> t = dt.datetime(2024, 3, 1, 6)
>>> vin = Binding("vin", "F/L/S1", "S1")
>>> current = Binding("parameter", "F/L/S1", "S1", "weld_current", unit="kA")
>>> rows = RowAssembler({}).assemble([Notification(current, 11.5, t + dt.timedelta(seconds=1)),
...                                   Notification(vin, "VIN1", t)])
>>> rows.tables["opcua:F/L/S1", "process_readings"][0]["vin"]
'VIN1'
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gigaloop.ingest.opcua_space import Binding

HISTORY = 1024  # current_vin changes remembered per station between publish responses
SNAPSHOT_LINGER_S = 1.0  # a machine snapshot missing columns is written after this


@dataclass(frozen=True)
class Notification:
    """One data change: the variable's binding, its value, source time, and bad status."""

    binding: Binding
    value: Any
    source_time: datetime
    status: str | None = None  # the status code's name when not Good


@dataclass
class Assembled:
    """Rows per (source, table), readings rejected (source, table, reason, reading), and
    the notifications seen per source."""

    tables: dict[tuple[str, str], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list))
    rejected: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    notifications: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class _Snapshot:
    source: str
    values: dict[str, Any]
    opened: float


class RowAssembler:
    """Turns notifications into rows; ``machine_columns`` says what completes a snapshot,
    ``history`` how many ``current_vin`` changes a station keeps, ``linger_s`` how long an
    incomplete snapshot waits."""

    def __init__(self, machine_columns: dict[str, set[str]], *, history: int = HISTORY,
                 linger_s: float = SNAPSHOT_LINGER_S) -> None:
        self.machine_columns = machine_columns
        self.history, self.linger_s = history, linger_s
        self._vins: dict[str, list[tuple[datetime, str | None]]] = defaultdict(list)
        self._setpoints: dict[tuple[str, str], float | None] = {}
        self._snapshots: dict[tuple[str, datetime], _Snapshot] = {}

    def assemble(self, notifications: list[Notification]) -> Assembled:
        """Rows of whole publish responses (VIN and setpoint changes are applied first)."""
        out = Assembled()
        ordered = sorted(notifications, key=lambda n: n.binding.kind not in ("vin", "setpoint"))
        for note in ordered:
            binding = note.binding
            out.notifications[binding.source] += 1
            if note.status is not None:
                self._reject(out, note, f"bad status {note.status}")
            elif binding.kind == "vin":
                self._vin(note)
            elif binding.kind == "setpoint":
                self._setpoints[binding.path, binding.name] = note.value
            elif binding.kind == "parameter":
                self._reading(out, note)
            elif binding.kind == "machine":
                self._machine(out, note)
            else:
                self._reject(out, note, f"unknown machine_readings column {binding.name!r}")
        self._close_snapshots(out, time.monotonic() - self.linger_s)
        for history in self._vins.values():  # trimmed once this batch's readings have theirs
            del history[:-self.history]
        return out

    def flush(self) -> Assembled:
        """Every open machine snapshot as a row, complete or not (when stopping)."""
        out = Assembled()
        self._close_snapshots(out, float("inf"))
        return out

    @property
    def open_snapshots(self) -> int:
        return len(self._snapshots)

    def _vin(self, note: Notification) -> None:
        history = self._vins[note.binding.path]
        vin = str(note.value) if note.value not in (None, "") else None
        entry = (note.source_time, vin)
        if entry not in history:
            bisect.insort(history, entry, key=lambda e: e[0])

    def vin_at(self, path: str, when: datetime) -> str | None:
        """The ``current_vin`` of station ``path`` in force at ``when`` (None: unknown)."""
        history = self._vins.get(path, [])
        position = bisect.bisect_right(history, when, key=lambda e: e[0])
        return history[position - 1][1] if position else None

    def _reading(self, out: Assembled, note: Notification) -> None:
        binding = note.binding
        vin = self.vin_at(binding.path, note.source_time)
        if vin is None:
            history = self._vins.get(binding.path)
            self._reject(out, note, "older than the current_vin changes kept" if history and
                         len(history) >= self.history and note.source_time < history[0][0]
                         else "no current_vin at the station at the reading's time")
            return
        out.tables[binding.source, "process_readings"].append({
            "vin": vin, "station_id": binding.station_id, "machine_id": binding.machine_id,
            "parameter": binding.name, "value": note.value, "unit": binding.unit,
            "setpoint": self._setpoints.get((binding.path, binding.name)),
            "event_time": note.source_time})

    def _machine(self, out: Assembled, note: Notification) -> None:
        binding = note.binding
        machine = binding.machine_id or ""
        snapshot = self._snapshots.setdefault(
            (machine, note.source_time), _Snapshot(binding.source, {}, time.monotonic()))
        snapshot.values[binding.name] = note.value
        if set(snapshot.values) >= self.machine_columns.get(machine, set()):
            self._emit(out, (machine, note.source_time), snapshot)

    def _close_snapshots(self, out: Assembled, opened_before: float) -> None:
        for key, snapshot in list(self._snapshots.items()):
            if snapshot.opened <= opened_before:
                self._emit(out, key, snapshot)

    def _emit(self, out: Assembled, key: tuple[str, datetime], snapshot: _Snapshot) -> None:
        del self._snapshots[key]
        out.tables[snapshot.source, "machine_readings"].append(
            {"machine_id": key[0], **snapshot.values, "event_time": key[1]})

    @staticmethod
    def _reject(out: Assembled, note: Notification, reason: str) -> None:
        table = "machine_readings" if note.binding.kind in ("machine", "unknown") \
            else "process_readings"
        reading = {"station": note.binding.path, "variable": note.binding.name,
                   "machine_id": note.binding.machine_id, "value": repr(note.value),
                   "source_time": note.source_time.isoformat()}
        out.rejected.append((note.binding.source, table, reason, reading))
