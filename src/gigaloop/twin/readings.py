"""Process readings of a day's units, and the harm the plant's own laws take from them.

Every parameter of every station is drawn for each unit (:class:`~gigaloop.twin.process.
ProcessModel`: setpoint, offsets, drifts, noise). Two laws of the plant turn the delivered
values into latent defects whatever the scenario injects: weld current off its schedule
opens seams, under-torque at the trim nutrunner loosens trim. A drift's units past a law's
dead band that would not have been past it without the drift and the setpoint moves
answering it are counted for the truth (``pushed``: what the drift, net of control, did).

>>> from datetime import date
>>> from gigaloop.twin.identity import station_machines
>>> n = 3
>>> readings = draw_readings(ProcessModel(), None, Clock(date(2025, 1, 6), "UTC"),
...                          pa.array(["V1", "V2", "V3"]), station_machines(np.arange(n)),
...                          np.zeros((n, len(STATIONS))), np.zeros(n),
...                          np.random.default_rng(0))
>>> readings.table.num_rows == n * len(READINGS), sorted(readings.defects)
(True, ['seam_defect', 'trim_defect'])
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from gigaloop.twin.cells import CellPolicies
from gigaloop.twin.clock import Clock
from gigaloop.twin.identity import MACHINE_FIRST
from gigaloop.twin.layout import MACHINE_IDS, STATIONS
from gigaloop.twin.process import ProcessModel
from gigaloop.twin.tables import arrow_table

#: Seam-failure hazard multiplier per kA² of weld current deviation beyond the dead band.
SEAM_GAIN_PER_KA2 = 300.0
SEAM_DEADBAND_KA = 0.45
#: Loose-trim hazard multiplier per (N·m)² of under-torque at the trim nutrunner beyond the
#: dead band: a joint tightened short of its band loses preload and works loose in service.
#: No published dose-response; chosen so nominal units (σ = 2 N·m) are barely affected
#: (× 1.01 on average) and a −6 N·m drift makes a unit ≈ 4× likelier to fail (docs/twin-plant.md).
TRIM_GAIN_PER_NM2 = 0.3
TRIM_DEADBAND_NM = 3.0
TRIM_STATION = "GA-010"
SEAM_STATIONS = ("BW-010", "BW-020", "BW-030")
READINGS = tuple((k, st, p) for k, st in enumerate(STATIONS) for p in st.parameters)
READING_STATION = np.array([k for k, _, _ in READINGS], np.int64)
PARAMETER_NAMES = pa.array([p.name for _, _, p in READINGS], pa.string())
PARAMETER_UNITS = pa.array([p.unit for _, _, p in READINGS], pa.string())
STATION_IDS = pa.array([st.station_id for st in STATIONS], pa.string())
MACHINE_NAMES = pa.array(MACHINE_IDS, pa.string())


@dataclass
class Readings:
    """A day's ``process_readings`` rows and what they did to the units."""

    table: pa.Table
    true: dict[tuple[str, str], np.ndarray]  # delivered values by (station, parameter)
    undrifted: dict[tuple[str, str], np.ndarray]  # … without drifts and their answers
    defects: dict[str, np.ndarray]  # the laws' hazard multipliers: seam_defect, trim_defect
    faults: dict[str, np.ndarray]  # the drift fault behind each unit's multiplier, or ""
    pushed: Counter[str]  # per drift fault: units it pushed past a law's dead band


def draw_readings(process: ProcessModel, cells: CellPolicies | None, clock: Clock,
                  vins: pa.Array, machines: np.ndarray, times: np.ndarray, weak: np.ndarray,
                  rng: np.random.Generator) -> Readings:
    """Every parameter of every station for each unit; ``machines`` (unit × station) are
    the line-wide indices of the machines that took them, ``times`` when (seconds),
    ``weak`` each unit's module-resistance shift (a weak cell lot's), ``cells`` the weld
    robots' policies (if any)."""
    n = len(vins)
    measured_all, setpoints = [], []
    defects = {key: np.ones(n) for key in ("seam_defect", "trim_defect")}
    faults = {key: np.full(n, "", dtype=object) for key in defects}
    true_of: dict[tuple[str, str], np.ndarray] = {}
    undrifted_of: dict[tuple[str, str], np.ndarray] = {}
    pushed: Counter[str] = Counter()
    for k, st, parameter in READINGS:
        machine_index = machines[:, k] - MACHINE_FIRST[k]
        true, measured, setpoint, drifting, undrifted, unmoved = process.values(
            st, parameter, machine_index, times[:, k], rng)
        if parameter.name == "module_resistance":
            true, measured = true * (1 + weak), measured * (1 + weak)
            undrifted = undrifted * (1 + weak)
        if parameter.name == "isolation_resistance":
            true, undrifted = (parameter.nominal * np.exp(0.18 * (value - point)
                                                          / parameter.sigma)
                               for value, point in ((true, setpoint), (undrifted, unmoved)))
            measured = true * (1 + parameter.gauge_sigma / parameter.nominal
                               * rng.standard_normal(n))
        key = None
        if parameter.name == "weld_current":
            if cells is not None:  # a policy's seam tracking: further from schedule
                wider = cells.tracking(
                    np.asarray(st.machine_ids, dtype=object)[machine_index]) - 1.0
                if wider.any():
                    further = (true - setpoint) * wider
                    true, measured = true + further, measured + further
                    undrifted = undrifted + (undrifted - unmoved) * wider
            key = "seam_defect"
            factor, without = (1.0 + SEAM_GAIN_PER_KA2 * np.maximum(
                np.abs(value - parameter.nominal) - SEAM_DEADBAND_KA, 0.0)**2
                for value in (true, undrifted))
            if cells is not None:  # the weld policy each robot runs
                policy = cells.multiplier(np.asarray(st.machine_ids, dtype=object)[machine_index])
                factor, without = factor * policy, without * policy
        if st.station_id == TRIM_STATION and parameter.name == "torque":
            key = "trim_defect"
            factor, without = (1.0 + TRIM_GAIN_PER_NM2 * np.maximum(
                parameter.nominal - value - TRIM_DEADBAND_NM, 0.0)**2
                for value in (true, undrifted))
        if key is not None:
            defects[key] *= factor
            for drift in process.drifts:
                if drift.parameter == parameter.name:
                    machine = np.asarray(st.machine_ids, dtype=object)[machine_index]
                    hit = drifting & (machine == drift.machine_id) & (factor > 1.01)
                    faults[key][hit] = drift.fault_id
                    pushed[drift.fault_id] += int((hit & (without <= 1.01)).sum())
        true_of[st.station_id, parameter.name] = true
        undrifted_of[st.station_id, parameter.name] = undrifted
        measured_all.append(measured)
        setpoints.append(setpoint)
    reading = np.repeat(np.arange(len(READINGS)), n)
    station = READING_STATION[reading]
    unit = np.tile(np.arange(n), len(READINGS))
    table = arrow_table("process_readings", {
        "vin": vins.take(unit), "station_id": STATION_IDS.take(station),
        "machine_id": MACHINE_NAMES.take(machines[unit, station]),
        "parameter": PARAMETER_NAMES.take(reading), "value": np.concatenate(measured_all),
        "unit": PARAMETER_UNITS.take(reading), "setpoint": np.concatenate(setpoints),
        "event_time": clock.to_utc(times[unit, station])})
    return Readings(table, true_of, undrifted_of, defects, faults, pushed)


__all__ = ["Readings", "draw_readings"]
