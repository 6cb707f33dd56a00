"""What the plant watches and decides: predictive maintenance (more to come)."""

from gigaloop.factory.maintenance import MaintenanceConfig, MaintenanceModule

__all__ = ["MaintenanceConfig", "MaintenanceModule"]
