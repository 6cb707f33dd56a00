"""Predictive maintenance: machine health, remaining useful life, orders in planned windows.

:mod:`.health` turns condition-monitoring readings into a health index per machine,
:mod:`.schedule` holds the planned windows and the cost rules, :mod:`.stops` learns
which condition brings minor stops, :mod:`.module` the daily
:class:`MaintenanceModule`. Trend fitting and remaining life are in :mod:`gigaloop.ml.rul`.
"""

from gigaloop.factory.maintenance.health import (
    FEATURES,
    Baseline,
    daily_condition,
    fit_baseline,
    health_index,
)
from gigaloop.factory.maintenance.module import (
    MachineHealth,
    MaintenanceConfig,
    MaintenanceModule,
    assess_machines,
)
from gigaloop.factory.maintenance.schedule import (
    Costs,
    days_to_next_window,
    should_maintain,
    should_service,
)
from gigaloop.factory.maintenance.stops import (
    STOP_FEATURES,
    StopModel,
    daily_stops,
    fit_stop_model,
    stop_panel,
)

__all__ = [
    "FEATURES",
    "STOP_FEATURES",
    "Baseline",
    "Costs",
    "MachineHealth",
    "MaintenanceConfig",
    "MaintenanceModule",
    "StopModel",
    "assess_machines",
    "daily_condition",
    "daily_stops",
    "days_to_next_window",
    "fit_baseline",
    "fit_stop_model",
    "health_index",
    "should_maintain",
    "should_service",
    "stop_panel",
]
