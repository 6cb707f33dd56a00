"""Degradation trends and remaining life (gigaloop.ml.rul) on synthetic degradation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from gigaloop.errors import ModelError
from gigaloop.ml.rul import RulEstimate, fit_degradation


def _press(seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A press-like bearing: flat at 1.2 mm/s, then 6·(Δ/life)² mm/s; the true RUL to 4.5."""
    rng = np.random.default_rng(seed)
    onset, life = rng.uniform(30, 60), rng.uniform(60, 100)
    now = float(int(onset + rng.uniform(0.35, 0.65) * life))
    t = np.arange(0.0, now + 1)
    wear = np.clip((t - onset) / life, 0, None)
    noise = rng.standard_normal((2, t.size)) / 4
    y = 1.2 * (1 + 0.06 * noise[0]) + 6 * wear**2 * (1 + 0.08 * noise[1])
    return t, y, onset + np.sqrt(3.3 / 6) * life - now


def _plausible(hits: list[bool], level: float) -> bool:
    """The hit count of an interval of nominal ``level`` is in the central 99.9 % of its
    binomial distribution: a correct interval fails this one time in a thousand."""
    low, high = binom.interval(0.999, len(hits), level)
    return bool(low <= sum(hits) <= high)


@pytest.mark.parametrize("model", ["power", "exponential"])
def test_exact_trends_are_recovered(model: str) -> None:
    t = np.arange(80.0)
    since = np.clip(t - 30, 0, None)
    y = 2.0 + (0.01 * since**1.5 if model == "power" else 0.2 * np.expm1(0.05 * since))
    trend = fit_degradation(t, y, model=model)
    assert trend.onset == pytest.approx(30, abs=0.5)
    assert trend.level == pytest.approx(2.0, abs=1e-3)
    np.testing.assert_allclose(trend.predict(t), y, atol=1e-3)
    assert trend.sigma < 1e-3


def test_normal_interval_covers_truth_near_nominal_rate() -> None:
    hits = []
    for seed in range(150):
        t, y, truth = _press(seed)
        rul = fit_degradation(t, y).rul(t[-1], 4.5, level=0.9, method="normal", draws=1000)
        hits.append(rul.low <= truth <= rul.high)
    # nominal 0.9: the hit count must lie in the central 99.9 % of Binomial(150, 0.9), i.e.
    # 0.81-0.97 (0.84 measured: normal draws run a little narrow, as rul() says)
    assert _plausible(hits, 0.9)


@pytest.mark.slow
def test_bootstrap_interval_covers_truth_near_nominal_rate() -> None:
    hits = []
    for seed in range(40):
        t, y, truth = _press(seed)
        rul = fit_degradation(t, y).rul(t[-1], 4.5, level=0.9, draws=100, seed=seed)
        hits.append(rul.low <= truth <= rul.high)
    assert _plausible(hits, 0.9)  # Binomial(40, 0.9), central 99.9 %: 0.73-1 (0.875 measured)


def test_failure_probability_grows_with_horizon_and_is_seeded() -> None:
    t, y, truth = _press(3)
    trend = fit_degradation(t, y)
    first, again = (trend.rul(t[-1], 4.5, draws=50, seed=1) for _ in range(2))
    assert first.median == again.median
    probabilities = [first.prob_within(h) for h in (0, truth / 2, truth * 2, 1e6)]
    assert probabilities == sorted(probabilities)
    assert probabilities[-1] == 1.0


def test_a_flat_signal_never_reaches_the_threshold() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(60.0)
    trend = fit_degradation(t, 1.2 + rng.normal(0, 0.01, t.size))
    assert trend.rul(t[-1], 4.5, method="normal").prob_within(30) < 0.05


def test_past_the_threshold_means_no_life_left() -> None:
    t = np.arange(40.0)
    y = 1.0 + 0.01 * np.clip(t - 10, 0, None) ** 2
    assert fit_degradation(t, y).rul(t[-1], 3.0, method="normal").median == 0.0


def test_bad_input_raises() -> None:
    with pytest.raises(ModelError, match="at least 8 points"):
        fit_degradation(np.arange(5.0), np.ones(5))
    with pytest.raises(ModelError, match="distinct time"):
        fit_degradation(np.zeros(10), np.arange(10.0))
    with pytest.raises(ValueError, match="model must be"):
        fit_degradation(np.arange(10.0), np.ones(10), model="linear")
    with pytest.raises(ValueError, match="NaN"):
        fit_degradation(np.arange(10.0), np.r_[np.ones(9), np.nan])
    estimate = RulEstimate(1.0, 0.0, 2.0, 0.9, np.array([1.0]))
    assert estimate.prob_within(1.0) == 1.0
    trend = fit_degradation(np.arange(20.0), np.arange(20.0) ** 2)
    with pytest.raises(ValueError, match="level"):
        trend.rul(0, 10, level=1.5)
    with pytest.raises(ValueError, match="method"):
        trend.rul(0, 10, method="magic")
