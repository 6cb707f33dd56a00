"""Scenes in the twin: uploads keep to each vehicle's budgets, campaigns find more useful
scenes per MB than random upload, and a version's quality follows its model's misses."""

from __future__ import annotations

import numpy as np

from gigaloop.actuate.driving_model import CONDITIONS, starting_rule
from gigaloop.twin.scenes import SCENES_PER_VEHICLE, Scenes


def _day(scenes: Scenes, n: int = 400) -> dict:
    rng = np.random.default_rng(1)
    up = scenes.day(np.arange(n), np.zeros(n, np.int16), ["2025.20.1"], rng.random(n),
                    np.full(n, 0.3), np.full(n, 0.3), np.zeros(n), np.ones(n))
    assert up is not None
    return up


def _campaigns() -> tuple[dict, ...]:
    return tuple({"name": f"{c}_disagree", "where": {**CONDITIONS[c], "disagree": 1},
                  "mb_per_scene": 4.0} for c in ("night", "construction"))


def test_uploads_keep_to_each_vehicles_daily_budgets() -> None:
    scenes = Scenes(np.random.default_rng(0), campaigns=_campaigns(), budget_mb=8.0,
                    random_budget_mb=10.0)
    up = _day(scenes)
    for arm, budget in (("campaign", 8.0), ("random", 10.0)):
        on = up["arm"] == arm
        spent = np.bincount(up["owner"][on], weights=up["size_mb"][on])
        assert spent.max() <= budget
    assert (up["arm"] == "random").sum() == 400 * 2      # 10 MB = two 5 MB scenes each
    campaign = up["arm"] == "campaign"
    assert set(up["campaign"][campaign]) <= {"night_disagree", "construction_disagree"}
    assert (up["night"][campaign] + up["construction"][campaign] >= 1).all()
    assert len(up["arm"]) <= 400 * SCENES_PER_VEHICLE


def test_campaigns_find_more_missed_hazards_per_mb_than_random_upload() -> None:
    scenes = Scenes(np.random.default_rng(0), campaigns=_campaigns())
    up = _day(scenes, 1500)
    useful = up["hazard"] & ~up["flag"]
    yields = {arm: useful[up["arm"] == arm].sum() / up["size_mb"][up["arm"] == arm].sum()
              for arm in ("campaign", "random")}
    assert yields["campaign"] > 5 * yields["random"]


def test_no_campaign_means_random_uploads_only() -> None:
    up = _day(Scenes(np.random.default_rng(0)))
    assert set(up["arm"]) == {"random"}


def test_a_model_that_misses_less_lowers_crash_and_rain_multipliers() -> None:
    scenes = Scenes(np.random.default_rng(0))
    eager = starting_rule().with_cut(-10.0)   # flags every scene: no miss, many alarms
    quality = scenes.register("eager", eager.to_bytes())
    assert quality.crash < 0.01 and quality.disengagement > quality.crash
    start = scenes.register("same", starting_rule().to_bytes())
    assert abs(start.crash - 1.0) < 1e-9 and abs(start.disengagement - 1.0) < 1e-9
    assert scenes.truth["eager"]["false_alarm_rate"] > scenes.truth["same"]["false_alarm_rate"]


def test_the_shadow_candidate_is_logged_but_production_decides() -> None:
    scenes = Scenes(np.random.default_rng(0))
    scenes.register("eager", starting_rule().with_cut(-10.0).to_bytes())
    scenes.shadow = ("eager", 0.5)
    up = _day(scenes)
    shadow = up["in_shadow"]
    assert 0 < shadow.mean() < 1
    assert up["shadow_flag"][shadow].all()          # the candidate flags everything …
    assert not up["flag"].all()                     # … and production still decides
    assert not up["shadow_flag"][~shadow].any()


def test_a_campaign_naming_a_column_vehicles_lack_is_refused_with_the_reason() -> None:
    from datetime import date

    from gigaloop.actuate import TriggerCampaigns
    from gigaloop.twin.fleet import Fleet

    fleet = Fleet(start_date=date(2025, 1, 1), rng=np.random.default_rng(0), units_per_day=10)
    bad = TriggerCampaigns(day=1, campaigns=({"name": "fog", "where": {"fog": 1}},))
    receipt = fleet.apply(bad)
    assert not receipt.accepted and "unknown scene column 'fog'" in receipt.detail
    negative = TriggerCampaigns(day=1, campaigns=({"name": "rain", "where": {"rain": 1},
                                                   "mb_per_scene": -1.0},))
    assert "mb_per_scene must be > 0" in fleet.apply(negative).detail
    good = TriggerCampaigns(day=1, campaigns=({"name": "rain", "where": {"rain": 1}},))
    assert fleet.apply(good).accepted
