"""Energy scheduling: tomorrow's HVAC setpoints, airflow and shiftable load, per site.

One concern per file: :mod:`.config` (what the plan assumes), :mod:`.hall` (the hall's
HVAC law, fitted from readings), :mod:`.forecast` (tomorrow from the readings),
:mod:`.plan` (the linear programme and the baseline it is measured against), :mod:`.layout`
(the programme's columns and rows, laid out once) and
:mod:`.module` (the daily :class:`EnergyModule`).
"""

from gigaloop.factory.energy.config import HOURS, EnergyConfig
from gigaloop.factory.energy.forecast import Forecast, forecast_from_readings, forecast_outside
from gigaloop.factory.energy.hall import HallModel, fit_hall
from gigaloop.factory.energy.module import EnergyModule
from gigaloop.factory.energy.plan import (
    Schedule,
    baseline_day,
    fallback_reason,
    held_day,
    movable,
    plan_day,
    shift_for,
)

__all__ = [
    "HOURS",
    "EnergyConfig",
    "EnergyModule",
    "Forecast",
    "HallModel",
    "Schedule",
    "baseline_day",
    "fallback_reason",
    "fit_hall",
    "forecast_from_readings",
    "forecast_outside",
    "held_day",
    "movable",
    "plan_day",
    "shift_for",
]
