"""The always-valid rate-ratio test: its error rate holds over many looks at a staged
rollout, it finds a real harm and a real improvement, and refuses bad input; and the weld
guard's difference-of-means test."""

from __future__ import annotations

import numpy as np
import pytest

from gigaloop.ml.sequential import MeanDifferenceTest, RateRatioTest

#: A staged rollout: the candidate's share of the miles each week (waves 1 %, 10 %, 50 %).
WAVES = [0.01] * 4 + [0.10] * 8 + [0.50] * 40
MILES_PER_WEEK = 20e6
INCUMBENT_RATE = 1.5e-6  # events a mile: ~30 a week over the fleet


def decisions(rng: np.random.Generator, ratio: float, trials: int, *,
              drifting: bool = False) -> list[str | None]:
    """Each trial's decision after every weekly look; the incumbent's rate may wander
    from week to week (it cancels: only the candidate's share of each week is tested)."""
    out = []
    for _ in range(trials):
        test = RateRatioTest(alpha=0.05, margin=0.1)
        for share in WAVES:
            base = INCUMBENT_RATE * (rng.lognormal(0, 0.3) if drifting else 1.0)
            miles = np.array([share, 1 - share]) * MILES_PER_WEEK
            events = rng.poisson(base * miles * [ratio, 1.0])
            if test.update(events[0], miles[0], events[1], miles[1]) is not None:
                break
        out.append(test.decision)
    return out


@pytest.mark.slow
def test_looking_every_week_keeps_each_error_at_alpha() -> None:
    rng = np.random.default_rng(1)
    at_one = decisions(rng, 1.0, 600, drifting=True)
    harm_rate = at_one.count("harm") / len(at_one)  # a false rollback
    at_margin = decisions(rng, 1.1, 600)
    promoted = at_margin.count("no_worse") / len(at_margin)  # a candidate 10 % worse passed
    print(f"false harm {harm_rate:.3f}, false no-worse {promoted:.3f}")
    # α = 0.05 plus three binomial standard errors of 600 trials
    assert harm_rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 600)
    assert promoted <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 600)


def test_a_worse_candidate_is_rolled_back_and_a_better_one_promoted() -> None:
    rng = np.random.default_rng(2)
    worse = decisions(rng, 1.6, 100)
    better = decisions(rng, 0.7, 100)
    assert worse.count("harm") / len(worse) >= 0.9
    assert better.count("no_worse") / len(better) >= 0.9
    assert worse.count("no_worse") == better.count("harm") == 0


def test_bad_input_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="alpha"):
        RateRatioTest(alpha=1.5)
    with pytest.raises(ValueError, match="largest_ratio"):
        RateRatioTest(margin=0.2, largest_ratio=1.1)
    test = RateRatioTest()
    with pytest.raises(ValueError, match="finite and >= 0"):
        test.update(-1, 1.0, 0, 1.0)
    with pytest.raises(ValueError, match="exposure on both arms"):
        test.update(3, 1e6, 2, 0.0)
    assert test.update(0, 0.0, 0, 0.0) is None and np.isnan(test.ratio)


def test_the_mean_difference_test_refuses_settings_that_cannot_decide() -> None:
    for bad in ({"alpha": 0.0}, {"margin": 0.0}, {"effect": -1.0}):
        with pytest.raises(ValueError):
            MeanDifferenceTest(**bad)


def test_the_mean_difference_test_stays_valid_when_read_every_day() -> None:
    rng = np.random.default_rng(3)
    harmed = 0
    for _ in range(200):  # the same process on both arms, looked at 60 times
        test = MeanDifferenceTest(alpha=0.05)
        for _ in range(60):
            test.update(np.abs(rng.normal(0, 1, 30)), np.abs(rng.normal(0, 1, 150)))
        harmed += test.decision == "harm"
    assert harmed / 200 <= 0.05
