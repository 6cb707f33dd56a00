"""Hourly energy of the site: weather, HVAC, process and lighting loads, price and carbon.

Sized so that a year averages ≈ 2.1 MWh per vehicle built (BMW 2020), split process
65 % (paint-heavy), HVAC 28 %, lighting 7 % (split: no published figure, see docs).

>>> from gigaloop.twin.scenario import Site
>>> grid = Energy(Site(), units_per_day=80)
>>> rng = np.random.default_rng(0)
>>> outside = grid.outside_temperature(196, rng)
>>> hours = grid.day(outside=outside, day_of_year=196, running=np.ones(24), rng=rng)
>>> sorted(hours)[:3]
['carbon_g_per_kwh', 'hvac_kwh', 'indoor_temp_c']
>>> bool(hours["tariff_usd_per_kwh"][17] > hours["tariff_usd_per_kwh"][3])
True
"""

from __future__ import annotations

import numpy as np

from gigaloop.twin.scenario import Site

KWH_PER_VEHICLE = 2100.0
SHARES = {"process": 0.65, "hvac": 0.28, "lighting": 0.07}
PROCESS_BASE_FRACTION = 0.4  # ovens, compressors, booths that run whether units flow or not
INDOOR_SETPOINT_C = 22.0
HVAC_MEAN_FACTOR = 1.0  # mean of the HVAC load shape over a Texas year (calibrated, see docs)
HOURS = np.arange(24)


class Energy:
    """Generates one day of hourly site energy rows (as arrays of length 24)."""

    def __init__(self, site: Site, *, units_per_day: int) -> None:
        self.site = site
        per_hour = units_per_day * KWH_PER_VEHICLE / 24
        self._process_kwh = SHARES["process"] * per_hour
        self._hvac_kwh = SHARES["hvac"] * per_hour
        self._lighting_kwh = SHARES["lighting"] * per_hour
        self._anomaly_c = 0.0

    def outside_temperature(self, day_of_year: int, rng: np.random.Generator) -> np.ndarray:
        """Seasonal + daily cycle + a weather anomaly that persists for days (AR(1))."""
        site = self.site
        phi = 0.7
        self._anomaly_c = phi * self._anomaly_c + site.weather_sigma_c * np.sqrt(
            1 - phi**2) * rng.standard_normal()
        seasonal = site.annual_mean_c - site.seasonal_amplitude_c * np.cos(
            2 * np.pi * (day_of_year - 15) / 365.25)
        daily = site.daily_amplitude_c * np.cos(2 * np.pi * (HOURS - 15) / 24)
        return seasonal + daily + self._anomaly_c + 0.4 * rng.standard_normal(24)

    @staticmethod
    def indoor(outside: np.ndarray, running: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Hall temperature: held at the setpoint until the HVAC runs out of capacity."""
        return (INDOOR_SETPOINT_C + 0.6 * np.maximum(outside - 33.0, 0.0)
                - 0.2 * np.maximum(2.0 - outside, 0.0) + 0.5 * running
                + 0.3 * rng.standard_normal(len(outside)))

    def day(self, *, outside: np.ndarray, day_of_year: int, running: np.ndarray,
            rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Rows for one day; ``running`` is the share of each hour the line produced."""
        site = self.site
        cooling = np.maximum(outside - 20.0, 0.0)
        heating = np.maximum(14.0 - outside, 0.0)
        hvac = self._hvac_kwh * (0.35 + 0.13 * cooling + 0.08 * heating) / HVAC_MEAN_FACTOR
        process = self._process_kwh * (PROCESS_BASE_FRACTION
                                       + (1 - PROCESS_BASE_FRACTION) * running)
        daylight = np.clip(np.sin(np.pi * (HOURS - 6) / 13), 0.0, None)
        lighting = self._lighting_kwh * (1.0 - 0.3 * daylight) / (1.0 - 0.3 * daylight.mean())
        start, end = site.peak_hours
        peak = (start <= HOURS) & (end > HOURS)
        summer = 152 <= day_of_year < 274
        tariff = np.where(peak, site.tariff_peak_usd_per_kwh * (1.3 if summer else 1.0),
                          site.tariff_offpeak_usd_per_kwh)
        return {
            "hvac_kwh": hvac, "process_kwh": process, "lighting_kwh": lighting,
            "outside_temp_c": outside, "indoor_temp_c": self.indoor(outside, running, rng),
            "tariff_usd_per_kwh": tariff, "carbon_g_per_kwh": self.carbon(rng),
        }

    def carbon(self, rng: np.random.Generator) -> np.ndarray:
        """Grid intensity: solar dip at midday, evening ramp towards the marginal mix."""
        site = self.site
        solar = np.clip(np.sin(np.pi * (HOURS - 7) / 12), 0.0, None)
        evening = np.exp(-0.5 * ((HOURS - 19.5) / 1.5) ** 2)
        shape = 1.0 - 0.25 * solar + 0.30 * evening
        shape /= shape.mean()
        level = site.carbon_mean_g_per_kwh * shape * np.exp(0.05 * rng.standard_normal())
        return np.clip(level, 0.45 * site.carbon_mean_g_per_kwh, site.carbon_marginal_g_per_kwh)
