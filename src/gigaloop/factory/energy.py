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

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp, nnls

from gigaloop.actuate import Decision, EnergySchedule
from gigaloop.actuate.decisions import DayContext
from gigaloop.errors import ModelError

HOURS = 24


@dataclass(frozen=True)
class EnergyConfig:
    """Prices, comfort and plant facts the plan needs (assumptions, not fitted)."""

    comfort_c: tuple[float, float] = (18.0, 27.0)  # the comfort KPI's band
    margin_c: float = 1.5  # kept inside the band: measurement noise and production heat
    nominal_setpoint_c: float = 22.0  # what the plant holds without a plan (the baseline)
    time_constant_h: float = 6.0  # hall thermal mass / envelope (building survey; twin: 8)
    shiftable_share: float = 0.10  # process load that may move (formation, compressed air)
    carbon_usd_per_t: float = 51.0  # US interagency social cost of carbon (2021 interim)
    demand_usd_per_kw_month: float = 16.0  # summer peak demand charge (PG&E, FIGURES.md)
    peak_hours: tuple[int, int] = (16, 21)
    comfort_usd_per_kh: float = 1000.0  # penalty that makes comfort win unless impossible
    history_days: int = 28


@dataclass(frozen=True)
class HallModel:
    """HVAC kWh per hour = fans + a·max(out − T + d_c, 0) + b·max(T − d_h − out, 0)."""

    fan_kwh: float
    cool_per_k: float
    heat_per_k: float
    cool_offset_c: float
    heat_offset_c: float
    capacity_kwh: float

    def regime(self, outside_c: np.ndarray, indoor_c: float) -> np.ndarray:
        """+1 where the hall needs cooling at ``indoor_c``, −1 heating, 0 neither."""
        cooling = outside_c - indoor_c + self.cool_offset_c > 0
        heating = indoor_c - self.heat_offset_c - outside_c > 0
        return np.where(cooling, 1, np.where(heating, -1, 0))


@dataclass(frozen=True)
class Forecast:
    """Tomorrow, hour by hour (local hours 0–23), and the fitted hall."""

    outside_c: np.ndarray
    tariff_usd_per_kwh: np.ndarray
    carbon_g_per_kwh: np.ndarray
    process_kwh: np.ndarray
    other_kwh: np.ndarray  # lighting and anything else that cannot move
    hall: HallModel
    start_indoor_c: float


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


def _price(forecast: Forecast, config: EnergyConfig) -> np.ndarray:
    return forecast.tariff_usd_per_kwh + config.carbon_usd_per_t * forecast.carbon_g_per_kwh / 1e6


def _evaluate(forecast: Forecast, setpoint: np.ndarray, hvac: np.ndarray, shift: np.ndarray,
              slack: float, config: EnergyConfig) -> Schedule:
    load = forecast.process_kwh + shift + forecast.other_kwh + hvac
    start, end = config.peak_hours
    return Schedule(setpoint_c=setpoint, shift_kwh=shift, hvac_kwh=hvac,
                    cost_usd=float(load @ forecast.tariff_usd_per_kwh),
                    co2e_kg=float(load @ forecast.carbon_g_per_kwh) / 1000.0,
                    peak_kw=float(load[start:end].max()), comfort_slack_kh=slack)


def baseline_day(forecast: Forecast, config: EnergyConfig = EnergyConfig()) -> Schedule:
    """The day without a plan: the nominal setpoint held (within capacity), nothing moved."""
    hall = forecast.hall
    out = forecast.outside_c
    nominal = config.nominal_setpoint_c
    need = (hall.cool_per_k * np.maximum(out - nominal + hall.cool_offset_c, 0.0)
            + hall.heat_per_k * np.maximum(nominal - hall.heat_offset_c - out, 0.0))
    hvac = hall.fan_kwh + np.minimum(need, hall.capacity_kwh)
    return _evaluate(forecast, np.full(HOURS, nominal), hvac, np.zeros(HOURS), 0.0, config)


