"""Reusable statistics for root cause: survival scans, FDR, change points, degradation rates.

Everything here works on plain NumPy arrays and pandas frames (it imports nothing of gigaloop
but the schema and the errors), so factory, fleet and loop code can share it.

>>> from gigaloop import ml
>>> q, reject = ml.benjamini_hochberg([0.0001, 0.2])
>>> reject.tolist()
[True, False]
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name → the module that defines it, imported on first use (PEP 562), so a run
#: that only needs an interval does not load SciPy's statistics and lifelines
_HOMES = {
    "ShiftWindow": "changepoint", "mean_shift_window": "changepoint",
    "rate_window": "changepoint", "adjusted_rate_scan": "degradation",
    "benjamini_hochberg": "fdr", "family_qvalues": "fdr", "poisson_interval": "poisson",
    "exact_share_p": "poisson",
    "SurvivalCurves": "survival", "kaplan_meier": "survival", "logrank_scan": "survival",
    "logrank_subgroup_scan": "survival", "SubgroupScan": "survival",
    "fit_cox": "survival_models", "fit_weibull_aft": "survival_models",
    "RateRatioTest": "sequential", "MeanDifferenceTest": "sequential",
    "confidence_sequence": "sequential",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'gigaloop.ml' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"gigaloop.ml.{_HOMES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


__all__ = [
    "MeanDifferenceTest",
    "RateRatioTest",
    "ShiftWindow",
    "SubgroupScan",
    "SurvivalCurves",
    "adjusted_rate_scan",
    "benjamini_hochberg",
    "confidence_sequence",
    "family_qvalues",
    "fit_cox",
    "fit_weibull_aft",
    "kaplan_meier",
    "logrank_scan",
    "logrank_subgroup_scan",
    "mean_shift_window",
    "poisson_interval",
    "rate_window",
]
