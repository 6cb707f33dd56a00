"""Process capability: Cp, Cpk (within-subgroup σ) and Pp, Ppk (overall σ), with intervals.

``Cp = (USL - LSL) / 6σ``, ``Cpk = min(USL - μ, μ - LSL) / 3σ``; Pp and Ppk are the same
with the overall sample standard deviation. The within σ is ``MR̄/d2`` for individual
readings and ``R̄/d2(n)`` for subgroups (rows of a 2-D array). Intervals: Cp by the
chi-square pivot, Cpk by Bissell's (1990) normal approximation
``Ĉpk ± z √(1/(9n) + Ĉpk²/(2(n-1)))`` (Montgomery §8.3). They assume a stable normal process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from gigaloop.errors import ModelError
from gigaloop.ml.spc._base import finite_array
from gigaloop.ml.spc.constants import D2, subgroup_size


@dataclass(frozen=True)
class Capability:
    """Capability indices of one characteristic; a one-sided spec leaves Cp and Pp None."""

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    cp: float | None
    cpk: float
    pp: float | None
    ppk: float
    cp_interval: tuple[float, float] | None
    cpk_interval: tuple[float, float]


def cp_interval(cp: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Chi-square interval for Cp from ``n`` readings.

    >>> [round(v, 2) for v in cp_interval(2.29, 20)]  # Montgomery §8.3: n = 20, Ĉp = 2.29
    [1.57, 3.01]
    """
    _check_interval(n, confidence)
    alpha = 1 - confidence
    low = float(stats.chi2.ppf(alpha / 2, n - 1)) / (n - 1)
    high = float(stats.chi2.ppf(1 - alpha / 2, n - 1)) / (n - 1)
    return cp * math.sqrt(low), cp * math.sqrt(high)


def cpk_interval(cpk: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Bissell's approximate interval for Cpk from ``n`` readings.

    >>> [round(v, 2) for v in cpk_interval(1.33, 20)]  # Montgomery §8.3: n = 20, Ĉpk = 1.33
    [0.88, 1.78]
    """
    _check_interval(n, confidence)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    half = z * math.sqrt(1 / (9 * n) + cpk**2 / (2 * (n - 1)))
    return cpk - half, cpk + half


def capability(
    values: ArrayLike,
    lsl: float | None = None,
    usl: float | None = None,
    confidence: float = 0.95,
) -> Capability:
    """Capability of ``values``: 1-D individual readings or 2-D subgroups (one per row).

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(10.0, 0.5, size=200)
    >>> cap = capability(x, lsl=8.0, usl=12.5)
    >>> round(cap.cp, 2), round(cap.cpk, 2), round(cap.ppk, 2)
    (1.59, 1.42, 1.39)
    """
    if lsl is None and usl is None:
        raise ValueError("give at least one specification limit (lsl or usl)")
    if lsl is not None and usl is not None and not lsl < usl:
        raise ValueError(f"lsl must be below usl, got lsl={lsl}, usl={usl}")
    data = finite_array(values, "values")
    if data.ndim == 1:
        sigma_within = float(np.abs(np.diff(data)).mean() / D2[2]) if data.size > 1 else 0.0
    elif data.ndim == 2:
        ranges = data.max(axis=1) - data.min(axis=1)
        sigma_within = float(ranges.mean() / D2[subgroup_size(data.shape[1])])
    else:
        raise ValueError(f"values must be 1-D readings or 2-D subgroups, got shape {data.shape}")
    n = data.size
    if n < 3:
        raise ModelError("capability needs at least 3 readings", readings=n)
    mean, sigma_overall = float(data.mean()), float(data.std(ddof=1))
    if sigma_within <= 0 or sigma_overall <= 0:
        raise ModelError("readings do not vary: capability is undefined", readings=n)
    cp, cpk = _indices(mean, sigma_within, lsl, usl)
    pp, ppk = _indices(mean, sigma_overall, lsl, usl)
    return Capability(
        n=n, mean=mean, sigma_within=sigma_within, sigma_overall=sigma_overall,
        cp=cp, cpk=cpk, pp=pp, ppk=ppk,
        cp_interval=None if cp is None else cp_interval(cp, n, confidence),
        cpk_interval=cpk_interval(cpk, n, confidence),
    )


def _indices(
    mean: float, sigma: float, lsl: float | None, usl: float | None
) -> tuple[float | None, float]:
    sides = [(usl - mean) if usl is not None else math.inf,
             (mean - lsl) if lsl is not None else math.inf]
    potential = None if lsl is None or usl is None else (usl - lsl) / (6 * sigma)
    return potential, min(sides) / (3 * sigma)


def _check_interval(n: int, confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if n < 2:
        raise ModelError("an interval needs at least 2 readings", readings=n)
