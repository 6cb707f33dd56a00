"""Survival statistics on whole-day bins: a log-rank scan of every attribute level at once,
and Kaplan–Meier curves by group.

Durations are days in service, floored to whole days (events on the same day are ties, handled
with the hypergeometric variance exactly as :func:`lifelines.statistics.logrank_test` does).
Every count comes from one :func:`numpy.bincount` per attribute over level × the (stratum,
event day) cells — only days with an event in a stratum carry a term — so one million
subjects × sixty attributes take a fraction of a second.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from gigaloop.ml._validate import as_codes, as_events, as_vector

#: Refuse (level × (stratum, event day)) tables larger than this many cells per attribute.
MAX_TABLE_CELLS = 50_000_000


class _Cells(NamedTuple):
    """The axis of (stratum, event day) cells both scans count subjects on."""

    slot: NDArray[np.int64]  # each subject's, past row 0: level code c lands in row c + 1
    cell_slot: NDArray[np.int64]  # each cell's (a subject dying there sits in it)
    cell_end: NDArray[np.int64]  # the slot just past each cell's stratum
    cell_stratum: NDArray[np.int64]
    stratum_end: NDArray[np.int64]  # the slot just past each stratum
    width: int
    event_rows: NDArray[np.int64]


def _cells(durations: NDArray, events: NDArray[np.bool_], stratum: NDArray[np.int64],
           n_strata: int, n_levels: NDArray) -> _Cells:
    """Each subject's slot on the axis of (stratum, event day) cells, and each cell's slots.

    Only days with an event in a stratum carry a log-rank term there, so the axis has one
    slot per such cell plus one "at risk at none" slot per stratum: a subject sits right
    after the last cell of its stratum on or before its own day (whole days). Refuses a
    (level × cell) table larger than :data:`MAX_TABLE_CELLS`.
    """
    n_cells = n_strata + int(events.sum())  # at most: a slot per stratum and per event
    if n_levels.size and int(n_levels.max() + 1) * n_cells > MAX_TABLE_CELLS:
        raise ValueError(
            f"{int(n_levels.max())} levels × {n_strata} strata × event days is too large a "
            "table; merge rare levels or use fewer strata"
        )
    days = np.floor(durations).astype(np.int64)
    span = np.int64(days.max(initial=0)) + 1
    key = stratum * span + days
    cells = np.unique(key[events])
    slot = np.searchsorted(cells, key, side="right") + stratum
    cell_stratum = cells // span
    cell_slot = np.arange(1, cells.size + 1) + cell_stratum
    stratum_end = np.searchsorted(cells, (np.arange(n_strata) + 1) * span) + np.arange(
        1, n_strata + 1)
    width = int(cells.size + n_strata)
    return _Cells(slot + width, cell_slot, stratum_end[cell_stratum], cell_stratum,
                  stratum_end, width, np.flatnonzero(events))


def _counts(cells: _Cells, codes: NDArray, levels: int) -> tuple[NDArray, NDArray]:
    """Exits and deaths per (level + 1, slot) of one attribute with ``levels`` levels."""
    rows = levels + 1
    index = np.multiply(codes, np.int64(cells.width), dtype=np.int64) + cells.slot
    exits = np.bincount(index, minlength=rows * cells.width).reshape(rows, cells.width)
    deaths = np.bincount(index[cells.event_rows],
                         minlength=rows * cells.width).reshape(rows, cells.width)
    return exits, deaths


def _cell_terms(exits: NDArray, deaths: NDArray, cell_slot: NDArray,
                cell_end: NDArray) -> tuple:
    """Per level (excluding row 0, the missing) and (stratum, event day) cell: subjects at
    risk and deaths; and per cell: all at risk, all deaths, the death share and the
    hypergeometric spread — from exit and death counts per (level + 1, slot)."""
    beyond = np.zeros((exits.shape[0] - 1, exits.shape[1] + 1), dtype=np.int64)
    np.cumsum(exits[1:, ::-1], axis=1, out=beyond[:, -2::-1])  # subjects at or past a slot
    at_risk = (beyond[:, cell_slot] - beyond[:, cell_end]).astype(np.float64)
    died = deaths[1:, cell_slot]
    total_at_risk = at_risk.sum(axis=0)
    total_deaths = died.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total_at_risk > 0, total_deaths / total_at_risk, 0.0)
        spread = np.where(
            total_at_risk > 1,
            total_deaths * (total_at_risk - total_deaths)
            / (total_at_risk**2 * (total_at_risk - 1)),
            0.0,
        )
    return at_risk, died, total_at_risk, total_deaths, share, spread


def _logrank_moments(exits: NDArray, deaths: NDArray, cell_slot: NDArray,
                     cell_end: NDArray) -> tuple:
    """Per level (excluding row 0, the missing): subjects, observed, expected and
    hypergeometric variance, from exit and death counts per (level + 1, slot)."""
    at_risk, died, total_at_risk, total_deaths, share, spread = _cell_terms(
        exits, deaths, cell_slot, cell_end)
    expected = at_risk @ share
    variance = (at_risk * (total_at_risk - at_risk)) @ spread
    return exits[1:].sum(axis=1), died.sum(axis=1), expected, variance, float(total_deaths.sum())


def _subgroup_moments(exits: NDArray, deaths: NDArray, cell_slot: NDArray, cell_end: NDArray,
                      cell_member: NDArray, slot_member: NDArray) -> tuple:
    """Per level × subgroup (a subgroup is a set of strata; ``cell_member`` and
    ``slot_member`` say which cells and slots each holds, as 0/1 columns): subjects,
    observed, expected and variance, and each subgroup's failures — the stratified sums of
    :func:`_logrank_moments` taken over each subgroup's strata alone."""
    at_risk, died, total_at_risk, total_deaths, share, spread = _cell_terms(
        exits, deaths, cell_slot, cell_end)
    # counts summed as floats (BLAS; exact below 2**53), kept as integers
    subjects = np.rint(exits[1:] @ slot_member).astype(np.int64)
    observed = np.rint(died @ cell_member).astype(np.int64)
    return (subjects, observed, at_risk @ (share[:, None] * cell_member),
            (at_risk * (total_at_risk - at_risk)) @ (spread[:, None] * cell_member),
            total_deaths @ cell_member)


