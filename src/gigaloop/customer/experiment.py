"""Randomised offer experiments: sample size up front, and a test one may look at every week.

:func:`sample_size` is the usual two-proportion power calculation (normal approximation,
unpooled variances, unequal arms allowed). :func:`look` reads an experiment through
:func:`gigaloop.ml.confidence_sequence`, the always-valid interval of the mixture
sequential probability ratio test (mSPRT): it covers the true difference at every look at
once, so the experiment may be looked at weekly and stopped at any look without a
correction (normal approximation of the difference of means).

>>> n_t, n_c = sample_size(0.01, 0.03, alpha=0.05, power=0.8)
>>> n_t, n_c
(766, 766)
>>> low, high = confidence_sequence(0.02, 0.0001, tau2=0.02**2, alpha=0.05)
>>> round(low, 4), round(high, 4)
(-0.0108, 0.0508)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri  # the normal quantile (scipy.stats costs 0.6 s to import)

from gigaloop.errors import ConfigError
from gigaloop.ml.sequential import confidence_sequence


def sample_size(p0: float, p1: float, *, alpha: float = 0.05, power: float = 0.8,
                treated_share: float = 0.5) -> tuple[int, int]:
    """Customers needed in (treatment, control) to detect conversion ``p1`` against
    ``p0`` with a two-sided level ``alpha`` test of the given ``power``."""
    if not 0 <= p0 < 1 or not 0 < p1 <= 1 or p0 == p1 or not 0 < treated_share < 1:
        raise ConfigError("need 0 <= p0 < 1, 0 < p1 <= 1, p0 != p1, 0 < treated_share < 1",
                          p0=p0, p1=p1, treated_share=treated_share)
    z = ndtri(1 - alpha / 2) + ndtri(power)
    k = treated_share / (1 - treated_share)  # treated per control
    n_c = z**2 * (p1 * (1 - p1) / k + p0 * (1 - p0)) / (p1 - p0) ** 2
    return math.ceil(k * n_c), math.ceil(n_c)


@dataclass(frozen=True)
class Look:
    """One look at an experiment: per arm n and mean, the difference, its interval."""

    n_treated: int
    n_control: int
    mean_treated: float
    mean_control: float
    diff: float
    ci: tuple[float, float]

    @property
    def significant(self) -> bool:
        return self.ci[0] > 0 or self.ci[1] < 0

    def record(self) -> dict[str, object]:
        return {"n_treated": self.n_treated, "n_control": self.n_control,
                "mean_treated": round(self.mean_treated, 5),
                "mean_control": round(self.mean_control, 5), "diff": round(self.diff, 5),
                "ci": [round(self.ci[0], 5), round(self.ci[1], 5)]}


def look(treated: np.ndarray, control: np.ndarray, *, tau2: float,
         alpha: float = 0.05) -> Look | None:
    """The difference of means of two samples with its always-valid interval (``None``
    until each arm has two values).

    >>> r = look(np.r_[np.ones(60), np.zeros(940)], np.r_[np.ones(5), np.zeros(995)],
    ...          tau2=0.02**2)
    >>> round(r.diff, 3), r.significant
    (0.055, True)
    """
    if len(treated) < 2 or len(control) < 2:
        return None
    s2 = treated.var(ddof=1) / len(treated) + control.var(ddof=1) / len(control)
    diff = float(treated.mean() - control.mean())
    return Look(len(treated), len(control), float(treated.mean()), float(control.mean()),
                diff, confidence_sequence(diff, float(s2), tau2=tau2, alpha=alpha))
