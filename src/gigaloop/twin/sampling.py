"""Fast exact Poisson sampling over many vehicles at once, O(events) not O(vehicles).

:func:`poisson_positions` draws, for per-element rates ``lam``, the positions of all
Poisson events by thinning: candidates arrive uniformly over the elements at a bound
``τ = 3 × mean(lam)`` (or the maximum, when that is cheap) and each is kept with
probability ``lam / τ``; the few elements whose rate exceeds ``τ`` add their excess by the
same method, recursively. One float64 uniform gives both
the candidate's index (integer part of ``u · n``) and its acceptance draw (the fraction).

>>> rng = np.random.default_rng(0)
>>> lam = np.full(100_000, 0.3, np.float32)
>>> counts = np.bincount(poisson_positions(lam, rng), minlength=len(lam))
>>> round(float(counts.mean()), 2), round(float(counts.var()), 2)
(0.3, 0.3)
>>> pos = poisson_positions(np.array([0.0, 2.0, 0.0, 8.0], np.float32), rng)
>>> set(pos.tolist()) <= {1, 3}
True
"""

from __future__ import annotations

import numpy as np

F4 = np.float32
#: Candidate rate as a multiple of the mean rate (cost ∝ this × the number of events).
THINNING_BOUND = 2.0
#: Below this many elements, NumPy's own sampler is cheaper.
SMALL = 64


def poisson_positions(lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of Poisson(``lam[i]``) events, an index repeated for several (exact)."""
    n = len(lam)
    if n <= SMALL:
        return np.repeat(np.arange(n), rng.poisson(lam.astype(np.float64)))
    top = float(lam.max())
    if top <= 0.0:
        return np.empty(0, np.int64)
    bound = max(THINNING_BOUND * float(lam.sum()) / n, 0.0)
    if top * n <= n / 4 or bound >= top:
        bound = top
    x = rng.random(int(rng.poisson(bound * n))) * n
    candidate = x.astype(np.int64)
    x -= candidate
    x *= bound
    kept = candidate[x < lam[candidate]]
    if bound >= top:
        return kept
    over = np.flatnonzero(lam > F4(bound))
    excess = lam[over]
    excess -= F4(bound)
    return np.concatenate([kept, over[poisson_positions(excess, rng)]])


def positions_from_counts(counts: np.ndarray) -> np.ndarray:
    """Each index repeated as many times as its count.

    >>> positions_from_counts(np.array([0, 2, 0, 1]))
    array([1, 1, 3])
    """
    nonzero = np.flatnonzero(counts)
    return np.repeat(nonzero, counts[nonzero])


def split_events(positions: np.ndarray, weights: list[np.ndarray],
                 rng: np.random.Generator) -> np.ndarray:
    """For events at ``positions``, which of the categories (weights per element) each is in.

    >>> w = [np.array([1.0, 0.0]), np.array([0.0, 1.0])]
    >>> split_events(np.array([0, 1, 1]), w, np.random.default_rng(0))
    array([0, 1, 1], dtype=int8)
    """
    edges = [weights[0][positions]]
    for w in weights[1:]:
        edges.append(edges[-1] + w[positions])
    u = rng.random(len(positions), dtype=F4)
    u *= edges[-1]
    category = np.zeros(len(positions), np.int8)
    for edge in edges[:-1]:
        category += u >= edge
    return category
