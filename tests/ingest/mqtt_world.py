"""A small plant and fleet to stream over MQTT: reference rows, readings, telemetry days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from gigaloop.store import Store

SITE, LINE = "FRE", "FRE-BIW"
STATIONS = ("FRE-BIW-10", "FRE-BIW-20")
MACHINES = ("FRE-BIW-10-M1", "FRE-BIW-20-M1")
PARAMETERS = {"weld_current": "kA", "weld_time": "ms", "electrode_force": "kN"}
VINS = [f"5YJ3E1EA0PF{i:06d}" for i in range(40)]
BUILT = dt.datetime(2024, 3, 1, 6)
LOADED = dt.datetime(2024, 3, 1)


def seed(root: Path) -> None:
    """The reference tables a reading points at: site, line, stations, machines, vehicles."""
    store = Store(root)
    store.write_many({
        "sites": [{"site_id": SITE, "name": "Fremont", "region": "CAISO", "timezone": "UTC"}],
        "lines": [{"line_id": LINE, "site_id": SITE, "name": "Body in white"}],
        "stations": [{"station_id": s, "line_id": LINE, "process": "body_weld", "sequence": i}
                     for i, s in enumerate(STATIONS)],
        "machines": [{"machine_id": m, "station_id": s, "kind": "weld_robot",
                      "installed_on": dt.date(2021, 5, 1)}
                     for m, s in zip(MACHINES, STATIONS, strict=True)],
        "vehicles": [{"vin": v, "build_date": BUILT.date(), "site_id": SITE, "line_id": LINE,
                      "shift": "A", "model": "Model 3", "trim": "LR", "hardware_revision": "HW4",
                      "design_revision": "B", "event_time": BUILT} for v in VINS],
    }, ingested_at=LOADED)
    store.close()


def process_readings(station: str, vins: list[str], start: int = 0) -> pa.Table:
    """One reading of each parameter per vehicle at ``station`` (keys unique per start)."""
    rows = []
    for i, vin in enumerate(vins):
        for k, (parameter, unit) in enumerate(PARAMETERS.items()):
            rows.append({"vin": vin, "station_id": station, "machine_id": None,
                         "parameter": f"{parameter}_{start}" if start else parameter,
                         "value": 10.0 + i + k / 10, "unit": unit, "setpoint": 10.0,
                         "event_time": BUILT + dt.timedelta(seconds=60 * i + k)})
    return pa.Table.from_pylist(rows)


def machine_readings(machine: str, count: int) -> pa.Table:
    return pa.Table.from_pylist([
        {"machine_id": machine, "vibration_rms": 1.5 + i / 100, "kurtosis": 3.0,
         "crest_factor": 4.0, "band_energy_low": 0.1, "band_energy_bearing": 0.01,
         "band_energy_high": 0.02, "temperature_c": 41.0,
         "event_time": BUILT + dt.timedelta(minutes=10 * i)} for i in range(count)])


def telemetry(vin: str, days: int, first: int = 0) -> pa.Table:
    """``days`` telemetry_daily rows of one vehicle from day ``first`` after build."""
    rows = []
    for d in range(first, first + days):
        day = BUILT.date() + dt.timedelta(days=d)
        rows.append({"vin": vin, "day": day, "climate_region": "temperate",
                     "software_version": "2024.8", "miles": 30.0 + d, "autopilot_miles": 7.0,
                     "rain_miles": 1.0, "late_night_miles": 0.5, "hard_braking_fraction": 0.01,
                     "aggressive_turning_fraction": 0.01, "unsafe_following_fraction": 0.02,
                     "speeding_fraction": 0.0, "fcw_count": 0, "forced_disengagements": 0,
                     "disengagements_clear": 0, "disengagements_rain": 0,
                     "disengagements_night": 0, "dc_fast_charge_kwh": 0.0,
                     "ambient_temp_c": 18.0, "battery_soh": 0.99, "odometer_miles": 100.0 + d,
                     "event_time": dt.datetime.combine(day, dt.time(23, 59))})
    return pa.Table.from_pylist(rows)
