"""Where the fleet lives: home regions, their climate, and each day's weather.

Every region belongs to one climate (``hot``, ``temperate``, ``cold``). Temperature follows
a yearly cosine peaking in late July plus an AR(1) daily anomaly per region; a region-day
is wet with a climate- and season-dependent probability, and then part of its miles are
driven in rain (snow when it is below freezing).

>>> weather = Weather(np.random.default_rng(0))
>>> today = weather.day(date(2025, 1, 15))
>>> today.temp_c.shape == (len(REGIONS),), float(today.rain_share.min()) >= 0.0
(True, True)
>>> bool(today.temp_c[REGION_CLIMATE == CLIMATE_INDEX["cold"]].mean() < 0)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from gigaloop.schema.fleet import CLIMATES

CLIMATE_INDEX = {name: i for i, name in enumerate(CLIMATES)}

#: (region, climate, share of deliveries). No published split: California is the largest
#: US EV market, so temperate regions take half; hot and cold a quarter each.
_REGIONS = (
    ("US-AZ", "hot", 0.05), ("US-TX", "hot", 0.10), ("US-FL", "hot", 0.08),
    ("US-NV", "hot", 0.02),
    ("US-CA", "temperate", 0.34), ("US-WA", "temperate", 0.06),
    ("US-NC", "temperate", 0.05), ("US-GA", "temperate", 0.05),
    ("US-NY", "cold", 0.07), ("US-IL", "cold", 0.05), ("US-MA", "cold", 0.05),
    ("US-MN", "cold", 0.04), ("US-MI", "cold", 0.04),
)
REGIONS = tuple(name for name, _, _ in _REGIONS)
REGION_CLIMATE = np.array([CLIMATE_INDEX[c] for _, c, _ in _REGIONS], dtype=np.int8)
REGION_SHARE = np.array([share for _, _, share in _REGIONS])

#: Per climate: yearly mean °C, seasonal amplitude °C (NOAA normals of e.g. Phoenix /
#: Houston, Los Angeles / Seattle, Chicago / Minneapolis, rounded), and the probability of
#: a wet day in winter and in summer (≈ 30 / 90 / 110 wet days a year).
CLIMATE_TEMP_MEAN = np.array([23.0, 15.0, 8.0])
CLIMATE_TEMP_AMPLITUDE = np.array([9.0, 6.0, 14.0])
CLIMATE_WET_WINTER = np.array([0.08, 0.32, 0.30])
CLIMATE_WET_SUMMER = np.array([0.12, 0.16, 0.30])
#: Day of year of the warmest day.
PEAK_DAY_OF_YEAR = 201
#: Daily temperature anomaly: AR(1) with this persistence and stationary sd (°C).
ANOMALY_PERSISTENCE = 0.7
ANOMALY_SD = 3.0
#: On a wet day, the share of that region's miles driven in rain is uniform in this range.
WET_DAY_RAIN_SHARE = (0.3, 0.9)


@dataclass(frozen=True)
class RegionDay:
    """One day's weather, one value per region (aligned with :data:`REGIONS`)."""

    temp_c: np.ndarray
    rain_share: np.ndarray
    snow: np.ndarray


class Weather:
    """Seeded daily weather for every region; call :meth:`day` once per simulated day."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._anomaly = rng.normal(0.0, ANOMALY_SD, len(REGIONS))

    def day(self, when: date) -> RegionDay:
        """Advance the anomaly one day and return the weather of ``when``."""
        season = np.cos(2 * np.pi * (when.timetuple().tm_yday - PEAK_DAY_OF_YEAR) / 365.25)
        innovation_sd = ANOMALY_SD * np.sqrt(1 - ANOMALY_PERSISTENCE**2)
        self._anomaly = ANOMALY_PERSISTENCE * self._anomaly + self._rng.normal(
            0.0, innovation_sd, len(REGIONS))
        climate = REGION_CLIMATE
        temp = CLIMATE_TEMP_MEAN[climate] + CLIMATE_TEMP_AMPLITUDE[climate] * season
        temp = temp + self._anomaly
        summer = (1 + season) / 2
        p_wet = CLIMATE_WET_WINTER[climate] * (1 - summer) + CLIMATE_WET_SUMMER[climate] * summer
        wet = self._rng.random(len(REGIONS)) < p_wet
        share = self._rng.uniform(*WET_DAY_RAIN_SHARE, len(REGIONS)) * wet
        return RegionDay(temp.astype(np.float32), share.astype(np.float32), temp < 0.0)


def mean_rain_share() -> float:
    """Fleet-average share of miles in rain over a year, from the parameters above.

    >>> 0.05 < mean_rain_share() < 0.15
    True
    """
    p_wet = (CLIMATE_WET_WINTER + CLIMATE_WET_SUMMER) / 2
    by_region = p_wet[REGION_CLIMATE] * np.mean(WET_DAY_RAIN_SHARE)
    return float(np.sum(by_region * REGION_SHARE))


def draw_regions(rng: np.random.Generator, hot_bias: np.ndarray) -> np.ndarray:
    """A home region per unit; with probability ``hot_bias`` it is forced into a hot region.

    >>> rng = np.random.default_rng(1)
    >>> plain = draw_regions(rng, np.zeros(20_000))
    >>> biased = draw_regions(rng, np.full(20_000, 0.5))
    >>> hot = CLIMATE_INDEX["hot"]
    >>> bool((REGION_CLIMATE[biased] == hot).mean() > (REGION_CLIMATE[plain] == hot).mean() + 0.3)
    True
    """
    n = len(hot_bias)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE)
    hot = np.flatnonzero(np.equal(REGION_CLIMATE, CLIMATE_INDEX["hot"]))
    hot_p = REGION_SHARE[hot] / REGION_SHARE[hot].sum()
    forced = rng.random(n) < np.clip(hot_bias, 0.0, 1.0)
    region[forced] = rng.choice(hot, size=int(forced.sum()), p=hot_p)
    return region.astype(np.int16)
