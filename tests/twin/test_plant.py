"""The plant on its own: reproducible, schema-exact, and every fault leaves its trace."""

from __future__ import annotations

import time
from importlib import resources

import pandas as pd
import pyarrow as pa
import pytest
from plant_helpers import NOMINAL_KA, Plant, day_of, latent_frame, make_plant, run

from gigaloop.schema import INGESTED_AT, get_table
from gigaloop.twin.layout import MACHINE_IDS
from gigaloop.twin.scenario import Scenario, load_scenario, load_scenario_text


@pytest.fixture(scope="module")
def default_run() -> tuple[Plant, dict[str, pd.DataFrame], pd.DataFrame]:
    plant = make_plant()
    frames, built = run(plant, 66)
    return plant, frames, latent_frame(built)


def test_same_seed_same_tables_other_seed_other_tables() -> None:
    first, again, other = make_plant(seed=4), make_plant(seed=4), make_plant(seed=5)
    for day in range(3):
        a, b, c = first.step(day)[0], again.step(day)[0], other.step(day)[0]
        assert a.keys() == b.keys()
        assert all(a[name].equals(b[name]) for name in a)
        assert not a["process_readings"].equals(c["process_readings"])
        assert not a["machine_readings"].equals(c["machine_readings"])


def test_every_table_matches_the_schema_exactly() -> None:
    plant = make_plant()
    seen: set[str] = set()
    for day in range(8):
        tables, built = plant.step(day)
        vins = set(tables["vehicles"].column("vin").to_pylist())
        assert len(vins) == len(built)
        for name, table in tables.items():
            seen.add(name)
            spec = get_table(name)
            expected = pa.schema([f for f in spec.arrow_schema() if f.name != INGESTED_AT])
            assert table.schema == expected, name
            for column in spec.all_columns:
                if column.name == INGESTED_AT:
                    continue
                values = table.column(column.name)
                if not column.nullable:
                    assert values.null_count == 0, (name, column.name)
                if column.choices:
                    assert set(values.drop_null().to_pylist()) <= set(column.choices)
                if column.min is not None and values.null_count < len(values):
                    assert pa.compute.min(values).as_py() >= column.min, (name, column.name)
            if "vin" in table.column_names and name != "vehicles":
                assert set(table.column("vin").to_pylist()) <= vins, name
            for column in table.columns:
                if pa.types.is_string(column.type):
                    text = " ".join(column.drop_null().unique().to_pylist())
                    assert not any(f.id in text for f in plant.scenario.faults), name
    assert seen >= {"sites", "lines", "stations", "machines", "suppliers", "parts", "lots",
                    "vehicles", "vehicle_lots", "vehicle_stations", "process_readings",
                    "inspection_results", "machine_readings", "energy_readings",
                    "maintenance_events", "downtime_events"}


def test_weld_drift_shifts_only_its_machine_and_only_in_its_window(default_run) -> None:
    plant, frames, _ = default_run
    readings = frames["process_readings"]
    readings = readings.assign(day=day_of(plant, readings))
    weld = readings[readings["parameter"] == "weld_current"]
    mean = weld.groupby(["machine_id", weld["day"].between(50, 57)])["value"].mean()
    assert mean["BW-030-R2", True] < NOMINAL_KA - 0.6
    for machine in ("BW-030-R1", "BW-010-R1", "BW-010-R2", "BW-020-R1", "BW-020-R2"):
        assert abs(mean[machine, True] - NOMINAL_KA) < 0.1, machine
    drifting = weld[weld["machine_id"] == "BW-030-R2"]
    outside = drifting[(drifting["day"] < 40) | (drifting["day"] >= 59)]
    assert abs(outside["value"].mean() - NOMINAL_KA) < 0.1
    assert (weld["setpoint"] == NOMINAL_KA).all()  # the setpoint did not move: the robot did


def test_units_welded_during_the_drift_carry_seam_defect(default_run) -> None:
    _plant, frames, latent = default_run
    stations = frames["vehicle_stations"]
    bw030 = stations[stations["station_id"] == "BW-030"].set_index("vin")["machine_id"]
    latent = latent.assign(machine=latent["vin"].map(bw030))
    hit = latent[latent["fault_seam_defect"] == "F2-weld-drift"]
    assert len(hit) > 100
    assert (hit["machine"] == "BW-030-R2").all() and (hit["seam_defect"] > 1.01).all()
    assert hit["build_day"].between(40, 59).all()
    early = latent[latent["build_day"] < 38]
    assert early["seam_defect"].max() < 1.05