def plan_day(forecast: Forecast, config: EnergyConfig = EnergyConfig()) -> Schedule:
    """The cheapest day (energy, carbon, demand) that keeps the hall comfortable."""
    hall, n = forecast.hall, HOURS
    # variables, blocks of n: T, cool, heat, shift_in, shift_out, slack_hi, slack_lo; then peak
    T, cool, heat, s_in, s_out, hi, lo, peak = (k * n for k in range(8))
    size = peak + 1
    price = _price(forecast, config)
    cost = np.zeros(size)
    for block in (cool, heat, s_in):
        cost[block:block + n] = price
    cost[s_out:s_out + n] = -price
    cost[hi:hi + 2 * n] = config.comfort_usd_per_kh
    cost[peak] = config.demand_usd_per_kw_month * 12 / 365.25

    mass = config.time_constant_h * hall.cool_per_k
    regime = hall.regime(forecast.outside_c, config.nominal_setpoint_c)
    rows, lower, upper = [], [], []

    def row(entries: dict[int, float], low: float, high: float) -> None:
        vector = np.zeros(size)
        for index, value in entries.items():
            vector[index] = value
        rows.append(vector)
        lower.append(low)
        upper.append(high)

    for h in range(n):
        previous = {T + h - 1: -1.0} if h else {}
        start = 0.0 if h else forecast.start_indoor_c
        out = forecast.outside_c[h]
        if regime[h] > 0:  # C T_h − (C − a) T_h−1 + cool_h = a (out + d_c)
            k = hall.cool_per_k
            rhs = k * (out + hall.cool_offset_c) + (mass - k) * start
            row({T + h: mass, cool + h: 1.0, **{i: (mass - k) * v for i, v in previous.items()}},
                rhs, rhs)
        elif regime[h] < 0:  # C T_h − (C − b) T_h−1 − heat_h = b (out + d_h)
            k = hall.heat_per_k
            rhs = k * (out + hall.heat_offset_c) + (mass - k) * start
            row({T + h: mass, heat + h: -1.0, **{i: (mass - k) * v for i, v in previous.items()}},
                rhs, rhs)
        else:
            row({T + h: 1.0, **previous}, start, start)
        low, high = config.comfort_c
        row({T + h: 1.0, hi + h: -1.0}, -np.inf, high - config.margin_c)
        row({T + h: 1.0, lo + h: 1.0}, low + config.margin_c, np.inf)
        row({cool + h: 1.0, heat + h: 1.0}, 0.0, hall.capacity_kwh)
    row({**{s_in + h: 1.0 for h in range(n)}, **{s_out + h: -1.0 for h in range(n)}}, 0.0, 0.0)
    first, last = config.peak_hours
    for h in range(first, last):
        row({peak: 1.0, cool + h: -1.0, heat + h: -1.0, s_in + h: -1.0, s_out + h: 1.0},
            hall.fan_kwh + forecast.process_kwh[h] + forecast.other_kwh[h], np.inf)

    upper_bounds = np.full(size, np.inf)
    movable = config.shiftable_share * np.maximum(forecast.process_kwh, 0.0)
    upper_bounds[s_in:s_in + n] = movable
    upper_bounds[s_out:s_out + n] = movable
    upper_bounds[cool:cool + n] = np.where(regime > 0, np.inf, 0.0)
    upper_bounds[heat:heat + n] = np.where(regime < 0, np.inf, 0.0)
    lower_bounds = np.zeros(size)
    lower_bounds[T:T + n] = -np.inf
    result = milp(cost, constraints=LinearConstraint(np.array(rows), lower, upper),
                  bounds=Bounds(lower_bounds, upper_bounds))
    if not result.success:
        raise ModelError(f"energy plan could not be solved: {result.message}")
    x = result.x
    hvac = hall.fan_kwh + x[cool:cool + n] + x[heat:heat + n]
    shift = x[s_in:s_in + n] - x[s_out:s_out + n]
    slack = float(x[hi:hi + 2 * n].sum())
    return _evaluate(forecast, x[T:T + n], hvac, shift, slack, config)