def _scan_inputs(duration: ArrayLike, event: ArrayLike, codes: ArrayLike,
                 confidence: float) -> tuple[NDArray, NDArray, NDArray]:
    """A scan's durations, events and level codes, checked."""
    durations = as_vector("duration", duration, nonnegative=True)
    events = as_events("event", event, durations.size)
    level_codes = as_codes("codes", codes, durations.size)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return durations, events, level_codes


def _strata(strata: ArrayLike | None, n: int) -> tuple[NDArray[np.int64], int]:
    """Each subject's stratum code (all 0 without strata) and the number of strata."""
    if strata is None:
        return np.zeros(n, dtype=np.int64), 1
    codes_2d = as_codes("strata", strata, n, allow_missing=False)
    if codes_2d.shape[1] != 1:
        raise ValueError("strata must be one code per subject; combine factors first")
    stratum = codes_2d[:, 0].astype(np.int64)
    return stratum, int(stratum.max(initial=0)) + 1


class SubgroupScan(NamedTuple):
    """:func:`logrank_subgroup_scan`'s two tables."""

    whole: pd.DataFrame
    subgroups: pd.DataFrame


def logrank_subgroup_scan(
    duration: ArrayLike,
    event: ArrayLike,
    codes: ArrayLike,
    *,
    strata: ArrayLike,
    subgroups: ArrayLike,
    searched: ArrayLike | None = None,
    confidence: float = 0.95,
) -> SubgroupScan:
    """:func:`logrank_scan`, and the same within each subgroup of strata (a climate, or a
    band of miles per day, when the strata are climate × mileage band), from one count.
    ``subgroups[g, s]`` says whether subgroup ``g`` holds stratum ``s`` (subgroups may
    overlap: the climates and the bands of use are each a partition of the strata).
    ``searched`` (one true/false per column of ``codes``; all by default) names the
    attributes tested within subgroups; the others are tested over the whole only.

    ``whole`` is :func:`logrank_scan`'s table; ``subgroups`` has a row per level and
    subgroup with expected failures: ``attribute``, ``level``, ``subgroup``, ``at_risk``,
    ``observed``, ``expected``, ``variance``, ``z``, ``chi2``, ``p``, ``hazard_ratio``,
    ``hr_low``, ``hr_high`` — each level against the rest of its attribute among the
    subgroup's subjects, stratified as before: what :func:`logrank_scan` gives on those
    subjects alone. The log-rank sums are sums over strata, so every subgroup's test comes
    from the one count the whole's does.

    >>> rng = np.random.default_rng(1)
    >>> climate, lot = rng.integers(0, 2, 4000), rng.integers(0, 4, 4000)
    >>> bad = (lot == 2) & (climate == 1)          # lot 2 fails early in one climate only
    >>> days = rng.exponential(400 / np.where(bad, 3.0, 1.0)).astype(int)
    >>> scan = logrank_subgroup_scan(np.minimum(days, 365), days < 365, lot, strata=climate,
    ...                              subgroups=np.eye(2, dtype=bool))
    >>> top = scan.subgroups.sort_values("z").iloc[-1]
    >>> int(top.level), int(top.subgroup), round(float(top.hazard_ratio), 1)
    (2, 1, 3.0)
    >>> round(float(scan.whole.hazard_ratio[2]), 1)   # diluted by the other climate
    1.8
    """
    durations, events, level_codes = _scan_inputs(duration, event, codes, confidence)
    stratum, n_strata = _strata(strata, durations.size)
    member = np.asarray(subgroups)
    if member.ndim != 2 or member.shape[1] != n_strata or not np.isin(member, (0, 1)).all():
        raise ValueError(f"subgroups needs one row of {n_strata} true/false values (one per "
                         "stratum) for each subgroup")
    n_groups = member.shape[0]
    # a last column holding every stratum: the whole, from the same sums
    member = np.column_stack([member.T.astype(np.float64), np.ones(n_strata)])
    by_group = np.ones(level_codes.shape[1], dtype=bool) if searched is None \
        else np.asarray(searched, dtype=bool)
    if by_group.shape != (level_codes.shape[1],):
        raise ValueError(f"searched needs one true/false for each of the "
                         f"{level_codes.shape[1]} attributes")
    n_levels = level_codes.max(axis=0, initial=-1).astype(np.int64) + 1
    cells = _cells(durations, events, stratum, n_strata, n_levels)
    cell_member = member[cells.cell_stratum]
    # a stratum's slots run from the end of the one before it to its own end
    slot_member = np.repeat(member, np.diff(np.r_[0, cells.stratum_end]), axis=0)
    moments = []
    for column in range(level_codes.shape[1]):
        width = n_groups + 1 if by_group[column] else 1  # not searched: the whole alone
        if n_levels[column] == 0:  # every subject missing this attribute: nothing to test
            empty = np.zeros((0, width))
            moments.append((empty, empty, empty, empty, np.zeros(width)))
            continue
        exits, deaths = _counts(cells, level_codes[:, column], int(n_levels[column]))
        moments.append(_subgroup_moments(exits, deaths, cells.cell_slot, cells.cell_end,
                                         cell_member[:, -width:], slot_member[:, -width:]))
    whole = _scan_frame([(*(m[:, -1] for m in mom[:4]), float(mom[4][-1]))
                         for mom in moments], n_levels, confidence)
    # the subgroups' sums of the searched attributes; the others have none
    moments = [(mom[0][:, :-1], mom[1][:, :-1], mom[2][:, :-1], mom[3][:, :-1], mom[4][:-1])
               if w else (*(np.zeros((k, n_groups), np.int64),) * 2,
                          *(np.zeros((k, n_groups)),) * 2, np.zeros(n_groups))
               for mom, w, k in zip(moments, by_group, n_levels, strict=True)]
    # every level × subgroup at once, level-major; those with expected failures kept
    stacked = [np.concatenate([mom[i].ravel() for mom in moments]) for i in range(4)]
    total = np.concatenate([np.tile(mom[4], k) for mom, k in zip(moments, n_levels,
                                                                 strict=True)])
    keep = stacked[2] > 0
    row = np.flatnonzero(keep)
    start = np.repeat(np.r_[0, np.cumsum(n_levels * n_groups)[:-1]], n_levels * n_groups)[keep]
    within = row - start
    by_subgroup = pd.DataFrame({
        "attribute": np.repeat(np.arange(n_levels.size), n_levels * n_groups)[keep],
        "level": within // n_groups, "subgroup": within % n_groups,
        **_tests(stacked[0][keep], stacked[1][keep], stacked[2][keep], stacked[3][keep],
                 total[keep], confidence)})
    return SubgroupScan(whole, by_subgroup)


