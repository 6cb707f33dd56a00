"""The whole twin: plant + fleet stepped together, actions routed, truth kept apart."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from gigaloop.actuate import (
    Action,
    Actuator,
    EngineeringChange,
    MaintenanceOrder,
    SetpointChange,
    SoftwareRollout,
)
from gigaloop.errors import ActuationError, ConfigError, GigaloopError, ScenarioError
from gigaloop.schema import INGESTED_AT, get_table
from gigaloop.twin.world import Twin

DAYS = 36  # the weak cell lot (CELL-SUPB-0008) goes in on days 31–33


@pytest.fixture(scope="module")
def month() -> tuple[Twin, list[dict[str, pa.Table]]]:
    twin = Twin.from_scenario(seed=7)
    return twin, [twin.step(day) for day in range(DAYS)]


def test_a_month_of_every_table_matches_the_schema(month) -> None:
    twin, days = month
    assert isinstance(twin, Actuator)
    assert {"sites", "lines", "stations", "machines", "suppliers", "parts", "lots"} <= set(days[0])
    vins: set[str] = set()
    seen: set[str] = set()
    for day, tables in enumerate(days):
        if "vehicles" in tables:
            vins |= set(tables["vehicles"].column("vin").to_pylist())
        for name, table in tables.items():
            seen.add(name)
            expected = [f for f in get_table(name).arrow_schema() if f.name != INGESTED_AT]
            assert table.schema.names == [f.name for f in expected], name
            assert [f.type for f in table.schema] == [f.type for f in expected], name
            if "vin" in table.column_names:
                assert set(table.column("vin").to_pylist()) <= vins, name
            if "event_time" in table.column_names and table.num_rows:
                latest = pa.compute.max(table.column("event_time")).as_py()
                assert latest <= twin.day_end(day), (name, day)
    assert {"telemetry_daily", "vehicles", "process_readings", "machine_readings"} <= seen


def test_truth_reports_faults_and_is_json(month, tmp_path: Path) -> None:
    twin, _ = month
    truth = twin.truth()
    json.dumps(truth)
    faults = {f["id"]: f for f in truth["faults"]}
    assert faults["F1-weak-cell-lot"]["happened"]["affected_vins"] > 0
    assert faults["F4-camera-rain"]["happened"]["onset_day"] is not None
    assert faults["F2-weld-drift"]["happened"]["affected_vins"] == 0  # starts on day 40
    assert faults["F5-shift-c-climate"]["finding"]["red_herring"] is True
    assert truth["days_simulated"] == DAYS
    path = tmp_path / "truth" / "truth.json"
    twin.write_truth(path)
    assert json.loads(path.read_text(encoding="utf-8"))["scenario"]["name"] == "default"
    kpis = twin.world_kpis()
    assert set(kpis) == {"defects_escaped", "defects_present", "parts_scrapped_by_changes",
                         "units_reworked_by_changes", "redesigns"}
    assert 0 <= kpis["defects_escaped"] <= kpis["defects_present"]
    assert kpis["parts_scrapped_by_changes"] == kpis["redesigns"] == 0  # nothing changed
    assert kpis["units_reworked_by_changes"] == 0


def test_days_run_in_order() -> None:
    twin = Twin.from_scenario()
    with pytest.raises(GigaloopError, match="expected day 0"):
        twin.step(3)


def test_bad_scale_and_bad_scenario_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown scale 'huge'"):
        Twin.from_scenario(scale="huge")
    with pytest.raises(ScenarioError):
        Twin.from_scenario(tmp_path / "missing.toml")
    assert Twin.from_scenario("alternate").start_date.isoformat() == "2025-03-03"


def test_actions_are_checked_and_queued_from_their_day() -> None:
    twin = Twin.from_scenario()
    twin.step(0)
    twin.step(1)
    late = twin.apply(SetpointChange(day=0, station_id="GA-010", parameter="torque",
                                     setpoint=112.0))
    assert late.accepted and "effective day 2" in late.detail
    assert twin.apply(MaintenanceOrder(day=5, machine_id="ST-010-P1")).accepted
    refused = twin.apply(EngineeringChange(day=3, target={"lot": "NOPE-SUPA-0001"}))
    assert not refused.accepted and "unknown lot" in refused.detail
    with pytest.raises(ActuationError):
        twin.apply(Action(day=3))
    readings = twin.step(2)["process_readings"].to_pandas()
    torque = readings[readings["station_id"] == "GA-010"]
    today = torque["event_time"] >= twin.day_end(1)
    assert (torque.loc[today, "setpoint"] == 112.0).all()
    assert (torque.loc[~today, "setpoint"] == 110.0).all()  # units already past GA-010


def test_the_plant_is_the_same_whatever_the_fleet_does() -> None:
    calm, busy = Twin.from_scenario(seed=3), Twin.from_scenario(seed=3)
    busy.apply(SoftwareRollout(day=1, software_version="fsd-13.1", fleet_fraction=1.0,
                               stage="full"))
    for day in range(4):
        a, b = calm.step(day), busy.step(day)
        for name in ("vehicles", "process_readings", "machine_readings", "energy_readings"):
            if name in a:
                assert a[name].equals(b[name]), (name, day)


def test_same_seed_same_world_other_seed_other_world() -> None:
    first, again, other = (Twin.from_scenario(seed=s) for s in (11, 11, 12))
    for day in range(3):
        a, b, c = first.step(day), again.step(day), other.step(day)
        assert a.keys() == b.keys() and all(a[k].equals(b[k]) for k in a)
        assert not a["process_readings"].equals(c["process_readings"])
