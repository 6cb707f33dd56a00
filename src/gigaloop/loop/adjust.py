"""What every test of a root-cause scan is adjusted for: usage strata and rate covariates.

Usage is not a factory cause but moves failure rates: a level whose cars go to hot
regions or to high-mileage drivers fails more per car without any defect. Failure-time
tests are stratified by climate × a fine band of miles per day; rate tests regress on
climate, usage and age bands.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gigaloop.loop.population import Population

#: Width of a mileage stratum: miles per day within a factor of this.
MILEAGE_BAND = 1.25
MIN_BAND_UNITS = 50
AGE_BANDS = 10  # rates are adjusted for age deciles


def usage_strata(pop: Population) -> np.ndarray:
    """Climate × band of miles per day, bands :data:`MILEAGE_BAND` wide on a log scale
    (unknown mileage is a band of its own): within a band, mileage differs by under 25 %,
    so a level sent to high-mileage customers cannot pass for a factory cause.

    Sparse bands at the ends are merged into their neighbours (at least
    :data:`MIN_BAND_UNITS` units each)."""
    climate = pd.factorize(pop.climate, sort=True)[0]
    miles = pop.usage["miles_per_day"].to_numpy(float)
    known = np.isfinite(miles) & (miles > 0)
    band = np.zeros(len(pop), dtype=np.int64)
    if known.sum() > MIN_BAND_UNITS:
        raw = np.floor(np.log(miles[known]) / np.log(MILEAGE_BAND)).astype(np.int64)
        counts = np.bincount(raw - raw.min())
        low, high = _dense_span(counts, MIN_BAND_UNITS)
        band[known] = 1 + np.clip(raw - raw.min(), low, high) - low
    return (climate * (int(band.max()) + 1) + band).astype(np.int64)


def _dense_span(counts: np.ndarray, least: int) -> tuple[int, int]:
    """First and last band once the sparse tails (under ``least`` units, cumulated from
    each end) are folded in.

    >>> _dense_span(np.array([1, 2, 50, 60, 3]), 5)
    (2, 3)
    """
    low = int(np.searchsorted(np.cumsum(counts), least, side="left"))
    high = len(counts) - 1 - int(np.searchsorted(np.cumsum(counts[::-1]), least, side="left"))
    return min(low, high), max(low, high)


def rate_covariates(pop: Population, mode: str | None = None) -> np.ndarray:
    """Usage and exposure a rate is adjusted for: climate, mileage, fast charging, heat,
    Autopilot share and age — as :data:`AGE_BANDS` bands, not a line: fade per √day is
    not quite constant in age, and the oldest lots must not pass for weak ones. Of the
    rate measure ``mode``, the age is that of the window it is over: a car whose part a
    visit replaced is as old as its first part's days (``MeasuredRates.watched``)."""
    climate = pd.get_dummies(pd.Series(pop.climate), drop_first=True).to_numpy(float)
    usage = pop.usage[["miles_per_day", "dc_kwh_per_day", "ambient_temp_c",
                       "in_service_days"]].to_numpy(float)
    ap_share = (pop.usage["autopilot_miles"] / np.maximum(
        pop.usage["miles_per_day"] * pop.usage["telemetry_days"], 1.0)).to_numpy()
    age = np.maximum(pop.usage["in_service_days"].to_numpy(float), 0.0)
    watched = pop.rates[mode].watched if mode in pop.rates else None
    if watched is not None:
        age = age * watched
        usage[:, -1] = age
    edges = np.unique(np.quantile(age, np.linspace(0, 1, AGE_BANDS + 1)[1:-1])) \
        if len(age) else np.zeros(0)
    bands = pd.get_dummies(np.searchsorted(edges, age), drop_first=True).to_numpy(float)
    columns = np.column_stack([climate, usage, ap_share, np.sqrt(age), bands])
    known = ~np.isnan(columns)
    counts = known.sum(axis=0)
    means = np.divide(np.where(known, columns, 0.0).sum(axis=0), counts,
                      out=np.zeros(columns.shape[1]), where=counts > 0)
    return np.where(known, columns, means)  # unknown: the mean, or 0 when none is known
