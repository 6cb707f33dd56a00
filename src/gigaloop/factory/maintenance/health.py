"""Machine health from condition-monitoring readings: daily features, each machine's own
healthy baseline, and one health index.

Readings are reduced to daily medians per machine (robust to a few odd snapshots; readings
of a stopped machine are dropped). Each feature is standardised against the machine's first
``baseline_days`` days by a robust z-score, ``(x − median) / scale`` with ``scale`` the
MAD·1.4826 (floored, so a feature that hardly moves in the baseline cannot explode);
energies are taken in logs (they grow multiplicatively). Housing temperature is first
compensated for the hall: the plant-wide median deviation of the day is subtracted, so a
heat wave is not a bearing fault. The health index is the root-mean-square z over the
features, a Mahalanobis distance with a diagonal robust covariance: about 1 when healthy.

>>> rng = np.random.default_rng(0)
>>> days = pd.date_range("2025-01-01", periods=40)
>>> daily = pd.DataFrame({"machine_id": "P1", "day": days,
...     **{f: rng.normal(1.0, 0.02, 40) for f in FEATURES}})
>>> daily.loc[35:, "vibration_rms"] += 0.5
>>> index = health_index(daily, fit_baseline(daily, baseline_days=21))
>>> bool(index["hi"].iloc[:30].max() < 3 < index["hi"].iloc[-1])
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import ibis.expr.types as ir
import numpy as np
import pandas as pd

FEATURES = ("vibration_rms", "kurtosis", "crest_factor", "band_energy_low",
            "band_energy_bearing", "band_energy_high", "temperature_c")
LOG_FEATURES = ("band_energy_low", "band_energy_bearing", "band_energy_high")
#: smallest robust scale: a share of the baseline level (linear features) or log units.
MIN_RELATIVE_SCALE = 0.02
MIN_LOG_SCALE = 0.1
MIN_TEMPERATURE_SCALE_C = 0.5
MAD_TO_SD = 1.4826


def daily_condition(readings: ir.Table, *, running_min_mm_s: float = 0.05) -> ir.Table:
    """Daily medians of every feature per machine (an Ibis expression, run by the store).

    Snapshots with ``vibration_rms`` below ``running_min_mm_s`` are a stopped machine and
    are left out. Columns: ``machine_id``, ``day`` (UTC date), the features, ``readings``.
    """
    running = readings.filter(readings.vibration_rms >= running_min_mm_s)
    return (running.group_by(machine_id=running.machine_id,
                             day=running.event_time.truncate("D"))
            .aggregate(readings=running.count(),
                       **{f: running[f].median() for f in FEATURES})
            .order_by(["machine_id", "day"]))


@dataclass(frozen=True)
class Baseline:
    """Per machine (index) the healthy median and robust scale of each feature."""

    median: pd.DataFrame
    scale: pd.DataFrame

    @cached_property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Median and scale as arrays (a row per machine, a column per feature)."""
        return (self.median[list(FEATURES)].to_numpy(), self.scale[list(FEATURES)].to_numpy())


def fit_baseline(daily: pd.DataFrame, *, baseline_days: int = 21) -> Baseline:
    """Median and floored MAD scale of each machine's first ``baseline_days`` days.

    Machines with fewer days than that get no baseline (they are left out).
    """
    values = _transformed(daily)
    first = values.groupby("machine_id", group_keys=False).head(baseline_days)
    counts = first.groupby("machine_id").size()
    first = first[first.machine_id.isin(counts.index[counts >= baseline_days])]
    grouped = first.groupby("machine_id")[list(FEATURES)]
    median = grouped.median()
    spread = (first[list(FEATURES)] - median.loc[first.machine_id].to_numpy()).abs()
    mad = spread.groupby(first.machine_id.to_numpy()).median() * MAD_TO_SD
    floor = pd.DataFrame(index=median.index)
    for feature in FEATURES:
        floor[feature] = (MIN_LOG_SCALE if feature in LOG_FEATURES
                          else MIN_TEMPERATURE_SCALE_C if feature == "temperature_c"
                          else MIN_RELATIVE_SCALE * median[feature].abs())
    return Baseline(median, np.maximum(mad, floor))


