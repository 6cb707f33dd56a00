"""What the energy plan assumes: prices, comfort and plant facts (not fitted)."""

from __future__ import annotations

from dataclasses import dataclass

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


DEFAULTS = EnergyConfig()  # the defaults, shared: a frozen dataclass