def fit_hall(readings: pd.DataFrame) -> HallModel:
    """Least-squares HVAC response (non-negative), balance offsets by grid search.

    ``readings`` has ``hvac_kwh``, ``outside_temp_c`` and ``indoor_temp_c`` per hour.
    """
    if len(readings) < 3 * HOURS:
        raise ModelError(f"need three days of energy readings, got {len(readings)} hours")
    y = readings["hvac_kwh"].to_numpy(float)
    drive = (readings["outside_temp_c"] - readings["indoor_temp_c"]).to_numpy(float)
    best: tuple[float, HallModel] | None = None
    for cool_offset in np.arange(0.0, 8.01, 0.5):
        for heat_offset in np.arange(2.0, 14.01, 0.5):
            X = np.column_stack([np.ones_like(y), np.maximum(drive + cool_offset, 0.0),
                                 np.maximum(-heat_offset - drive, 0.0)])
            coef, residual = nnls(X, y)
            if best is None or residual < best[0]:
                best = residual, HallModel(
                    fan_kwh=coef[0], cool_per_k=max(coef[1], 1e-6 * y.mean()),
                    heat_per_k=max(coef[2], 1e-6 * y.mean()), cool_offset_c=cool_offset,
                    heat_offset_c=heat_offset, capacity_kwh=float(y.max() - coef[0]))
    assert best is not None
    return best[1]


def forecast_from_readings(readings: pd.DataFrame, hall: HallModel) -> Forecast:
    """Persistence forecast from hourly readings ordered in time whose last 24 are yesterday."""
    yesterday = readings.tail(HOURS)
    week = readings.tail(7 * HOURS)
    process = np.full(HOURS, week["process_kwh"].mean())  # shift-invariant: the day's mean
    return Forecast(
        outside_c=yesterday["outside_temp_c"].to_numpy(float),
        tariff_usd_per_kwh=yesterday["tariff_usd_per_kwh"].to_numpy(float),
        carbon_g_per_kwh=yesterday["carbon_g_per_kwh"].to_numpy(float),
        process_kwh=process, other_kwh=yesterday["lighting_kwh"].to_numpy(float), hall=hall,
        start_indoor_c=float(yesterday["indoor_temp_c"].iloc[-1]))


@dataclass
class EnergyModule:
    """Plans each site's next day; the CO2e ledger on ``ctx.board`` adds up expected savings."""

    config: EnergyConfig = field(default_factory=EnergyConfig)
    name: str = "energy"
    depends_on: tuple[str, ...] = ()
    every_days: int = 1

    def decide(self, ctx: DayContext) -> list[Decision]:
        table = ctx.view.table("energy_readings")
        since = ctx.now - timedelta(days=self.config.history_days)
        rows = table.filter(table.event_time >= since).order_by("event_time").execute()
        decisions = []
        for site_id, readings in rows.groupby("site_id", sort=True):
            if len(readings) < 3 * HOURS:
                continue
            forecast = forecast_from_readings(readings, fit_hall(readings))
            decisions.append(self._decide_site(ctx, str(site_id), forecast))
        return decisions

    def _decide_site(self, ctx: DayContext, site_id: str, forecast: Forecast) -> Decision:
        plan = plan_day(forecast, self.config)
        base = baseline_day(forecast, self.config)
        ledger = ctx.board.setdefault("co2e_ledger", {"expected_kg_saved": 0.0,
                                                      "expected_usd_saved": 0.0, "days": 0})
        ledger["expected_kg_saved"] += base.co2e_kg - plan.co2e_kg
        ledger["expected_usd_saved"] += base.cost_usd - plan.cost_usd
        ledger["days"] += 1
        # where the plan cannot hold the band, ask for its edge: a milder day than forecast
        low, high = self.config.comfort_c  # then stays comfortable
        setpoint = np.clip(plan.setpoint_c, low + self.config.margin_c,
                           high - self.config.margin_c)
        shift = np.round(plan.shift_kwh, 3)
        shift[int(np.argmax(shift))] -= shift.sum()  # rounding must not break the balance
        precool = [h for h in range(HOURS - 1)
                   if plan.setpoint_c[h] < plan.setpoint_c[h + 1] - 0.5]
        action = EnergySchedule(
            day=ctx.day + 1, site_id=site_id,
            hvac_setpoint_c=tuple(float(t) for t in np.round(setpoint, 2)),
            shift_kwh=tuple(float(s) for s in shift),
            reason=f"expected −{1 - plan.cost_usd / base.cost_usd:.0%} cost, "
                   f"−{1 - plan.co2e_kg / base.co2e_kg:.0%} CO2e")
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
        }
        summary = (f"{site_id} day {ctx.day + 1}: expected ${plan.cost_usd:,.0f} "
                   f"(baseline ${base.cost_usd:,.0f}), {plan.co2e_kg:,.0f} kg CO2e "
                   f"(baseline {base.co2e_kg:,.0f})")
        return Decision(ctx.day, self.name, summary, action=action, inputs=inputs)
