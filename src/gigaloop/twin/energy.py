"""Hourly energy of the site: weather, HVAC, process and lighting loads, price and carbon.

Sized so that a year averages ≈ 2.1 MWh per vehicle built (BMW 2020), split process
65 % (paint-heavy), HVAC 28 %, lighting 7 % (split: no published figure, see docs).

The hall is one thermal mass (1R1C, time constant 8 h). Its HVAC cools the hall down to
the hour's cooling setpoint and heats it up to the heating one, within capacity, and lets
it float in between (both 22 °C unless an :class:`EnergySchedule` says otherwise): held at
22 °C it uses exactly the steady-state load above. A schedule also moves up to 10 % of
each hour's process load (battery formation, compressed-air storage, oven preheat) to
other hours, keeping the day's total, and may
run the hall's fans below design airflow: fan power follows the fan affinity law
(∝ airflow^2.5) and the coils deliver at most that share of their capacity. Without a
schedule the fans run at design airflow around the clock (constant volume, as the hall's
HVAC is run without an energy management system).

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

from gigaloop.actuate import EnergySchedule
from gigaloop.twin.scenario import Site

KWH_PER_VEHICLE = 2100.0
SHARES = {"process": 0.65, "hvac": 0.28, "lighting": 0.07}
PROCESS_BASE_FRACTION = 0.4  # ovens, compressors, booths that run whether units flow or not
INDOOR_SETPOINT_C = 22.0
HVAC_MEAN_FACTOR = 1.0  # mean of the HVAC load shape over a Texas year (calibrated, see docs)
HVAC_FAN_SHARE = 0.35  # fans and ventilation, always on
COOL_PER_K, HEAT_PER_K = 0.13, 0.08  # × nominal HVAC kWh per K of drive, per hour
COOL_OFFSET_C, HEAT_OFFSET_C = 2.0, 8.0  # internal gains: cool above T−2 °C, heat below T−8 °C
COOL_CAPACITY_K, HEAT_CAPACITY_K = 18.0, 12.0  # holds 22 °C up to 38 °C and down to 2 °C
TIME_CONSTANT_H = 8.0  # hall air + slab + steel
SHIFTABLE_SHARE = 0.10  # of each hour's process load
SETPOINT_RANGE_C = (15.0, 30.0)  # what the building management system accepts
FAN_EXPONENT = 2.5  # fan kW ∝ airflow^n: 3 in fixed ducts (affinity law), less with VAV
MIN_AIRFLOW = 0.6  # ventilation floor, share of design airflow (air changes, fume dilution)
HOURS = np.arange(24)


def thermostat(outside: np.ndarray, cooling: np.ndarray, heating: np.ndarray, *,
               start_c: float, cool_per_k: float, heat_per_k: float,
               airflow: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hall temperature at the end of each hour and HVAC heating / cooling kWh (1R1C).

    Per hour the hall drifts by its gains (outside, internal) over its thermal mass; the
    HVAC then cools it back down to the ``cooling`` setpoint or heats it up to the
    ``heating`` one, within capacity (times ``airflow``, the share of design airflow, 1
    unless given), and lets it float in between.

    >>> cool, heat = np.array([22.0, 22.0, 25.0]), np.full(3, 20.0)
    >>> hall, kwh = thermostat(np.full(3, 30.0), cool, heat, start_c=22.0, cool_per_k=1.0,
    ...                        heat_per_k=1.0)
    >>> hall.round(2).tolist(), kwh.round(2).tolist()
    ([22.0, 22.0, 23.25], [10.0, 10.0, 0.0])
    """
    mass = TIME_CONSTANT_H * cool_per_k
    hall, kwh = np.empty(len(outside)), np.empty(len(outside))
    air = np.ones(len(outside)) if airflow is None else airflow
    temp = start_c
    for h, (out, top, bottom) in enumerate(zip(outside, cooling, heating, strict=True)):
        gain = (cool_per_k * max(out - temp + COOL_OFFSET_C, 0.0)
                - heat_per_k * max(temp - HEAT_OFFSET_C - out, 0.0))
        drift = temp + gain / mass
        if drift > top:
            kwh[h] = min(mass * (drift - top), air[h] * COOL_CAPACITY_K * cool_per_k)
            temp = drift - kwh[h] / mass
        elif drift < bottom:
            kwh[h] = min(mass * (bottom - drift), air[h] * HEAT_CAPACITY_K * heat_per_k)
            temp = drift + kwh[h] / mass
        else:
            kwh[h], temp = 0.0, drift
        hall[h] = temp
    return hall, kwh


def shift_load(process: np.ndarray, requested: np.ndarray, share: float) -> np.ndarray:
    """``process`` with shiftable load moved as ``requested`` (capped), same daily total.

    >>> shift_load(np.full(4, 10.0), np.array([2.0, 0.0, -5.0, 3.0]), 0.1).tolist()
    [10.4, 10.0, 9.0, 10.6]
    """
    moved_out = np.minimum(np.maximum(-requested, 0.0), share * process)
    into = np.maximum(requested, 0.0)
    if into.sum() <= 0:
        return process
    return process - moved_out + moved_out.sum() * into / into.sum()


