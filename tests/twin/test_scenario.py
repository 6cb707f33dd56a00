"""Scenario files: the packaged ones validate, and every mistake names its field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from gigaloop.errors import ScenarioError
from gigaloop.twin.scenario import load_scenario, load_scenario_text

DEFAULT_TEXT = (resources.files("gigaloop.twin") / "scenarios" / "default.toml").read_text(
    encoding="utf-8")
REQUIRED_KINDS = {"weak_cell_lot", "weld_current_drift", "process_drift", "bearing_wear",
                  "camera_rain", "shift_climate_mix"}


@pytest.mark.parametrize("name", ["default", "alternate"])
def test_packaged_scenarios_validate_and_inject_every_kind(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.scenario.name == name
    assert {f.kind for f in scenario.faults} == REQUIRED_KINDS
    herrings = [f for f in scenario.faults if f.finding.red_herring]
    assert [f.kind for f in herrings] == ["shift_climate_mix"]


def test_alternate_differs_in_lots_stations_windows_and_sizes() -> None:
    default, alternate = load_scenario("default"), load_scenario("alternate")
    for kind in REQUIRED_KINDS:
        a = next(f for f in default.faults if f.kind == kind)
        b = next(f for f in alternate.faults if f.kind == kind)
        assert a.where != b.where, kind
        assert a.effect != b.effect, kind
    drift = {s.scenario.name: next(f for f in s.faults if f.kind == "weld_current_drift")
             for s in (default, alternate)}
    assert drift["default"].starts != drift["alternate"].starts


def test_none_loads_the_default_and_a_path_loads_a_file(tmp_path: Path) -> None:
    assert load_scenario(None).scenario.name == "default"
    path = tmp_path / "mine.toml"
    path.write_text(DEFAULT_TEXT.replace('name = "default"', 'name = "mine"'), encoding="utf-8")
    assert load_scenario(path).scenario.name == "mine"
    assert load_scenario(str(path)).scenario.name == "mine"


def test_missing_file_and_bad_toml_raise_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario_text("[scenario\nname=")


@pytest.mark.parametrize(("old", "new", "field", "hint"), [
    ("start_date = 2025-01-06\n", "", "scenario.start_date", "Field required"),
    ('kind = "weak_cell_lot"', 'kind = "gremlins"', "faults.0.kind", "weak_cell_lot"),
    ('lot = "CELL-SUPB-0008" }', 'lot = "CELL-SUPZ-0008" }', "(file)",
     "where.lot 'CELL-SUPZ-0008' must look like PREFIX-SUPPLIER-0001"),
    ("stops = 58", "stops = 30", "faults.1", "stops (30) must be after starts (40)"),
    ("drift_ka = -1.4,", "drift_kA = -1.4,", "faults.1", "missing ['drift_ka']"),
    ('machine = "BW-030-R2" }', 'machine = "BW-030-R9" }', "(file)",
     "where.machine must be one of ['BW-030-R1', 'BW-030-R2']"),
    ('names = { shift = "C" }', 'names = { shft = "C" }', "faults.5.finding",
     "names has unknown keys ['shft']"),
    ('parameter = "torque" }', 'parameter = "torq" }', "(file)",
     "where.parameter must be one of ['torque'] at GA-010"),
    ('timezone = "America/Chicago"', 'timezone = "Mars/Olympus"', "site",
     "not an IANA time zone"),
    ('failure_mode = "body_seam"', 'failure_mode = "seams"', "faults.1.finding.failure_mode",
     "body_seam"),
    ("SUPA = 0.6, SUPB = 0.4", "SUPA = 0.6, SUPB = -0.4", "parts.0", "share must be > 0"),
])
def test_validation_errors_name_the_field_and_the_fix(old: str, new: str, field: str,
                                                      hint: str) -> None:
    assert old in DEFAULT_TEXT
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(DEFAULT_TEXT.replace(old, new, 1))
    message = str(info.value)
    assert hint in message
    assert field in message or field == info.value.context["field"]


def test_unknown_top_level_keys_are_refused() -> None:
    with pytest.raises(ScenarioError, match="Extra inputs are not permitted"):
        load_scenario_text(DEFAULT_TEXT + "\n[surprise]\nx = 1\n")


def test_the_documented_examples_validate() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"
    blocks = [b.split("```")[0] for b in docs.read_text(encoding="utf-8").split("```toml\n")[1:]]
    kinds = [[f.kind for f in load_scenario_text(block).faults] for block in blocks]
    assert kinds == [["weld_current_drift"], ["part_lot_hazard"]]
