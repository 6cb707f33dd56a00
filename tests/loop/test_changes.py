"""Engineering changes: campaigns follow a running drift and go out riskiest first."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

from gigaloop.actuate import EngineeringChange, ServiceCampaign
from gigaloop.loop.changes import (
    ChangeConfig,
    advance_changes,
    campaign_priority,
    plan_actions,
    propose_changes,
    top_up_campaigns,
)
from gigaloop.loop.contract import DayContext
from gigaloop.loop.population import Attribute, Population
from gigaloop.loop.state import LoopState


def population(as_of: date, inside: list[bool]) -> Population:
    n = len(inside)
    vin = np.array([f"V{i:03d}" for i in range(n)])
    drift = Attribute("drift:GA-010-T1:torque", "drift", np.array(inside, dtype=np.int32),
                      ["outside", "inside"], {"station": "GA-010", "machine": "GA-010-T1",
                                              "parameter": "torque", "window": ["a", "b"]})
    return Population(as_of, vin, np.full(n, np.datetime64("2025-06-01")),
                      np.full(n, np.datetime64("2025-06-05")), np.zeros(n), np.full(n, "hot"),
                      pd.DataFrame(index=range(n)), [drift], {}, {}, {})


def test_a_running_drift_tops_up_its_campaign_with_units_built_until_the_fix():
    today = date(2025, 9, 1)
    finding = {"id": "F004", "attribute": "drift:GA-010-T1:torque",
               "failure_mode": "paint_trim",
               "names": {"station": "GA-010", "machine": "GA-010-T1", "window": ["a", "b"]}}
    change = {"id": "C004", "finding_id": "F004", "state": "effective"}
    state = LoopState(findings={"k": finding}, changes=[change],
                      campaigned={"C004": {"V000", "V001"}},
                      # the latest scan sees the window reach two more units (built until the fix)
                      population=population(today, [True, True, True, True, False]))
    ctx = DayContext(120, datetime(2025, 9, 1, 23), None)
    decisions = top_up_campaigns(ctx, state, ChangeConfig())
    assert len(decisions) == 1
    action = decisions[0].action
    assert isinstance(action, ServiceCampaign) and action.component == "paint_trim"
    assert action.vins == ("V002", "V003") and change["campaign_vins"] == 4
    assert top_up_campaigns(ctx, state, ChangeConfig()) == []   # nothing new: nothing sent
    small = replace(state, campaigned={"C004": {"V000", "V001"}}, campaign_backlog={})
    capped = top_up_campaigns(DayContext(120, ctx.now, None), small,
                              ChangeConfig(max_campaign_vins=3))
    assert capped[0].action.vins == ("V002",)


def aged_population(shape: float, seed: int = 0) -> Population:
    """3,000 cars in service 0–300 days whose part fails by a Weibull of ``shape``."""
    rng = np.random.default_rng(seed)
    n = 3000
    age = rng.uniform(0, 300, n)
    life = 400.0 * rng.weibull(shape, n)
    failed = np.where(life < age, life, np.nan)
    pop = population(date(2025, 12, 1), [False] * n)
    pop.in_service_days = age
    pop.first_failure_days = {"paint_trim": failed}
    return pop


@pytest.mark.parametrize(("shape", "newest_first"), [(0.5, True), (2.5, False)])
def test_campaigns_call_in_the_cars_likeliest_to_fail_next_first(shape, newest_first):
    pop = aged_population(shape)
    order = campaign_priority(pop, list(pop.vin), "paint_trim")
    age = dict(zip(pop.vin, pop.in_service_days, strict=True))
    first, last = np.mean([age[v] for v in order[:300]]), np.mean([age[v] for v in order[-300:]])
    assert (first < last) == newest_first
    assert sorted(order) == sorted(pop.vin)
    assert campaign_priority(pop, ["NOPE", *order[:1000]], "paint_trim")[-1] == "NOPE"
    assert campaign_priority(pop, order[:5], "paint_trim") == order[:5]  # too few failures


def _drift_finding() -> tuple[Population, LoopState]:
    """3,000 cars of ageing service, all named by one nutrunner-drift finding."""
    pop = aged_population(0.5, seed=1)
    finding = {"id": "F001", "attribute": "x", "failure_mode": "paint_trim", "rank": 1,
               "ci": [2.0, 4.0], "effect": 3.0, "effect_kind": "hazard_ratio", "q": 1e-6,
               "affected_vins": 3000,
               "names": {"station": "GA-010", "machine": "GA-010-T1", "window": ["a", "b"]}}
    return pop, LoopState(findings={"k": finding}, finding_vins={"F001": list(pop.vin)},
                          population=pop)


def test_an_approved_change_sends_its_campaign_in_waves_riskiest_first():
    pop, state = _drift_finding()
    ctx = DayContext(100, datetime(2025, 12, 1, 23), None)
    config = ChangeConfig(review_delay_days=0)
    propose_changes(ctx, state, config)
    decisions = advance_changes(ctx, state, config)
    campaigns = [d.action for d in decisions if isinstance(d.action, ServiceCampaign)]
    assert len(campaigns) == 1 and len(campaigns[0].vins) == 500      # 3,000 in 6 waves
    assert len(state.campaign_backlog["C001"]) == 2500
    age = dict(zip(pop.vin, pop.in_service_days, strict=True))
    assert np.mean([age[v] for v in campaigns[0].vins]) < 100          # the newest cars
    wave = top_up_campaigns(ctx, state, config)
    assert len(wave) == 1 and not set(wave[0].action.vins) & set(campaigns[0].vins)


class _Reviews:
    """A store view holding only ``change_reviews`` rows."""

    def __init__(self, verdicts: dict[str, str]) -> None:
        self.frame = pd.DataFrame({"change_id": list(verdicts), "verdict": list(verdicts.values())})

    def table(self, name: str) -> Any:
        assert name == "change_reviews"
        return ibis.memtable(self.frame)

    def execute(self, expr: Any) -> pd.DataFrame:
        return expr.execute()


@pytest.mark.parametrize(("verdicts", "state"), [
    ({}, "proposed"), ({"C001": "approved"}, "effective"), ({"C001": "rejected"}, "rejected")])
def test_a_reviewed_loop_acts_only_on_a_persons_verdict(verdicts: dict[str, str],
                                                        state: str) -> None:
    _, loop = _drift_finding()
    config = ChangeConfig(review_delay_days=0, approval="reviewed")
    propose_changes(DayContext(100, datetime(2025, 12, 1, 23), None), loop, config)

    ctx = DayContext(130, datetime(2025, 12, 31, 23), _Reviews(verdicts))
    decisions = advance_changes(ctx, loop, config)

    assert loop.changes[0]["state"] == state  # a month on, still waiting without a verdict
    assert bool(decisions) == bool(verdicts)


def test_units_an_inspection_failed_are_reworked_not_its_camera_recalibrated() -> None:
    """The seam vision's failed units fail in the field: the line reworks what it fails
    (and the field's units are serviced); the inspection station itself is not at fault.
    Units it *passed* failing more name no lever."""
    names = {"station": "BW-040", "inspection": "weld_seam", "verdict": "failed"}
    change, campaign = plan_actions({"failure_mode": "body_seam", "names": names},
                                    change_id="C004", day=259, vins=("V1", "V2"))
    assert isinstance(change, EngineeringChange)
    assert change.target == {"station": "BW-040", "inspection": "weld_seam"}
    assert change.description.startswith("rework what the inspection fails")
    assert isinstance(campaign, ServiceCampaign) and campaign.vins == ("V1", "V2")
    passed = {**names, "verdict": "passed"}
    assert plan_actions({"failure_mode": "body_seam", "names": passed}, change_id="C005",
                        day=259, vins=("V1",)) == []
