"""The line the twin builds on: stations in order, their machines and process parameters.

Ids are stable across scenarios so findings can name them. Stations are visited in
``sequence`` order; a station with two machines alternates them unit by unit.

>>> [s.station_id for s in STATIONS][:4]
['CA-010', 'CA-020', 'ST-010', 'ST-020']
>>> MACHINE_IDS[:3]
['CA-010-G1', 'CA-020-G1', 'ST-010-P1']
>>> station("BW-030").parameter("weld_current").nominal
10.5
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Parameter:
    """A process parameter: nominal value, true process spread and gauge noise."""

    name: str
    unit: str
    nominal: float
    sigma: float
    gauge_sigma: float


@dataclass(frozen=True)
class Station:
    """A station: its process area, machine kind and ids, parameters and inspection."""

    station_id: str
    process: str
    machine_kind: str
    machine_ids: tuple[str, ...]
    parameters: tuple[Parameter, ...] = ()
    inspection: str | None = None
    dwell_s: float = 0.0

    def parameter(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(f"station {self.station_id} has no parameter {name!r}")


def _station(station_id: str, process: str, kind: str, letter: str, count: int,
             *parameters: Parameter, inspection: str | None = None,
             dwell_s: float = 0.0) -> Station:
    machines = tuple(f"{station_id}-{letter}{i}" for i in range(1, count + 1))
    return Station(station_id, process, kind, machines, parameters, inspection, dwell_s)


_P = Parameter
_WELD = _P("weld_current", "kA", 10.5, 0.10, 0.03)

STATIONS: tuple[Station, ...] = (
    _station("CA-010", "casting", "die_casting_press", "G", 1,
             _P("die_temperature", "°C", 230.0, 3.0, 0.5)),
    _station("CA-020", "casting", "die_casting_press", "G", 1,
             _P("die_temperature", "°C", 230.0, 3.0, 0.5)),
    _station("ST-010", "stamping", "press", "P", 1, _P("press_force", "kN", 6000.0, 40.0, 5.0)),
    _station("ST-020", "stamping", "press", "P", 1, _P("press_force", "kN", 6000.0, 40.0, 5.0)),
    _station("BW-010", "body_weld", "weld_robot", "R", 2, _WELD),
    _station("BW-020", "body_weld", "weld_robot", "R", 2, _WELD),
    _station("BW-030", "body_weld", "weld_robot", "R", 2, _WELD,
             _P("weld_time", "ms", 200.0, 2.0, 0.2), _P("clamp_force", "kN", 3.5, 0.05, 0.01)),
    _station("BW-040", "body_weld", "vision_camera", "V", 1, inspection="weld_seam"),
    _station("PT-010", "paint", "paint_robot", "R", 2,
             _P("film_thickness", "µm", 110.0, 4.0, 1.0)),
    _station("PT-020", "paint", "oven", "O", 1, _P("oven_temperature", "°C", 140.0, 1.5, 0.3),
             dwell_s=1800.0),
    _station("PT-030", "paint", "thickness_gauge", "G", 1, inspection="paint_thickness"),
    _station("BP-010", "battery_pack", "module_line", "R", 1,
             _P("module_resistance", "mΩ", 0.85, 0.012, 0.002)),
    _station("BP-020", "battery_pack", "nutrunner", "T", 1, _P("torque", "N·m", 70.0, 1.2, 0.2)),
    _station("GA-010", "general_assembly", "nutrunner", "T", 1,
             _P("torque", "N·m", 110.0, 2.0, 0.3)),
    _station("GA-020", "general_assembly", "calibration_rig", "C", 1,
             _P("camera_aim", "deg", 0.0, 0.04, 0.005)),
    _station("EOL-010", "eol_test", "eol_rig", "T", 1,
             _P("isolation_resistance", "MΩ", 800.0, 150.0, 5.0),
             _P("wheel_toe", "deg", 0.10, 0.03, 0.005), inspection="eol_function"),
)

MACHINE_IDS: list[str] = [m for s in STATIONS for m in s.machine_ids]

#: Healthy vibration velocity RMS by machine kind (mm/s), all in ISO 10816 zone A or B.
BASE_VIBRATION: dict[str, float] = {
    "die_casting_press": 1.6, "press": 1.2, "weld_robot": 0.5, "vision_camera": 0.1,
    "paint_robot": 0.5, "oven": 1.8, "thickness_gauge": 0.1, "module_line": 0.6,
    "nutrunner": 0.4, "calibration_rig": 0.2, "eol_rig": 0.9,
}


def station(station_id: str) -> Station:
    """The station with that id (``KeyError`` when unknown)."""
    for candidate in STATIONS:
        if candidate.station_id == station_id:
            return candidate
    raise KeyError(station_id)


def machine_station(machine_id: str) -> Station:
    """The station a machine belongs to (``KeyError`` when unknown)."""
    for candidate in STATIONS:
        if machine_id in candidate.machine_ids:
            return candidate
    raise KeyError(machine_id)
