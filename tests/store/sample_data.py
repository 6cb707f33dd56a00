"""Small, realistic batches for store tests: two plants, twelve vehicles, their first days."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gigaloop.store import Store

BUILT = dt.datetime(2024, 1, 1, 6)  # first vehicle leaves end of line
LOADED = dt.datetime(2024, 3, 1)  # when sample_batches() is ingested
VINS = [f"5YJ3E1EA0PF{i:06d}" for i in range(12)]
CLIMATES = ("hot", "temperate", "cold")

Row = dict[str, Any]


def open_store(root: Any, engine: str, request: Any) -> Store:
    """A store on ``engine``; Spark uses the session-wide ``spark`` fixture."""
    spark = request.getfixturevalue("spark") if engine == "spark" else None
    return Store(root, engine=engine, spark=spark)  # type: ignore[arg-type]


def plant() -> dict[str, list[Row]]:
    sites = [
        {"site_id": "FRE", "name": "Fremont", "region": "CAISO", "timezone": "America/Los_Angeles"},
        {"site_id": "AUS", "name": "Austin", "region": "ERCOT", "timezone": "America/Chicago"},
    ]
    lines = [
        {"line_id": "FRE-GA1", "site_id": "FRE", "name": "General assembly 1"},
        {"line_id": "AUS-GA1", "site_id": "AUS", "name": "General assembly 1"},
    ]
    stations, machines = [], []
    for line in ("FRE-GA1", "AUS-GA1"):
        for seq, process in ((10, "body_weld"), (20, "paint"), (30, "battery_pack")):
            station = f"{line}-{seq}"
            stations.append(
                {"station_id": station, "line_id": line, "process": process, "sequence": seq}
            )
            machines.append(
                {
                    "machine_id": f"{station}-M1",
                    "station_id": station,
                    "kind": {
                        "body_weld": "weld_robot",
                        "paint": "paint_robot",
                        "battery_pack": "press",
                    }[process],
                    "installed_on": dt.date(2021, 5, seq),
                }
            )
    return {"sites": sites, "lines": lines, "stations": stations, "machines": machines}


def genealogy() -> dict[str, list[Row]]:
    suppliers = [
        {"supplier_id": "SUP-A", "name": "CellCo", "country": "JP"},
        {"supplier_id": "SUP-B", "name": "Voltaic", "country": "KR"},
    ]
    parts = [
        {"part_number": "1104-CELL", "name": "battery_cell", "category": "battery"},
        {"part_number": "2210-CAM", "name": "camera", "category": "electronics"},
    ]
    lots = [
        {
            "lot_id": "LOT-CELL-1",
            "part_number": "1104-CELL",
            "supplier_id": "SUP-A",
            "manufactured_on": dt.date(2023, 12, 1),
            "quantity": 4000,
            "event_time": dt.datetime(2023, 12, 20),
        },
        {
            "lot_id": "LOT-CELL-2",
            "part_number": "1104-CELL",
            "supplier_id": "SUP-B",
            "manufactured_on": dt.date(2023, 12, 5),
            "quantity": 4000,
            "event_time": dt.datetime(2023, 12, 22),
        },
        {
            "lot_id": "LOT-CAM-1",
            "part_number": "2210-CAM",
            "supplier_id": "SUP-A",
            "manufactured_on": dt.date(2023, 11, 28),
            "quantity": 500,
            "event_time": dt.datetime(2023, 12, 18),
        },
    ]
    vehicles, vehicle_lots, vehicle_stations = [], [], []
    for i, vin in enumerate(VINS):
        built = BUILT + dt.timedelta(days=2 * i, hours=i % 3 * 8)
        line = "FRE-GA1" if i % 2 == 0 else "AUS-GA1"
        shift = "ABC"[i % 3]
        vehicles.append(
            {
                "vin": vin,
                "build_date": built.date(),
                "site_id": line[:3],
                "line_id": line,
                "shift": shift,
                "model": "Model 3",
                "trim": "LR" if i % 4 else "P",
                "hardware_revision": "HW4" if i >= 6 else "HW3",
                "design_revision": "B",
                "event_time": built,
            }
        )
        vehicle_lots += [
            {
                "vin": vin,
                "part_number": "1104-CELL",
                "lot_id": f"LOT-CELL-{1 + i % 2}",
                "event_time": built,
            },
            {"vin": vin, "part_number": "2210-CAM", "lot_id": "LOT-CAM-1", "event_time": built},
        ]
        for seq in (10, 20, 30):
            station = f"{line}-{seq}"
            vehicle_stations.append(
                {
                    "vin": vin,
                    "station_id": station,
                    "machine_id": None if seq == 20 and i == 5 else f"{station}-M1",
                    "shift": shift,
                    "event_time": built - dt.timedelta(hours=4 - seq // 10),
                }
            )
    return {
        "suppliers": suppliers,
        "parts": parts,
        "lots": lots,
        "vehicles": vehicles,
        "vehicle_lots": vehicle_lots,
        "vehicle_stations": vehicle_stations,
    }


def telemetry_row(vin_index: int, day: dt.date, **changes: Any) -> Row:
    """One plausible vehicle-day; ``changes`` override fields."""
    i, d = vin_index, day.toordinal() % 7
    miles = 18.0 + 7 * i + 3 * d
    row = {
        "vin": VINS[i],
        "day": day,
        "climate_region": CLIMATES[i % 3],
        "software_version": "2024.2.7" if i % 2 else "2024.8.1",
        "miles": miles,
        "autopilot_miles": round(miles * (0.2 + 0.05 * (i % 4)), 2),
        "rain_miles": 2.5 * (d % 3),
        "late_night_miles": 0.5 * (i % 2),
        "hard_braking_fraction": 0.01 * (i % 5),
        "aggressive_turning_fraction": 0.02,
        "unsafe_following_fraction": 0.1 + 0.01 * d,
        "speeding_fraction": 0.0,
        "fcw_count": i % 3,
        "forced_disengagements": 0,
        "disengagements_clear": d % 2,
        "disengagements_rain": 0,
        "disengagements_night": i % 2,
        "dc_fast_charge_kwh": 0.0 if d else 42.5,
        "ambient_temp_c": 31.0 - 9 * (i % 3),
        "battery_soh": 0.99 - 0.001 * i,
        "odometer_miles": 1000.0 + 40 * i + miles,
        "event_time": dt.datetime.combine(day, dt.time(23, 59)),
    }
    row.update(changes)
    return row


def fleet(days: int = 5, start: dt.date = dt.date(2024, 2, 26)) -> dict[str, list[Row]]:
    """Telemetry for every vehicle over ``days`` (crossing a month end), claims, crashes."""
    telemetry = [
        telemetry_row(i, start + dt.timedelta(days=k))
        for k in range(days)
        for i in range(len(VINS))
    ]
    failures = [
        {
            "claim_id": f"CLM-{n}",
            "vin": VINS[i],
            "component": component,
            "failure_mode": mode,
            "odometer_miles": 1500.0 + 100 * n,
            "roadside": n == 2,
            "cost_usd": 850.0 * (n + 1),
            "event_time": dt.datetime(2024, 2, 27, 9 + n),
        }
        for n, (i, component, mode) in enumerate(
            [
                (0, "battery_pack", "cell_short"),
                (2, "battery_pack", "cell_short"),
                (2, "camera", "fogging"),
                (9, "body_seam", "water_leak"),
            ]
        )
    ]
    crashes = [
        {
            "crash_id": "CR-1",
            "vin": VINS[4],
            "mode": "manual",
            "software_version": "2024.8.1",
            "condition": "rain",
            "severity": "minor",
            "event_time": dt.datetime(2024, 2, 27, 18),
        },
        {
            "crash_id": "CR-2",
            "vin": VINS[7],
            "mode": "autopilot",
            "software_version": "2024.2.7",
            "condition": "night",
            "severity": "major",
            "event_time": dt.datetime(2024, 2, 28, 23),
        },
        {
            "crash_id": "CR-3",
            "vin": VINS[1],
            "mode": "manual",
            "software_version": "2024.2.7",
            "condition": "clear",
            "severity": "minor",
            "event_time": dt.datetime(2024, 3, 1, 8),
        },
        {  # its owner shares no telemetry: no miles to set it against, so it is not counted
            "crash_id": "CR-4",
            "vin": VINS[11],
            "mode": "manual",
            "software_version": "2024.2.7",
            "condition": "clear",
            "severity": "minor",
            "event_time": dt.datetime(2024, 3, 1, 9),
        },
    ]
    customers = [
        {
            "customer_id": f"CU-{i:04d}",
            "vin": vin,
            "region": "TX",
            "climate_region": "hot",
            "delivered_on": start - dt.timedelta(days=10),
            "consent_telemetry": i != 11,
            "consent_marketing": True,
            "consent_insurance": False,
            "event_time": dt.datetime.combine(start - dt.timedelta(days=10), dt.time(12)),
        }
        for i, vin in enumerate(VINS)
    ]
    return {"telemetry_daily": telemetry, "component_failures": failures, "crashes": crashes,
            "customers": customers}


def sample_batches() -> dict[str, list[Row]]:
    return {**plant(), **genealogy(), **fleet()}


def load(store: Store, ingested_at: dt.datetime = LOADED) -> None:
    """Write every sample batch; fail loudly if any row is rejected."""
    for name, result in store.write_many(sample_batches(), ingested_at=ingested_at).items():
        assert result.quarantined == 0, (name, result.reasons)
