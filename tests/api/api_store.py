"""A small store for the API tests, written with ``Store.write`` (no twin): a plant with two
stations, three vehicles and their customers, SPC alarms, a finding, decisions and two
change requests."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from gigaloop.store import Store

DAY0 = dt.datetime(2025, 3, 1)
VINS = [f"5YJ3E1EA0PF00000{i}" for i in range(1, 4)]
CUSTOMERS = ["CU-7001", "CU-7002", "CU-7003"]
MACHINE = "ST-010-M1"


def _plant() -> dict[str, list[dict[str, Any]]]:
    return {
        "sites": [{"site_id": "S1", "name": "Fremont", "region": "CAISO", "timezone": "UTC"}],
        "lines": [{"line_id": "L1", "site_id": "S1", "name": "GA1"}],
        "stations": [{"station_id": "ST-010", "line_id": "L1", "process": "body_weld",
                      "sequence": 10},
                     {"station_id": "ST-020", "line_id": "L1", "process": "paint",
                      "sequence": 20}],
        "machines": [{"machine_id": MACHINE, "station_id": "ST-010", "kind": "weld_robot",
                      "installed_on": dt.date(2021, 5, 1)},
                     {"machine_id": "ST-020-M1", "station_id": "ST-020", "kind": "paint_robot",
                      "installed_on": dt.date(2021, 5, 1)}],
        "suppliers": [{"supplier_id": "SUP-A", "name": "CellCo", "country": "JP"}],
        "parts": [{"part_number": "P-CELL", "name": "battery_cell", "category": "battery"}],
        "lots": [{"lot_id": "LOT-1", "part_number": "P-CELL", "supplier_id": "SUP-A",
                  "manufactured_on": dt.date(2025, 2, 1), "quantity": 1000,
                  "event_time": DAY0}],
    }


def _vehicles() -> dict[str, list[dict[str, Any]]]:
    built = [DAY0 + dt.timedelta(hours=6 * i) for i in range(len(VINS))]
    return {
        "vehicles": [{"vin": v, "build_date": t.date(), "site_id": "S1", "line_id": "L1",
                      "shift": "A", "model": "Model 3", "trim": "LR",
                      "hardware_revision": "HW4", "design_revision": "B", "event_time": t}
                     for v, t in zip(VINS, built, strict=True)],
        "vehicle_lots": [{"vin": v, "part_number": "P-CELL", "lot_id": "LOT-1",
                          "event_time": t} for v, t in zip(VINS, built, strict=True)],
        "vehicle_stations": [{"vin": v, "station_id": "ST-010", "machine_id": MACHINE,
                              "shift": "A", "event_time": t}
                             for v, t in zip(VINS, built, strict=True)],
        "process_readings": [{"vin": v, "station_id": "ST-010", "machine_id": MACHINE,
                              "parameter": "weld_current", "value": 11.0 + i / 10, "unit": "kA",
                              "setpoint": 11.0, "event_time": t}
                             for i, (v, t) in enumerate(zip(VINS, built, strict=True))],
        "customers": [{"customer_id": c, "vin": v, "region": "TX", "climate_region": "hot",
                       "delivered_on": dt.date(2025, 3, 5), "consent_telemetry": True,
                       "consent_marketing": i < 2, "consent_insurance": False,
                       "event_time": DAY0 + dt.timedelta(days=4)}
                      for i, (c, v) in enumerate(zip(CUSTOMERS, VINS, strict=True))],
        "subscriptions": [{"subscription_id": "SUB-1", "status": "active",
                           "customer_id": CUSTOMERS[0], "product": "fsd",
                           "started_on": dt.date(2025, 3, 5), "ended_on": None,
                           "monthly_price_usd": 99.0, "event_time": DAY0}],
        "telemetry_daily": [telemetry(v, dt.date(2025, 3, 6)) for v in VINS],
        "crashes": [{"crash_id": "CR-1", "vin": VINS[0], "mode": "manual",
                     "software_version": "2025.8", "condition": "rain", "severity": "minor",
                     "event_time": DAY0 + dt.timedelta(days=5)}],
    }


def telemetry(vin: str, day: dt.date, **changes: Any) -> dict[str, Any]:
    """One valid vehicle-day of ``vin``; ``changes`` override fields."""
    row = {"vin": vin, "day": day, "climate_region": "hot", "software_version": "2025.8",
           "miles": 30.0, "autopilot_miles": 10.0, "rain_miles": 0.0, "late_night_miles": 0.0,
           "hard_braking_fraction": 0.01, "aggressive_turning_fraction": 0.01,
           "unsafe_following_fraction": 0.1, "speeding_fraction": 0.0, "fcw_count": 0,
           "forced_disengagements": 0, "disengagements_clear": 0, "disengagements_rain": 0,
           "disengagements_night": 0, "dc_fast_charge_kwh": 0.0, "ambient_temp_c": 25.0,
           "battery_soh": 0.99, "odometer_miles": 1000.0,
           "event_time": dt.datetime.combine(day, dt.time(23, 59))}
    row.update(changes)
    return row


def _loop() -> dict[str, list[dict[str, Any]]]:
    names = {"lot": "LOT-1"}
    finding = {"finding_id": "F001", "failure_mode": "battery_pack", "attribute": "lot",
               "names_json": json.dumps(names), "effect_kind": "hazard_ratio", "effect": 3.2,
               "ci_low": 2.1, "ci_high": 4.9, "q": 0.001, "rank": 1, "affected_vehicles": 3,
               "day_found": 7, "active": True, "retracted": False, "retracted_reason": None}
    change = {"id": "C001", "finding_id": "F001", "failure_mode": "battery_pack",
              "action": "contain lot LOT-1", "campaign_vins": 3, "state": "proposed",
              "evidence": {"effect": 3.2, "ci": [2.1, 4.9]}}
    decision = {"summary": "", "accepted": True, "finding_id": None, "finding_json": None}
    return {
        "spc_alarms": [{"machine_id": MACHINE, "station_id": "ST-010",
                        "parameter": "weld_current", "rule": rule, "statistic": 11.4,
                        "limit": 11.3, "first_vin": VINS[i],
                        "event_time": DAY0 + dt.timedelta(hours=6 * i)}
                       for i, rule in enumerate(["ewma_upper", "cusum_upper"])],
        "findings": [{**finding, "day": day, "event_time": DAY0 + dt.timedelta(days=day)}
                     for day in (7, 14)],
        "decisions": [
            {**decision, "module": "maintenance", "day": 8, "seq": 0,
             "summary": "service ST-010-M1: RUL < 5 d", "action_kind": "maintenance_order",
             "action_json": json.dumps({"kind": "maintenance_order", "day": 9,
                                        "machine_id": MACHINE, "reason": "RUL < 5 d"}),
             "inputs_json": json.dumps({"rul_days": 4.2}),
             "event_time": DAY0 + dt.timedelta(days=8)},
            {**decision, "module": "predictive_service", "day": 9, "seq": 0,
             "summary": "book 2 owners for charge_port (CP_latch)",
             "action_kind": "predictive_service",
             "action_json": json.dumps({"kind": "predictive_service", "day": 10,
                                        "vins": VINS[:2], "component": "charge_port",
                                        "reason": "CP_latch"}),
             "inputs_json": json.dumps({"code": "CP_latch", "precision_low": 0.76}),
             "event_time": DAY0 + dt.timedelta(days=9)},
            {**decision, "module": "changes", "day": 14, "seq": 0,
             "summary": "raise C001 on F001", "action_kind": None, "action_json": None,
             "accepted": None, "inputs_json": json.dumps({"finding": "F001"}),
             "finding_id": "F001", "event_time": DAY0 + dt.timedelta(days=14)},
        ],
        "change_requests": [
            {"change_id": "C001", "revision": 1, "state": "proposed", "day": 14,
             "finding_id": "F001", "failure_mode": "battery_pack",
             "action": "contain lot LOT-1", "campaign_vehicles": 3,
             "record_json": json.dumps(change), "event_time": DAY0 + dt.timedelta(days=14)},
            {"change_id": "C001", "revision": 2, "state": "effective", "day": 15,
             "finding_id": "F001", "failure_mode": "battery_pack",
             "action": "contain lot LOT-1", "campaign_vehicles": 3,
             "record_json": json.dumps({**change, "state": "effective"}),
             "event_time": DAY0 + dt.timedelta(days=15)},
            {"change_id": "C002", "revision": 1, "state": "proposed", "day": 15,
             "finding_id": "F001", "failure_mode": "battery_pack",
             "action": "investigate ST-010", "campaign_vehicles": 0,
             "record_json": json.dumps({**change, "id": "C002",
                                        "action": "investigate ST-010"}),
             "event_time": DAY0 + dt.timedelta(days=15)},
        ],
    }


def build_store(root: Path) -> None:
    """Write every table the API reads, and check nothing was quarantined."""
    store = Store(root)
    try:
        batches = {**_plant(), **_vehicles(), **_loop()}
        for name, result in store.write_many(batches, ingested_at=DAY0 + dt.timedelta(
                days=20)).items():
            assert result.quarantined == 0, (name, result.reasons)
    finally:
        store.close()
