"""Energy scheduling: tomorrow's HVAC setpoints and shiftable load as a linear programme.

From the store alone (``energy_readings``) the module fits how the hall's HVAC load
answers to outside and indoor temperature, forecasts tomorrow by persistence (yesterday's
same hour for weather, price and carbon; last week's mean process load), and solves with
HiGHS (:func:`scipy.optimize.milp`)::

    min  Σ_h (tariff_h + carbon price · g_h) · (hvac_h + shift_h) + demand · peak kW
         + penalty · comfort slack
    s.t. C (T_h − T_h−1) = a (out_h − T_h−1 + d_c) − cool_h   (hours that need cooling)
         C (T_h − T_h−1) = b (d_h + out_h − T_h−1) + heat_h   (hours that need heating)
         18 + margin ≤ T_h ≤ 27 − margin (soft), 0 ≤ cool_h, heat_h ≤ capacity,
         Σ_h shift_h = 0, |shift_h| ≤ share · process_h, peak ≥ load_h in peak hours

The regime of each hour is fixed at the nominal setpoint (the linearisation). The thermal
mass ``C = time_constant_h · a`` cannot be seen in a hall held at one setpoint, so its time
constant is an engineering input; an underestimate only costs savings, never comfort,
since the HVAC still holds every setpoint the plan sends.

>>> hours = np.arange(24)
>>> forecast = Forecast(outside_c=30 + 5 * np.cos(2 * np.pi * (hours - 15) / 24),
...     tariff_usd_per_kwh=np.where((hours >= 16) & (hours < 21), 0.2, 0.07),
...     carbon_g_per_kwh=np.full(24, 336.0), process_kwh=np.full(24, 1000.0),
...     other_kwh=np.full(24, 100.0), hall=HallModel(fan_kwh=100, cool_per_k=40, heat_per_k=25,
...     cool_offset_c=2.5, heat_offset_c=8.5, capacity_kwh=600), start_indoor_c=22.5)
>>> plan, base = plan_day(forecast), baseline_day(forecast)
>>> bool(plan.cost_usd < 0.9 * base.cost_usd), round(abs(float(plan.shift_kwh.sum())), 6)
(True, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp, nnls

from gigaloop.actuate import EnergySchedule
from gigaloop.loop.contract import Decision
from gigaloop.loop.contract import DayContext
from gigaloop.errors import ModelError

HOURS = 24


@dataclass(frozen=True)
class EnergyConfig:
    """Prices, comfort and plant facts the plan needs (assumptions, not fitted)."""

    comfort_c: tuple[float, float] = (18.0, 27.0)  # the comfort KPI's band
    margin_c: float = 1.5  # kept inside the band at least (production heat, sensor noise)
    margin_sigmas: float = 4.5  # …and as far as the readings' offset + this many σ of noise
    nominal_setpoint_c: float = 22.0  # what the plant holds without a plan (the baseline)
    time_constant_h: float = 6.0  # hall thermal mass / envelope (building survey; twin: 8)
    time_constant_range_h: tuple[float, float] = (6.0, 10.0)  # comfort must hold across it
    shiftable_share: float = 0.10  # process load that may move (formation, compressed air)
    carbon_usd_per_t: float = 51.0  # US interagency social cost of carbon (2021 interim)
    demand_usd_per_kw_month: float = 16.0  # summer peak demand charge (PG&E, FIGURES.md)
    comfort_usd_per_kh: float = 1000.0  # penalty that makes comfort win unless impossible
    history_days: int = 28
    min_airflow: float = 0.6  # ventilation floor of the hall's fans (design data, twin: 0.6)
    fan_exponent: float = 2.5  # fan power ∝ airflow^n (fan affinity law with duct losses)
    forecast_z: float = 2.0  # comfort must hold on a day this many forecast σ hotter / colder
    stress_z: float = 3.0  # …and a day this much hotter no warmer than the baseline's hall
    max_fit_error: float = 0.30  # fall back above this CV(RMSE) (ASHRAE Guideline 14, hourly)


@dataclass(frozen=True)
class HallModel:
    """HVAC kWh per hour = fans·airflow^n + a·max(out − T + d_c, 0) + b·max(T − d_h − out, 0).

    ``capacity_kwh`` is what the coils deliver at design airflow.
    """

    fan_kwh: float
    cool_per_k: float
    heat_per_k: float
    cool_offset_c: float
    heat_offset_c: float
    capacity_kwh: float
    fit_error: float = 0.0  # RMS residual of the fit over its mean HVAC kWh (0: not fitted)
    reading_offset_c: float = 0.0  # indoor reading − setpoint while the HVAC holds it: mean
    reading_sd_c: float = 0.0  # …and standard deviation (production heat, sensor noise)
    envelope_per_k: float = 0.0  # conductance for the thermal mass (0: ``cool_per_k``)

    def band(self, config: EnergyConfig) -> tuple[float, float]:
        """The hall temperatures a plan may use: the comfort band less what readings add.

        A reading is the hall + ``reading_offset_c`` ± noise of ``reading_sd_c``; a hall at
        the returned edge has its readings ``margin_sigmas`` σ inside the band.

        >>> HallModel(1, 1, 1, 2, 8, 10, reading_offset_c=0.5, reading_sd_c=0.3).band(
        ...     EnergyConfig())
        (19.5, 25.15)
        """
        low, high = config.comfort_c
        spread = config.margin_sigmas * self.reading_sd_c
        return (low + max(config.margin_c, spread - self.reading_offset_c),
                high - max(config.margin_c, spread + self.reading_offset_c))

    def mass(self, time_constant_h: float) -> float:
        """Thermal mass (kWh per K) for a time constant: τ × the envelope's conductance,
        ``envelope_per_k`` (the slope that carried more of the fitted load; the cooling one
        if not given).

        >>> HallModel(1, 40, 25, 2, 8, 10).mass(6.0), HallModel(1, 0, 25, 2, 8, 10, 0, 0, 0,
        ...                                                     envelope_per_k=25).mass(6.0)
        (240.0, 150.0)
        """
        return time_constant_h * (self.envelope_per_k or self.cool_per_k)

    def hvac_kwh(self, outside_c: np.ndarray, indoor_c: np.ndarray, airflow: np.ndarray,
                 fan_exponent: float = 2.5) -> np.ndarray:
        """The steady-state law: fans + conditioning at these temperatures and airflows."""
        drive = outside_c - indoor_c
        return (self.fan_kwh * airflow ** fan_exponent
                + self.cool_per_k * np.maximum(drive + self.cool_offset_c, 0.0)
                + self.heat_per_k * np.maximum(-self.heat_offset_c - drive, 0.0))

    def regime(self, outside_c: np.ndarray, indoor_c: float) -> np.ndarray:
        """+1 where the hall needs cooling at ``indoor_c``, −1 heating, 0 neither."""
        cooling = outside_c - indoor_c + self.cool_offset_c > 0
        heating = indoor_c - self.heat_offset_c - outside_c > 0
        return np.where(cooling, 1, np.where(heating, -1, 0))


@dataclass(frozen=True)
class Forecast:
    """Tomorrow, hour by hour (local hours 0–23), and the fitted hall.

    ``outside_sd_c`` is the forecast's standard error (0: the forecast is taken as sure).
    """

    outside_c: np.ndarray
    tariff_usd_per_kwh: np.ndarray
    carbon_g_per_kwh: np.ndarray
    process_kwh: np.ndarray
    other_kwh: np.ndarray  # lighting and anything else that cannot move
    hall: HallModel
    start_indoor_c: float
    outside_sd_c: float = 0.0
    peak_to_date_kw: float = 0.0  # this billing month's largest hour so far (free to reach)
    process_floor_kwh: np.ndarray | None = None  # each hour's least process load of late


def movable(forecast: Forecast, config: EnergyConfig) -> tuple[np.ndarray, np.ndarray]:
    """Process kWh each hour may take in, and may give up: the shiftable share of its load,
    for giving up of the least load the hour has run lately (a line stopped for planned
    maintenance runs only its base load, and the site moves no more than that allows)."""
    into = config.shiftable_share * np.maximum(forecast.process_kwh, 0.0)
    floor = (forecast.process_kwh if forecast.process_floor_kwh is None
             else np.minimum(forecast.process_floor_kwh, forecast.process_kwh))
    return into, config.shiftable_share * np.maximum(floor, 0.0)


@dataclass(frozen=True)
class Schedule:
    """A planned day and what it is expected to cost under the forecast."""

    setpoint_c: np.ndarray
    shift_kwh: np.ndarray
    hvac_kwh: np.ndarray
    cost_usd: float
    co2e_kg: float
    peak_kw: float
    comfort_slack_kh: float
    airflow: np.ndarray = field(default_factory=lambda: np.ones(HOURS))


def _price(forecast: Forecast, config: EnergyConfig) -> np.ndarray:
    return forecast.tariff_usd_per_kwh + config.carbon_usd_per_t * forecast.carbon_g_per_kwh / 1e6


def _evaluate(forecast: Forecast, setpoint: np.ndarray, hvac: np.ndarray, shift: np.ndarray,
              slack: float, config: EnergyConfig, airflow: np.ndarray | None = None) -> Schedule:
    load = forecast.process_kwh + shift + forecast.other_kwh + hvac
    return Schedule(setpoint_c=setpoint, shift_kwh=shift, hvac_kwh=hvac,
                    cost_usd=float(load @ forecast.tariff_usd_per_kwh),
                    co2e_kg=float(load @ forecast.carbon_g_per_kwh) / 1000.0,
                    peak_kw=float(load.max()), comfort_slack_kh=slack,
                    airflow=np.ones(HOURS) if airflow is None else airflow)


def baseline_day(forecast: Forecast, config: EnergyConfig = EnergyConfig()) -> Schedule:
    """The day without a plan: the nominal setpoint held (within capacity), nothing moved."""
    hall = forecast.hall
    out = forecast.outside_c
    nominal = config.nominal_setpoint_c
    need = (hall.cool_per_k * np.maximum(out - nominal + hall.cool_offset_c, 0.0)
            + hall.heat_per_k * np.maximum(nominal - hall.heat_offset_c - out, 0.0))
    hvac = hall.fan_kwh + np.minimum(need, hall.capacity_kwh)
    return _evaluate(forecast, np.full(HOURS, nominal), hvac, np.zeros(HOURS), 0.0, config)


def held_day(forecast: Forecast, setpoint: np.ndarray,
             config: EnergyConfig = EnergyConfig()) -> Schedule:
    """The forecast day under ``setpoint`` at design airflow, from tomorrow's start.

    The fitted hall as a 1R1C mass (the slowest of ``time_constant_range_h``: the longest
    recovery), the HVAC only pulling back to the setpoint within capacity (a warm start
    costs hours at full capacity). The load to move is then chosen for this HVAC
    (:func:`shift_for`), so that it does not pile onto the recovery.
    """
    hall = forecast.hall
    mass = hall.mass(config.time_constant_range_h[1])
    temp, hvac = forecast.start_indoor_c, np.empty(HOURS)
    for h, (out, target) in enumerate(zip(forecast.outside_c, setpoint, strict=True)):
        gain = (hall.cool_per_k * max(out - temp + hall.cool_offset_c, 0.0)
                - hall.heat_per_k * max(temp - hall.heat_offset_c - out, 0.0))
        drift = temp + gain / mass
        work = min(abs(mass * (drift - target)) if (drift - target) * gain > 0 else 0.0,
                   hall.capacity_kwh)
        temp = drift - np.sign(gain) * work / mass
        hvac[h] = hall.fan_kwh + work
    return _evaluate(forecast, setpoint, hvac, shift_for(forecast, hvac, config), 0.0, config)


def shift_for(forecast: Forecast, hvac: np.ndarray,
              config: EnergyConfig = EnergyConfig()) -> np.ndarray:
    """The cheapest move of shiftable load (energy, carbon, the day's peak) for fixed HVAC.

    >>> hours = np.arange(24)
    >>> day = Forecast(outside_c=np.full(24, 25.0),
    ...     tariff_usd_per_kwh=np.where((hours >= 16) & (hours < 21), 0.2, 0.07),
    ...     carbon_g_per_kwh=np.full(24, 336.0), process_kwh=np.full(24, 1000.0),
    ...     other_kwh=np.full(24, 100.0), start_indoor_c=22.0, hall=HallModel(
    ...     fan_kwh=100, cool_per_k=40, heat_per_k=25, cool_offset_c=2.5,
    ...     heat_offset_c=8.5, capacity_kwh=600))
    >>> shift_for(day, np.full(24, 300.0)).round().tolist()[14:22]  # the month's peak: this
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> shift = shift_for(replace(day, peak_to_date_kw=1500), np.full(24, 300.0))  # ..or more
    >>> shift[16:21].round().tolist(), round(float(shift.max()), 1), round(float(shift.sum()), 6)
    ([-100.0, -100.0, -100.0, -100.0, -100.0], 100.0, 0.0)
    """
    n = HOURS
    price = _price(forecast, config)
    base = forecast.process_kwh + forecast.other_kwh + hvac
    into, out = movable(forecast, config)
    # shift_in, shift_out, peak
    cost = np.concatenate([price, -price, [config.demand_usd_per_kw_month]])
    balance = np.concatenate([np.ones(n), -np.ones(n), [0.0]])
    peak = np.hstack([-np.eye(n), np.eye(n), np.ones((n, 1))])
    result = milp(cost, constraints=[LinearConstraint(balance[None, :], 0.0, 0.0),
                                     LinearConstraint(peak, base, np.inf)],
                  bounds=Bounds(np.concatenate([np.zeros(2 * n), [forecast.peak_to_date_kw]]),
                                np.concatenate([into, out, [np.inf]])))
    if not result.success:
        raise ModelError(f"load shift could not be solved: {result.message}")
    return np.asarray(result.x[:n] - result.x[n:2 * n])


def plan_day(forecast: Forecast, config: EnergyConfig = EnergyConfig()) -> Schedule:
    """The cheapest day (energy, carbon, demand) that keeps the hall comfortable.

    Comfort is planned robustly: besides the forecast day (which sets the cost), a day
    ``forecast_z`` σ hotter and one as much colder must stay in the band under the same
    setpoints and airflow, with the HVAC's real behaviour (it cools only down to the
    setpoint, within the airflow's share of capacity), for any time constant in
    ``time_constant_range_h``. Their hall temperatures are upper (hot day) and lower (cold
    day) bounds of what the 1R1C hall would do. A stress day ``stress_z`` σ hotter must
    keep the same upper bound within the band or, where capacity cannot, no warmer than
    the bound gives the baseline (22 °C, design airflow): the plan never spends the cool
    the baseline keeps in store for a heat wave. The demand charge bills what the day's
    largest hour adds to ``peak_to_date_kw``.
    """
    hall, n = forecast.hall, HOURS
    # blocks of n: T, cool, heat, shift_in, shift_out, slack_hi, slack_lo, fan, airflow,
    # hot-day T, hot-day cooling, hot slack, cold-day T, cold-day heating, cold slack; peak
    (T, cool, heat, s_in, s_out, hi, lo, fan, air, Th, coolh, hih, Tc, heatc,
     loc, Ts, cools, his) = (k * n for k in range(18))
    peak = 18 * n
    size = peak + 1
    price = _price(forecast, config)
    cost = np.zeros(size)
    for block in (cool, heat, s_in, fan):
        cost[block:block + n] = price
    cost[s_out:s_out + n] = -price
    for block in (hi, lo, hih, loc, his):
        cost[block:block + n] = config.comfort_usd_per_kh
    cost[peak] = config.demand_usd_per_kw_month  # only what tomorrow adds to the month's

    mass = hall.mass(config.time_constant_h)
    masses = [hall.mass(tau) for tau in config.time_constant_range_h]
    regime = hall.regime(forecast.outside_c, config.nominal_setpoint_c)
    bottom, top = hall.band(config)
    hot = forecast.outside_c + config.forecast_z * forecast.outside_sd_c
    cold = forecast.outside_c - config.forecast_z * forecast.outside_sd_c
    # the hot day needs cooling at every hall temperature up to the band's top (cold: heating
    # down to its bottom) exactly where the regime is linear; elsewhere no credit is taken
    hot_cooling = hall.regime(hot, top) > 0
    # the stress day (stress_z σ hotter): never warmer than the baseline would let it be
    stress = forecast.outside_c + config.stress_z * forecast.outside_sd_c
    stress_cooling = hall.regime(stress, top) > 0
    stress_cap = np.empty(n)
    held = forecast.start_indoor_c
    for h in range(n):
        held = max(held, config.nominal_setpoint_c)
        if stress_cooling[h]:
            held = max(held + (hall.cool_per_k * (stress[h] + hall.cool_offset_c - held)
                               - hall.capacity_kwh) / m for m in masses)
        stress_cap[h] = max(top, held, config.nominal_setpoint_c)
    cold_heating = hall.regime(cold, bottom) < 0
    rows, lower, upper = [], [], []

    def row(entries: dict[int, float], low: float, high: float) -> None:
        vector = np.zeros(size)
        for index, value in entries.items():
            vector[index] = value
        rows.append(vector)
        lower.append(low)
        upper.append(high)

    a, b = hall.cool_per_k, hall.heat_per_k
    cap = hall.capacity_kwh
    start = forecast.start_indoor_c

    def warm_bound(h: int, temp: int, cooling: int, slack: int, outside: float,
                   cools: bool, limit: float) -> None:
        """Hour ``h`` of a warmer day's hall (columns from ``temp``), kept below ``limit``."""
        first = h == 0
        prev = {} if first else {temp + h - 1: -1.0}
        known = start if first else 0.0
        row({temp + h: 1.0, T + h: -1.0}, 0.0, np.inf)
        if cools:
            for m in masses:
                rhs = a * (outside + hall.cool_offset_c) + (m - a) * known
                row({temp + h: m, cooling + h: 1.0,
                     **{i: (m - a) * v for i, v in prev.items()}}, rhs, np.inf)
            row({cooling + h: 1.0, air + h: -cap}, -np.inf, 0.0)
        else:
            row({temp + h: 1.0, **prev}, known, np.inf)
        row({temp + h: 1.0, slack + h: -1.0}, -np.inf, limit)

    for h in range(n):
        first = h == 0
        prev = {} if first else {T + h - 1: -1.0}
        prev_c = {} if first else {Tc + h - 1: -1.0}
        known = start if first else 0.0
        out = forecast.outside_c[h]
        if regime[h] > 0:  # C T_h − (C − a) T_h−1 + cool_h = a (out + d_c)
            rhs = a * (out + hall.cool_offset_c) + (mass - a) * known
            row({T + h: mass, cool + h: 1.0, **{i: (mass - a) * v for i, v in prev.items()}},
                rhs, rhs)
        elif regime[h] < 0:  # C T_h − (C − b) T_h−1 − heat_h = b (out + d_h)
            rhs = b * (out + hall.heat_offset_c) + (mass - b) * known
            row({T + h: mass, heat + h: -1.0, **{i: (mass - b) * v for i, v in prev.items()}},
                rhs, rhs)
        else:
            row({T + h: 1.0, **prev}, known, known)
        row({T + h: 1.0, hi + h: -1.0}, -np.inf, top)
        row({T + h: 1.0, lo + h: 1.0}, bottom, np.inf)
        row({cool + h: 1.0, heat + h: 1.0, air + h: -cap}, -np.inf, 0.0)
        # fans: convex airflow^n from below by its tangents
        for s in np.linspace(config.min_airflow, 1.0, 6):
            slope = config.fan_exponent * s ** (config.fan_exponent - 1)
            row({fan + h: 1.0, air + h: -hall.fan_kwh * slope},
                hall.fan_kwh * (s ** config.fan_exponent - slope * s), np.inf)
        # hot day: an upper bound of the hall; HVAC cools at most to the setpoint T_h
        warm_bound(h, Th, coolh, hih, hot[h], hot_cooling[h], top)
        # stress day: the same upper bound, held to what the baseline would reach
        warm_bound(h, Ts, cools, his, stress[h], stress_cooling[h], stress_cap[h])
        # cold day: a lower bound; HVAC heats at most to the setpoint
        row({Tc + h: 1.0, T + h: -1.0}, -np.inf, 0.0)
        if cold_heating[h]:
            for m in masses:
                rhs = b * (cold[h] + hall.heat_offset_c) + (m - b) * known
                row({Tc + h: m, heatc + h: -1.0,
                     **{i: (m - b) * v for i, v in prev_c.items()}}, -np.inf, rhs)
            row({heatc + h: 1.0, air + h: -cap}, -np.inf, 0.0)
        else:
            row({Tc + h: 1.0, **prev_c}, -np.inf, known)
        row({Tc + h: 1.0, loc + h: 1.0}, bottom, np.inf)
    row({**{s_in + h: 1.0 for h in range(n)}, **{s_out + h: -1.0 for h in range(n)}}, 0.0, 0.0)
    for h in range(n):  # the demand charge bills the day's largest hour, wherever it falls
        row({peak: 1.0, cool + h: -1.0, heat + h: -1.0, s_in + h: -1.0, s_out + h: 1.0,
             fan + h: -1.0}, forecast.process_kwh[h] + forecast.other_kwh[h], np.inf)

    upper_bounds = np.full(size, np.inf)
    upper_bounds[s_in:s_in + n], upper_bounds[s_out:s_out + n] = movable(forecast, config)
    upper_bounds[cool:cool + n] = np.where(regime > 0, np.inf, 0.0)
    upper_bounds[heat:heat + n] = np.where(regime < 0, np.inf, 0.0)
    upper_bounds[air:air + n] = 1.0
    lower_bounds = np.zeros(size)
    lower_bounds[air:air + n] = config.min_airflow
    lower_bounds[peak] = forecast.peak_to_date_kw
    for block in (T, Th, Tc, Ts):
        lower_bounds[block:block + n] = -np.inf
    result = milp(cost, constraints=LinearConstraint(np.array(rows), lower, upper),
                  bounds=Bounds(lower_bounds, upper_bounds))
    if not result.success:
        raise ModelError(f"energy plan could not be solved: {result.message}")
    x = result.x
    hvac = x[fan:fan + n] + x[cool:cool + n] + x[heat:heat + n]
    shift = x[s_in:s_in + n] - x[s_out:s_out + n]
    slack = float(x[hi:hi + 2 * n].sum() + x[hih:hih + n].sum() + x[loc:loc + n].sum()
                  + x[his:his + n].sum())
    return _evaluate(forecast, x[T:T + n], hvac, shift, slack, config, x[air:air + n])


def fallback_reason(forecast: Forecast, config: EnergyConfig = EnergyConfig()) -> str | None:
    """Why tomorrow should be run as without a plan (``None``: the plan may be used).

    The hall fit is unreliable when it misses its own data by more than
    ``max_fit_error`` (CV(RMSE) of the hourly fit; ASHRAE Guideline 14 calibrates hourly
    models to 30 %). The other reason, a plan that cannot assure comfort, is the plan's own.

    >>> hall = HallModel(fan_kwh=100, cool_per_k=40, heat_per_k=25, cool_offset_c=2.5,
    ...                  heat_offset_c=8.5, capacity_kwh=600, fit_error=0.35)
    >>> day = Forecast(outside_c=np.full(24, 30.0), tariff_usd_per_kwh=np.full(24, 0.1),
    ...     carbon_g_per_kwh=np.full(24, 336.0), process_kwh=np.full(24, 1000.0),
    ...     other_kwh=np.full(24, 100.0), hall=hall, start_indoor_c=22.5)
    >>> fallback_reason(day)
    'hall model misses its data by 35% (> 30%)'
    >>> fallback_reason(replace(day, hall=replace(hall, fit_error=0.1))) is None
    True
    """
    hall = forecast.hall
    if hall.fit_error > config.max_fit_error:
        return (f"hall model misses its data by {hall.fit_error:.0%} "
                f"(> {config.max_fit_error:.0%})")
    return None


def fit_hall(readings: pd.DataFrame, fan_exponent: float = 2.5) -> HallModel:
    """Least-squares HVAC response (non-negative), balance offsets by grid search.

    ``readings`` has ``hvac_kwh``, ``outside_temp_c`` and ``indoor_temp_c`` per hour, and
    may have ``airflow`` (share of design; 1 if absent) and the ``cooling_setpoint_c`` /
    ``heating_setpoint_c`` in force. With setpoints, only steady hours enter the regression
    (setpoints unchanged since the hour before, the reading within 1 K of one of them): the
    steady-state law only holds there. The readings' offset from the setpoint (and its
    spread) comes from the hours the HVAC held a setpoint unchanged for three hours, neither
    idle nor at capacity: there the hall is at the setpoint, the rest is the reading. The
    law is then refitted without the steady hours it misses by more than 4 robust σ
    (recoveries and floating halls the filter let through), and its balance offsets are
    given for the hall itself, not its readings. The capacity is the largest conditioning
    load of any hour.
    """
    if len(readings) < 3 * HOURS:
        raise ModelError(f"need three days of energy readings, got {len(readings)} hours")
    y = readings["hvac_kwh"].to_numpy(float)
    air = readings["airflow"].to_numpy(float) if "airflow" in readings else np.ones_like(y)
    indoor = readings["indoor_temp_c"].to_numpy(float)
    drive = readings["outside_temp_c"].to_numpy(float) - indoor
    if "cooling_setpoint_c" not in readings:
        return _fit_law(y, air, drive, np.ones(len(y), dtype=bool), fan_exponent)
    cooling = readings["cooling_setpoint_c"].to_numpy(float)
    heating = readings["heating_setpoint_c"].to_numpy(float)
    nearer = np.where(np.abs(indoor - cooling) <= np.abs(indoor - heating), cooling, heating)
    unchanged = np.zeros(len(y), dtype=bool)
    unchanged[1:] = (np.abs(np.diff(cooling)) < 0.2) & (np.abs(np.diff(heating)) < 0.2)
    steady = unchanged & (np.abs(indoor - nearer) < 1.0)
    if steady.sum() < 2 * HOURS:
        steady[:] = True
    hall = _fit_law(y, air, drive, steady, fan_exponent)
    residual = y - hall.hvac_kwh(readings["outside_temp_c"].to_numpy(float), indoor, air,
                                 fan_exponent)
    scale = 1.4826 * np.median(np.abs(residual[steady] - np.median(residual[steady])))
    kept = steady & (np.abs(residual) <= 4.0 * max(scale, 1e-9))
    if kept.sum() >= 2 * HOURS:
        hall = _fit_law(y, air, drive, kept, fan_exponent)
    conditioning = (y - hall.fan_kwh * air ** fan_exponent) / air
    held = unchanged & np.roll(unchanged, 1) & np.roll(unchanged, 2)
    held[:2] = False
    held &= (conditioning > 0.05 * hall.capacity_kwh) & (conditioning < 0.9 * hall.capacity_kwh)
    if held.sum() < 2 * HOURS:
        return hall
    offset = indoor[held] - nearer[held]
    mean = float(offset.mean())
    return replace(hall, cool_offset_c=hall.cool_offset_c - mean,
                   heat_offset_c=hall.heat_offset_c - mean, reading_offset_c=mean,
                   reading_sd_c=float(offset.std(ddof=1)))


def _fit_law(y: np.ndarray, air: np.ndarray, drive: np.ndarray, use: np.ndarray,
             fan_exponent: float) -> HallModel:
    """The grid-searched non-negative least-squares law on the hours ``use`` marks."""
    yu, au, du = y[use], air[use], drive[use]
    best: tuple[float, HallModel] | None = None
    for cool_offset in np.arange(0.0, 8.01, 0.5):
        for heat_offset in np.arange(2.0, 14.01, 0.5):
            X = np.column_stack([au ** fan_exponent, np.maximum(du + cool_offset, 0.0),
                                 np.maximum(-heat_offset - du, 0.0)])
            coef, residual = nnls(X, yu)
            if best is None or residual < best[0]:
                conditioning = (y - coef[0] * air ** fan_exponent) / air
                # a slope the window hardly exercised (no heating in July) is not a conductance:
                # the mass goes with the term that carried more of the load
                cools = coef[1] * X[:, 1].sum() >= coef[2] * X[:, 2].sum()
                best = residual, HallModel(
                    fan_kwh=coef[0], cool_per_k=max(coef[1], 1e-6 * yu.mean()),
                    heat_per_k=max(coef[2], 1e-6 * yu.mean()), cool_offset_c=cool_offset,
                    heat_offset_c=heat_offset, capacity_kwh=float(conditioning.max()),
                    fit_error=float(residual / np.sqrt(len(yu)) / max(yu.mean(), 1e-9)),
                    envelope_per_k=float((coef[1] if cools else coef[2]) or max(coef[1:])))
    assert best is not None
    return best[1]


def forecast_outside(outside_c: np.ndarray) -> tuple[np.ndarray, float]:
    """Tomorrow's hourly outside temperature and the standard error of its daily level.

    ``outside_c`` is whole days of hourly readings, oldest first. The daily mean follows a
    local linear trend (the season) plus an AR(1) weather anomaly; the hours follow the
    last fortnight's mean daily shape. The error is that of the one-day-ahead anomaly.

    >>> days = np.arange(20)  # warming 0.1 °C a day, a 2 °C daily swing
    >>> hourly = (15 + 0.1 * days)[:, None] + np.cos(np.arange(24) / 24 * 2 * np.pi)
    >>> mean, sd = forecast_outside(hourly.ravel())
    >>> round(float(mean.mean()), 2), round(float(mean.max() - mean.min()), 2), round(sd, 2)
    (17.0, 2.0, 0.0)
    """
    k = len(outside_c) // HOURS
    if k < 3:
        raise ModelError(f"need three days of outside temperatures, got {len(outside_c)} hours")
    days = np.asarray(outside_c[-k * HOURS:], dtype=float).reshape(k, HOURS)
    means = days.mean(axis=1)
    shape = (days - means[:, None])[-14:].mean(axis=0)
    t = np.arange(k)
    trend = np.polyval(np.polyfit(t, means, 1), np.arange(k + 1)) if k >= 7 else np.full(
        k + 1, means.mean())
    anomaly = means - trend[:k]
    phi = float(np.clip(anomaly[1:] @ anomaly[:-1] / max(anomaly[:-1] @ anomaly[:-1], 1e-9),
                        0.0, 0.95))
    residual = anomaly[1:] - phi * anomaly[:-1]
    sd = float(np.sqrt(residual @ residual / max(len(residual) - 2, 1)))
    return trend[k] + phi * anomaly[-1] + shape, sd


def forecast_from_readings(readings: pd.DataFrame, hall: HallModel) -> Forecast:
    """Tomorrow from hourly readings ordered in time whose last 24 are yesterday.

    Outside temperature by :func:`forecast_outside`; tariff and lighting as yesterday;
    carbon as the last week's mean by hour; process load as last week's mean, and the least
    each hour ran in it (what it may give up).
    """
    yesterday = readings.tail(HOURS)
    days = min(len(readings) // HOURS, 7)
    week = readings.tail(days * HOURS)
    process = np.full(HOURS, week["process_kwh"].mean())  # shift-invariant: the day's mean
    floor = week["process_kwh"].to_numpy(float).reshape(days, HOURS).min(axis=0)
    peak = 0.0  # the billing month's largest hour so far, unless tomorrow starts a new one
    if "event_time" in readings:
        times = pd.to_datetime(readings["event_time"])
        tomorrow = times.iloc[-1] + pd.Timedelta(hours=1)
        month = (times.dt.year == tomorrow.year) & (times.dt.month == tomorrow.month)
        load = readings[["hvac_kwh", "process_kwh", "lighting_kwh"]].sum(axis=1)
        peak = float(load[month.to_numpy()].max()) if month.any() else 0.0
    outside, sd = forecast_outside(readings["outside_temp_c"].to_numpy(float))
    carbon = week["carbon_g_per_kwh"].to_numpy(float).reshape(days, HOURS).mean(axis=0)
    return Forecast(
        outside_c=outside, outside_sd_c=sd,
        tariff_usd_per_kwh=yesterday["tariff_usd_per_kwh"].to_numpy(float),
        carbon_g_per_kwh=carbon,
        process_kwh=process, other_kwh=yesterday["lighting_kwh"].to_numpy(float), hall=hall,
        start_indoor_c=float(yesterday["indoor_temp_c"].iloc[-1]) - hall.reading_offset_c,
        peak_to_date_kw=peak, process_floor_kwh=floor)


@dataclass
class EnergyModule:
    """Plans each site's next day.

    State kept between days: ``sent`` — (site, day) → the airflow, cooling and heating
    setpoints asked for that day; ``ledger`` — the expected CO2e and cost saved so far.
    """

    config: EnergyConfig = field(default_factory=EnergyConfig)
    name: str = "energy"
    depends_on: tuple[str, ...] = ()
    every_days: int = 1
    sent: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False)
    ledger: dict[str, float] = field(default_factory=lambda: {
        "expected_kg_saved": 0.0, "expected_usd_saved": 0.0, "days": 0}, repr=False)

    def decide(self, ctx: DayContext) -> list[Decision]:
        table = ctx.view.table("energy_readings")
        since = ctx.now - timedelta(days=self.config.history_days)
        rows = table.filter(table.event_time >= since).order_by("event_time").execute()
        decisions = []
        sent = self.sent
        held = np.full(HOURS, self.config.nominal_setpoint_c)
        design = (np.ones(HOURS), held, held)
        for site_id, readings in rows.groupby("site_id", sort=True):
            days = len(readings) // HOURS
            if days < 3:
                continue
            readings = readings.tail(days * HOURS).copy()
            # the airflow this module asked for (design on days it did not plan); whole days,
            # the last one is today
            asked = [sent.get((site_id, ctx.day - j), design) for j in range(days - 1, -1, -1)]
            for column, values in zip(("airflow", "cooling_setpoint_c", "heating_setpoint_c"),
                                      zip(*asked, strict=True), strict=True):
                readings[column] = np.concatenate(values)
            hall = fit_hall(readings, self.config.fan_exponent)
            decisions.append(self._decide_site(ctx, str(site_id),
                                               forecast_from_readings(readings, hall)))
        return decisions

    def _decide_site(self, ctx: DayContext, site_id: str, forecast: Forecast) -> Decision:
        base = baseline_day(forecast, self.config)
        try:
            plan = plan_day(forecast, self.config)
            unsolved = None
        except ModelError as error:  # hold the baseline rather than stop the loop
            plan, unsolved = base, str(error)
        # where the plan cannot hold the band, ask for its edge: a milder day than forecast
        bottom, top = forecast.hall.band(self.config)  # then stays comfortable
        setpoint = np.clip(plan.setpoint_c, bottom, top)
        shift = np.round(plan.shift_kwh, 3)
        shift[int(np.argmax(shift))] -= shift.sum()  # rounding must not break the balance
        precool = [h for h in range(HOURS - 1)
                   if plan.setpoint_c[h] < plan.setpoint_c[h + 1] - 0.5]
        airflow = np.clip(np.round(plan.airflow, 3), self.config.min_airflow, 1.0)
        fallback = unsolved or fallback_reason(forecast, self.config)
        if fallback is None and plan.comfort_slack_kh > 0.05:
            fallback = f"comfort not assured ({plan.comfort_slack_kh:.2f} K·h short)"
        nominal = self.config.nominal_setpoint_c
        if fallback is not None:  # the baseline's airflow, never warmer on a day that needs
            airflow = np.ones(HOURS)  # cooling (pre-cooling may stay), never colder on one
            if forecast.hall.fit_error > self.config.max_fit_error:  # that needs heating
                setpoint = np.full(HOURS, nominal)  # model unreliable: the baseline itself
            elif forecast.hall.regime(forecast.outside_c, nominal).sum() >= 0:
                setpoint = np.minimum(setpoint, nominal)
            else:
                setpoint = np.maximum(setpoint, nominal)
            held = held_day(forecast, setpoint, self.config)  # the load moved around it
            shift = np.round(held.shift_kwh, 3)
            shift[int(np.argmax(shift))] -= shift.sum()
            plan = replace(held, comfort_slack_kh=plan.comfort_slack_kh)
            cooling = heating = np.round(setpoint, 2)  # one setpoint, both ways, as without
        else:  # the planned hall where the plan conditions it; elsewhere it floats in the band
            regime = forecast.hall.regime(forecast.outside_c, nominal)
            cooling = np.round(np.where(regime > 0, setpoint, top), 2)
            heating = np.round(np.where(regime < 0, setpoint, bottom), 2)
        ledger = self.ledger
        ledger["expected_kg_saved"] += base.co2e_kg - plan.co2e_kg
        ledger["expected_usd_saved"] += base.cost_usd - plan.cost_usd
        ledger["days"] += 1
        self.sent[(site_id, ctx.day + 1)] = (
            airflow, cooling, heating)
        action = EnergySchedule(
            day=ctx.day + 1, site_id=site_id,
            cooling_setpoint_c=tuple(float(t) for t in cooling),
            heating_setpoint_c=tuple(float(t) for t in heating),
            shift_kwh=tuple(float(s) for s in shift),
            airflow=tuple(float(a) for a in airflow),
            reason=(f"expected −{1 - plan.cost_usd / base.cost_usd:.0%} cost, "
                    f"−{1 - plan.co2e_kg / base.co2e_kg:.0%} CO2e" if fallback is None
                    else f"held at the baseline: {fallback}"))
        inputs: dict[str, Any] = {
            "expected_cost_usd": round(plan.cost_usd, 2),
            "baseline_cost_usd": round(base.cost_usd, 2),
            "expected_co2e_kg": round(plan.co2e_kg, 1),
            "baseline_co2e_kg": round(base.co2e_kg, 1),
            "expected_peak_kw": round(plan.peak_kw, 1),
            "baseline_peak_kw": round(base.peak_kw, 1),
            "comfort_slack_kh": round(plan.comfort_slack_kh, 3),
            "precool_hours": precool,
            "shifted_kwh": round(float(np.maximum(shift, 0).sum()), 1),
            "mean_airflow": round(float(airflow.mean()), 3),
            "forecast_outside_sd_c": round(forecast.outside_sd_c, 2),
            "hall_fit_error": round(forecast.hall.fit_error, 3),
            "fallback": fallback,
        }
        summary = (f"{site_id} day {ctx.day + 1}: expected ${plan.cost_usd:,.0f} "
                   f"(baseline ${base.cost_usd:,.0f}), {plan.co2e_kg:,.0f} kg CO2e "
                   f"(baseline {base.co2e_kg:,.0f})")
        return Decision(ctx.day, self.name, summary, action=action, inputs=inputs)
