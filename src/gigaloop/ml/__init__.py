"""Reusable statistics for root cause: survival scans, FDR, change points, degradation rates.

Everything here works on plain NumPy arrays and pandas frames (it imports nothing of gigaloop
but the schema and the errors), so factory, fleet and loop code can share it.

>>> from gigaloop import ml
>>> q, reject = ml.benjamini_hochberg([0.0001, 0.2])
>>> reject.tolist()
[True, False]
"""

from gigaloop.ml.changepoint import ShiftWindow, mean_shift_window, rate_window
from gigaloop.ml.degradation import adjusted_rate_scan
from gigaloop.ml.fdr import benjamini_hochberg, family_qvalues
from gigaloop.ml.poisson import poisson_interval
from gigaloop.ml.survival import SurvivalCurves, kaplan_meier, logrank_scan
from gigaloop.ml.survival_models import fit_cox, fit_weibull_aft

__all__ = [
    "ShiftWindow",
    "SurvivalCurves",
    "adjusted_rate_scan",
    "benjamini_hochberg",
    "family_qvalues",
    "fit_cox",
    "fit_weibull_aft",
    "kaplan_meier",
    "logrank_scan",
    "mean_shift_window",
    "poisson_interval",
    "rate_window",
]
