"""Where and when a process or machine finding acted: its machine and build window.

A reading or machine level that explains failures is narrowed to the machine most of its
failing vehicles passed, then to a build window — the window in which the reading's daily
mean shifted (what a control chart would have flagged), joined with the window in which
the failure rate per expected failure (Nelson–Aalen) stands out (epidemic change point,
Monte-Carlo p ≤ :data:`WINDOW_ALPHA`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from gigaloop import ml
from gigaloop.loop.population import DRIFT_MIN_SIGMA, Attribute, Population, widen_window

WINDOW_ALPHA = 0.05  # a localised window must stand out at this level (Monte-Carlo p)


def localise(pop: Population, mode: str, attribute: Attribute, members: np.ndarray,
             names: dict[str, Any], *, window_max_days: int) -> tuple[dict, np.ndarray]:
    """Turn a process-reading or machine finding into station (+ machine) + build window."""
    station = attribute.meta["station"]
    duration, event = pop.survival(mode)
    machines = pop.station_machines.get(station)
    scope = np.ones(len(pop), dtype=bool)
    located = dict(names)
    if machines is not None and attribute.kind == "reading":
        failing = pd.Series(machines[members & event]).value_counts()
        if len(failing) and failing.iloc[0] >= 0.7 * failing.sum():
            located["machine"] = failing.index[0]
            scope = machines == failing.index[0]
    elif machines is not None:
        scope = machines == names["machine"]
    day0 = pop.build_date.min()
    build_day = (pop.build_date - day0).astype(int)
    days = int(build_day.max()) + 1
    if days < 8:
        return located, members & scope
    drift = (_reading_window(pop, attribute, scope, build_day, days, window_max_days)
             if attribute.kind == "reading" else None)
    expected = _cumulative_hazard(duration, event)
    counts = np.bincount(build_day[scope], event[scope].astype(float), days)
    exposure = np.bincount(build_day[scope], expected[scope], days)
    window = ml.rate_window(counts, exposure, min_len=3, max_len=min(window_max_days,
                            days // 2), alternative="greater", n_sim=99)
    failing = (window.start, window.stop) if window.p <= WINDOW_ALPHA else None
    if drift and failing and drift[0] < failing[1] and failing[0] < drift[1]:
        # the process drifted and the vehicles it built fail: both windows are evidence
        return _with_window(located, scope, build_day,
                            (min(drift[0], failing[0]), max(drift[1], failing[1])), day0)
    if drift or failing:
        return _with_window(located, scope, build_day, drift or failing, day0)  # type: ignore[arg-type]
    return located, members & scope


def _reading_window(pop: Population, attribute: Attribute, scope: np.ndarray,
                    build_day: np.ndarray, days: int,
                    window_max_days: int) -> tuple[int, int] | None:
    """Build-day window in which the flagged reading's daily mean shifted (on its machine)."""
    values = pop.readings[(attribute.meta["station"], attribute.meta["parameter"])]
    ok = scope & np.isfinite(values)
    count = np.bincount(build_day[ok], minlength=days)
    total = np.bincount(build_day[ok], values[ok], minlength=days)
    present = np.flatnonzero(count > 0)
    if len(present) < 8:
        return None
    mean = total[present] / count[present]
    window = ml.mean_shift_window(mean, count[present], min_len=3,
                                  max_len=min(window_max_days, len(present) // 2),
                                  n_sim=1)
    spread = float(np.nanstd(values[ok]))
    lo, hi = widen_window(mean, count[present], window.start, window.stop, spread)
    start, stop = int(present[lo]), int(present[hi - 1]) + 1
    inside = int(count[start:stop].sum())
    if abs(window.inside - window.outside) * np.sqrt(inside) < DRIFT_MIN_SIGMA * spread:
        return None  # no process shift a control chart would have flagged
    return start, stop


def _with_window(names: dict[str, Any], scope: np.ndarray, build_day: np.ndarray,
                 window: tuple[int, int], day0: np.datetime64) -> tuple[dict, np.ndarray]:
    start = pd.Timestamp(day0).date()
    located = {k: v for k, v in names.items() if k != "range"}
    located["window"] = [(start + timedelta(days=window[0])).isoformat(),
                         (start + timedelta(days=window[1] - 1)).isoformat()]
    return located, scope & (build_day >= window[0]) & (build_day < window[1])


def _cumulative_hazard(duration: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Nelson–Aalen cumulative hazard of the whole population at each vehicle's duration."""
    days = np.floor(duration).astype(np.int64)
    top = int(days.max()) + 1
    deaths = np.bincount(days[event], minlength=top).astype(float)
    exits = np.bincount(days, minlength=top).astype(float)
    at_risk = exits[::-1].cumsum()[::-1]
    hazard = np.divide(deaths, at_risk, out=np.zeros(top), where=at_risk > 0)
    return np.cumsum(hazard)[days]
