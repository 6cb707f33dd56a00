"""Staged rollouts on the twin: a worse release is rolled back at its canary wave, a
better one goes through every wave to the whole fleet."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from gigaloop.run import RunOptions, run_job
from gigaloop.store import Store
from gigaloop.twin.scenario import load_scenario_text

pytestmark = pytest.mark.slow  # a 56-day world of 10,000 vehicles

DEFAULT_TEXT = (resources.files("gigaloop.twin") / "scenarios" / "default.toml").read_text(
    encoding="utf-8")

BAD, GOOD = "2025.44.0", "2025.45.1"
RELEASES = f"""
[[releases]]
version = "{BAD}"
day = 10
crash = 1.5
disengagement = 1.35

[[releases]]
version = "{GOOD}"
day = 12
crash = 0.9
disengagement = 0.85
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("rollout")
    scenario = folder / "releases.toml"
    scenario.write_text(DEFAULT_TEXT + RELEASES, encoding="utf-8")
    out = folder / "run"
    summary = run_job(RunOptions(days=56, scenario=scenario, out=out, modules=("rollout",),
                                 fleet=10_000))
    return summary, out


def test_a_worse_release_is_rolled_back_before_it_reaches_a_tenth_of_the_fleet(run) -> None:
    summary, out = run
    store = Store(out / "store")
    deployments = store.execute(store.table("deployments"))
    bad = deployments[deployments.model_version == BAD]
    assert bad.fleet_fraction.max() < 0.10
    assert (bad.stage == "rolled_back").sum() == 1
    (finding,) = [f for f in summary["findings"] if f["failure_mode"] == "software_release"]
    assert finding["names"] == {"software_version": BAD}
    assert "disengagements per Autopilot mile" in finding["worse"]
    telemetry = store.table("telemetry_daily")
    last = store.execute(telemetry.filter(telemetry.day == telemetry.day.max()))
    assert (last.software_version == BAD).sum() == 0  # its vehicles went back


def test_the_scorer_counts_the_bad_release_found_on_the_day_it_was_rolled_back(run) -> None:
    from gigaloop.loop.score import score_run

    summary, out = run
    scored = score_run(out)
    (fault,) = [f for f in scored["faults"] if f["id"] == f"release-{BAD}"]
    (finding,) = [f for f in summary["findings"] if f["failure_mode"] == "software_release"]
    assert fault["found"] and fault["found_by"] == "rollout"
    assert fault["day_found"] == finding["day_found"] and fault["days_to_find"] <= 14
    assert fault["rolled_back_day"] == fault["day_found"] + 1  # the vehicles went back
    assert 0 < fault["peak_share"] < 0.10
    assert scored["n_false_findings"] == 0  # the better release is no fault


def test_a_better_release_goes_through_every_wave_to_the_whole_fleet(run) -> None:
    _, out = run
    store = Store(out / "store")
    deployments = store.execute(store.table("deployments"))
    good = deployments[deployments.model_version == GOOD].sort_values("event_time")
    assert good.fleet_fraction.tolist() == [0.01, 0.05, 0.25, 1.0]
    decisions = store.execute(store.table("decisions"))
    assert decisions.summary.str.contains(f"{GOOD}: production").any()
    telemetry = store.table("telemetry_daily")
    last = store.execute(telemetry.filter(telemetry.day == telemetry.day.max()))
    assert (last.software_version == GOOD).mean() > 0.99


def test_release_versions_must_be_new_and_unique() -> None:
    twice = RELEASES.replace(GOOD, BAD)
    with pytest.raises(Exception, match="releases: versions must be unique"):
        load_scenario_text(DEFAULT_TEXT + twice)


def test_a_release_every_vehicle_refuses_is_dropped_with_the_reason(tmp_path: Path) -> None:
    store = _rollout_only(tmp_path, f"""
[[releases]]
version = "{BAD}"
day = 3
hardware = ["CAM-Z"]
""", days=8, fleet=2_000)
    reports = store.execute(store.table("ota_reports"))
    assert set(reports.reason) == {"wrong-hardware"} and reports.vehicles.sum() > 1_900
    deployments = store.execute(store.table("deployments")).sort_values("event_time")
    assert deployments.status.tolist() == ["active", "refused"]
    decisions = store.execute(store.table("decisions"))
    assert decisions.summary.str.contains(f"{BAD}: refused by the vehicles "
                                          "\\(wrong-hardware\\)").any()
    telemetry = store.table("telemetry_daily")
    assert store.execute(telemetry.filter(telemetry.software_version == BAD).count()) == 0


def test_a_weld_robot_policy_is_left_to_the_cells_and_holds_up_no_release(
        tmp_path: Path) -> None:
    store = _rollout_only(tmp_path, f"""
[[cell_policies]]
version = "track-2"
day = 2

[[releases]]
version = "{GOOD}"
day = 3
""", days=8, fleet=2_000)
    decisions = store.execute(store.table("decisions"))
    assert not decisions.summary.str.contains("track-2").any()
    assert decisions.summary.str.startswith(f"{GOOD}: canary").any(), decisions.summary


def test_a_release_before_the_first_vehicle_waits_for_it(tmp_path: Path) -> None:
    store = _rollout_only(tmp_path, f"""
[[releases]]
version = "{GOOD}"
day = 0
""", days=14)
    decisions = store.execute(store.table("decisions"))
    assert not decisions.summary.str.contains("refused").any(), decisions.summary
    canary = decisions[decisions.summary.str.startswith(f"{GOOD}: canary")]
    assert len(canary) == 1 and canary.day.iloc[0] > 0


def _rollout_only(tmp_path: Path, extra: str, *, days: int, fleet: int = 0) -> Store:
    """The store of a ``days``-day run of the default scenario plus ``extra`` (TOML), the
    rollout module alone, ``fleet`` vehicles on the road at day 0."""
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(DEFAULT_TEXT + extra, encoding="utf-8")
    run_job(RunOptions(days=days, scenario=scenario, out=tmp_path / "run",
                       modules=("rollout",), fleet=fleet))
    return Store(tmp_path / "run" / "store")
