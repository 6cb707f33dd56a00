"""False discovery rate control over many tests (every level of every attribute, every mode)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

METHODS = ("bh", "by")


def benjamini_hochberg(
    pvalues: ArrayLike, alpha: float = 0.05, *, method: str = "bh"
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Step-up FDR control: q-values (adjusted p-values) and which tests are rejected at ``alpha``.

    ``method="bh"`` is Benjamini–Hochberg (valid for independent or positively dependent tests,
    e.g. one-sided tests of overlapping groups); ``method="by"`` is Benjamini–Yekutieli, valid
    under any dependence at the cost of a factor ``sum(1/i)`` (about 7.5 for 1,000 tests).
    Same q-values as :func:`scipy.stats.false_discovery_control`; any shape is kept.

    >>> q, reject = benjamini_hochberg([0.001, 0.008, 0.039, 0.041, 0.27])
    >>> q
    array([0.005  , 0.02   , 0.05125, 0.05125, 0.27   ])
    >>> reject
    array([ True,  True, False, False, False])
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    _check(p, alpha)
    flat = p.ravel()
    q = _step_up(flat, np.sum(1.0 / np.arange(1, flat.size + 1)) if method == "by" else None)
    return q.reshape(p.shape), q.reshape(p.shape) <= alpha


def family_qvalues(pvalues: dict[str, ArrayLike], alpha: float,
                   groups: dict[str, ArrayLike] | None = None) -> dict[str, NDArray]:
    """q-values with each key a family of tests (Benjamini–Bogomolov): the families whose
    Simes p-value passes Benjamini–Hochberg across families are selected, and within a
    selected family a test's q is its within-family q × families / selected families
    (1 in a family not selected; a missing p counts as 1). One family's strong signal,
    spread over hundreds of correlated tests, then cannot relax the bar in every other
    family, as one pooled BH would.

    Within a family the q is Benjamini–Hochberg's, or, where ``groups`` labels the family's
    tests (one label per test: the attribute a level belongs to), the same selection one
    level down — a tree of families (after Bogomolov et al., *Hypotheses on a tree*,
    2021): an attribute of two levels then competes with the family's other attributes,
    not with each of the hundreds of lots of another.

    >>> q = family_qvalues({"a": [1e-6, 0.02], "b": [0.004], "c": [0.5]}, 0.01)
    >>> [q[m].round(6).tolist() for m in "abc"]
    [[3e-06, 0.03], [0.006], [1.0]]
    >>> p = [1e-4, *[0.5] * 98, 0.9]   # one revision level among 99 lots
    >>> round(float(family_qvalues({"m": p}, 0.01)["m"][0]), 4)
    0.01
    >>> labels = ["revision", *["lot"] * 98, "revision"]
    >>> round(float(family_qvalues({"m": p}, 0.01, {"m": labels})["m"][0]), 4)
    0.0004
    """
    groups = groups or {}
    within, simes = {}, []
    for key, values in pvalues.items():
        p = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=1.0)
        if key in groups and len(p):
            within[key], family_simes = _tree_qvalues(p, np.asarray(groups[key]), alpha)
            simes.append(family_simes)
        else:
            within[key] = benjamini_hochberg(p, alpha)[0]
            simes.append(within[key].min(initial=1.0))
    _, selected = benjamini_hochberg(np.array(simes), alpha)
    inflation = len(within) / max(int(selected.sum()), 1)
    return {key: np.minimum(q * inflation, 1.0) if chosen else np.ones_like(q)
            for (key, q), chosen in zip(within.items(), selected, strict=True)}


def _tree_qvalues(p: NDArray[np.float64], labels: NDArray, alpha: float
                  ) -> tuple[NDArray[np.float64], float]:
    """One family's q-values one level down (:func:`family_qvalues` over the groups
    ``labels`` names, each group's tests in their order) and the family's Simes p-value
    over its groups' Simes p-values. The groups are split once by sorting, not compared
    label by label: a family holds thousands of tests in hundreds of groups."""
    _check(p, alpha)
    _, group = np.unique(labels, return_inverse=True)
    group = group.ravel()
    members = np.split(np.argsort(group, kind="stable"), np.cumsum(np.bincount(group))[:-1])
    inner = [_step_up(p[rows]) for rows in members]
    group_simes = np.array([q.min() for q in inner])
    simes_q, selected = benjamini_hochberg(group_simes, alpha)
    inflation = len(members) / max(int(selected.sum()), 1)
    q = np.ones_like(p)
    for rows, q_of_group, chosen in zip(members, inner, selected, strict=True):
        if chosen:
            q[rows] = np.minimum(q_of_group * inflation, 1.0)
    return q, float(simes_q.min())


def _check(p: NDArray[np.float64], alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("pvalues must lie in [0, 1] with no NaN; drop untestable rows first")


def _step_up(p: NDArray[np.float64], by: float | None = None) -> NDArray[np.float64]:
    """Step-up q-values of checked, flat p-values (``by``: Benjamini–Yekutieli's factor)."""
    m = p.size
    order = np.argsort(p, kind="stable")
    scale = m / np.arange(1, m + 1)
    if by is not None:
        scale *= by
    stepped = np.minimum.accumulate((p[order] * scale)[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(stepped, 1.0)
    return q


__all__ = ["benjamini_hochberg", "family_qvalues"]
