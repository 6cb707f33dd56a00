"""OEE from a hand-built store: every part computed by hand, and what moves it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gigaloop.factory.oee import oee_kpis, oee_table
from gigaloop.store import Store

MONDAY = datetime(2025, 1, 6)


def write(store: Store, tables: dict[str, list[dict[str, Any]]]) -> Store:
    for name, rows in tables.items():
        result = store.write(name, rows, ingested_at=MONDAY + timedelta(days=60))  # after every row
        assert result.quarantined == 0, result.reasons
    return store


def _example(monday: datetime) -> dict[str, list[dict[str, Any]]]:
    """A day of one line, by hand: 8 h reported, a 2 h planned window, 2 h unplanned of
    which 0.5 h inside the window (6 h to run, 4.5 h run: availability 0.75); 120 units of
    a 108 s ideal cycle (3.6 h: performance 0.8), half rejected once (quality 0.5)."""
    at = monday.replace(hour=0)
    site = {"site_id": "S1", "name": "s", "region": "r", "timezone": "UTC"}
    units = [{"vin": f"V{i:03d}", "build_date": at.date(), "site_id": "S1", "line_id": "L1",
              "shift": "A", "model": "m", "trim": "t", "hardware_revision": "h",
              "design_revision": "d", "event_time": at + timedelta(hours=7)} for i in range(120)]
    return {
        "sites": [site], "lines": [{"line_id": "L1", "site_id": "S1", "name": "l",
                                    "ideal_cycle_s": 108.0}],
        "stations": [{"station_id": "X1", "line_id": "L1", "process": "paint", "sequence": 10}],
        "energy_readings": [{"site_id": "S1", "event_time": at + timedelta(hours=h),
                             "hvac_kwh": 1.0, "process_kwh": 1.0, "lighting_kwh": 1.0,
                             "outside_temp_c": 20.0, "indoor_temp_c": 22.0,
                             "tariff_usd_per_kwh": 0.1, "carbon_g_per_kwh": 300.0}
                            for h in range(8)],
        "downtime_events": [
            {"downtime_id": f"D{i}", "station_id": "X1", "machine_id": None, "planned": p,
             "cause": c, "hours": h, "event_time": at + timedelta(hours=s)}
            for i, (p, c, h, s) in enumerate([(True, "planned_maintenance", 2.0, 1.0),
                                              (False, "quality_hold", 1.5, 2.5),
                                              (False, "material_shortage", 0.5, 5.0)])],
        "vehicles": units,
        "inspection_results": [{"vin": u["vin"], "station_id": "X1", "inspection": "paint",
                                "passed": i % 2 == 0, "defect": None, "score": None,
                                "image_uri": None, "event_time": u["event_time"]}
                               for i, u in enumerate(units)],
    }


def test_availability_performance_and_quality_as_worked_by_hand(tmp_path: Path) -> None:
    store = write(Store(tmp_path), _example(MONDAY))
    row = oee_table(store).iloc[0]
    assert (row.calendar_h, row.planned_h, row.stopped_h, row.run_h) == (8, 2.0, 3.5, 4.5)
    assert row.availability == pytest.approx(0.75)
    assert row.performance == pytest.approx(0.8)
    assert row.quality == pytest.approx(0.5)
    assert row.oee == pytest.approx(0.3)
    assert oee_kpis(store) == {"availability": 0.75, "performance": 0.8, "quality": 0.5,
                               "oee": 0.3}


def test_per_week_counts_each_week_apart(tmp_path: Path) -> None:
    tables = _example(MONDAY)
    later = _example(MONDAY + timedelta(days=7))
    for rows in later["vehicles"]:
        rows["vin"] = "W" + rows["vin"]
    later["downtime_events"] = []   # the second week runs without a stop
    later["inspection_results"] = []
    for name in ("vehicles", "energy_readings"):
        tables[name] += later[name]
    weeks = oee_table(write(Store(tmp_path), tables), per="week").set_index("period")
    assert list(weeks.index) == [MONDAY, MONDAY + timedelta(days=7)]
    assert weeks.availability.tolist() == pytest.approx([0.75, 1.0])
    assert weeks.performance.tolist() == pytest.approx([0.8, 3.6 / 8])
    assert weeks.quality.tolist() == pytest.approx([0.5, 1.0])


def test_unknown_parts_stay_unknown(tmp_path: Path) -> None:
    tables = _example(MONDAY)
    tables["lines"][0]["ideal_cycle_s"] = None   # a line that does not state its rate
    store = write(Store(tmp_path), tables)
    assert oee_kpis(store)["performance"] is None and oee_kpis(store)["oee"] is None
    assert oee_kpis(Store(tmp_path / "empty")) == dict.fromkeys(
        ("availability", "performance", "quality", "oee"))
