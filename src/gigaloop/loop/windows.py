"""Build-window candidates: a level whose units fail more only when built in some window.

A supplier that ships bad parts for two months, a revision or trim that turns bad from a
build date on, or a run of consecutive lots of one part is diluted in a whole-run test of
its level (or invisible in each single lot). For one failure mode, every unit's expected
failures under "no factory cause" — the Nelson–Aalen cumulative hazard of its usage
stratum at its time in service — and its observed failures are summed per bin (build week
for a level, lot in order of first use for a part). Every window of the bins in
:data:`WINDOW_WEEKS` (or :data:`RUN_LOTS`), and every window that runs to the last bin, is
scored by the Poisson likelihood ratio of inside against everything else (the rest of the
fleet included). The best window becomes a two-level attribute (inside vs every other
unit) whose stratified log-rank p-value is multiplied by the number of windows searched —
Bonferroni over the scan, conservative and valid however the windows overlap — so it
enters Benjamini–Hochberg like any other test.

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

#: Level kinds whose effect may start or stop at a build date.
WINDOW_KINDS = ("supplier", "hardware_revision", "trim")
#: Window lengths in build weeks (a window may also run on to the last build week).
WINDOW_WEEKS = (2, 4, 8, 16, 32)
#: Lengths of the runs of consecutive lots of one part that are scanned.
RUN_LOTS = (2, 4, 8)


class WindowAttribute(Attribute):
    """Units of one level built inside a window (code 1) against all others (code 0)."""

    def names(self, level_code: int) -> dict[str, Any]:
        return dict(self.meta["names"])


@dataclass(frozen=True)
class WindowCandidate:
    """A window attribute and the number of windows searched to find it."""

    attribute: WindowAttribute
    searched: int


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


def best_window(observed: np.ndarray, expected: np.ndarray, total_observed: float,
                total_expected: float, lengths: tuple[int, ...], min_events: int,
                *, open_ended: bool = True) -> tuple[int, int, float, int]:
    """(start, stop, llr, windows searched) of the bins whose failures most exceed their
    expectation against everything outside; llr 0 when none has ``min_events`` and more.
    Windows are ``lengths`` bins long, or (``open_ended``) run on to the last bin.

    >>> best_window(np.array([1., 1, 9, 8, 1]), np.ones(5), 100.0, 100.0, (2,), 5)[:2]
    (2, 4)
    """
    bins = len(observed)
    cum_o, cum_e = np.r_[0.0, np.cumsum(observed)], np.r_[0.0, np.cumsum(expected)]
    tail = [np.arange(bins)] if open_ended else []
    start = np.concatenate([np.arange(bins - n + 1) for n in lengths if n < bins] + tail)
    stop = np.concatenate([np.arange(n, bins + 1) for n in lengths if n < bins]
                          + [np.full(bins, bins)] * open_ended)
    o_in, e_in = cum_o[stop] - cum_o[start], cum_e[stop] - cum_e[start]
    o_out, e_out = total_observed - o_in, total_expected - e_in
    usable = (e_in > 0) & (e_out > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = (xlogy(o_in, o_in / e_in) + xlogy(o_out, o_out / e_out)
               - xlogy(total_observed, total_observed / total_expected))
    llr = np.where(usable & (o_in >= min_events) & (o_in * e_out > o_out * e_in), llr, 0.0)
    best = int(np.argmax(llr))
    return int(start[best]), int(stop[best]), float(llr[best]), int(usable.sum())


def window_candidates(pop: Population, duration: np.ndarray, event: np.ndarray,
                      strata: np.ndarray, attributes: list[Attribute],
                      min_events: int) -> list[WindowCandidate]:
    """The best build window of every level of :data:`WINDOW_KINDS`, and the best run of
    consecutive lots of every part, for one failure mode (``duration``, ``event``)."""
    if event.sum() < min_events or not len(pop):
        return []
    expected = expected_failures(duration, event, strata)
    total_o, total_e = float(event.sum()), float(expected.sum())
    week = ((pop.build_date - pop.build_date.min()).astype(np.int64) // 7)
    out = []
    for attribute in attributes:
        if attribute.kind == "lot":
            out += _lot_run(pop, attribute, event, expected, total_o, total_e, min_events)
            continue
        if attribute.kind not in WINDOW_KINDS:
            continue
        for level in range(len(attribute.levels)):
            mine = attribute.codes == level
            found = _level_window(pop, attribute, level, mine, week, event, expected,
                                  total_o, total_e, min_events)
            if found is not None:
                out.append(found)
    return out


def _level_window(pop: Population, attribute: Attribute, level: int, mine: np.ndarray,
                  week: np.ndarray, event: np.ndarray, expected: np.ndarray, total_o: float,
                  total_e: float, min_events: int) -> WindowCandidate | None:
    weeks = int(week.max()) + 1
    observed = np.bincount(week[mine], event[mine].astype(float), weeks)
    exp = np.bincount(week[mine], expected[mine], weeks)
    built = np.flatnonzero(np.bincount(week[mine], minlength=weeks))
    if len(built) < 2:
        return None
    first, last = int(built[0]), int(built[-1]) + 1
    start, stop, llr, searched = best_window(observed[first:last], exp[first:last], total_o,
                                             total_e, WINDOW_WEEKS, min_events)
    if llr <= 0 or (start == 0 and stop == last - first):
        return None   # nothing, or the whole level: its own test already covers it
    inside = mine & (week >= first + start) & (week < first + stop)
    dates = pop.build_date[inside]
    names = {**attribute.names(level),
             "window": [str(dates.min()), str(dates.max())]}
    return WindowCandidate(_two_level(attribute, inside, names), searched)


def _lot_run(pop: Population, attribute: Attribute, event: np.ndarray,
             expected: np.ndarray, total_o: float, total_e: float,
             min_events: int) -> list[WindowCandidate]:
    """The run of consecutive lots (in order of first use) of one part that fails most."""
    known = attribute.codes >= 0
    codes = attribute.codes[known]
    n_lots = len(attribute.levels)
    if n_lots <= max(RUN_LOTS):
        return []
    first_use = np.full(n_lots, np.iinfo(np.int64).max)
    np.minimum.at(first_use, codes, pop.build_date[known].astype(np.int64))
    order = np.empty(n_lots, dtype=np.int64)
    order[np.argsort(first_use, kind="stable")] = np.arange(n_lots)
    position = order[codes]
    observed = np.bincount(position, event[known].astype(float), n_lots)
    exp = np.bincount(position, expected[known], n_lots)
    start, stop, llr, searched = best_window(observed, exp, total_o, total_e, RUN_LOTS,
                                             min_events, open_ended=False)
    if llr <= 0:
        return []
    run_codes = np.flatnonzero((order >= start) & (order < stop))
    inside = np.isin(attribute.codes, run_codes)
    ranked = sorted(run_codes, key=lambda c: order[c])
    worst = max(ranked, key=lambda c: observed[order[c]] - exp[order[c]])
    names = {"part": attribute.meta["part"], "lot": attribute.levels[worst],
             "lots": [attribute.levels[c] for c in ranked]}
    return [WindowCandidate(_two_level(attribute, inside, names), searched)]


def _two_level(attribute: Attribute, inside: np.ndarray, names: dict[str, Any]
               ) -> WindowAttribute:
    label = names.get("window") or names.get("lots")
    return WindowAttribute(f"{attribute.name}@{label}", attribute.kind,
                           inside.astype(np.int32), ["outside", "inside"],
                           {**attribute.meta, "names": names})


def mark_window_rows(scan: pd.DataFrame, candidates: list[WindowCandidate],
                     first_index: int) -> pd.DataFrame:
    """``scan`` with the candidates' columns (numbered from ``first_index``) cut to their
    inside level and their p multiplied by the windows searched (capped at 1)."""
    position = scan.attribute.to_numpy() - first_index
    window = position >= 0
    scan = scan[~window | (scan.level.to_numpy() == 1)].reset_index(drop=True)
    position = scan.attribute.to_numpy() - first_index
    searched = np.array([1] + [c.searched for c in candidates])[np.where(position >= 0,
                                                                          position + 1, 0)]
    scan["p"] = np.minimum(scan.p.to_numpy() * searched, 1.0)
    return scan
