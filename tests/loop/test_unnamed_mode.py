"""The loop learns failure modes and process parameters from the store: a mode and a
station parameter no analytics code names are found like any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from gigaloop.loop.score import score_run
from gigaloop.run import RunOptions, run_job

pytestmark = pytest.mark.slow(seconds=45)

MODE, STATION, PARAMETER, MACHINE = "tailgate_rattle", "ST-020", "press_force", "ST-020-P1"
ANALYTICS = ("loop", "ml", "fleet", "customer", "factory")
#: The modules that find faults and act on them (the customers' and the fleet's learning
#: loops find no fault and only slow the run down).
FINDING_MODULES = ("rootcause", "changes", "impact", "process_control", "maintenance")

SCENARIO = f"""
[scenario]
name = "unnamed-mode"
description = "A press shifts; a failure mode declared here alone follows."
start_date = 2025-01-06

[[suppliers]]
supplier_id = "SUPA"
name = "Lonestar Cells"
country = "US"

[[parts]]
part_number = "BAT-CELL-4680"
name = "battery_cell"
category = "battery"
lot_prefix = "CELL"
lot_size_days = 1.5
shares = {{ SUPA = 1.0 }}

[[failure_modes]]
name = "{MODE}"
clock = "days"
shape = 1.0
first_year = 0.01
cost_usd = 250.0
claim_codes = ["TG-RATTLE"]

[[faults]]
id = "press-shift"
kind = "process_defect"
mode = "{MODE}"
side = "high"
where = {{ station = "{STATION}", parameter = "{PARAMETER}", machine = "{MACHINE}" }}
starts = 20
stops = 70
effect = {{ shift = 120.0, ramp_days = 3, threshold = 40.0, slope = 0.0012 }}
[faults.finding]
failure_mode = "{MODE}"
[faults.finding.names]
station = "{STATION}"
parameter = "{PARAMETER}"
machine = "{MACHINE}"
window = [20, 70]
"""


def test_no_analytics_code_names_the_mode_or_the_parameter() -> None:
    source = Path(__file__).parents[2] / "src" / "gigaloop"
    for room in ANALYTICS:
        for path in (source / room).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert MODE not in text and PARAMETER not in text, path


def test_a_mode_and_parameter_no_code_names_are_found(tmp_path: Path) -> None:
    scenario = tmp_path / "unnamed.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    run_job(RunOptions(days=200, seed=2, scenario=scenario, out=tmp_path / "run",
                       modules=FINDING_MODULES))
    score = score_run(tmp_path / "run")
    assert score["recall"] == 1.0
    assert score["faults"][0]["rank"] == 1
    assert not score["false_findings_standing"]
