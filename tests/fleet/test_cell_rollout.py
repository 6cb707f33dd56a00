"""A robot-cell policy rollout on the twin's plant: a policy that makes weld seams worse
is stopped on its one-cell canary, before it reaches a third of the weld cells, and rolled
back; the scorer counts it found on that day."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from gigaloop.loop.score import score_run
from gigaloop.run import RunOptions, run_job
from gigaloop.store import Store

DEFAULT_TEXT = (resources.files("gigaloop.twin") / "scenarios" / "default.toml").read_text(
    encoding="utf-8"
)
BAD = "seam-track-2"
POLICY = f"""
[[cell_policies]]
version = "{BAD}"
day = 3
seam = 5.0
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    return _rollout(tmp_path_factory, "cells", POLICY, 40)


@pytest.mark.slow
def test_a_worse_policy_is_rolled_back_before_a_third_of_the_cells(run) -> None:
    summary, out = run
    store = Store(out / "store")
    deployments = store.execute(store.table("deployments"))
    assert deployments.fleet_fraction.max() < 1 / 3
    assert (deployments.stage == "rolled_back").sum() == 1
    reports = store.execute(store.table("ota_reports")).sort_values("event_time")
    assert reports.stage.tolist() == ["canary", "rollback"]  # signed, verified by the cells
    assert set(reports.result) == {"installed"} and reports.vehicles.iloc[0] == 1
    (finding,) = summary["findings"]
    assert finding["names"] == {"policy_version": BAD}
    ratio = finding["failed weld seam inspections per unit welded"]["ratio"]
    assert ratio > 2


@pytest.mark.slow
def test_the_scorer_counts_the_bad_policy_found_when_its_cells_went_back(run) -> None:
    _, out = run
    (fault,) = [f for f in score_run(out)["faults"] if f.get("kind") == "bad_cell_policy"]
    assert fault["found"] and fault["found_by"] == "cell rollout"
    assert fault["rolled_back_day"] == fault["day_found"] + 1
    assert fault["peak_share"] == pytest.approx(1 / 6)


def _rollout(tmp_path_factory: pytest.TempPathFactory, name: str, policy: str,
             days: int) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp(name)
    scenario = folder / "policy.toml"
    scenario.write_text(DEFAULT_TEXT + policy, encoding="utf-8")
    return run_job(RunOptions(days=days, scenario=scenario, out=folder / "run",
                              modules=("cell_rollout",))), folder / "run"


@pytest.mark.slow
def test_a_policy_that_welds_further_from_schedule_is_stopped_within_days(
        tmp_path_factory) -> None:
    summary, out = _rollout(tmp_path_factory, "tracking", '\n[[cell_policies]]\nversion = "wide"\n'
                   'day = 3\ntracking = 1.5\n', 20)
    store = Store(out / "store")
    deployments = store.execute(store.table("deployments")).sort_values("event_time")
    assert deployments.stage.tolist() == ["canary", "rolled_back"]
    stopped = store.execute(store.table("decisions")).query("module == 'cell_rollout'")
    assert stopped.day.max() <= 10  # the welds' current says so within a week
    (finding,) = summary["findings"]
    assert finding["names"] == {"policy_version": "wide"}
    assert "weld current distance from schedule (kA) per weld" in stopped.summary.iloc[-1]


@pytest.mark.slow
def test_a_policy_no_worse_goes_to_every_cell(tmp_path_factory) -> None:
    summary, out = _rollout(tmp_path_factory, "good", '\n[[cell_policies]]\nversion = "same"\n'
                   'day = 3\n', 75)
    store = Store(out / "store")
    deployments = store.execute(store.table("deployments")).sort_values("event_time")
    assert deployments.stage.tolist() == ["canary", "staged", "full"]
    assert deployments.fleet_fraction.tolist() == [0.16, 0.5, 1.0]
    assert not (deployments.status == "rolled_back").any()
    assert not summary["findings"]
    assert all(f.get("kind") != "bad_cell_policy" for f in score_run(out)["faults"])


@pytest.mark.slow
def test_robots_that_weld_a_little_differently_do_not_stop_a_policy_no_worse(
        tmp_path_factory) -> None:
    # every weld robot's mean current off its schedule by up to 0.6 σ, for good: each cell
    # is compared with itself before the policy (before: rolled back on day 35 of this world)
    folder = tmp_path_factory.mktemp("offsets")
    scenario = folder / "policy.toml"
    scenario.write_text(DEFAULT_TEXT + '\n[background]\nmachine_offset_sigmas = 0.3\n'
                        '\n[[cell_policies]]\nversion = "same"\nday = 20\n', encoding="utf-8")
    run_job(RunOptions(days=38, seed=1, scenario=scenario, out=folder / "run",
                       modules=("cell_rollout",)))
    store = Store(folder / "run" / "store")
    deployments = store.execute(store.table("deployments"))
    assert not (deployments.status == "rolled_back").any(), deployments
