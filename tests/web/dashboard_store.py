"""The API tests' small store (``tests/api/api_store.py``) plus what the plant page plots:
a process stream with alarms, ten days of machine and energy readings, downtime, an energy
plan. Written with ``Store.write_many`` in about a second (no twin)."""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "api"))

from api_store import DAY0, MACHINE, build_store

from gigaloop.store import Store

EXTRA_VINS = [f"5YJ3E1EA0PF1{i:05d}" for i in range(40)]
HOURS = 24 * 10


def _stream() -> dict[str, list[dict[str, Any]]]:
    built = [DAY0 + dt.timedelta(hours=2 * i) for i in range(len(EXTRA_VINS))]
    vehicles = [{"vin": v, "build_date": t.date(), "site_id": "S1", "line_id": "L1",
                 "shift": "A", "model": "Model 3", "trim": "LR", "hardware_revision": "HW4",
                 "design_revision": "B", "event_time": t}
                for v, t in zip(EXTRA_VINS, built, strict=True)]
    readings = [{"vin": v, "station_id": "ST-010", "machine_id": MACHINE,
                 "parameter": "weld_current", "value": 11.0 + 0.05 * math.sin(i) + (
                     0.01 * i if i > 25 else 0.0), "unit": "kA", "setpoint": 11.0,
                 "event_time": t} for i, (v, t) in enumerate(zip(EXTRA_VINS, built, strict=True))]
    return {"vehicles": vehicles, "process_readings": readings}


def _plant_days() -> dict[str, list[dict[str, Any]]]:
    hours = [DAY0 + dt.timedelta(hours=h) for h in range(HOURS)]
    machines = [{"machine_id": machine, "vibration_rms": base + wear * h / HOURS,
                 "kurtosis": 3.0, "crest_factor": 3.5, "band_energy_low": 0.1,
                 "band_energy_bearing": 0.01, "band_energy_high": 0.02, "temperature_c": 40.0,
                 "event_time": t}
                for machine, base, wear in ((MACHINE, 1.2, 3.6), ("ST-020-M1", 0.9, 0.3))
                for h, t in enumerate(hours)]
    energy = [{"site_id": "S1", "hvac_kwh": 400 + 150 * math.sin(math.pi * (t.hour - 6) / 12),
               "process_kwh": 900.0, "lighting_kwh": 60.0, "outside_temp_c": 25.0,
               "indoor_temp_c": 22.0, "tariff_usd_per_kwh": 0.3 if 16 <= t.hour < 21 else 0.12,
               "carbon_g_per_kwh": 250.0, "event_time": t} for t in hours]
    downtime = [{"downtime_id": f"D{i}", "station_id": station, "machine_id": machine,
                 "planned": planned, "cause": cause, "hours": h,
                 "event_time": DAY0 + dt.timedelta(days=day)}
                for i, (day, station, machine, planned, cause, h) in enumerate([
                    (2, "ST-010", MACHINE, False, "breakdown", 3.5),
                    (4, "ST-020", None, False, "material_shortage", 1.0),
                    (6, "ST-010", MACHINE, True, "planned_maintenance", 2.0)])]
    plan = {"kind": "energy_schedule", "day": 5, "site_id": "S1",
            "cooling_setpoint_c": [24.0] * 12 + [21.0] * 4 + [24.0] * 8,
            "heating_setpoint_c": [18.0] * 24, "shift_kwh": [50.0] * 4 + [0.0] * 16
            + [-50.0] * 4, "airflow": [], "reason": "pre-cool before the 16:00 peak"}
    decision = {"module": "energy", "day": 4, "seq": 0, "summary": "plan day 5",
                "accepted": True, "finding_id": None, "finding_json": None,
                "action_kind": "energy_schedule", "action_json": json.dumps(plan),
                "inputs_json": "{}", "event_time": DAY0 + dt.timedelta(days=4)}
    return {"machine_readings": machines, "energy_readings": energy,
            "downtime_events": downtime, "decisions": [decision]}


def build_dashboard_store(root: Path) -> None:
    """``api_store.build_store`` and the plant's days; nothing may be quarantined."""
    build_store(root)
    store = Store(root)
    try:
        results = store.write_many({**_stream(), **_plant_days()},
                                   ingested_at=DAY0 + dt.timedelta(days=20))
        for name, result in results.items():
            assert result.quarantined == 0, (name, result.reasons)
    finally:
        store.close()