def logrank_scan(
    duration: ArrayLike,
    event: ArrayLike,
    codes: ArrayLike,
    *,
    strata: ArrayLike | None = None,
    confidence: float = 0.95,
    n_threads: int = 1,
) -> pd.DataFrame:
    """Log-rank test of every level of every attribute against the rest of that attribute.

    ``duration`` (n,) days in service, ``event`` (n,) bool, ``codes`` (n, k) integer level
    codes (-1 = missing: left out of that attribute's tests; a column-major array avoids a
    strided read per attribute). ``strata`` (n,) codes >= 0 give the stratified test (O−E and
    V summed over strata). One row per level present: ``attribute``, ``level``, ``at_risk``
    (subjects), ``observed``, ``expected``, ``variance``, ``z`` = (O−E)/√V, ``chi2``, ``p``
    (χ², 1 df), and the Pike hazard ratio (O/E)/(O_rest/E_rest) with its ``confidence``
    interval ``hr_low``/``hr_high`` (docs/statistics.md says why). ``n_threads`` > 1 scans
    attributes in a thread pool; NumPy releases the GIL for the index arithmetic but not in
    ``bincount``, so expect a modest gain.

    >>> rng = np.random.default_rng(0)
    >>> lot = rng.integers(0, 4, 2000)
    >>> days = rng.exponential(300 / np.where(lot == 2, 3.0, 1.0)).astype(int)
    >>> scan = logrank_scan(np.minimum(days, 365), days < 365, lot)
    >>> top = scan.sort_values("chi2").iloc[-1]
    >>> int(top.level), bool(top.p < 1e-6), round(float(top.hazard_ratio), 1)
    (2, True, 2.9)
    """
    durations, events, level_codes = _scan_inputs(duration, event, codes, confidence)
    stratum, n_strata = _strata(strata, durations.size)
    n_levels = level_codes.max(axis=0, initial=-1).astype(np.int64) + 1
    cells = _cells(durations, events, stratum, n_strata, n_levels)

    def scan_attribute(column: int) -> tuple:
        if n_levels[column] == 0:  # every subject missing this attribute: nothing to test
            empty = np.zeros(0)
            return empty, empty, empty, empty, float(events.sum())
        exits, deaths = _counts(cells, level_codes[:, column], int(n_levels[column]))
        return _logrank_moments(exits, deaths, cells.cell_slot, cells.cell_end)

    columns = range(level_codes.shape[1])
    if n_threads > 1:
        with ThreadPoolExecutor(n_threads) as pool:
            moments = list(pool.map(scan_attribute, columns))
    else:
        moments = [scan_attribute(column) for column in columns]
    return _scan_frame(moments, n_levels, confidence)


