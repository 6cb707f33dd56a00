"""Degradation as a rate: a scan of every attribute level on per-unit rates (e.g. battery fade
slopes, :func:`gigaloop.fleet.trend_slopes`) left over once usage (climate, miles per day, fast
charging) is regressed out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from gigaloop.ml._validate import as_codes, as_vector, check_same_length


def adjusted_rate_scan(
    rates: ArrayLike,
    covariates: ArrayLike | None,
    codes: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    confidence: float = 0.95,
    prior_df: float = 4.0,
) -> pd.DataFrame:
    """Test every level of every attribute on rates adjusted for usage, all at once.

    ``rates`` (m,) one rate per unit (e.g. fade slopes, NaNs dropped first),
    ``covariates`` (m, p) usage (climate one-hot, miles/day, DC fast-charge share; an
    intercept is added, collinear columns are fine) or None, ``codes`` (m, k) level codes
    (-1 = missing), ``weights`` (m,) optional (e.g. 1/stderr²). The rates are regressed on the
    covariates by (weighted) least squares, and each level's residuals are compared with the
    rest of its attribute by Welch's t (weighted means, sandwich variances, Satterthwaite df).
    Each side's variance is moderated towards what the attribute's pooled spread gives a side
    of its weights, as if from ``prior_df`` more units (Smyth 2004's moderated t; 0: Welch's
    own): a handful of units that happen to agree (two cars with no event) cannot make a
    test certain, and a side of hundreds keeps practically its own variance.
    One row per level: ``attribute``, ``level``, ``n``, ``effect`` (mean residual of the level
    minus the rest, in rate units) with ``effect_low``/``effect_high``, ``t``, ``df``, ``p``.

    >>> rng = np.random.default_rng(0)
    >>> hot = rng.random(400) < 0.5
    >>> shift = np.where(hot, rng.random(400) < 0.8, rng.random(400) < 0.2).astype(int)
    >>> fade = -0.3 - 0.2 * hot + rng.normal(0, 0.05, 400)
    >>> raw = adjusted_rate_scan(fade, None, shift)
    >>> adjusted = adjusted_rate_scan(fade, hot[:, None], shift)
    >>> bool(raw.p[1] < 1e-6), bool(adjusted.p[1] > 0.01)
    (True, True)
    """
    rate = as_vector("rates", rates)
    m = rate.size
    level_codes = as_codes("codes", codes, m)
    weight = np.ones(m) if weights is None else as_vector("weights", weights, nonnegative=True)
    check_same_length(rates=rate, weights=weight)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if not (np.isfinite(prior_df) and prior_df >= 0):
        raise ValueError(f"prior_df must be a finite number ≥ 0 (0: Welch's t), got {prior_df}")
    design = np.ones((m, 1))
    if covariates is not None:
        usage = np.asarray(covariates, dtype=np.float64)
        usage = usage[:, None] if usage.ndim == 1 else usage
        if usage.shape[0] != m or not np.isfinite(usage).all():
            raise ValueError(f"covariates must be finite with {m} rows, got shape {usage.shape}")
        design = np.column_stack([design, usage])
    root = np.sqrt(weight)
    coef = np.linalg.lstsq(design * root[:, None], rate * root, rcond=None)[0]
    residual = rate - design @ coef
    return _welch_by_level(residual, weight, level_codes, confidence, prior_df)


def _welch_by_level(
    residual: NDArray, weight: NDArray, codes: NDArray, confidence: float, prior_df: float
) -> pd.DataFrame:
    """Welch's t of each level of each attribute in ``codes`` (m, k) against the rest of its
    attribute: per attribute, one weighted bincount per sum over its levels (missing codes
    left out), then one vectorised test of every level."""
    k = codes.shape[1]
    sizes = codes.max(axis=0, initial=-1).astype(np.int64) + 1
    offset = np.cumsum(sizes) - sizes
    w2 = weight**2
    values = (np.ones_like(weight), weight, weight * residual, w2, w2 * residual,
              w2 * residual**2)
    stacked = np.empty((len(values), int(sizes.sum())))
    by_attribute = np.ascontiguousarray(codes.T)  # an attribute's codes read in one sweep
    for column, (first, size) in enumerate(zip(offset, sizes, strict=True)):
        if not size:  # every unit missing this attribute
            continue
        level = by_attribute[column]
        level = np.where(level >= 0, level, size)  # missing: one bin past the levels
        for row, value in enumerate(values):
            stacked[row, first:first + size] = np.bincount(level, value, size + 1)[:size]
    attribute = np.repeat(np.arange(k), sizes)
    level = np.arange(stacked.shape[1]) - np.repeat(offset, sizes)
    sums = list(stacked)
    totals = [np.bincount(attribute, values, k)[attribute] for values in sums]
    rest = [total - values for total, values in zip(totals, sums, strict=True)]
    count = sums[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        _, pooled = _weighted_mean_variance(*totals)
        per_weight = pooled * totals[1] ** 2 / totals[3]  # pooled = per_weight · Σw²/(Σw)²
        mean, variance = _moderated(sums, per_weight, prior_df)
        mean_rest, variance_rest = _moderated(rest, per_weight, prior_df)
        effect = mean - mean_rest
        spread = variance + variance_rest
        t = effect / np.sqrt(spread)
        df = spread**2 / (variance**2 / (count - 1 + prior_df)
                          + variance_rest**2 / (rest[0] - 1 + prior_df))
    p = 2 * stats.t.sf(np.abs(t), df)
    half_width = stats.t.ppf(0.5 + confidence / 2, df) * np.sqrt(spread)
    frame = pd.DataFrame({
        "attribute": attribute,
        "level": level,
        "n": np.rint(count).astype(np.int64),
        "effect": effect,
        "effect_low": effect - half_width,
        "effect_high": effect + half_width,
        "t": t,
        "df": df,
        "p": p,
    })
    return frame[frame["n"] > 0]


def _moderated(sums: list[NDArray], per_weight: NDArray,
               prior_df: float) -> tuple[NDArray, NDArray]:
    """Weighted mean and sandwich variance of one side, its variance moderated towards the
    pooled one for its weights (``per_weight`` · Σw²/(Σw)²) with ``prior_df`` degrees of
    freedom against its own n − 1."""
    mean, variance = _weighted_mean_variance(*sums)
    if not prior_df:
        return mean, variance
    count, sum_w, sum_w2 = sums[0], sums[1], sums[3]
    prior = per_weight * sum_w2 / sum_w**2
    own = np.nan_to_num(variance) * (count - 1)
    return mean, (own + prior_df * prior) / (count - 1 + prior_df)


def _weighted_mean_variance(
    count: NDArray, sum_w: NDArray, sum_wr: NDArray, sum_w2: NDArray, sum_w2r: NDArray,
    sum_w2r2: NDArray,
) -> tuple[NDArray, NDArray]:
    """Weighted mean and its sandwich variance Σw²(r−m)²/(Σw)² · n/(n−1) (= s²/n unweighted)."""
    mean = sum_wr / sum_w
    squares = np.maximum(sum_w2r2 - 2 * mean * sum_w2r + mean**2 * sum_w2, 0.0)
    return mean, squares / sum_w**2 * count / (count - 1)


__all__ = ["adjusted_rate_scan"]
