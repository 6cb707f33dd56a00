"""Predictive maintenance: machine health, remaining useful life, orders in planned windows.

:mod:`.health` turns condition-monitoring readings into a health index per machine,
:mod:`.schedule` holds the planned windows and the cost rule, :mod:`.module` the daily
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
from gigaloop.factory.maintenance.schedule import Costs, days_to_next_window, should_maintain

__all__ = [
    "FEATURES",
    "Baseline",
    "Costs",
    "MachineHealth",
    "MaintenanceConfig",
    "MaintenanceModule",
    "assess_machines",
    "daily_condition",
    "days_to_next_window",
    "fit_baseline",
    "health_index",
    "should_maintain",
]
