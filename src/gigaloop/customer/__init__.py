"""What the customer gets from the data: predictive service, offers that fit them (more to
come: safety score, insurance). Reads the store only."""

from gigaloop.customer.offers import OffersConfig, OffersModule
from gigaloop.customer.precursors import (
    PredictiveServiceConfig,
    fit_precursors,
    held_out_precision,
    in_holdout,
)
from gigaloop.customer.predictive_service import PredictiveServiceModule, PredictiveServiceState
from gigaloop.customer.service_history import ServiceHistory

__all__ = [
    "OffersConfig",
    "OffersModule",
    "PredictiveServiceConfig",
    "PredictiveServiceModule",
    "PredictiveServiceState",
    "ServiceHistory",
    "fit_precursors",
    "held_out_precision",
    "in_holdout",
]
