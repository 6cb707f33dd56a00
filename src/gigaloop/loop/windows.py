"""Build windows: a supplier, revision or trim compared with the units built beside it.

A level of these kinds exists over a period of builds (a revision from its introduction, a
supplier while it ships), and any cause of that period — a drifting machine, a bad run of
another part — raises every unit built then. So each level is tested only against the
other units built within its own span (:func:`contemporaries`), never against units
built months apart. And a supplier that ships bad parts for two months, or a revision or
trim that turns bad from a build date on, is diluted in a test of its whole span, so the
best build window of each level is tested too (:func:`window_candidates`): per build
week, the level's and its contemporaries' failures and expected failures (the
Nelson–Aalen cumulative hazard of their usage stratum at their time in service); every
window of :data:`WINDOW_WEEKS` weeks, and every window running to the level's last build
week, is scored by the Poisson likelihood ratio of the level against its contemporaries
inside the window. The best window becomes a two-level attribute tested by the
stratified log-rank, its p-value multiplied by the number of windows searched
(Bonferroni: valid however they overlap). A run of consecutive lots is found this way
when it is one supplier's; lots of every supplier of a part over a period mark every unit
built then, and no data can tell that from any other cause of the period.

>>> duration = np.full(6, 100.0); event = np.array([1, 1, 0, 0, 1, 0], bool)
>>> expected_failures(duration, event, np.zeros(6, np.int64)).round(2).tolist()
[0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import xlogy

from gigaloop.loop.population import Attribute, Population

#: Level kinds that live over a period of builds.
WINDOW_KINDS = ("supplier", "hardware_revision", "trim")
#: Window lengths in build weeks (a window may also run on to the level's last week).
WINDOW_WEEKS = (2, 4, 8, 16, 32)


class LevelAttribute(Attribute):
    """One level (code 1) against the units built beside it (code 0); −1: not compared."""

    def names(self, level_code: int) -> dict[str, Any]:
        return dict(self.meta["names"])


@dataclass(frozen=True)
class WindowCandidate:
    """A window attribute and the number of windows searched to find it."""

    attribute: LevelAttribute
    searched: int


def contemporaries(pop: Population, attributes: list[Attribute]) -> list[LevelAttribute]:
    """Each level of :data:`WINDOW_KINDS` against the other units built within its span
    (named as the attribute it comes from)."""
    out = []
    for attribute in attributes:
        if attribute.kind not in WINDOW_KINDS:
            continue
        for level in range(len(attribute.levels)):
            mine = attribute.codes == level
            if not mine.any():
                continue
            built = pop.build_date[mine]
            beside = (pop.build_date >= built.min()) & (pop.build_date <= built.max())
            codes = np.where(mine, 1, np.where(beside, 0, -1)).astype(np.int32)
            out.append(LevelAttribute(attribute.name, attribute.kind, codes, ["beside", "level"],
                                      {**attribute.meta, "names": attribute.names(level)}))
    return out


def compared_failures(scan: pd.DataFrame, by: list[str]) -> np.ndarray:
    """Each row's failures of the units its test compares: those of its attribute's levels
    (``by``: per attribute, or per attribute and subgroup), which leave out the units an
    attribute does not compare (code −1: outside a level's build span or subgroup)."""
    return scan.groupby(by, sort=False)["observed"].transform("sum").to_numpy(dtype=float)


def expected_failures(duration: np.ndarray, event: np.ndarray,
                      strata: np.ndarray) -> np.ndarray:
    """Each unit's expected failures: its stratum's Nelson–Aalen cumulative hazard at its
    (whole-day) time in service; they sum to the observed failures."""
    day = np.floor(duration).astype(np.int64)
    span, n_strata = int(day.max()) + 1, int(strata.max()) + 1
    key = strata * span + day
    deaths = np.bincount(key[event], minlength=n_strata * span).reshape(n_strata, span)
    exits = np.bincount(key, minlength=n_strata * span).reshape(n_strata, span)
    at_risk = exits[:, ::-1].cumsum(axis=1)[:, ::-1]
    hazard = np.divide(deaths, at_risk, out=np.zeros(deaths.shape), where=at_risk > 0)
    return np.cumsum(hazard, axis=1)[strata, day]


def best_window(level: tuple[np.ndarray, np.ndarray], beside: tuple[np.ndarray, np.ndarray],
                lengths: tuple[int, ...], min_events: int) -> tuple[int, int, float, int]:
    """(start, stop, llr, windows searched): the bins in which the level's failures
    (``level`` = observed, expected per bin) most exceed those of the units beside it;
    windows are ``lengths`` bins long or run on to the last bin. llr 0: none with
    ``min_events`` failures or more.

    >>> seen = np.array([1., 1, 9, 8, 1]); ones = np.ones(5)
    >>> best_window((seen, ones), (ones, ones), (2,), 5)[:2]
    (2, 4)
    """
    bins = len(level[0])
    cum = [np.r_[0.0, np.cumsum(series)] for series in (*level, *beside)]
    start = np.concatenate([np.arange(bins - n + 1) for n in lengths if n < bins]
                           + [np.arange(bins)])
    stop = np.concatenate([np.arange(n, bins + 1) for n in lengths if n < bins]
                          + [np.full(bins, bins)])
    o_in, e_in, o_out, e_out = (c[stop] - c[start] for c in cum)
    usable = (e_in > 0) & (e_out > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = (xlogy(o_in, o_in / e_in) + xlogy(o_out, o_out / e_out)
               - xlogy(o_in + o_out, (o_in + o_out) / (e_in + e_out)))
    llr = np.where(usable & (o_in >= min_events) & (o_in * e_out > o_out * e_in), llr, 0.0)
    best = int(np.argmax(llr))
    return int(start[best]), int(stop[best]), float(llr[best]), int(usable.sum())


def window_candidates(pop: Population, duration: np.ndarray, event: np.ndarray,
                      strata: np.ndarray, levels: list[LevelAttribute],
                      min_events: int) -> list[WindowCandidate]:
    """The best build window of every level (from :func:`contemporaries`) for one failure
    mode (``duration``, ``event``), where it is shorter than the level's span."""
    if event.sum() < min_events or not len(pop):
        return []
    expected = expected_failures(duration, event, strata)
    week = (pop.build_date - pop.build_date.min()).astype(np.int64) // 7
    weeks = int(week.max()) + 1
    out = []
    for attribute in levels:
        series = []
        for code in (1, 0):
            who = attribute.codes == code
            series.append((np.bincount(week[who], event[who].astype(float), weeks),
                           np.bincount(week[who], expected[who], weeks)))
        built = np.flatnonzero(np.bincount(week[attribute.codes == 1], minlength=weeks))
        first, last = int(built[0]), int(built[-1]) + 1
        if last - first < 2:
            continue
        cut = [(o[first:last], e[first:last]) for o, e in series]
        start, stop, llr, searched = best_window(cut[0], cut[1], WINDOW_WEEKS, min_events)
        if llr <= 0 or (start, stop) == (0, last - first):
            continue   # nothing, or the whole span: the level's own test
        inside = (week >= first + start) & (week < first + stop)
        codes = np.where(inside, attribute.codes, -1).astype(np.int32)
        dates = pop.build_date[inside & (codes == 1)]
        names = {**attribute.meta["names"], "window": [str(dates.min()), str(dates.max())]}
        window = LevelAttribute(f"{attribute.name}@{names['window']}", attribute.kind, codes,
                                attribute.levels, {**attribute.meta, "names": names})
        out.append(WindowCandidate(window, searched))
    return out


def mark_window_rows(scan: pd.DataFrame, candidates: list[WindowCandidate], levels_from: int,
                     windows_from: int) -> pd.DataFrame:
    """``scan`` with level and window attributes (numbered from ``levels_from``) cut to their
    level (code 1), and the windows' (from ``windows_from``) p multiplied by the windows
    searched, capped at 1."""
    scan = scan[(scan.attribute.to_numpy() < levels_from)
                | (scan.level.to_numpy() == 1)].reset_index(drop=True)
    position = scan.attribute.to_numpy() - windows_from
    searched = np.array([1] + [c.searched for c in candidates])[np.where(position >= 0,
                                                                          position + 1, 0)]
    scan["p"] = np.minimum(scan.p.to_numpy() * searched, 1.0)
    return scan


@dataclass(frozen=True)
class CodeMatrix:
    """Attribute codes: the population's column-major matrix and columns appended to it
    (a mode's windows, the plant's signals) without copying the matrix.

    >>> codes = CodeMatrix(np.asfortranarray([[0, 1], [1, 0], [1, 1]])).plus([np.array([2, 2, 0])])
    >>> codes.width, codes.take(np.array([True, False, True]), np.array([1, 2])).tolist()
    (3, [[1, 2], [1, 0]])
    """

    base: np.ndarray
    extra: tuple[np.ndarray, ...] = ()

    @property
    def width(self) -> int:
        return self.base.shape[1] + len(self.extra)

    def plus(self, columns: list[np.ndarray]) -> CodeMatrix:
        return CodeMatrix(self.base, (*self.extra, *columns))

    def take(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """The ``rows`` (a mask or indices) of ``columns``, as a column-major matrix."""
        k = self.base.shape[1]
        picked = [self.base[rows, c] if c < k else self.extra[c - k][rows] for c in columns]
        return np.asfortranarray(np.column_stack(picked)) if picked else \
            np.empty((int(np.count_nonzero(rows)) if rows.dtype == bool else len(rows), 0),
                     dtype=self.base.dtype, order="F")
