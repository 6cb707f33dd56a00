"""Background differences: drawn per seed, small, in the truth apart from the faults, and
``[background] identical = true`` turns them off without touching anything else."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pyarrow.compute as pc
import pytest

from gigaloop.errors import ScenarioError
from gigaloop.twin.background import CLIP, LotFrailty, ProcessOffsets
from gigaloop.twin.layout import STATIONS, station
from gigaloop.twin.readings import SEAM_DEADBAND_KA, TRIM_DEADBAND_NM, TRIM_GAIN_PER_NM2
from gigaloop.twin.scenario import BackgroundLevels, load_scenario_text
from gigaloop.twin.world import Twin

DEFAULT = (resources.files("gigaloop.twin") / "scenarios" / "default.toml").read_text()
LEVELS = BackgroundLevels()
SIGMA = {(st.station_id, p.name): p.sigma for st in STATIONS for p in st.parameters}


def twin(days: int, *, identical: bool) -> tuple[Twin, dict]:
    text = DEFAULT + ("\n[background]\nidentical = true\n" if identical else "")
    world = Twin(load_scenario_text(text), seed=3)
    tables: dict = {}
    for day in range(days):
        for name, table in world.step(day).items():
            tables.setdefault(name, []).append(table)
    return world, tables


def test_drawn_per_seed_and_fixed_by_it():
    a, b, c = (ProcessOffsets(LEVELS, e) for e in ([1, 2, 3, 4], [1, 2, 3, 4], [5, 6, 7, 8]))
    assert a.machine_mean == b.machine_mean and a.shift_mean == b.shift_mean
    assert a.machine_mean != c.machine_mean
    lots = [f"CELL-SUPA-{k:04d}" for k in range(1, 200)]
    first, again = LotFrailty(LEVELS, [1, 2, 3, 4]), LotFrailty(LEVELS, [1, 2, 3, 4])
    assert [first.of(lot) for lot in lots] == [again.of(lot) for lot in reversed(lots)][::-1]
    assert len({round(first.of(lot), 9) for lot in lots}) == len(lots)   # every lot its own


@pytest.mark.parametrize("entropy", [[1, 2, 3, 4], [9, 9, 9, 9], [0, 0, 0, 7]])
def test_small_bounded_and_inside_the_dose_laws(entropy: list[int]):
    offsets = ProcessOffsets(LEVELS, entropy)
    station_of = {m: st.station_id for st in STATIONS for m in st.machine_ids}
    for (machine, parameter), value in offsets.machine_mean.items():
        assert abs(value) <= CLIP * LEVELS.machine_offset_sigmas * SIGMA[
            station_of[machine], parameter] + 1e-12
        assert abs(np.log(offsets.machine_spread[machine, parameter])) <= (
            CLIP * LEVELS.machine_spread + 1e-12)
    for (_, station_id, parameter), value in offsets.shift_mean.items():
        bound = CLIP * LEVELS.shift_offset_sigmas * SIGMA[station_id, parameter]
        assert abs(value) <= bound + 1e-12
    # the largest offset a unit can get (machine and shift, the wrong way) leaves the seam
    # dead band > 3.5 σ away, and raises the mean loose-trim multiplier by < 10 %
    worst = CLIP * (LEVELS.machine_offset_sigmas + LEVELS.shift_offset_sigmas)
    weld, trim = station("BW-030").parameter("weld_current"), station("GA-010").parameter("torque")
    assert SEAM_DEADBAND_KA - worst * weld.sigma > 3.5 * weld.sigma
    z = np.random.default_rng(0).standard_normal(1_000_000)
    nominal, low = (1 + TRIM_GAIN_PER_NM2 * np.maximum(-trim.sigma * (z - shift)
                                                       - TRIM_DEADBAND_NM, 0) ** 2
                    for shift in (0.0, worst))
    assert low.mean() / nominal.mean() < 1.1
    frailty = LotFrailty(LEVELS, entropy)
    factors = np.array([frailty.of(f"CAM-SUPC-{k:04d}") for k in range(1, 500)])
    assert np.abs(np.log(factors)).max() <= CLIP * LEVELS.lot_frailty + 1e-12 < np.log(1.3)
    assert 0.04 < np.log(factors).std() < 0.08


def test_identical_takes_no_levels_and_levels_stay_small():
    with pytest.raises(ScenarioError, match="identical = true takes no levels"):
        load_scenario_text(DEFAULT + "\n[background]\nidentical = true\nlot_frailty = 0.1\n")
    with pytest.raises(ScenarioError, match=r"background\.lot_frailty"):
        load_scenario_text(DEFAULT + "\n[background]\nlot_frailty = 0.5\n")
    assert load_scenario_text(DEFAULT + "\n[background]\nlot_frailty = 0\nmachine_spread = 0\n"
                              "machine_offset_sigmas = 0\nshift_offset_sigmas = 0\n"
                              ).background.off


def test_in_the_truth_as_background_and_off_changes_nothing_else():
    on, on_tables = twin(12, identical=False)
    off, off_tables = twin(12, identical=True)
    truth = on.truth()
    assert [f["id"] for f in truth["faults"]] == [f["id"] for f in off.truth()["faults"]]
    background = truth["background"]
    assert background["levels"]["identical"] is False
    assert {row["machine"] for row in background["machines"]} >= {"BW-030-R2", "GA-010-T1"}
    assert {row["shift"] for row in background["shifts"]} == {"A", "B", "C"}
    lots = {row["lot"]: row for row in background["lots"]}
    assert lots and {m for row in lots.values() for m in row["modes"]} == {
        "battery_pack", "camera", "drive_unit"}
    fault_names = str([f["where"] for f in truth["faults"]])
    assert not [lot for lot in lots if lot in fault_names and lot != "CELL-SUPB-0008"]
    assert off.truth()["background"] | {"levels": None} == {
        "levels": None, "machines": [], "shifts": [], "lots": []}
    # off: the same units, lots, machines and energy — the background draws on no shared stream
    for name in ("vehicles", "vehicle_lots", "vehicle_stations", "machine_readings",
                 "energy_readings", "downtime_events"):
        assert [t.to_pydict() for t in on_tables.get(name, [])] == [
            t.to_pydict() for t in off_tables.get(name, [])], name
    # … and the readings move by the machine's and shift's offsets alone
    on_r = _readings(on_tables, "BW-030-R2", "weld_current")
    off_r = _readings(off_tables, "BW-030-R2", "weld_current")
    rows = {(r["machine"], r["parameter"]): r for r in background["machines"]}
    shifts = [r["mean_offset"] for r in background["shifts"]
              if (r["station"], r["parameter"]) == ("BW-030", "weld_current")]
    expected = rows["BW-030-R2", "weld_current"]["mean_offset"] + np.mean(shifts)
    assert abs(float(np.mean(on_r - off_r)) - expected) < 0.01
    assert not np.array_equal(on_r, off_r)


def _readings(tables: dict, machine: str, parameter: str) -> np.ndarray:
    values = []
    for table in tables["process_readings"]:
        rows = table.filter(pc.and_(pc.equal(table["machine_id"], machine),
                                    pc.equal(table["parameter"], parameter)))
        values.append(rows["value"].to_numpy())
    return np.concatenate(values)


def test_a_frail_lot_fails_more_in_the_field():
    from gigaloop.twin.fleet import Fleet
    from gigaloop.twin.hazards import COMPONENTS
    from gigaloop.twin.units import demo_units
    n, failed = 100_000, []
    for frailty in (1.0, 1.6):   # far above the background's, to measure it in one year
        fleet = Fleet(start_date=load_scenario_text(DEFAULT).scenario.start_date,
                      rng=np.random.default_rng(5), units_per_day=100, components=COMPONENTS,
                      frailty=("camera",))
        units = demo_units(n, build_day=-10)
        units.frailty["camera"] = np.full(n, frailty)
        fleet.add_built(units)
        fleet.step(0)                       # delivered: every component's life is drawn
        failed.append(float((fleet.info.view("life_camera") < 365).mean()))
    assert 1.45 < failed[1] / failed[0] < 1.75
