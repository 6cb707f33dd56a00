"""Customers: driver profiles, regions, subscriptions and ratings."""

from __future__ import annotations

import numpy as np
import pytest

from gigaloop.twin import customers as cust
from gigaloop.twin.climate import CLIMATE_INDEX, REGION_CLIMATE


def test_drivers_follow_the_published_averages():
    drivers = cust.draw_drivers(np.random.default_rng(0), np.zeros(50_000))
    annual = drivers["mean_miles"] * cust.DRIVE_PROBABILITY * 365
    assert annual.mean() == pytest.approx(13_500, rel=0.03)         # FHWA
    assert drivers["ap_share"].mean() == pytest.approx(0.25, abs=0.01)  # MIT AVT
    shares = np.bincount(drivers["style"], minlength=3) / 50_000
    assert shares == pytest.approx(cust.STYLE_SHARE, abs=0.01)
    for name in ("hard_braking", "unsafe_following", "speeding"):
        calm = drivers[name][drivers["style"] == 0].mean()
        aggressive = drivers[name][drivers["style"] == 2].mean()
        assert aggressive > 3 * calm
        assert drivers[name].max() <= cust.MEASURE_CAP


def test_hot_bias_moves_customers_to_hot_regions():
    rng = np.random.default_rng(1)
    plain = cust.draw_drivers(rng, np.zeros(20_000))["region"]
    biased = cust.draw_drivers(rng, np.full(20_000, 0.55))["region"]
    hot = CLIMATE_INDEX["hot"]
    base = (REGION_CLIMATE[plain] == hot).mean()
    assert (REGION_CLIMATE[biased] == hot).mean() == pytest.approx(0.55 + 0.45 * base, abs=0.02)


def test_subscriptions_hold_the_fsd_take_rate_and_churn_more_when_unhappy():
    rng = np.random.default_rng(2)
    subs = cust.Subscriptions()
    subs.grow(20_000)
    subs.deliver(rng, np.arange(20_000), 0)
    content = np.zeros(20_000, bool)
    ended = {True: 0, False: 0}
    held = {True: 0, False: 0}                 # subscriber-days, the churn's exposure
    for day in range(1, 366):
        held[False] += sum(int((a >= 0).sum()) for a in subs.active.values())
        events = subs.step(rng, day, content)
        ended[False] += int((events.ended >= 0).sum())
    assert (subs.active["fsd"] >= 0).mean() == pytest.approx(0.12, abs=0.02)
    assert subs.revenue_usd > 20_000 * 0.12 * 99 * 11
    unhappy = cust.Subscriptions()
    unhappy.grow(20_000)
    unhappy.deliver(np.random.default_rng(2), np.arange(20_000), 0)
    for day in range(1, 366):
        held[True] += sum(int((a >= 0).sum()) for a in unhappy.active.values())
        events = unhappy.step(rng, day, ~content)
        ended[True] += int((events.ended >= 0).sum())
    # per subscriber-day (the unhappy pool shrinks, so counts alone say less): ×3
    assert ended[True] / held[True] > 2 * ended[False] / held[False]


def test_ratings_drop_after_failures_and_more_when_stranded():
    rng = np.random.default_rng(3)
    n = 5000
    content = cust.feedback_ratings(rng, np.zeros(n, bool)).mean()
    failed = cust.feedback_ratings(rng, np.ones(n, bool)).mean()
    stranded = cust.feedback_ratings(rng, np.ones(n, bool), np.ones(n, bool)).mean()
    assert content > failed > stranded
    assert 4.0 < content < 4.5
