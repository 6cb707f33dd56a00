"""Tesla's published Safety Score formulas (v1.0 and v2.2) as pure functions.

Predicted Collision Frequency (PCF) is a product of per-factor multipliers; the score
is a linear function of PCF clipped to 0–100, and daily scores combine as a
mileage-weighted average over 30 days. Percentages are in percentage points (12 % → 12),
FCW is per 1,000 miles driven without Autopilot, forced disengagement is 1 on a day
Autopilot was forced off and 0 otherwise (sources in docs/customers.md).

>>> round(pcf_v1(0, 0, 0, 0, 0), 6)
0.682854
>>> round(score_v1(0, 0, 0, 0, 0), 2)
100.0
>>> round(score_v22(0, 0, 0, 0, 0, 0, 0), 2)
100.0
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

V22_CAPS = {"hard_braking": 5.2, "aggressive_turning": 13.2, "unsafe_following": 63.2,
            "excessive_speeding": 10.0, "late_night": 14.2, "unbuckled": 31.7}


def pcf_v1(fcw_per_1000: float, hard_braking: float, aggressive_turning: float,
           unsafe_following: float, forced_disengagement: float) -> float:
    """Safety Score v1.0 predicted collision frequency.

    >>> round(pcf_v1(1, 1, 1, 10, 0), 6)
    0.807838
    """
    return (0.682854 * 1.014495 ** fcw_per_1000 * 1.127294 ** hard_braking
            * 1.019630 ** aggressive_turning * 1.001444 ** unsafe_following
            * 1.317958 ** forced_disengagement)


def score_v1(*factors: float) -> float:
    """Score v1.0 = 115.382324 − 22.526504 × PCF, clipped to 0–100.

    >>> round(score_v1(1, 1, 1, 10, 0), 2)
    97.18
    """
    return _clip(115.382324 - 22.526504 * pcf_v1(*factors))


def pcf_v22(hard_braking: float, aggressive_turning: float, unsafe_following: float,
            forced_disengagement: float, late_night: float, excessive_speeding: float,
            unbuckled: float) -> float:
    """Safety Score v2.2 PCF, each percentage capped as published.

    >>> pcf_v22(50, 0, 0, 0, 0, 0, 0) == pcf_v22(5.2, 0, 0, 0, 0, 0, 0)
    True
    """
    c = V22_CAPS
    return (0.57198191 * 1.23599110 ** _cap(hard_braking, c["hard_braking"])
            * 1.01219290 ** _cap(aggressive_turning, c["aggressive_turning"])
            * 1.00271921 ** _cap(unsafe_following, c["unsafe_following"])
            * 1.32343362 ** forced_disengagement
            * 1.03231810 ** _cap(late_night, c["late_night"])
            * 1.02439511 ** _cap(excessive_speeding, c["excessive_speeding"])
            * 1.01151237 ** _cap(unbuckled, c["unbuckled"]))


def score_v22(*factors: float) -> float:
    """Score v2.2 = 122.15240383 − 38.72920381 × PCF, clipped to 0–100.

    >>> round(score_v22(5.2, 13.2, 63.2, 1, 14.2, 10, 31.7), 2)
    0.0
    """
    return _clip(122.15240383 - 38.72920381 * pcf_v22(*factors))


def daily_factors(row: Mapping[str, float]) -> dict[str, float]:
    """Score factors from one ``telemetry_daily`` row (fractions → percentage points).

    Late night is the share of miles driven 23:00–04:00 (a flat stand-in for Tesla's
    hour-weighted risk factor); unbuckled is 0 where the row has no such column.

    >>> f = daily_factors({"miles": 40, "autopilot_miles": 20, "fcw_count": 1,
    ...     "hard_braking_fraction": 0.01, "aggressive_turning_fraction": 0.02,
    ...     "unsafe_following_fraction": 0.1, "speeding_fraction": 0.0,
    ...     "late_night_miles": 4, "forced_disengagements": 0})
    >>> f["fcw_per_1000"], f["hard_braking"], f["late_night"]
    (50.0, 1.0, 10.0)
    """
    miles = float(row["miles"])
    manual = max(miles - float(row["autopilot_miles"]), 0.0)
    return {
        "fcw_per_1000": 1000.0 * row["fcw_count"] / manual if manual > 0 else 0.0,
        "hard_braking": 100.0 * row["hard_braking_fraction"],
        "aggressive_turning": 100.0 * row["aggressive_turning_fraction"],
        "unsafe_following": 100.0 * row["unsafe_following_fraction"],
        "forced_disengagement": 1.0 if row["forced_disengagements"] > 0 else 0.0,
        "late_night": 100.0 * row["late_night_miles"] / miles if miles > 0 else 0.0,
        "excessive_speeding": 100.0 * row["speeding_fraction"],
        "unbuckled": 100.0 * float(row.get("unbuckled_fraction", 0.0)),
    }


def daily_score(row: Mapping[str, float], version: str = "2.2") -> float:
    """One day's score under ``version`` ("1.0" or "2.2")."""
    f = daily_factors(row)
    if version == "1.0":
        return score_v1(f["fcw_per_1000"], f["hard_braking"], f["aggressive_turning"],
                        f["unsafe_following"], f["forced_disengagement"])
    if version == "2.2":
        return score_v22(f["hard_braking"], f["aggressive_turning"], f["unsafe_following"],
                         f["forced_disengagement"], f["late_night"],
                         f["excessive_speeding"], f["unbuckled"])
    raise ValueError(f"unknown Safety Score version {version!r}")


