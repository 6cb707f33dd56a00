"""The whole loop on a year of the twin finds every injected field fault, and only those.

Runs the packaged *alternate* scenario (other lots, stations, windows and effect sizes
than the default) on a seed no tuning used, and reads every expectation from its truth —
nothing here names a fault.
"""

from __future__ import annotations

import pytest

from gigaloop.loop.score import read_truth, score_run
from gigaloop.run import RunOptions, run_job

pytestmark = pytest.mark.slow(seconds=175)
PLANT_MODES = {"machine_breakdown"}


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    out = tmp_path_factory.mktemp("year")
    run_job(RunOptions(days=365, seed=4, scenario=_alternate(), out=out))
    return score_run(out), read_truth(out)


def _alternate():
    from importlib.resources import files
    from pathlib import Path

    return Path(str(files("gigaloop.twin") / "scenarios" / "alternate.toml"))


def test_every_field_fault_is_found_in_the_top_three_of_its_mode(scored):
    score, truth = scored
    wanted = {f["id"] for f in truth["faults"] if not f["finding"].get("red_herring")
              and f["finding"]["failure_mode"] not in PLANT_MODES}
    found = {f["id"] for f in score["faults"] if f.get("found") and f["rank"] <= 3}
    assert wanted and wanted <= found


def test_the_red_herring_is_not_reported_and_false_findings_are_rare(scored):
    score, _truth = scored
    assert not any(f.get("flagged") for f in score["faults"] if f.get("red_herring"))
    # At most one of the year's findings false. One world is one draw: this world (seed 4)
    # gave none, then two once predictive service booked from telemetry (a torque range for
    # camera failures, seam complaints among units that failed the random paint-panel
    # check), then none again once a reading's range had to be at the end of its range
    # (loop/selection.py). The false-discovery rate is measured over many worlds
    # (bench/eval_loop.py --random 30, docs/loop.md), where it is the open bar; one
    # false finding here is allowed for the next draw.
    assert score["n_false_findings"] <= 1
