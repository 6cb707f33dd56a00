"""What the customer gets from the data: predictive service, offers that fit them (more to
come: safety score, insurance). Reads the store only.

The names below are loaded on first use (PEP 562): importing one submodule, as
``gigaloop.run`` does for the revenue KPIs, does not load the model libraries the
modules need (scikit-learn, SciPy's statistics: about a second).
"""

from importlib import import_module
from typing import Any

_WHERE = {
    "OffersConfig": "offers",
    "OffersModule": "offers",
    "PredictiveServiceConfig": "precursors",
    "fit_precursors": "precursors",
    "held_out_precision": "precursors",
    "in_holdout": "precursors",
    "PredictiveServiceModule": "predictive_service",
    "PredictiveServiceState": "predictive_service",
    "ServiceHistory": "service_history",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
