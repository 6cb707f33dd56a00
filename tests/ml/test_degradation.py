"""adjusted_rate_scan against Welch's t, weights, a confounder, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gigaloop.ml import adjusted_rate_scan


def test_welch_per_level_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    rates = rng.normal(0, 1, 500) + np.r_[np.zeros(450), np.full(50, 0.5)]
    codes = np.c_[rng.integers(-1, 3, 500), np.r_[np.zeros(450, int), np.ones(50, int)]]
    scan = adjusted_rate_scan(rates, None, codes, prior_df=0)
    for row in scan.itertuples():
        present = codes[:, row.attribute] >= 0
        group = codes[:, row.attribute] == row.level
        reference = stats.ttest_ind(rates[group], rates[present & ~group], equal_var=False)
        assert row.t == pytest.approx(reference.statistic, rel=1e-9)
        assert row.p == pytest.approx(reference.pvalue, rel=1e-9)
        assert row.df == pytest.approx(reference.df, rel=1e-9)
        low, high = reference.confidence_interval(0.95)
        assert (row.effect_low, row.effect_high) == pytest.approx((low, high), rel=1e-9)


def test_a_few_units_that_agree_cannot_make_a_test_certain() -> None:
    """Two cars with no event among a thousand with rain-disengagement rates: Welch's t
    alone takes their zero spread at its word (p ≈ 0); moderated, the test is uncertain, and
    a real difference in a group of hundreds is still found."""
    rng = np.random.default_rng(3)
    miles = rng.uniform(25, 400, 1_002)
    rate = rng.poisson(0.0125 * miles) / miles
    rate[-2:] = 0.0
    codes = np.r_[np.zeros(1_000, int), np.ones(2, int)]
    welch = adjusted_rate_scan(rate, None, codes, miles, prior_df=0)
    moderated = adjusted_rate_scan(rate, None, codes, miles)
    assert welch.p.min() < 1e-10 and moderated.p.min() > 0.05
    real = rng.poisson(np.where(np.arange(1_002) < 300, 0.02, 0.0125) * miles) / miles
    group = (np.arange(1_002) < 300).astype(int)
    assert adjusted_rate_scan(real, None, group, miles).p.min() < 1e-6


def test_weights_of_one_change_nothing_and_scale_does_not_matter() -> None:
    rng = np.random.default_rng(2)
    rates, codes = rng.normal(size=300), rng.integers(0, 4, (300, 2))
    usage = rng.normal(size=(300, 2))
    plain = adjusted_rate_scan(rates, usage, codes)
    ones = adjusted_rate_scan(rates, usage, codes, np.ones(300))
    weights = rng.uniform(0.5, 2.0, 300)
    weighted = adjusted_rate_scan(rates, usage, codes, weights)
    scaled = adjusted_rate_scan(rates, usage, codes, 10 * weights)
    np.testing.assert_allclose(ones[["effect", "t", "p"]], plain[["effect", "t", "p"]], rtol=1e-10)
    np.testing.assert_allclose(scaled[["effect", "t"]], weighted[["effect", "t"]], rtol=1e-9)


def test_a_shift_sent_to_hot_climates_is_not_a_cause_once_climate_is_a_covariate() -> None:
    rng = np.random.default_rng(3)
    m = 20_000
    climate = rng.choice(3, m, p=[0.5, 0.3, 0.2])  # temperate, cold, hot
    hot = climate == 2
    shift = np.where(hot, rng.random(m) < 0.8, rng.random(m) < 0.25).astype(int)
    lot = rng.integers(0, 40, m)
    miles_per_day = rng.gamma(4, 10, m)
    fade = (-0.25 - 0.15 * hot - 0.002 * miles_per_day - 0.08 * (lot == 17)
            + rng.normal(0, 0.05, m))
    codes = np.c_[shift, lot]
    usage = np.c_[np.eye(3)[climate], miles_per_day]  # full one-hot: collinear with intercept
    raw = adjusted_rate_scan(fade, None, codes)
    adjusted = adjusted_rate_scan(fade, usage, codes)
    shift_raw, shift_adjusted = raw[raw.attribute == 0], adjusted[adjusted.attribute == 0]
    assert shift_raw.p.max() < 1e-50
    assert shift_adjusted.p.min() > 0.01
    bad_lot = adjusted[(adjusted.attribute == 1) & (adjusted.level == 17)].iloc[0]
    assert bad_lot.p < 1e-50 and adjusted.p.idxmin() == bad_lot.name
    assert bad_lot.effect_low < -0.08 < bad_lot.effect_high


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="NaN"):
        adjusted_rate_scan([0.1, np.nan], None, [0, 1])
    with pytest.raises(ValueError, match="covariates must be finite with 2 rows"):
        adjusted_rate_scan([0.1, 0.2], [[1.0, 2.0, 3.0]], [0, 1])
    with pytest.raises(ValueError, match="same length"):
        adjusted_rate_scan([0.1, 0.2], None, [0, 1], weights=[1.0])
    with pytest.raises(ValueError, match="prior_df must be a finite number"):
        adjusted_rate_scan([0.1, 0.2], None, [0, 1], prior_df=-1.0)
