"""What the customer gets from the data: predictive service (more to come: safety score,
insurance, offers). Reads the store only."""

from gigaloop.customer.predictive_service import (
    PredictiveServiceConfig,
    PredictiveServiceModule,
    fit_precursors,
    held_out_precision,
    in_holdout,
)

__all__ = [
    "PredictiveServiceConfig",
    "PredictiveServiceModule",
    "fit_precursors",
    "held_out_precision",
    "in_holdout",
]
