"""Drivers differ: a small canary weighted by its vehicles' own rates before the release
keeps the rollout test's error at α, where counting its miles as the fleet's does not."""

from __future__ import annotations

import numpy as np
import pytest

from gigaloop.fleet.vehicle_rates import VehicleRates
from gigaloop.ml import RateRatioTest

FLEET, CANARY = 5_000, 50  # a 1 % canary
MILES_A_DAY, RATE = 40.0, 0.01  # disengagements a mile: 0.4 a vehicle-day
BEFORE_DAYS, WAVE_DAYS = 28, 28


def canary_decisions(rng: np.random.Generator, ratio: float, trials: int,
                     weighted: bool) -> list[str | None]:
    """Each trial: drivers' rates from a gamma (coefficient of variation 1), four weeks
    of history, then a canary of 50 random vehicles on a release ``ratio`` × their own
    rate, looked at every day for four weeks."""
    vins = np.array([f"V{i:05d}" for i in range(FLEET)], dtype=object)
    out = []
    for _ in range(trials):
        risk = rng.gamma(1.0, 1.0, FLEET)
        history = VehicleRates()
        miles = np.full(FLEET, MILES_A_DAY * BEFORE_DAYS)
        history.add(vins, rng.poisson(risk * RATE * miles), miles)
        weight = history.relative_risk().of(vins) if weighted else np.ones(FLEET)
        on = np.zeros(FLEET, dtype=bool)
        on[rng.choice(FLEET, CANARY, replace=False)] = True
        test = RateRatioTest(alpha=0.05, margin=0.1)
        expected = risk * RATE * MILES_A_DAY  # a day's disengagements per vehicle
        for _ in range(WAVE_DAYS):
            events = rng.poisson([ratio * expected[on].sum(), expected[~on].sum()])
            exposure = [MILES_A_DAY * weight[on].sum(), MILES_A_DAY * weight[~on].sum()]
            if test.update(events[0], exposure[0], events[1], exposure[1]) is not None:
                break
        out.append(test.decision)
    return out


@pytest.mark.slow
def test_weighting_by_each_vehicle_s_own_rate_keeps_false_rollbacks_at_alpha() -> None:
    rng = np.random.default_rng(5)
    weighted = canary_decisions(rng, 1.0, 300, weighted=True)
    plain = canary_decisions(rng, 1.0, 300, weighted=False)
    bound = 0.05 + 3 * np.sqrt(0.05 * 0.95 / 300)
    false_weighted, false_plain = (d.count("harm") / 300 for d in (weighted, plain))
    print(f"false rollbacks: weighted {false_weighted:.3f}, miles alone {false_plain:.3f}")
    assert false_weighted <= bound
    assert false_plain > bound  # the problem the weights solve is real at this canary


def test_a_worse_release_is_still_rolled_back_when_weighted() -> None:
    decisions = canary_decisions(np.random.default_rng(6), 1.4, 40, weighted=True)
    assert decisions.count("harm") / len(decisions) >= 0.9


def test_a_vehicle_with_no_history_or_a_fleet_without_spread_weighs_one() -> None:
    rates = VehicleRates()
    rates.add(["A", "B", "C"], [4, 4, 4], [100.0, 100.0, 100.0])  # no spread beyond Poisson
    assert rates.relative_risk().of(["A", "Z"]).tolist() == [1.0, 1.0]
    assert VehicleRates().relative_risk().of(["A"]).tolist() == [1.0]


def test_batches_add_up_per_vehicle_in_any_order() -> None:
    one, two = VehicleRates(), VehicleRates()
    one.add(["A", "B", "A"], [1, 2, 3], [10.0, 20.0, 30.0])
    two.add(["B"], [2], [20.0])
    two.add(["A", "A"], [3, 1], [30.0, 10.0])
    assert dict(zip(one.index, one.events, strict=True)) == {"A": 4.0, "B": 2.0}
    assert dict(zip(two.index, two.exposure, strict=True)) == {"B": 20.0, "A": 40.0}


def test_bad_input_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="same length"):
        VehicleRates().add(["A"], [1, 2], [1.0])
    with pytest.raises(ValueError, match=">= 0"):
        VehicleRates().add(["A"], [-1], [1.0])