def daily_scores(days: pd.DataFrame, version: str = "2.2") -> np.ndarray:
    """:func:`daily_score` of every ``telemetry_daily`` row of ``days`` at once (arrays).

    >>> days = pd.DataFrame({"miles": [40.0, 0.0], "autopilot_miles": [20.0, 0.0],
    ...     "fcw_count": [1, 0], "hard_braking_fraction": [0.01, 0.0],
    ...     "aggressive_turning_fraction": [0.02, 0.0],
    ...     "unsafe_following_fraction": [0.1, 0.0], "speeding_fraction": [0.0, 0.0],
    ...     "late_night_miles": [4.0, 0.0], "forced_disengagements": [0, 0]})
    >>> [round(x, 6) for x in daily_scores(days)] == [
    ...     round(daily_score(r), 6) for r in days.to_dict("records")]
    True
    """
    miles = days["miles"].to_numpy(float)
    manual = np.maximum(miles - days["autopilot_miles"].to_numpy(float), 0.0)
    fcw = 1000.0 * days["fcw_count"].to_numpy(float)
    fcw_per_1000 = np.divide(fcw, manual, out=np.zeros_like(manual), where=manual > 0)
    late = 100.0 * days["late_night_miles"].to_numpy(float)
    late_night = np.divide(late, miles, out=np.zeros_like(miles), where=miles > 0)
    hard_braking = 100.0 * days["hard_braking_fraction"].to_numpy(float)
    turning = 100.0 * days["aggressive_turning_fraction"].to_numpy(float)
    following = 100.0 * days["unsafe_following_fraction"].to_numpy(float)
    forced = (days["forced_disengagements"].to_numpy(float) > 0).astype(float)
    if version == "1.0":
        return np.clip(115.382324 - 22.526504 * pcf_v1(
            fcw_per_1000, hard_braking, turning, following, forced), 0.0, 100.0)
    if version == "2.2":
        speeding = 100.0 * days["speeding_fraction"].to_numpy(float)
        unbuckled = (100.0 * days["unbuckled_fraction"].to_numpy(float)
                     if "unbuckled_fraction" in days else np.zeros_like(miles))
        return np.clip(122.15240383 - 38.72920381 * pcf_v22(
            hard_braking, turning, following, forced, late_night, speeding, unbuckled),
            0.0, 100.0)
    raise ValueError(f"unknown Safety Score version {version!r}")


def mileage_weighted(scores_and_miles: Iterable[tuple[float, float]]) -> float | None:
    """30-day aggregate: Σ score·miles ÷ Σ miles, clipped to 0–100; None without miles.

    >>> mileage_weighted([(100, 30), (80, 10)])
    95.0
    >>> mileage_weighted([(90, 0)]) is None
    True
    """
    pairs = [(s, m) for s, m in scores_and_miles if m > 0]
    total = sum(m for _, m in pairs)
    return _clip(sum(s * m for s, m in pairs) / total) if total else None


def _cap(value: Any, cap: float) -> Any:
    """``value`` capped at ``cap`` (a number or an array)."""
    return np.minimum(value, cap) if np.ndim(value) else min(value, cap)


def _clip(score: float) -> float:
    return min(max(score, 0.0), 100.0)