def test_weak_cell_lot_units_get_latent_fade_and_a_resistance_trace(default_run) -> None:
    _, frames, latent = default_run
    lots = frames["vehicle_lots"]
    weak_vins = set(lots.loc[lots["lot_id"] == "CELL-SUPB-0008", "vin"])
    assert 100 <= len(weak_vins) <= 130
    weak = latent["vin"].isin(weak_vins)
    assert (latent.loc[weak, "fault_cell_fade"] == "F1-weak-cell-lot").all()
    assert (latent.loc[weak, "pack_defect"] == 5.0).all()
    assert latent.loc[weak, "cell_fade"].min() > 1.6
    assert latent.loc[~weak, "cell_fade"].between(0.85, 1.15).all()
    assert (latent.loc[~weak, "fault_cell_fade"] == "").all()
    readings = frames["process_readings"]
    resistance = readings[readings["parameter"] == "module_resistance"]
    is_weak = resistance["vin"].isin(weak_vins)
    ratio = resistance.loc[is_weak, "value"].mean() / resistance.loc[~is_weak, "value"].mean()
    assert 1.02 < ratio < 1.04
    assert frames["lots"]["lot_id"].is_unique


def test_camera_revision_and_shift_carry_their_latents(default_run) -> None:
    _, frames, latent = default_run
    cam_b = latent["hardware_revision"] == "CAM-B"
    assert 0.3 < cam_b.mean() < 0.7
    assert (latent.loc[cam_b, "rain_perception"] == 2.5).all()
    assert (latent.loc[~cam_b, "rain_perception"] == 1.0).all()
    shift = latent["vin"].map(frames["vehicles"].set_index("vin")["shift"])
    assert (latent.loc[shift == "C", "hot_climate_bias"] == 0.55).all()
    assert (latent.loc[shift != "C", "hot_climate_bias"] == 0.0).all()
    assert 0.25 < (shift == "C").mean() < 0.4


def fast_bearing() -> Scenario:
    """The default scenario with the press bearing failing within two weeks."""
    scenario = load_scenario()
    faults = [f.model_copy(update={"starts": 1, "effect": {"pf_interval_days": 10.0,
                                                          "repair_hours": 20.0}})
              if f.kind == "bearing_wear" else f for f in scenario.faults]
    return scenario.model_copy(update={"faults": faults})


def test_worn_bearing_vibrates_then_breaks_down() -> None:
    plant = make_plant(fast_bearing())
    frames, _ = run(plant, 16)
    readings = frames["machine_readings"]
    press = readings[readings["machine_id"] == "ST-010-P1"].assign(
        day=lambda f: day_of(plant, f))
    daily = press.groupby("day")["vibration_rms"].max()
    assert daily.iloc[0] < 1.8
    assert daily.max() > 4.5  # ISO 10816 zone D before it breaks
    downtime = frames["downtime_events"]
    breakdown = downtime[downtime["cause"] == "breakdown"]
    assert list(breakdown["machine_id"]) == ["ST-010-P1"]
    assert not breakdown["planned"].any() and breakdown["hours"].iloc[0] == 20.0
    maintenance = frames["maintenance_events"]
    assert "corrective" in set(maintenance.loc[maintenance["machine_id"] == "ST-010-P1", "kind"])
    assert [b["machine_id"] for b in plant.history.breakdowns] == ["ST-010-P1"]
    after = press[press["event_time"] > breakdown["event_time"].iloc[0] + pd.Timedelta(hours=21)]
    assert after["vibration_rms"].max() < 1.8  # bearing replaced


def test_maintenance_order_prevents_the_breakdown() -> None:
    from gigaloop.actuate import MaintenanceOrder

    plant = make_plant(fast_bearing())
    order = MaintenanceOrder(day=3, machine_id="ST-010-P1", reason="vibration trend")
    assert plant.actions.check(order) is None
    plant.actions.queue(order)
    frames, _ = run(plant, 16)
    assert "breakdown" not in set(frames["downtime_events"]["cause"])
    maintenance = frames["maintenance_events"]
    done = maintenance[maintenance["machine_id"] == "ST-010-P1"]
    assert set(done["kind"]) == {"planned"}
    assert done["reason"].iloc[0] == "vibration trend"  # then routine stamping maintenance
    assert plant.history.breakdowns == []
    assert plant.history.ended_day == {"F3-press-bearing": 6}  # first Sunday window


