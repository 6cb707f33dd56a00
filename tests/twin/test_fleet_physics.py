"""The fleet twin against published figures: battery fade, crash rates, failure timing."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from gigaloop.twin.fleet import Fleet
from gigaloop.twin.units import demo_units

START = date(2025, 1, 6)


def drive_fleet(batches: list, days: int, seed: int = 0) -> tuple[Fleet, dict[str, pa.Table]]:
    fleet = Fleet(start_date=START, rng=np.random.default_rng(seed), units_per_day=100)
    for units in batches:
        fleet.add_built(units)
    parts: dict[str, list[pa.Table]] = {}
    for day in range(days):
        for name, table in fleet.step(day).items():
            parts.setdefault(name, []).append(table)
    return fleet, {name: pa.concat_tables(p) for name, p in parts.items()}


def test_battery_fades_about_two_percent_a_year_and_faster_with_cell_fade():
    nominal = demo_units(1500, build_day=-10)
    weak = demo_units(1500, build_day=-10, seed=1, cell_fade=1.8)
    _, tables = drive_fleet([nominal, weak], 366)
    last = tables["telemetry_daily"].filter(
        pc.equal(tables["telemetry_daily"]["day"], pa.scalar(date(2026, 1, 6))))
    is_weak = pc.is_in(last["vin"], pa.array(list(weak.vin)))
    loss_nominal = 1 - pc.mean(last.filter(pc.invert(is_weak))["battery_soh"]).as_py()
    loss_weak = 1 - pc.mean(last.filter(is_weak)["battery_soh"]).as_py()
    assert 0.018 <= loss_nominal <= 0.023          # Geotab 1.8–2.3 %/yr
    assert loss_weak == pytest.approx(1.8 * loss_nominal, rel=0.05)


@pytest.mark.slow
def test_crash_rates_per_mile_match_the_vehicle_safety_report():
    fleet = Fleet(start_date=START, rng=np.random.default_rng(7), units_per_day=100)
    fleet.add_built(demo_units(1_000_000, build_day=-10))
    fleet.step(0)
    miles = {"manual": 0.0, "autopilot": 0.0}
    crashes = {"manual": 0, "autopilot": 0}
    for day in range(1, 41):
        events = fleet.drive(fleet.day_context(day))
        out = fleet.out.view(fleet.vehicles.n)
        ap = float(out["autopilot_miles"].sum(dtype=np.float64))
        miles["autopilot"] += ap
        miles["manual"] += float(out["miles"].sum(dtype=np.float64)) - ap
        crashes["manual"] += len(events.crash_manual)
        crashes["autopilot"] += len(events.crash_autopilot)
    per_crash = {k: miles[k] / crashes[k] / 1e6 for k in miles}
    assert 0.9 <= per_crash["manual"] <= 1.12      # ≈ 1 per 1.0 M mi
    assert 4.5 <= per_crash["autopilot"] <= 10.0   # ≈ 1 per 6–7 M mi (≈ 58 crashes here)
    assert crashes["autopilot"] > 30


def test_seam_failures_rise_with_seam_defect_and_come_months_after_delivery():
    nominal = demo_units(3000, build_day=-10)
    defective = demo_units(3000, build_day=-10, seed=1, seam_defect=10.0)
    _, tables = drive_fleet([nominal, defective], 300)
    claims = tables["component_failures"].filter(
        pc.equal(tables["component_failures"]["component"], "body_seam"))
    is_defective = pc.is_in(claims["vin"], pa.array(list(defective.vin)))
    n_defective = pc.sum(is_defective).as_py()
    assert n_defective > 4 * max(claims.num_rows - n_defective, 3)
    days = pc.days_between(pa.scalar(START), pc.cast(claims["event_time"], pa.date32()))
    assert pc.approximate_median(days).as_py() > 120
    assert pc.sum(pc.less(days, 30)).as_py() <= 0.03 * claims.num_rows


def test_truth_reports_first_failure_per_fault_and_nothing_for_the_red_herring():
    pack = demo_units(2000, build_day=-10, pack_defect=60.0)
    pack.fault_id["cell_fade"] = np.full(2000, "F1-cells", dtype=object)
    rain = demo_units(2000, build_day=-10, seed=1, rain_perception=3.0)
    rain.fault_id["rain_perception"] = np.full(2000, "F4-camera", dtype=object)
    hot = demo_units(500, build_day=-10, seed=2, hot_climate_bias=0.5)
    hot.fault_id["hot_climate_bias"] = np.full(500, "F5-shift", dtype=object)
    fleet, tables = drive_fleet([pack, rain, hot], 200)
    events = fleet.truth_events()
    first = {(e["fault_id"], e["kind"]): e for e in events}
    assert first[("F1-cells", "first_field_failure")]["failure_mode"] == "battery_pack"
    assert first[("F1-cells", "first_field_failure")]["vin"] in set(pack.vin)
    assert first[("F4-camera", "first_field_failure")]["failure_mode"] == "disengagement_rain"
    assert first[("F4-camera", "first_field_failure")]["vin"] in set(rain.vin)
    assert all(e["fault_id"] != "F5-shift" for e in events)
    assert len(first) == len(events)                  # one event per (fault, kind)
    # the fault's rain disengagements per rain Autopilot mile: ≈ 3× the others
    t = tables["telemetry_daily"]
    rain_ap = pc.divide(pc.multiply(t["autopilot_miles"], t["rain_miles"]),
                        pc.max_element_wise(t["miles"], 1e-9))
    is_rain = pc.is_in(t["vin"], pa.array(list(rain.vin)))

    def rate(mask: pa.ChunkedArray) -> float:
        return (pc.sum(t.filter(mask)["disengagements_rain"]).as_py()
                / pc.sum(rain_ap.filter(mask)).as_py())

    assert rate(is_rain) / rate(pc.invert(is_rain)) == pytest.approx(3.0, rel=0.2)
