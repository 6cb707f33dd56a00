"""Exact tests of counts, vectorised: the (Garwood) interval of a Poisson count, and the
binomial chance that a level's share of some failures is so large.

>>> low, high = poisson_interval([0, 6], [2.0, 1.1])
>>> low.round(2).tolist(), high.round(2).tolist()
([0.0, 2.0], [1.84, 11.87])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special


def poisson_interval(count: ArrayLike, exposure: ArrayLike, *, level: float = 0.95
                     ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(low, high) of the rate ``count / exposure``: χ² quantiles of 2·count and
    2·count + 2, halved (Garwood's exact interval; as regularised incomplete gamma inverses,
    which SciPy's special functions give without loading its statistics); a count of 0 has
    a low of 0. Used for crashes per mile and for a
    level's observed over expected failures (the standardised ratio)."""
    count = np.asarray(count, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    alpha = 1.0 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(count > 0, special.gammaincinv(count, alpha / 2), 0.0) / exposure
        high = special.gammaincinv(count + 1, 1 - alpha / 2) / exposure
    return low, high


def exact_share_p(observed: ArrayLike, expected: ArrayLike, total: ArrayLike
                  ) -> NDArray[np.float64]:
    """The exact chance that at least ``observed`` of ``total`` failures fall in a level
    expected to hold ``expected`` of them (binomial, share ``expected / total``).

    The χ² of a log-rank test is far too small in the tail for a level with few expected
    failures; this is a floor under its p. ``total`` must be the failures of the units the
    test compares (a level against the rest of its attribute, of its build span, of its
    subgroup), not of the whole fleet: with too large a total, a level that holds much of
    the compared units looks like a small one, and its floor is far too high.

    >>> p = exact_share_p([5, 101, 101], [0.7, 86.6, 86.6], [2000, 106, 2000])
    >>> [f"{x:.1e}" for x in p]   # the last: 106 compared failures mistaken for 2,000
    ['7.8e-04', '3.6e-05', '6.6e-02']
    """
    observed = np.asarray(observed, dtype=float)
    total = np.asarray(total, dtype=float)
    share = np.clip(np.asarray(expected, dtype=float) / np.maximum(total, 1.0), 0.0, 1.0)
    return special.bdtrc(observed - 1, total.astype(np.int64), share)  # binom.sf, no overhead