def _scan_frame(moments: list[tuple], n_levels: NDArray, confidence: float) -> pd.DataFrame:
    """Stack per-attribute moments into the tidy result, one row per level with subjects."""
    attribute = np.repeat(np.arange(n_levels.size), n_levels)
    level = np.concatenate([np.arange(count) for count in n_levels] or [np.zeros(0, int)])
    subjects, observed, expected, variance = (
        np.concatenate([m[i] for m in moments] or [np.zeros(0)]) for i in range(4))
    total = np.repeat([m[4] for m in moments], n_levels)
    frame = pd.DataFrame({"attribute": attribute, "level": level,
                          **_tests(subjects, observed, expected, variance, total, confidence)})
    return frame[frame["at_risk"] > 0].reset_index(drop=True)


def _tests(subjects: NDArray, observed: NDArray, expected: NDArray, variance: NDArray,
           total: NDArray, confidence: float) -> dict[str, NDArray]:
    """Each row's log-rank test, as columns: its counts, z, χ², p and the Pike hazard ratio
    against the rest of the ``total`` failures, with its interval."""
    rest_observed, rest_expected = total - observed, total - expected
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        chi2 = np.where(variance > 0, (observed - expected) ** 2 / variance, 0.0)
        hazard_ratio = (observed / expected) / (rest_observed / rest_expected)
        # a zero count gets 0.5 in the interval only, so the bound stays finite
        centre = np.log(np.maximum(observed, 0.5) / expected) - np.log(
            np.maximum(rest_observed, 0.5) / rest_expected
        )
        half_width = special.ndtri(0.5 + confidence / 2) * np.sqrt(
            1.0 / expected + 1.0 / rest_expected
        )
        hr_low, hr_high = np.exp(centre - half_width), np.exp(centre + half_width)
    return {
        "at_risk": subjects,
        "observed": observed,
        "expected": expected,
        "variance": variance,
        "z": np.sign(observed - expected) * np.sqrt(chi2),
        "chi2": chi2,
        "p": special.chdtrc(1, chi2),  # chi2.sf(chi2, 1), without its overhead
        "hazard_ratio": hazard_ratio,
        "hr_low": hr_low,
        "hr_high": hr_high,
    }