def health_index(daily: pd.DataFrame, baseline: Baseline) -> pd.DataFrame:
    """``daily`` (machines with a baseline) with ``z_<feature>``, ``d_<feature>`` and ``hi``."""
    daily = daily[daily.machine_id.isin(baseline.median.index)]
    machine, _ = pd.factorize(daily.machine_id, sort=True)  # integer keys: a cheaper sort
    daily = daily.take(np.lexsort((daily.day.to_numpy(), machine))).reset_index(drop=True)
    deviation, z = _deviations(daily, baseline)
    columns = {**{f"z_{f}": z[:, k] for k, f in enumerate(FEATURES)},
               **{f"d_{f}": deviation[:, k] for k, f in enumerate(FEATURES)},
               "hi": np.sqrt(np.mean(z**2, axis=1))}
    return pd.concat([daily, pd.DataFrame(columns, index=daily.index)], axis=1)


def recent_index(daily: pd.DataFrame, baseline: Baseline, days: int) -> pd.DataFrame:
    """The index of each machine's last ``days`` days only, as :func:`health_index` gives it
    for them (the hall compensated over every machine of those days): ``machine_id``,
    ``day``, ``vibration_rms``, ``z_vibration_rms``, ``hi``, sorted by machine and day."""
    known = baseline.median.index.get_indexer(daily.machine_id) >= 0
    daily = daily[known]
    machine, _ = pd.factorize(daily.machine_id, sort=True)
    day = daily.day.to_numpy().astype("datetime64[D]").astype(np.int64)
    order = np.lexsort((day, machine))
    rows = order[last_days(machine[order], day[order], days)]
    recent = daily.iloc[rows].reset_index(drop=True)
    _, z = _deviations(recent, baseline)
    vibration = FEATURES.index("vibration_rms")
    return pd.DataFrame({"machine_id": recent.machine_id, "day": recent.day,
                         "vibration_rms": recent.vibration_rms.to_numpy(dtype=float),
                         "z_vibration_rms": z[:, vibration],
                         "hi": np.sqrt(np.mean(z**2, axis=1))})


def last_days(machine: np.ndarray, day: np.ndarray, days: int) -> np.ndarray:
    """Whether each row (sorted by ``machine`` and ``day`` codes) is on a day among some
    machine's last ``days`` days."""
    ends = np.flatnonzero(np.r_[machine[1:] != machine[:-1], True])
    last = np.repeat(ends, np.diff(np.r_[-1, ends])) - np.arange(machine.size) < days
    return np.isin(day, day[last])


def group_median(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Median of ``values`` (a vector, or a column each) per ``group`` (sorted non-negative
    integer ids; one per group), the two middle values interpolated as pandas and DuckDB do
    (a missing value sorts last)."""
    order = np.argsort(group, kind="stable")
    group = group[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    counts = np.diff(np.r_[starts, group.size])
    table = np.full((starts.size, counts.max(), *values.shape[1:]), np.nan)
    table[np.repeat(np.arange(starts.size), counts),
          np.arange(group.size) - np.repeat(starts, counts)] = values[order]
    table.sort(axis=1, kind="stable")
    at = np.arange(starts.size)
    return table[at, (counts - 1) // 2] * 0.5 + table[at, counts // 2] * 0.5


def _deviations(daily: pd.DataFrame, baseline: Baseline) -> tuple[np.ndarray, np.ndarray]:
    """:func:`deviations` of ``daily`` (machines with a baseline)."""
    return deviations(daily[list(FEATURES)].to_numpy(dtype=float),
                      baseline.median.index.get_indexer(daily.machine_id),
                      daily.day.to_numpy(), baseline)


def deviations(values: np.ndarray, row: np.ndarray, day: np.ndarray, baseline: Baseline
               ) -> tuple[np.ndarray, np.ndarray]:
    """Deviations from the baseline (hall-compensated temperature) and z-scores of feature
    ``values`` (a column per feature) of the machines at ``row`` of the baseline, on ``day``
    (any day key)."""
    values = np.array(values, dtype=float, order="F")  # the layout sets the order of sums
    logs = [FEATURES.index(f) for f in LOG_FEATURES]
    values[:, logs] = np.log(np.maximum(values[:, logs], 1e-9))
    median, scale = baseline.arrays
    deviation = values - median[row]
    hall = FEATURES.index("temperature_c")
    if np.unique(row).size >= 3:
        _, day = np.unique(day, return_inverse=True)
        deviation[:, hall] -= group_median(deviation[:, hall], day)[day]
    z = deviation / scale[row]
    return deviation, z


def _transformed(daily: pd.DataFrame) -> pd.DataFrame:
    values = daily[["machine_id", "day", *FEATURES]].sort_values(["machine_id", "day"]).copy()
    for feature in LOG_FEATURES:
        values[feature] = np.log(np.maximum(values[feature].astype(float), 1e-9))
    return values


__all__ = ["FEATURES", "Baseline", "daily_condition", "deviations", "fit_baseline",
           "group_median", "health_index", "last_days", "recent_index"]
