"""An installed base the store has no history of: the loop judges the new builds by their
own lives, not against cars that look immortal because their early years were never seen."""

from __future__ import annotations

import pytest

from gigaloop.loop.score import score_run
from gigaloop.run import RunOptions, run_job

pytestmark = pytest.mark.slow(seconds=20)


def test_a_fleet_already_on_the_road_makes_no_new_build_level_look_frail(tmp_path) -> None:
    # 20,000 vehicles delivered over the four years before day 0, 60 days of root cause.
    # Counted as at risk since delivery (before: three camera lots of the faulty revision's
    # supplier reported on their own, scored false, and the revision itself missed).
    run_job(RunOptions(days=60, seed=502, fleet=20_000, out=tmp_path, modules=("rootcause",)))
    score = score_run(tmp_path)
    assert score["n_false_findings"] == 0, score["false_findings"]
    assert any(f.get("found_by") == "root cause" for f in score["faults"])