@dataclass(frozen=True)
class SurvivalCurves:
    """Kaplan–Meier curves by group at whole days: arrays of shape (groups, days)."""

    days: NDArray[np.int64]
    groups: NDArray[np.int64]
    at_risk: NDArray[np.int64]
    survival: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]


def kaplan_meier(
    duration: ArrayLike, event: ArrayLike, groups: ArrayLike, *, confidence: float = 0.95
) -> SurvivalCurves:
    """Kaplan–Meier survival per group at days 0..max, with exponential-Greenwood bands.

    ``groups`` (n,) integer codes (-1 = left out). ``survival[g, t]`` is S(t) of group
    ``groups[g]`` just after day t; ``at_risk[g, t]`` the subjects still in service at the
    start of day t (lifelines' ``KaplanMeierFitter`` conventions).

    >>> curves = kaplan_meier([2, 3, 3, 5, 8], [1, 1, 0, 1, 0], [0, 0, 0, 1, 1])
    >>> curves.survival[0, [1, 2, 3]]
    array([1.        , 0.66666667, 0.33333333])
    >>> curves.at_risk[1, 5], curves.survival[1, -1]
    (np.int64(2), np.float64(0.5))
    """
    durations = as_vector("duration", duration, nonnegative=True)
    n = durations.size
    events = as_events("event", event, n)
    codes = as_codes("groups", groups, n)
    if codes.shape[1] != 1:
        raise ValueError("groups must be one code per subject")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    keep = codes[:, 0] >= 0
    days = np.floor(durations[keep]).astype(np.int64)
    code = codes[keep, 0].astype(np.int64)
    horizon = int(days.max(initial=0)) + 1
    present = np.flatnonzero(np.bincount(code, minlength=1))
    index = np.searchsorted(present, code) * horizon + days
    size = present.size * horizon
    exits = np.bincount(index, minlength=size).reshape(present.size, horizon)
    deaths = np.bincount(index[events[keep]], minlength=size).reshape(present.size, horizon)
    at_risk = np.cumsum(exits[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, deaths / at_risk, 0.0)
        greenwood = np.cumsum(
            np.where(at_risk > deaths, deaths / (at_risk * (at_risk - deaths)), 0.0), axis=1
        )
        survival = np.cumprod(1.0 - hazard, axis=1, dtype=np.float64)
        log_s = np.log(survival)
        width = stats.norm.ppf(0.5 + confidence / 2) * np.sqrt(greenwood) / log_s
        lower = np.nan_to_num(np.exp(-np.exp(np.log(-log_s) - width)), nan=1.0)
        upper = np.nan_to_num(np.exp(-np.exp(np.log(-log_s) + width)), nan=1.0)
    return SurvivalCurves(np.arange(horizon), present, at_risk, survival, lower, upper)


__all__ = ["SurvivalCurves", "kaplan_meier", "logrank_scan"]