def test_machines_wear_at_their_own_rates_and_worn_ones_stop_more() -> None:
    plant, again = make_plant(), make_plant()
    rates = plant.machines.wear_rate
    assert (rates == again.machines.wear_rate).all() and rates.max() > 2 * rates.min()
    i = plant.machines.index["EOL-010-T1"]  # end of line: its routine comes in week 7
    plant.machines.wear_rate[i] = 0.02 / 24  # neglected: w = 0.2 after ten days
    frames, _ = run(plant, 35)
    stops = frames["downtime_events"].query("cause == 'minor_stop'")["machine_id"].value_counts()
    others = stops.drop("EOL-010-T1", errors="ignore").sum() / (len(MACHINE_IDS) - 1)
    assert stops.get("EOL-010-T1", 0) >= 4 and stops.get("EOL-010-T1", 0) > 5 * others
    readings = frames["machine_readings"].query("machine_id == 'EOL-010-T1'")
    early, late = readings["vibration_rms"].iloc[:24].median(), readings["vibration_rms"].iloc[-24:]
    assert late.median() > early + 0.3  # the condition shows (w ≈ 0.7 by day 35)


def test_line_stops_cost_units_and_energy_follows_the_clock() -> None:
    plant = make_plant()
    frames, built = run(plant, 14)
    per_day = [len(b) for b in built]
    assert 45 <= per_day[0] < 80 and max(per_day) <= 81   # day 0: the first units' flow time
    # Sunday's planned window: 4 h without launches on a day at full speed (≈ 13 units)
    assert plant.losses.day(6)[1] == 1.0 and per_day[6] <= 80 - 10
    energy = frames["energy_readings"]
    assert len(energy) == 14 * 24
    local_hour = (energy["event_time"] + pd.Timedelta(seconds=plant.clock.offset_s(0))).dt.hour
    peak = local_hour.between(16, 20)
    assert (energy.loc[peak, "tariff_usd_per_kwh"] > energy.loc[~peak, "tariff_usd_per_kwh"].max()
            ).all()
    assert 150 < energy["carbon_g_per_kwh"].mean() < 574
    assert set(frames["machine_readings"]["machine_id"]) == set(MACHINE_IDS)


@pytest.mark.slow
def test_a_small_year_simulates_fast() -> None:
    plant = make_plant()
    started = time.perf_counter()
    units = 0
    kwh = 0.0
    for day in range(365):
        tables, built = plant.step(day)
        units += len(built)
        energy = tables["energy_readings"]
        kwh += sum(pa.compute.sum(energy.column(c)).as_py()
                   for c in ("hvac_kwh", "process_kwh", "lighting_kwh"))
    elapsed = time.perf_counter() - started
    print(f"365 small days: {elapsed:.1f} s, {units} units, {kwh / units:.0f} kWh/vehicle")
    assert elapsed < 30
    assert 1800 < kwh / units < 2400  # ≈ 2.1 MWh per vehicle (BMW 2020)


def test_a_torque_drift_loosens_trim_on_the_units_it_tightened() -> None:
    text = (resources.files("gigaloop.twin") / "scenarios" / "default.toml").read_text()
    text = text.replace("starts = 150\nstops = 330", "starts = 4\nstops = 12").replace(
        "drift = -6.0, ramp_days = 30", "drift = -6.0, ramp_days = 2")
    plant = make_plant(load_scenario_text(text), seed=2)
    frames, built = run(plant, 16)
    readings = frames["process_readings"]
    torque = readings[(readings.station_id == "GA-010") & (readings.parameter == "torque")]
    torque = torque.assign(day=day_of(plant, torque))
    # the nutrunner's natural offset wanders ≈ 0.5 N·m on top of the −6 drift
    assert abs(torque[torque.day.between(7, 11)].value.mean() - 104.0) < 0.8
    assert abs(torque[(torque.day < 4) | (torque.day > 12)].value.mean() - 110.0) < 0.3
    latent = latent_frame(built)
    hit = latent[latent.fault_trim_defect == "F6-trim-torque-drift"]
    assert hit.build_day.between(4, 13).all() and len(hit) > 200
    assert hit.trim_defect.mean() > 4.0
    calm = latent[latent.build_day < 3]
    assert calm.trim_defect.mean() < 1.1 and (calm.fault_trim_defect == "").all()
