"""Process parameters on each machine: setpoints, slow natural drift, injected drift faults.

The value a machine delivers is ``setpoint + slow offset + background offset + fault drift +
process noise`` (the background: the machine's and the shift's own small, persistent
offsets and the machine's spread, :class:`~gigaloop.twin.background.ProcessOffsets`; a
calibration does not clear them); the value recorded is that plus gauge noise. Quality
depends on the delivered value's distance from the engineering nominal (not the setpoint),
so a setpoint change can compensate a drift, or cause defects of its own.

>>> from gigaloop.twin.layout import station
>>> model = ProcessModel()
>>> model.add_drift("F2", "BW-030-R2", start_s=0.0, stop_s=86400.0, size=-1.0, ramp_s=43200.0)
>>> weld = station("BW-030")
>>> times = np.array([43200.0, 43200.0])
>>> values = model.values(weld, weld.parameters[0], np.array([0, 1]), times,
...                       np.random.default_rng(0))
>>> np.round(values.true - values.setpoint, 0).tolist(), values.drifting.tolist()
([0.0, -1.0], [False, True])
>>> np.round(values.true - values.undrifted, 0).tolist()  # what the drift did
[0.0, -1.0]
>>> nominal = weld.parameters[0].nominal  # a controller answers it from 6 h on
>>> model.set_point("BW-030-R2", "weld_current", nominal + 1.0, 21600.0)
>>> values = model.values(weld, weld.parameters[0], np.array([0, 1]), times,
...                       np.random.default_rng(0))
>>> np.round(values.true - values.undrifted, 0).tolist()
[0.0, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from gigaloop.twin.background import ProcessOffsets
from gigaloop.twin.layout import STATIONS, Parameter, Station
from gigaloop.twin.scenario import BackgroundLevels

#: Day-to-day persistence of a machine's natural offset, and its step size in process sigmas.
OFFSET_PERSISTENCE = 0.98
OFFSET_STEP = 0.05


@dataclass
class Drift:
    fault_id: str
    machine_id: str
    start_s: float
    stop_s: float
    size: float
    ramp_s: float
    parameter: str = "weld_current"

    def at(self, t: np.ndarray) -> np.ndarray:
        active = (t >= self.start_s) & (t < self.stop_s)
        return np.where(active, self.size * np.clip((t - self.start_s) / self.ramp_s, 0, 1), 0.0)


class Delivered(NamedTuple):
    """One parameter's values for a batch of units (:meth:`ProcessModel.values`)."""

    true: np.ndarray  # delivered
    measured: np.ndarray  # recorded: the delivered value plus gauge noise
    setpoint: np.ndarray  # in force when the unit passed
    drifting: np.ndarray  # whether a drift fault acted on the unit
    #: what would have been delivered without the drift faults and without the setpoint
    #: moves made since each began (a controller's answer to them): the same noise and
    #: offsets otherwise; equal to ``true`` where no drift acted
    undrifted: np.ndarray
    #: the setpoint without those moves (``undrifted`` was delivered at it)
    unmoved: np.ndarray


