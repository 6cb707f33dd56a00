"""The general fault vocabulary: each kind validates, bad ones say why, and in the twin each
raises the hazard it states — or, for a red herring, the raw rate but not the adjusted one."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from gigaloop.actuate import SetpointChange
from gigaloop.errors import ScenarioError
from gigaloop.twin.climate import CLIMATE_INDEX
from gigaloop.twin.scenario import load_scenario_text
from gigaloop.twin.toml_text import toml_text
from gigaloop.twin.world import Twin


def _fault(id_: str, kind: str, where: dict[str, Any], effect: dict[str, float],
           mode: str = "x_rattle", **extra: Any) -> dict[str, Any]:
    names = {k: v for k, v in where.items() if k != "lots"} or {"part": "P-ONE"}
    return {"id": id_, "kind": kind, "where": where, "starts": 0, "effect": effect,
            **({"mode": mode} if mode else {}), **extra,
            "finding": {"failure_mode": mode or "x_wear", "names": names}}


def world(*faults: dict[str, Any]) -> dict[str, Any]:
    """A small generated plant: two parts, two scenario-declared failure modes."""
    return {
        "scenario": {"name": "general", "start_date": "2025-03-03"},
        "suppliers": [{"supplier_id": s, "name": s, "country": "US"} for s in ("SA", "SB")],
        "parts": [{"part_number": "P-ONE", "name": "bracket", "category": "body",
                   "lot_prefix": "BRK", "lot_size_days": 2.0, "shares": {"SA": 0.5, "SB": 0.5}},
                  {"part_number": "P-TWO", "name": "sensor", "category": "electronics",
                   "lot_prefix": "SEN", "lot_size_days": 3.0, "shares": {"SB": 1.0},
                   "revisions": {"SB": "SEN-A"}}],
        "failure_modes": [
            {"name": "x_rattle", "clock": "days", "shape": 1.0, "first_year": 0.2,
             "cost_usd": 100.0, "claim_codes": ["buzz", "squeak"], "climate": [1.0, 1.0, 3.0]},
            {"name": "x_wear", "clock": "miles", "shape": 1.0, "first_year": 0.2,
             "cost_usd": 100.0, "claim_codes": ["worn"]},
            {"name": "underbody_crack"}],
        "faults": list(faults),
    }


EVERY_KIND = [
    _fault("lot", "part_lot_hazard", {"part": "P-ONE", "lots": ["BRK-SA-0002", "BRK-SB-0002"]},
           {"hazard_ratio": 2.0, "shape": 0.8}),
    _fault("supplier", "part_lot_hazard", {"part": "P-ONE", "supplier": "SB"},
           {"hazard_ratio": 1.5, "min_daily_miles": 40}, climate="cold"),
    _fault("oven", "process_defect", {"station": "PT-020", "parameter": "oven_temperature",
                                      "machine": "PT-020-O1"},
           {"shift": -5.0, "ramp_days": 2, "threshold": 2.0, "slope": 0.3}, mode="hvac",
           side="low"),
    _fault("aim", "process_defect", {"station": "GA-020", "parameter": "camera_aim"},
           {"threshold": 0.05, "slope": 400.0}, mode="underbody_crack"),
    _fault("trim", "design_revision", {"trim": "Performance"}, {"hazard_ratio": 2.5}),
    _fault("rev", "design_revision", {"hardware_revision": "SEN-A"}, {"hazard_ratio": 1.3},
           mode="hvac"),
    _fault("miles", "usage_confound", {"trim": "RWD"}, {"share": 0.8, "miles_multiplier": 3.0},
           mode=None),
    _fault("cold", "selection_confound", {"shift": "B"}, {"share": 0.7}, mode=None,
           climate="cold"),
]


def test_every_general_kind_validates_and_declared_modes_join_the_components() -> None:
    scenario = load_scenario_text(toml_text(world(*EVERY_KIND)))
    assert {f.kind for f in scenario.faults} == {
        "part_lot_hazard", "process_defect", "design_revision", "usage_confound",
        "selection_confound"}
    names = [c.name for c in scenario.components]
    assert names[-3:] == ["x_rattle", "x_wear", "underbody_crack"]
    assert scenario.components[-1].clock == "miles"   # from the catalogue


def _broken(index: int, **change: Any) -> dict[str, Any]:
    doc = world(copy.deepcopy(EVERY_KIND[index]))
    doc["faults"][0].update(change)
    return doc


@pytest.mark.parametrize(("doc", "hint"), [
    (_broken(0, where={"part": "P-ONE"}),
     "needs where keys ['part'] and one of ['lot', 'lots', 'supplier']"),
    (_broken(0, where={"part": "P-ONE", "lot": "BRK-SZ-0001"}),
     "lot 'BRK-SZ-0001' must look like BRK-SUPPLIER-0001"),
    (_broken(0, mode="gremlin"), "faults.0.mode 'gremlin' is not a component failure mode"),
    (_broken(0, mode=None), "part_lot_hazard needs 'mode'"),
    (_broken(0, effect={"hazard_ratio": -2.0}), "effect sizes must be >= 0"),
    (_broken(2, effect={"shift": -5.0, "threshold": 2.0}), "missing ['slope']"),
    (_broken(2, where={"station": "PT-020", "parameter": "torque", "machine": "PT-020-O1"}),
     "where.parameter must be one of ['oven_temperature'] at PT-020"),
    (_broken(2, where={"station": "PT-020", "parameter": "oven_temperature"}),
     "a process_defect with a shift needs where.machine"),
    (_broken(4, where={"trim": "Plaid"}), "where.trim must be one of"),
    (_broken(6, climate="hot"), "usage_confound takes no 'climate'"),
    (_broken(7, climate=None), "selection_confound needs 'climate'"),
    (_broken(7, finding={"failure_mode": "x_buzz", "names": {"shift": "B"}}),
     "faults.0.finding.failure_mode 'x_buzz' is not a failure mode"),
])
def test_a_bad_general_fault_names_its_problem(doc: dict[str, Any], hint: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(toml_text(doc))
    assert hint in str(info.value)


def test_a_new_failure_mode_outside_the_catalogue_must_state_its_parameters() -> None:
    doc = world()
    doc["failure_modes"].append({"name": "x_unknown", "shape": 1.0})
    with pytest.raises(ScenarioError, match="not in the catalogue: give clock, first_year"):
        load_scenario_text(toml_text(doc))
    doc["failure_modes"][-1] = {"name": "body_seam"}
    with pytest.raises(ScenarioError, match="names must be new and unique"):
        load_scenario_text(toml_text(doc))


def test_a_process_defect_an_inspection_re_measures_is_named_by_its_failed_units() -> None:
    """The truth lists the inspection that sees a defect's reading again (the paint gauge
    re-reads the film), so a finding on its failed units names that defect too."""
    film = _fault("film", "process_defect", {"station": "PT-010", "parameter": "film_thickness",
                                             "machine": "PT-010-R2"},
                  {"shift": -12.0, "ramp_days": 2, "threshold": 2.0, "slope": 0.3}, side="low")
    doc = world(film, EVERY_KIND[2])
    truth = {f["id"]: f for f in Twin(load_scenario_text(toml_text(doc)), seed=1)
             .truth()["faults"]}
    assert truth["film"]["finding"]["also_names"] == [
        {"station": "PT-030", "inspection": "paint_thickness", "verdict": "failed"}]
    assert "also_names" not in truth["oven"]["finding"]  # no inspection re-reads the oven


@pytest.fixture(scope="module")
def run() -> dict[str, Any]:
    """120 days of the generated world with every kind, and the claims it wrote."""
    twin = Twin(load_scenario_text(toml_text(world(*EVERY_KIND))), seed=3)
    claims: list[dict[str, Any]] = []
    readings: list[Any] = []
    shift_b: list[str] = []
    for day in range(120):
        tables = twin.step(day)
        built = tables["vehicles"].to_pandas()
        shift_b += built.vin[built["shift"] == "B"].tolist()
        if "component_failures" in tables:
            claims += [{**c, "day": day} for c in tables["component_failures"].select(
                ["vin", "component", "failure_mode"]).to_pylist()]
        if "process_readings" in tables:
            readings.append(tables["process_readings"].to_pandas())
    return {"twin": twin, "claims": claims, "readings": readings, "shift_b": shift_b}


def _rates(run: dict[str, Any], component: str, group: np.ndarray, clock: str = "days",
           vehicles: np.ndarray | None = None) -> tuple[float, float]:
    """Vehicles failing ``component`` per unit of exposure inside and outside ``group``
    (a mask over ``vehicles``, a mask of the fleet, or over every vehicle)."""
    fleet = run["twin"].fleet
    vins = np.asarray(fleet.vins.to_pylist(), dtype=object)
    failed = np.isin(vins, [c["vin"] for c in run["claims"] if c["component"] == component])
    exposure = (fleet.vehicles.view("odometer") if clock == "miles"
                else run["twin"].days_simulated - fleet.info.view("delivered"))
    if vehicles is not None:
        failed, exposure = failed[vehicles], exposure[vehicles]
    return tuple(failed[g].sum() / exposure[g].sum() for g in (group, ~group))  # type: ignore[return-value]


@pytest.mark.slow
def test_new_modes_write_claims_through_the_same_tables(run: dict[str, Any]) -> None:
    codes = {c["failure_mode"] for c in run["claims"] if c["component"] == "x_rattle"}
    assert codes == {"buzz", "squeak"}
    truth = {f["id"]: f for f in run["twin"].truth()["faults"]}
    assert truth["trim"]["happened"]["excess_failures"] > 20
    # the failures it caused in the field-failure KPI's last 90 days: some of that mode's
    # claims of those days, and some of its own
    recent = sum(c["component"] == "x_rattle" and c["day"] >= 120 - 90 for c in run["claims"])
    assert 0 < truth["trim"]["happened"]["excess_failures_last90"] <= recent
    assert truth["trim"]["happened"]["excess_failures_last90"] < \
        truth["trim"]["happened"]["excess_failures"]
    assert truth["trim"]["happened"]["first_field_failure_day"] is not None
    assert "excess_failures" not in truth["miles"]["happened"]      # a red herring
    # a supplier's window lists the lots its units took (the scorer credits a lot finding)
    lots = truth["supplier"]["happened"]["lots"]
    assert lots and all(lot.startswith("BRK-SB-") for lot in lots)
    assert "lots" not in truth["lot"]["happened"]


@pytest.mark.slow
def test_a_design_fault_raises_its_modes_hazard_by_its_ratio(run: dict[str, Any]) -> None:
    fleet = run["twin"].fleet
    vins = np.asarray(fleet.vins.to_pylist(), dtype=object)
    performance = np.char.startswith(vins.astype(str), "7GLYP")
    inside, outside = _rates(run, "x_rattle", performance)
    # the other faults on x_rattle (a few lots, a supplier in the cold) hit both groups alike
    assert 1.8 < inside / outside < 3.4


@pytest.mark.slow
def test_conditions_and_causes_are_exact(run: dict[str, Any]) -> None:
    fleet = run["twin"].fleet
    names = [g.id for g in fleet.general]
    cause = fleet.info.view("cause_x_rattle")
    climate = fleet.vehicles.view("climate")
    supplier = cause == names.index("supplier")
    assert supplier.any()
    assert (climate[supplier] == CLIMATE_INDEX["cold"]).all()
    oven = fleet.info.view("excess_oven") > 0
    assert oven.mean() > 0.9                  # a 5 °C shift doses nearly every unit
    assert (fleet.info.view("cause_hvac") == names.index("oven")).any()
    frames = [f[(f.machine_id == "PT-020-O1") & (f.parameter == "oven_temperature")]
              for f in run["readings"]]
    late = np.mean([f.value.mean() for f in frames[60:]])
    assert late < 140.0 - 3.0     # the shift shows in the readings (nominal 140 °C)


@pytest.mark.slow
def test_red_herrings_raise_the_raw_rate_not_the_adjusted_one(run: dict[str, Any]) -> None:
    twin = run["twin"]
    fleet = twin.fleet
    vins = np.asarray(fleet.vins.to_pylist(), dtype=object).astype(str)
    rwd = np.char.startswith(vins, "7GLYR")
    per_vehicle = [np.isin(vins[g], [c["vin"] for c in run["claims"]
                                     if c["component"] == "x_wear"]).mean()
                   for g in (rwd, ~rwd)]
    assert per_vehicle[0] > 1.8 * per_vehicle[1]          # raw: RWD fails far more
    per_mile = _rates(run, "x_wear", rwd, clock="miles")
    assert 0.7 < per_mile[0] / per_mile[1] < 1.4          # per mile: normal

    cold = fleet.vehicles.view("climate") == CLIMATE_INDEX["cold"]
    shift_b = np.isin(vins, run["shift_b"])
    assert cold[shift_b].mean() > cold[~shift_b].mean() + 0.3   # sent to cold regions
    raw = _rates(run, "x_rattle", shift_b)
    assert raw[0] > 1.3 * raw[1]                              # raw: shift B fails more
    in_cold = _rates(run, "x_rattle", shift_b[cold], vehicles=cold)
    assert 0.75 < in_cold[0] / in_cold[1] < 1.33              # per climate: normal


def _drift_truth(compensate_on: int | None) -> dict[str, Any]:
    """Forty days of an oven that drifts 4 σ low from day 5, its defect's band inside the
    oven's own spread (0.5 σ), answered on ``compensate_on`` by a setpoint move (or not)."""
    oven = _fault("oven", "process_defect", {"station": "PT-020",
                                             "parameter": "oven_temperature",
                                             "machine": "PT-020-O1"},
                  {"shift": -6.0, "ramp_days": 1, "threshold": 0.75, "slope": 0.3},
                  mode="hvac", side="low", starts=5)
    twin = Twin(load_scenario_text(toml_text(world(oven))), seed=2)
    for day in range(40):
        twin.step(day)
        if day == compensate_on:
            twin.apply(SetpointChange(day=day + 1, station_id="PT-020-O1",
                                      parameter="oven_temperature", setpoint=146.0))
    return twin.truth()["faults"][0]["happened"]


def test_a_drift_harms_the_units_it_pushed_past_the_band_not_those_past_it_anyway() -> None:
    left, answered = _drift_truth(None), _drift_truth(10)
    # the band lies in the spread: about a third of all units are past it, drift or not
    assert left["affected_vins"] > left["pushed_units"] > 0
    # answered after five days, the drift pushes few units past it from then on, while as
    # many units as without the answer are past it by their own spread
    assert answered["pushed_units"] < 0.35 * left["pushed_units"]
    spread = [run["affected_vins"] - run["pushed_units"] for run in (left, answered)]
    assert abs(spread[1] - spread[0]) < 0.15 * spread[0]
