"""The exact (Garwood) interval of a Poisson count, vectorised.

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
