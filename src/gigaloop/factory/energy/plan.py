"""Tomorrow's HVAC setpoints, airflow and shiftable load as a linear programme.

Given the fitted hall (:mod:`.hall`) and tomorrow's forecast (:mod:`.forecast`), the plan
is solved with HiGHS (:func:`scipy.optimize.milp`)::

    min  Σ_h (tariff_h + carbon price · g_h) · (hvac_h + shift_h) + demand · peak kW
         + penalty · comfort slack
    s.t. C (T_h − T_h−1) = a (out_h − T_h−1 + d_c) − cool_h   (hours that need cooling)
         C (T_h − T_h−1) = b (d_h + out_h − T_h−1) + heat_h   (hours that need heating)
         18 + margin ≤ T_h ≤ 27 − margin (soft), 0 ≤ cool_h, heat_h ≤ capacity,
         Σ_h shift_h = 0, |shift_h| ≤ share · process_h, peak ≥ load_h every hour

The regime of each hour is fixed at the nominal setpoint (the linearisation). The thermal
mass ``C = time_constant_h · a`` cannot be seen in a hall held at one setpoint, so its time
constant is an engineering input; an underestimate only costs savings, never comfort,
since the HVAC still holds every setpoint the plan sends.

>>> from gigaloop.factory.energy.hall import HallModel
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

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from gigaloop.errors import ModelError
from gigaloop.factory.energy.config import DEFAULTS, HOURS, EnergyConfig
from gigaloop.factory.energy.forecast import Forecast
from gigaloop.factory.energy.layout import (
    AIR,
    COOL,
    FAN,
    HEAT,
    HI,
    HIH,
    HIS,
    LO,
    LOC,
    PEAK,
    S_IN,
    S_OUT,
    SIZE,
    TC,
    TH,
    TS,
    T,
    layout,
)


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


def baseline_day(forecast: Forecast, config: EnergyConfig = DEFAULTS) -> Schedule:
    """The day without a plan: the nominal setpoint held (within capacity), nothing moved."""
    hall = forecast.hall
    out = forecast.outside_c
    nominal = config.nominal_setpoint_c
    need = (hall.cool_per_k * np.maximum(out - nominal + hall.cool_offset_c, 0.0)
            + hall.heat_per_k * np.maximum(nominal - hall.heat_offset_c - out, 0.0))
    hvac = hall.fan_kwh + np.minimum(need, hall.capacity_kwh)
    return _evaluate(forecast, np.full(HOURS, nominal), hvac, np.zeros(HOURS), 0.0, config)


def held_day(forecast: Forecast, setpoint: np.ndarray,
             config: EnergyConfig = DEFAULTS) -> Schedule:
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
              config: EnergyConfig = DEFAULTS) -> np.ndarray:
    """The cheapest move of shiftable load (energy, carbon, the day's peak) for fixed HVAC.

    >>> from dataclasses import replace
    >>> from gigaloop.factory.energy.hall import HallModel
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


def plan_day(forecast: Forecast, config: EnergyConfig = DEFAULTS) -> Schedule:
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
    price = _price(forecast, config)
    cost = np.zeros(SIZE)
    for block in (COOL, HEAT, S_IN, FAN):
        cost[block:block + n] = price
    cost[S_OUT:S_OUT + n] = -price
    for block in (HI, LO, HIH, LOC, HIS):
        cost[block:block + n] = config.comfort_usd_per_kh
    cost[PEAK] = config.demand_usd_per_kw_month  # only what tomorrow adds to the month's

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

    a, b, cap = hall.cool_per_k, hall.heat_per_k, hall.capacity_kwh
    known = np.zeros(n)  # the hall before the hour where it is known: tomorrow's start
    known[0] = forecast.start_indoor_c
    points = np.linspace(config.min_airflow, 1.0, 6)  # airflows where the fans' tangents touch
    slopes = config.fan_exponent * points ** (config.fan_exponent - 1)
    intercepts = points ** config.fan_exponent - slopes * points
    rows = layout(len(masses), len(points))
    conditions = np.stack([np.ones(n, dtype=bool), regime > 0, regime < 0, regime == 0,
                           hot_cooling, ~hot_cooling, stress_cooling, ~stress_cooling,
                           cold_heating, ~cold_heating])
    coefficients = np.array(
        [1.0, -1.0, mass, (mass - a) * -1.0, (mass - b) * -1.0, -cap]
        + [value for m in masses for value in (m, (m - a) * -1.0, (m - b) * -1.0)]
        + [-hall.fan_kwh * slope for slope in slopes.tolist()])
    bounds = np.concatenate([
        [0.0, np.inf, -np.inf, top, bottom],
        [hall.fan_kwh * intercept for intercept in intercepts.tolist()],
        a * (forecast.outside_c + hall.cool_offset_c) + (mass - a) * known,
        b * (forecast.outside_c + hall.heat_offset_c) + (mass - b) * known,
        known, stress_cap, forecast.process_kwh + forecast.other_kwh,
        *(part for m in masses for part in (
            a * (hot + hall.cool_offset_c) + (m - a) * known,
            a * (stress + hall.cool_offset_c) + (m - a) * known,
            b * (cold + hall.heat_offset_c) + (m - b) * known))])
    matrix, lower, upper = rows.matrix(conditions, coefficients, bounds)

    upper_bounds = np.full(SIZE, np.inf)
    upper_bounds[S_IN:S_IN + n], upper_bounds[S_OUT:S_OUT + n] = movable(forecast, config)
    upper_bounds[COOL:COOL + n] = np.where(regime > 0, np.inf, 0.0)
    upper_bounds[HEAT:HEAT + n] = np.where(regime < 0, np.inf, 0.0)
    upper_bounds[AIR:AIR + n] = 1.0
    lower_bounds = np.zeros(SIZE)
    lower_bounds[AIR:AIR + n] = config.min_airflow
    lower_bounds[PEAK] = forecast.peak_to_date_kw
    for block in (T, TH, TC, TS):
        lower_bounds[block:block + n] = -np.inf
    result = milp(cost, constraints=LinearConstraint(matrix, lower, upper),
                  bounds=Bounds(lower_bounds, upper_bounds))
    if not result.success:
        raise ModelError(f"energy plan could not be solved: {result.message}")
    x = result.x
    hvac = x[FAN:FAN + n] + x[COOL:COOL + n] + x[HEAT:HEAT + n]
    shift = x[S_IN:S_IN + n] - x[S_OUT:S_OUT + n]
    slack = float(x[HI:HI + 2 * n].sum() + x[HIH:HIH + n].sum() + x[LOC:LOC + n].sum()
                  + x[HIS:HIS + n].sum())
    return _evaluate(forecast, x[T:T + n], hvac, shift, slack, config, x[AIR:AIR + n])


def fallback_reason(forecast: Forecast, config: EnergyConfig = DEFAULTS) -> str | None:
    """Why tomorrow should be run as without a plan (``None``: the plan may be used).

    The hall fit is unreliable when it misses its own data by more than
    ``max_fit_error`` (CV(RMSE) of the hourly fit; ASHRAE Guideline 14 calibrates hourly
    models to 30 %). The other reason, a plan that cannot assure comfort, is the plan's own.

    >>> from dataclasses import replace
    >>> from gigaloop.factory.energy.hall import HallModel
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

