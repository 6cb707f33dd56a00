"""What the customer gets from the data: predictive service (more to come: safety score,
insurance, offers). Reads the store only."""

from gigaloop.customer.predictive_service import (
    PredictiveServiceConfig,
    PredictiveServiceModule,
    PredictiveServiceState,
    fit_precursors,
    held_out_precision,
    in_holdout,
)
from gigaloop.customer.service_history import ServiceHistory

__all__ = [
    "PredictiveServiceConfig",
    "PredictiveServiceModule",
    "PredictiveServiceState",
    "ServiceHistory",
    "fit_precursors",
    "held_out_precision",
    "in_holdout",
]
