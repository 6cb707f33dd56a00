"""Difference in differences of rates, with a vehicle-level Poisson bootstrap interval.

Each unit contributes a numerator and a denominator before and after its own split
(a service visit, a change's effective day): failures and days at risk, disengagements
and rain miles, capacity lost and days. The effect is the ratio of rate ratios,
(after/before among treated) ÷ (after/before among controls): < 1 means the treated
units improved more than the controls did over the same ageing. A period with no event
at all counts half of one (Haldane's correction), so "none since" still has an interval.

>>> rng = np.random.default_rng(1)
>>> n = 4000
>>> treated = np.arange(n) < 1000
>>> days_before, days_after = np.full(n, 100.0), np.full(n, 100.0)
>>> before = rng.poisson(np.where(treated, 0.04, 0.01) * 100)
>>> after = rng.poisson(np.where(treated, 0.01, 0.012) * 100)
>>> effect = rate_ratio_did(before, days_before, after, days_after, treated)
>>> round(effect.ratio, 2), effect.high < 1
(0.2, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from gigaloop.errors import ModelError


@dataclass(frozen=True)
class DidEffect:
    """Ratio of rate ratios with its bootstrap interval, and the four rates behind it."""

    ratio: float
    low: float
    high: float
    treated_before: float
    treated_after: float
    control_before: float
    control_after: float
    n_treated: int
    n_control: int


def rate_ratio_did(
    numer_before: ArrayLike,
    denom_before: ArrayLike,
    numer_after: ArrayLike,
    denom_after: ArrayLike,
    treated: ArrayLike,
    *,
    confidence: float = 0.95,
    n_boot: int = 400,
    seed: int = 0,
) -> DidEffect:
    """(Σn₁/Σd₁ ÷ Σn₀/Σd₀) among treated over the same among controls; see the module doc."""
    parts = [np.asarray(a, dtype=np.float64) for a in
             (numer_before, denom_before, numer_after, denom_after)]
    group = np.asarray(treated, dtype=bool)
    if any(p.shape != group.shape for p in parts):
        raise ValueError("all arrays must have one value per unit")
    if group.all() or not group.any():
        raise ModelError("difference in differences needs treated and control units")
    stacked = np.stack(parts)  # (4, n)
    weights = np.random.default_rng(seed).poisson(1.0, (n_boot + 1, group.size)).astype(float)
    weights[0] = 1.0  # row 0 is the estimate itself
    sums_t = weights @ (stacked * group).T  # (n_boot + 1, 4); the mask on the 4 × n sums,
    sums_c = weights @ (stacked * ~group).T  # not on the (n_boot + 1) × n weights
    for sums in (sums_t, sums_c):  # a period with no events counts half of one (Haldane)
        numerators = sums[:, [0, 2]]
        numerators[numerators == 0] = 0.5
        sums[:, [0, 2]] = numerators
    with np.errstate(divide="ignore", invalid="ignore"):
        rates_t = sums_t[:, [0, 2]] / sums_t[:, [1, 3]]
        rates_c = sums_c[:, [0, 2]] / sums_c[:, [1, 3]]
        ratio = (rates_t[:, 1] / rates_t[:, 0]) / (rates_c[:, 1] / rates_c[:, 0])
    if not np.isfinite(ratio[0]):
        raise ModelError("a rate is zero or undefined: too few events or no exposure")
    boot = ratio[1:][np.isfinite(ratio[1:])]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(boot, [tail, 100 - tail]) if boot.size else (np.nan, np.nan)
    return DidEffect(float(ratio[0]), float(low), float(high), float(rates_t[0, 0]),
                     float(rates_t[0, 1]), float(rates_c[0, 0]), float(rates_c[0, 1]),
                     int(group.sum()), int((~group).sum()))
