"""The verdict threshold from costs: an escape against a false reject.

A unit whose score reaches the threshold fails and goes to rework. On labelled scores (a
defect or not; a weight where the labels are a sample, e.g. audits of passed units) the
threshold chosen minimises the expected cost per unit

    c_escape · π · P(miss) + c_rework · (1 − π) · P(false reject),

with π the share of defective units. Needs no extra.

>>> scores = [0.1, 0.2, 0.3, 0.35, 0.5, 0.6, 0.9]
>>> defective = [False, False, False, True, False, True, True]
>>> point = cost_threshold(scores, defective, c_escape=100.0, c_rework=10.0, prevalence=0.1)
>>> point.threshold, point.miss_rate, round(point.false_reject_rate, 2)
(0.325, 0.0, 0.25)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold and what it costs on the labels it was chosen on."""

    threshold: float
    miss_rate: float
    false_reject_rate: float
    cost_per_unit: float
    defects: float  # (weighted) defective labels it was chosen on
    goods: float

    def record(self) -> dict[str, Any]:
        return {k: round(v, 5) for k, v in asdict(self).items()}


def cost_threshold(scores: Any, defective: Any, *, c_escape: float, c_rework: float,
                   prevalence: float, weights: Any = None) -> OperatingPoint:
    """The threshold (midway between neighbouring scores) of least expected cost."""
    score = np.asarray(scores, float)
    bad = np.asarray(defective, bool)
    weight = np.ones(len(score)) if weights is None else np.asarray(weights, float)
    if not bad.any() or bad.all():
        raise ValueError("a threshold from costs needs defective and good labels")
    values = np.unique(score)
    candidates = np.r_[values[0] - 1e-9, (values[:-1] + values[1:]) / 2, values[-1] + 1e-9]
    below = score[:, None] < candidates[None, :]
    miss = (weight[bad, None] * below[bad]).sum(0) / weight[bad].sum()
    false_reject = (weight[~bad, None] * ~below[~bad]).sum(0) / weight[~bad].sum()
    cost = c_escape * prevalence * miss + c_rework * (1 - prevalence) * false_reject
    best = int(np.argmin(cost))
    return OperatingPoint(float(candidates[best]), float(miss[best]),
                          float(false_reject[best]), float(cost[best]),
                          float(weight[bad].sum()), float(weight[~bad].sum()))
