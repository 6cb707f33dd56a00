"""rate_window and mean_shift_window: planted windows are found, null data is not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gigaloop.ml import mean_shift_window, rate_window


def _planted_rates(seed: int, days: int = 365, start: int = 150, stop: int = 165):
    """~1,000 vehicles a day, 0.8 % failing, 2x that for the planted build window."""
    rng = np.random.default_rng(seed)
    built = rng.integers(700, 1300, days)
    rate = np.full(days, 0.008)
    rate[start:stop] *= 2.0
    return rng.binomial(built, rate), built


@pytest.mark.parametrize("model", ["poisson", "binomial"])
def test_planted_rate_window_is_recovered_within_two_days(model: str) -> None:
    errors = []
    for seed in range(10):
        counts, built = _planted_rates(seed)
        window = rate_window(counts, built, model=model, n_sim=19, seed=seed)
        errors.append(max(abs(window.start - 150), abs(window.stop - 165)))
        assert window.inside / window.outside == pytest.approx(2.0, rel=0.25)
    assert sum(error <= 2 for error in errors) >= 9 and max(errors) <= 4, errors
    assert rate_window(*_planted_rates(1), model=model).p == pytest.approx(1 / 200)


def test_planted_mean_shift_is_recovered_within_two_days() -> None:
    errors = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        readings = rng.integers(50, 200, 240)
        daily_mean = 12.0 + rng.normal(0, 4, 240) / np.sqrt(readings)
        daily_mean[90:110] += 0.8  # about 2.2 standard errors of a day's mean
        window = mean_shift_window(daily_mean, readings, n_sim=19, seed=seed)
        errors.append(max(abs(window.start - 90), abs(window.stop - 110)))
        assert window.inside - window.outside == pytest.approx(0.8, abs=0.2)
    assert sum(error <= 2 for error in errors) >= 9 and max(errors) <= 4, errors
    assert mean_shift_window(daily_mean, readings).p == pytest.approx(1 / 200)


def test_no_window_gives_large_p_values() -> None:
    rng = np.random.default_rng(42)
    rate_p, mean_p = [], []
    for seed in range(20):
        built = rng.integers(700, 1300, 120)
        rate_p.append(rate_window(rng.binomial(built, 0.01), built, n_sim=99, seed=seed).p)
        mean_p.append(mean_shift_window(rng.normal(0, 1, 120), n_sim=99, seed=seed).p)
    for p in (np.array(rate_p), np.array(mean_p)):
        assert np.mean(p <= 0.1) <= 0.25
        assert np.median(p) > 0.25


def _direct_poisson_llr(counts, exposure, start, stop):
    inside = np.zeros(counts.size, bool)
    inside[start:stop] = True
    rate_in = counts[inside].sum() / exposure[inside].sum()
    rate_out = counts[~inside].sum() / exposure[~inside].sum()
    rate_all = counts.sum() / exposure.sum()
    fitted = np.where(inside, rate_in, rate_out) * exposure
    return (stats.poisson.logpmf(counts, fitted) - stats.poisson.logpmf(counts,
            rate_all * exposure)).sum()


def _direct_binomial_llr(counts, units, start, stop):
    inside = np.zeros(counts.size, bool)
    inside[start:stop] = True
    p_in = counts[inside].sum() / units[inside].sum()
    p_out = counts[~inside].sum() / units[~inside].sum()
    p_all = counts.sum() / units.sum()
    fitted = np.where(inside, p_in, p_out)
    return (stats.binom.logpmf(counts, units, fitted) - stats.binom.logpmf(counts, units,
            p_all)).sum()


@pytest.mark.parametrize(("model", "direct"), [("poisson", _direct_poisson_llr),
                                               ("binomial", _direct_binomial_llr)])
def test_best_window_and_llr_match_brute_force(model: str, direct) -> None:
    rng = np.random.default_rng(9)
    built = rng.integers(20, 60, 30)
    counts = rng.binomial(built, np.where(np.arange(30) >= 20, 0.25, 0.1))
    built[4] = 0 if model == "poisson" else built[4]  # a day without exposure
    counts[4] = 0 if model == "poisson" else counts[4]
    window = rate_window(counts, built, model=model, min_len=3, n_sim=9)
    best = max(
        (direct(counts, built, a, b), a, b)
        for a in range(31) for b in range(a + 3, 31) if 30 - (b - a) >= 3
    )
    assert window.llr == pytest.approx(best[0], rel=1e-9)
    # a window and its complement tie when the complement is a window too
    assert window.llr == pytest.approx(direct(counts, built, window.start, window.stop), rel=1e-9)


def test_greater_looks_only_for_higher_rates() -> None:
    counts, built = _planted_rates(1)
    counts[150:165] = 0  # the planted window now has no failures at all
    two_sided = rate_window(counts, built)
    greater = rate_window(counts, built, alternative="greater")
    assert (two_sided.start, two_sided.inside) == (150, 0.0)
    assert greater.inside > greater.outside


@pytest.mark.parametrize(
    ("counts", "exposure", "kwargs", "message"),
    [
        ([1, 2, 3, 4, 5, 6], [9, 9, 9, 9, 9], {}, "differ in length"),
        ([1, 2, 3, 4, 5, 6], [9] * 6, {"min_len": 4}, "min_len"),
        ([1, 2, 3, 4, 5, 6], [0, 9, 9, 9, 9, 9], {}, "zero exposure"),
        ([1, 2, 3, 4, 5, 6], [9, 9, 9, 2, 9, 9], {"model": "binomial"}, "at least"),
        ([0.5, 2, 3, 4, 5, 6], [9] * 6, {}, "whole numbers"),
        ([0] * 6, [9] * 6, {}, "no events"),
        ([1] * 6, [9] * 6, {"model": "normal"}, "model must be"),
    ],
)
def test_rate_window_bad_input(counts, exposure, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        rate_window(counts, exposure, **kwargs)


def test_mean_shift_bad_input() -> None:
    with pytest.raises(ValueError, match="weights must be > 0"):
        mean_shift_window([1.0, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="constant"):
        mean_shift_window(np.ones(10))
    with pytest.raises(ValueError, match="aggregate to weeks"):
        mean_shift_window(np.arange(6000.0))


def test_max_len_bounds_the_search() -> None:
    counts, built = _planted_rates(2)
    window = rate_window(counts, built, max_len=20, n_sim=19)
    assert (window.start, window.stop) == (150, 165)
    short = rate_window(counts, built, max_len=10, n_sim=19)
    assert short.stop - short.start <= 10 and 150 <= short.start < short.stop <= 165
    with pytest.raises(ValueError, match="max_len"):
        rate_window(counts, built, min_len=5, max_len=4)
