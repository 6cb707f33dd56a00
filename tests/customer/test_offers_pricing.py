"""The price experiment: revenue per customer over a horizon, always-valid looks, a decision
only when the interval excludes 0; read from the store like the offer experiments."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest
from tests.customer.test_offers import Memory

from gigaloop.customer import pricing
from gigaloop.customer.experiment import look
from gigaloop.loop.contract import DayContext

MONTHS = pricing.billed_months(0.04, 12)
TAU2 = (0.02 * 99.0 * MONTHS) ** 2


def _experiment(rng: np.random.Generator, p_list: float, p_changed: float, *,
                looks: int = 12, batch: int = 250,
                max_per_arm: int = 3000) -> tuple[pricing.PriceExperiment, int]:
    """Batches of ``batch`` per arm, a look after each, until the rule decides; the
    customers each arm had at the decision."""
    exp = pricing.PriceExperiment("fsd", list_price=99.0, price=49.5, months=MONTHS,
                                  churn=0.04)
    changed, listed = np.empty(0), np.empty(0)
    for _ in range(looks):
        changed = np.r_[changed, (rng.random(batch) < p_changed) * 49.5 * MONTHS]
        listed = np.r_[listed, (rng.random(batch) < p_list) * 99.0 * MONTHS]
        if exp.judge(changed, listed, tau2=TAU2, alpha=0.05, max_per_arm=max_per_arm):
            break
    return exp, len(listed)


def test_the_higher_revenue_price_is_adopted_where_the_answer_is_known() -> None:
    """A discount that takes 30 % against 10 % at list earns 1.5× per customer: adopted;
    one that takes 14 % earns 0.7×: list kept, though its conversion is higher."""
    rng = np.random.default_rng(11)
    wins = [_experiment(rng, 0.10, 0.30) for _ in range(20)]
    assert all(e.phase == "decided" and e.adopted == 49.5 for e, _ in wins)
    assert np.median([n for _, n in wins]) < 3000  # decided early, on the interval
    loses = [_experiment(rng, 0.10, 0.14) for _ in range(20)]
    assert all(e.adopted == 99.0 for e, _ in loses)
    # conversion alone would have picked the discount in most of them
    conv = look((rng.random(2000) < 0.14).astype(float), (rng.random(2000) < 0.10).astype(
        float), tau2=0.02**2)
    assert conv is not None and conv.diff > 0


def test_equal_revenue_does_not_switch_until_the_interval_excludes_0() -> None:
    """A discount that exactly doubles conversion earns the same: at most 5 % of
    experiments adopt it (the mSPRT's guarantee over all looks), the rest keep the list
    price once each arm is full, with the interval covering 0."""
    rng = np.random.default_rng(12)
    runs = [_experiment(rng, 0.10, 0.20) for _ in range(60)]
    switched = sum(e.adopted == 49.5 for e, _ in runs)
    assert switched <= 3
    kept = [e for e, _ in runs if e.adopted == 99.0]
    assert len(kept) >= 57 and all(e.phase == "decided" for e in kept)
    undecided = pricing.PriceExperiment("fsd", 99.0, 49.5, MONTHS, 0.04)
    same = np.r_[np.full(50, 49.5 * MONTHS), np.zeros(450)]
    assert undecided.judge(same, np.r_[np.full(25, 99.0 * MONTHS), np.zeros(475)],
                           tau2=TAU2, alpha=0.05, max_per_arm=3000) is None
    assert undecided.phase == "experiment" and undecided.price_now() == 49.5


def _world(n: int, p_list: float, p_changed: float,
           seed: int) -> tuple[Memory, list[str], np.ndarray, int]:
    """A store where ``n`` customers per arm were offered on 2025-03-01 and those who took
    it started FSD at the price of their arm; a holdout of ``n`` started none."""
    rng = np.random.default_rng(seed)
    ids = [f"CU-{i:012x}" for i in range(3 * n)]
    arms = np.repeat(["list", "changed", "holdout"], n)
    took = np.r_[rng.random(n) < p_list, rng.random(n) < p_changed, np.zeros(n, bool)]
    price = np.where(arms == "changed", 49.5, 99.0)
    old = pd.DataFrame({  # an older base whose churn the experiment reads: 3 of 100 a month
        "subscription_id": [f"B{i}" for i in range(100)], "customer_id": "CU-base",
        "product": "fsd", "status": ["ended"] * 9 + ["active"] * 91,
        "started_on": date(2024, 1, 1),
        "ended_on": [date(2025, 3, 10)] * 9 + [None] * 91, "monthly_price_usd": 99.0})
    new = pd.DataFrame({
        "subscription_id": [f"S{i}" for i in range(int(took.sum()))],
        "customer_id": np.asarray(ids)[took], "product": "fsd", "status": "active",
        "started_on": date(2025, 3, 2), "ended_on": None, "monthly_price_usd": price[took]})
    subs = pd.concat([old, new], ignore_index=True)
    subs["ended_on"] = subs.ended_on.astype(object)
    offers = pd.DataFrame({"customer_id": ["x"], "product": ["performance_upgrade"],
                           "price_usd": [2000.0], "accepted": [True],
                           "event_time": [datetime(2025, 3, 5)]})  # someone else's purchase
    return Memory(subscriptions=subs, offers=offers), ids, arms, int(took.sum())


@pytest.mark.parametrize(("p_changed", "adopted"), [(0.30, 49.5), (0.20, 99.0)])
def test_the_decision_is_read_from_the_store_with_its_evidence(p_changed: float,
                                                              adopted: float) -> None:
    store, ids, arms, started = _world(2500, 0.10, p_changed, seed=3)
    cfg = pricing.PricingConfig()
    ctx = DayContext(56, datetime(2025, 3, 31, 6), store)
    exp = pricing.start(ctx, "fsd", 99.0, cfg)
    at_risk_days = 91 * 90 + 9 * 69 + started * 29  # the 90 days before March 31
    assert exp.churn == pytest.approx(9 / (at_risk_days * 12 / 365.25))
    assert exp.months == pytest.approx(pricing.billed_months(exp.churn, 12))
    assert exp.price == 49.5 and exp.price_now() == 49.5
    exp.add(np.asarray(ids), arms, pd.Timestamp("2025-03-01"))
    decisions = pricing.read(ctx, exp, cfg, module="offers", alpha=0.05, horizon_days=14,
                             settle_days=2)
    assert exp.adopted == adopted and exp.price_now() == adopted
    (decision,) = decisions
    evidence = decision.inputs["price_experiment"]
    assert evidence["adopted_price_usd"] == adopted
    low, high = evidence["look"]["changed_minus_list"]["ci"]
    assert (low > 0) if adopted == 49.5 else (low <= 0 <= high)
    assert evidence["look"]["list_minus_holdout"]["diff"] > 0
    assert "CU-" not in str(decision.inputs)  # no customer is named in the evidence
    assert pricing.read(ctx, exp, cfg, module="offers", alpha=0.05, horizon_days=14,
                        settle_days=2) == []  # decided once
