"""The loop on a world drawn at random (never seen by the code): every fault the truth
calls detectable is found at top 3, by root cause or process control, and nothing false
is left standing — the slow, single-world form of `bench/eval_loop.py --random N`, with
only the modules that find faults and act on them (the bench runs every default module)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gigaloop.loop.score import score_run
from gigaloop.run import RunOptions, run_job
from gigaloop.twin.random_scenario import random_scenario

pytestmark = pytest.mark.slow(seconds=120)

#: A world with a shifted press (process control's to find) and a trim that turns weak
#: (root cause's, from claims): the two paths to a finding.
SEED = 26
#: The modules that find faults and retract findings, and those that act on them: the
#: customers' and the fleet's learning loops find no fault and only slow the year down.
FINDING_MODULES = ("rootcause", "changes", "impact", "process_control", "maintenance")


def test_a_random_world_s_detectable_faults_are_found_and_nothing_false_stands(
        tmp_path: Path) -> None:
    scenario = tmp_path / "world.toml"
    scenario.write_text(random_scenario(SEED), encoding="utf-8")
    run_job(RunOptions(days=365, seed=SEED, scenario=scenario, out=tmp_path / "run",
                       modules=FINDING_MODULES))
    truth = json.loads((tmp_path / "run" / "truth" / "truth.json").read_text())
    detectable = {f["id"] for f in truth["faults"] if f["finding"].get("detectable")}
    score = score_run(tmp_path / "run")
    found = {f["id"] for f in score["faults"] if f.get("found")}
    herrings = [f for f in score["faults"] if f.get("red_herring")]
    assert detectable and detectable <= found, score["faults"]
    assert not score["false_findings_standing"], score["false_findings"]
    assert not any(f["flagged"] for f in herrings)