class ProcessModel:
    """Setpoint history, natural offsets and drift faults of every (machine, parameter)."""

    def __init__(self, background: ProcessOffsets | None = None) -> None:
        self.background = background or ProcessOffsets(BackgroundLevels(identical=True), [])
        self.setpoints: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self.offsets: dict[tuple[str, str], float] = {}
        for st in STATIONS:
            for machine in st.machine_ids:
                for parameter in st.parameters:
                    self.setpoints[machine, parameter.name] = [(-np.inf, parameter.nominal)]
                    self.offsets[machine, parameter.name] = 0.0
        self.drifts: list[Drift] = []
        self._steps: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def add_drift(self, fault_id: str, machine_id: str, *, start_s: float, stop_s: float,
                  size: float, ramp_s: float, parameter: str = "weld_current") -> None:
        self.drifts.append(Drift(fault_id, machine_id, start_s, stop_s, size, ramp_s, parameter))

    def new_day(self, rng: np.random.Generator) -> None:
        """Natural offsets take one AR(1) step (mild, mostly in control)."""
        keys = list(self.offsets)
        steps = rng.standard_normal(len(keys))
        sigma = {p.name: p.sigma for st in STATIONS for p in st.parameters}
        for key, step in zip(keys, steps, strict=True):
            self.offsets[key] = (OFFSET_PERSISTENCE * self.offsets[key]
                                 + OFFSET_STEP * sigma[key[1]] * step)

    def set_point(self, machine_id: str, parameter: str, value: float, from_s: float) -> None:
        history = self.setpoints[machine_id, parameter]
        history.append((from_s, value))
        if from_s < history[-2][0]:  # kept in time order (``setpoint_at`` searches it)
            history.sort(key=lambda step: step[0])
        self._steps.pop((machine_id, parameter), None)

    def recalibrate(self, machine_id: str, from_s: float) -> list[str]:
        """End drifts of the machine from ``from_s``; natural offsets cleared and its recipe
        setpoints back to nominal (a calibration re-zeroes the machine: an offset a
        controller added to compensate the drift would now push the other way). Fault ids
        hit."""
        for key in self.offsets:
            if key[0] == machine_id:
                self.offsets[key] = 0.0
        for (machine, parameter), history in self.setpoints.items():
            if machine == machine_id and history[-1][1] != history[0][1]:
                self.set_point(machine, parameter, history[0][1], from_s)
        hit = []
        for drift in self.drifts:
            if drift.machine_id == machine_id and drift.stop_s > from_s:
                drift.stop_s = max(from_s, drift.start_s)
                hit.append(drift.fault_id)
        return hit

    def setpoint_at(self, machine_id: str, parameter: str, t: np.ndarray) -> np.ndarray:
        key = (machine_id, parameter)
        if key not in self._steps:   # the history as arrays, until it changes
            history = self.setpoints[key]
            self._steps[key] = (np.array([h[0] for h in history]),
                                np.array([h[1] for h in history]))
        starts, values = self._steps[key]
        return values[np.searchsorted(starts, t, side="right") - 1]

    def values(self, st: Station, parameter: Parameter, machine_index: np.ndarray,
               t: np.ndarray, rng: np.random.Generator
               ) -> Delivered:
        """Delivered and measured values, setpoint in force, whether a drift fault acted,
        and the value without it (:class:`Delivered`)."""
        n = len(t)
        setpoint = np.empty(n)
        shift = np.zeros(n)
        spread = np.ones(n)
        drifting = np.zeros(n, dtype=bool)
        moved = np.zeros(n)  # the setpoint moves since a drift acting on the unit began
        drifted = np.zeros(n)  # the drifts' shifts
        for k, machine in enumerate(st.machine_ids):
            on = machine_index == k
            if not on.any():
                continue
            setpoint[on] = self.setpoint_at(machine, parameter.name, t[on])
            shift[on] = self.offsets[machine, parameter.name]
            background, spread[on] = self.background.offset(machine, st.station_id,
                                                            parameter.name, t[on])
            shift[on] += background
            for drift in self.drifts:
                if drift.machine_id == machine and parameter.name == drift.parameter:
                    delta = drift.at(t[on])
                    shift[on] += delta
                    acted = delta != 0
                    drifting[np.flatnonzero(on)[acted]] = True
                    before = self.setpoint_at(machine, parameter.name,
                                              np.array([drift.start_s]))[0]
                    drifted[on] += delta
                    moved[on] = np.where(acted, setpoint[on] - before, moved[on])
        noise = rng.standard_normal((2, n))
        true = setpoint + shift + parameter.sigma * spread * noise[0]
        return Delivered(true, true + parameter.gauge_sigma * noise[1], setpoint, drifting,
                         true - drifted - moved, setpoint - moved)
