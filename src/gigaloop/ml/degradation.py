"""Degradation as a rate: per-unit slopes of a health signal, then a scan of every attribute
level on the rates left over once usage (climate, miles per day, fast charging) is regressed out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from gigaloop.ml._validate import as_codes, as_vector, check_same_length

TRANSFORMS: dict[str, Callable[[NDArray[np.float64]], NDArray[np.float64]]] = {
    "sqrt": np.sqrt, "linear": lambda t: t, "log1p": np.log1p,
}


@dataclass(frozen=True)
class UnitSlopes:
    """Least-squares line per unit: arrays indexed by unit code (NaN where undefined)."""

    slope: NDArray[np.float64]
    intercept: NDArray[np.float64]
    stderr: NDArray[np.float64]
    n_points: NDArray[np.int64]


def unit_slopes(
    unit_idx: ArrayLike, t: ArrayLike, y: ArrayLike, transform: str = "sqrt"
) -> UnitSlopes:
    """Slope of ``y`` against transformed time in service, for every unit at once.

    ``unit_idx`` (n,) unit codes 0..U-1, ``t`` (n,) time in service (>= 0), ``y`` (n,) the
    signal (e.g. battery state of health, %). ``transform`` is ``"sqrt"`` (calendar fade of
    lithium-ion cells goes with √t), ``"linear"`` or ``"log1p"``. Two passes of bincounts
    (means, then centred sums), so millions of rows take well under a second and large times
    lose no precision. Units with fewer than 2 points or one distinct time get NaN; fewer than
    3 points get a NaN ``stderr``.

    >>> days = np.tile([0.0, 100.0, 400.0, 900.0], 2)
    >>> health = np.r_[100 - 0.2 * np.sqrt(days[:4]), 99 - 0.5 * np.sqrt(days[4:])]
    >>> fit = unit_slopes(np.repeat([0, 1], 4), days, health)
    >>> fit.slope, fit.intercept
    (array([-0.2, -0.5]), array([100.,  99.]))
    """
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {sorted(TRANSFORMS)}, got {transform!r}")
    unit = as_codes("unit_idx", unit_idx, np.asarray(unit_idx).size, allow_missing=False)
    if unit.shape[1] != 1:
        raise ValueError("unit_idx must be 1-D")
    unit = unit[:, 0]
    x = TRANSFORMS[transform](as_vector("t", t, nonnegative=True))
    signal = as_vector("y", y)
    check_same_length(unit_idx=unit, t=x, y=signal)
    units = int(unit.max(initial=-1)) + 1
    count = np.bincount(unit, minlength=units)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_x = np.bincount(unit, x, units) / count
        mean_y = np.bincount(unit, signal, units) / count
        dx, dy = x - mean_x[unit], signal - mean_y[unit]
        sxx = np.bincount(unit, dx * dx, units)
        sxy = np.bincount(unit, dx * dy, units)
        syy = np.bincount(unit, dy * dy, units)
        slope = np.where(sxx > 0, sxy / sxx, np.nan)
        residual = np.maximum(syy - slope * sxy, 0.0)
        stderr = np.where(count > 2, np.sqrt(residual / (count - 2) / sxx), np.nan)
    return UnitSlopes(slope, mean_y - slope * mean_x, stderr, count)


def adjusted_rate_scan(
    rates: ArrayLike,
    covariates: ArrayLike | None,
    codes: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Test every level of every attribute on rates adjusted for usage, all at once.

    ``rates`` (m,) one rate per unit (e.g. :func:`unit_slopes` slopes, NaNs dropped first),
    ``covariates`` (m, p) usage (climate one-hot, miles/day, DC fast-charge share; an
    intercept is added, collinear columns are fine) or None, ``codes`` (m, k) level codes
    (-1 = missing), ``weights`` (m,) optional (e.g. 1/stderr²). The rates are regressed on the
    covariates by (weighted) least squares, and each level's residuals are compared with the
    rest of its attribute by Welch's t (weighted means, sandwich variances, Satterthwaite df).
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
    frames = [
        _welch_by_level(residual, weight, level_codes[:, column], column, confidence)
        for column in range(level_codes.shape[1])
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _welch_by_level(
    residual: NDArray, weight: NDArray, code: NDArray, attribute: int, confidence: float
) -> pd.DataFrame:
    """Welch's t of each level of one attribute against the rest, from weighted bincounts."""
    slot = code.astype(np.int64) + 1  # missing (-1) lands in slot 0 and is dropped
    size = int(slot.max(initial=0)) + 1
    w2 = weight**2
    sums = [np.bincount(slot, values, size)[1:] for values in (
        np.ones_like(weight), weight, weight * residual, w2, w2 * residual, w2 * residual**2
    )]
    count, sum_w, sum_wr, sum_w2, sum_w2r, sum_w2r2 = sums
    rest = [level.sum() - level for level in sums]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean, variance = _weighted_mean_variance(count, sum_w, sum_wr, sum_w2, sum_w2r, sum_w2r2)
        mean_rest, variance_rest = _weighted_mean_variance(*rest)
        effect = mean - mean_rest
        spread = variance + variance_rest
        t = effect / np.sqrt(spread)
        df = spread**2 / (variance**2 / (count - 1) + variance_rest**2 / (rest[0] - 1))
    p = 2 * stats.t.sf(np.abs(t), df)
    half_width = stats.t.ppf(0.5 + confidence / 2, df) * np.sqrt(spread)
    frame = pd.DataFrame({
        "attribute": attribute,
        "level": np.arange(count.size),
        "n": count.astype(np.int64),
        "effect": effect,
        "effect_low": effect - half_width,
        "effect_high": effect + half_width,
        "t": t,
        "df": df,
        "p": p,
    })
    return frame[frame["n"] > 0]


def _weighted_mean_variance(
    count: NDArray, sum_w: NDArray, sum_wr: NDArray, sum_w2: NDArray, sum_w2r: NDArray,
    sum_w2r2: NDArray,
) -> tuple[NDArray, NDArray]:
    """Weighted mean and its sandwich variance Σw²(r−m)²/(Σw)² · n/(n−1) (= s²/n unweighted)."""
    mean = sum_wr / sum_w
    squares = np.maximum(sum_w2r2 - 2 * mean * sum_w2r + mean**2 * sum_w2, 0.0)
    return mean, squares / sum_w**2 * count / (count - 1)


__all__ = ["UnitSlopes", "adjusted_rate_scan", "unit_slopes"]