class Energy:
    """Generates one day of hourly site energy rows (as arrays of length 24)."""

    def __init__(self, site: Site, *, units_per_day: int) -> None:
        self.site = site
        per_hour = units_per_day * KWH_PER_VEHICLE / 24
        self._process_kwh = SHARES["process"] * per_hour
        self._hvac_kwh = SHARES["hvac"] * per_hour
        self._lighting_kwh = SHARES["lighting"] * per_hour
        self._anomaly_c = 0.0
        self._hall_c = INDOOR_SETPOINT_C
        self._day = -1
        self._schedules: dict[int, EnergySchedule] = {}
        self._today: EnergySchedule | None = None
        self._hall = np.full(24, INDOOR_SETPOINT_C)
        self._hvac = np.zeros(24)

    def check(self, schedule: EnergySchedule) -> str | None:
        """Why the site refuses ``schedule`` (``None`` when it takes it)."""
        cooling = np.asarray(schedule.cooling_setpoint_c, dtype=float)
        heating = np.asarray(schedule.heating_setpoint_c, dtype=float)
        shift = np.asarray(schedule.shift_kwh, dtype=float)
        airflow = np.asarray(schedule.airflow or np.ones(24), dtype=float)
        low, high = SETPOINT_RANGE_C
        if schedule.site_id != self.site.site_id:
            return f"unknown site {schedule.site_id!r}"
        if any(v.shape != (24,) for v in (cooling, heating, shift, airflow)):
            return "a schedule needs 24 hourly setpoints (cooling, heating), shifts and airflows"
        if not all(np.isfinite(v).all() for v in (cooling, heating, shift, airflow)):
            return "a schedule must be finite"
        if airflow.min() < MIN_AIRFLOW - 1e-9 or airflow.max() > 1.0 + 1e-9:
            return f"airflow must lie within {MIN_AIRFLOW:g}–1 of design"
        if min(cooling.min(), heating.min()) < low or max(cooling.max(), heating.max()) > high:
            return f"setpoints must lie within {low}–{high} °C"
        if (heating > cooling + 1e-9).any():
            return "the heating setpoint may not exceed the cooling setpoint"
        if abs(shift.sum()) > 1e-6 * (1.0 + np.abs(shift).sum()):
            return f"shifted load must sum to zero over the day, got {shift.sum():g} kWh"
        return None

    def schedule(self, schedule: EnergySchedule) -> None:
        """Use ``schedule`` (already checked) on its day; a later one for that day replaces it."""
        self._schedules[schedule.day] = schedule

    def outside_temperature(self, day_of_year: int, rng: np.random.Generator) -> np.ndarray:
        """Seasonal + daily cycle + a weather anomaly that persists for days (AR(1))."""
        site = self.site
        phi = 0.7
        self._anomaly_c = phi * self._anomaly_c + site.weather_sigma_c * np.sqrt(
            1 - phi**2) * rng.standard_normal()
        seasonal = site.annual_mean_c - site.seasonal_amplitude_c * np.cos(
            2 * np.pi * (day_of_year - 15) / 365.25)
        daily = site.daily_amplitude_c * np.cos(2 * np.pi * (HOURS - 15) / 24)
        outside = seasonal + daily + self._anomaly_c + 0.4 * rng.standard_normal(24)
        self._run_hall(outside)
        return outside

    def _run_hall(self, outside: np.ndarray) -> None:
        """The next day's hall temperature and HVAC load, under its schedule if one came."""
        self._day += 1
        self._today = self._schedules.pop(self._day, None)
        held = np.full(24, INDOOR_SETPOINT_C)
        cooling = (np.asarray(self._today.cooling_setpoint_c, dtype=float) if self._today
                   else held)
        heating = (np.asarray(self._today.heating_setpoint_c, dtype=float) if self._today
                   else held)
        airflow = (np.asarray(self._today.airflow, dtype=float)
                   if self._today and self._today.airflow else np.ones(24))
        nominal = self._hvac_kwh / HVAC_MEAN_FACTOR
        self._hall, conditioning = thermostat(outside, cooling, heating, start_c=self._hall_c,
                                              cool_per_k=COOL_PER_K * nominal,
                                              heat_per_k=HEAT_PER_K * nominal, airflow=airflow)
        self._hall_c = float(self._hall[-1])
        self._hvac = HVAC_FAN_SHARE * nominal * airflow**FAN_EXPONENT + conditioning

    def indoor(self, outside: np.ndarray, running: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
        """Measured hall temperature: the thermal model, + 0.5 °C while producing, + noise."""
        return self._hall + 0.5 * running + 0.3 * rng.standard_normal(len(outside))

    def day(self, *, outside: np.ndarray, day_of_year: int, running: np.ndarray,
            rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Rows for one day; ``running`` is the share of each hour the line produced."""
        site = self.site
        process = self._process_kwh * (PROCESS_BASE_FRACTION
                                       + (1 - PROCESS_BASE_FRACTION) * running)
        if self._today is not None:
            process = shift_load(process, np.asarray(self._today.shift_kwh, dtype=float),
                                 SHIFTABLE_SHARE)
        daylight = np.clip(np.sin(np.pi * (HOURS - 6) / 13), 0.0, None)
        lighting = self._lighting_kwh * (1.0 - 0.3 * daylight) / (1.0 - 0.3 * daylight.mean())
        start, end = site.peak_hours
        peak = (start <= HOURS) & (end > HOURS)
        summer = 152 <= day_of_year < 274
        tariff = np.where(peak, site.tariff_peak_usd_per_kwh * (1.3 if summer else 1.0),
                          site.tariff_offpeak_usd_per_kwh)
        return {
            "hvac_kwh": self._hvac, "process_kwh": process, "lighting_kwh": lighting,
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
