"""Average run lengths by Markov chain, to design a chart before running it.

The in-control ARL (ARL₀) is the mean number of readings to a false alarm, ARL₁ the mean
number to detect a sustained shift of ``shift`` σ. The chart statistic's range is cut into
``states`` cells and ``ARL = (I - P)⁻¹ 1`` (Brook & Evans 1972 for CUSUM; Lucas & Saccucci
1990 for EWMA). Two-sided CUSUM combines the one-sided ARLs by
``1/ARL = 1/ARL⁺ + 1/ARL⁻`` (Lucas & Crosier 1982), exact for in-control symmetric sums
and a close approximation otherwise.

>>> round(shewhart_arl(3.0), 1), round(cusum_arl(0.5, 5.0)), round(ewma_arl(0.1, 2.814))
(370.4, 465, 499)
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def shewhart_arl(L: float = 3.0, shift: float = 0.0) -> float:
    """ARL of a chart signalling outside ``±L σ`` on individual readings."""
    p = stats.norm.sf(L - shift) + stats.norm.cdf(-L - shift)
    return float(1.0 / p)


def _solve(transition: np.ndarray) -> np.ndarray:
    return np.linalg.solve(np.eye(len(transition)) - transition, np.ones(len(transition)))


def _one_sided_cusum(k: float, h: float, shift: float, headstart: float, states: int) -> float:
    width = 2.0 * h / (2 * states - 1)  # cell 0 is [0, w/2), cell j is centred on j·w
    centres = np.arange(states) * width
    step = centres[None, :] - centres[:, None] + k - shift  # x needed to land on cell j
    transition = stats.norm.cdf(step + width / 2) - stats.norm.cdf(step - width / 2)
    transition[:, 0] = stats.norm.cdf(step[:, 0] + width / 2)
    start = round(headstart / width)
    return float(_solve(transition)[start])


def cusum_arl(
    k: float = 0.5,
    h: float = 5.0,
    shift: float = 0.0,
    headstart: float = 0.0,
    two_sided: bool = True,
    states: int = 300,
) -> float:
    """ARL of the tabular CUSUM with reference ``k`` and limit ``h`` (in σ).

    >>> round(cusum_arl(0.5, 4.0), 1), round(cusum_arl(0.5, 4.0, shift=1.0), 2)
    (167.7, 8.38)
    """
    upper = _one_sided_cusum(k, h, shift, headstart, states)
    if not two_sided:
        return upper
    lower = _one_sided_cusum(k, h, -shift, headstart, states)
    return 1.0 / (1.0 / upper + 1.0 / lower)


def ewma_arl(lam: float = 0.1, L: float = 2.814, shift: float = 0.0, states: int = 301) -> float:
    """ARL of the EWMA chart with steady-state limits, started at the centre line.

    >>> round(ewma_arl(0.2, 2.962, shift=1.0), 1)
    10.5
    """
    limit = L * np.sqrt(lam / (2.0 - lam))
    width = 2.0 * limit / states
    centres = -limit + width * (np.arange(states) + 0.5)
    low = (centres[None, :] - width / 2 - (1 - lam) * centres[:, None]) / lam
    transition = stats.norm.cdf(low + width / lam - shift) - stats.norm.cdf(low - shift)
    return float(_solve(transition)[states // 2])
