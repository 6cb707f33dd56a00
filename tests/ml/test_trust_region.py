"""The trust-region reflective port (gigaloop.ml._trust_region) against scipy's own."""

import numpy as np
import pytest
from scipy import optimize

from gigaloop.ml import rul


@pytest.mark.parametrize("model", ["power", "exponential"])
def test_same_solution_as_scipy_bit_for_bit(model: str) -> None:
    rng = np.random.default_rng(3)
    low_b, high_b = rul.SHAPE_BOUNDS[model]
    for k in range(40):
        n = int(rng.integers(8, 90))
        t = np.arange(n, dtype=float) - n + 0.5
        onset = rng.uniform(t[0], t[-1])
        since = np.clip(t - onset, 0, None)
        y = 1.0 + rng.normal(0, 0.03, n) + (0.01 * since ** rng.uniform(1, 3) if model == "power"
                                            else 0.05 * np.expm1(rng.uniform(0.01, 0.2) * since))
        spread = float(np.ptp(y))
        bounds = (np.array([y.min() - spread, -50.0, low_b, t[0]]),
                  np.array([y.max() + spread, 50.0, high_b, t[-1]]))
        start = np.array([np.median(y[:5]), rng.normal(-3, 2), rng.uniform(low_b, high_b),
                          t[0] if k % 5 == 0 else rng.uniform(t[0], t[-1])])  # or on a bound
        ours = rul._least_squares(model, t, y, start, bounds)
        theirs = optimize.least_squares(
            lambda p, t=t, y=y: rul._trend(model, p, t) - y, np.clip(start, *bounds),
            jac=lambda p, t=t: rul._jacobian(model, p, t), bounds=bounds,
            x_scale=[spread, 1.0, 1.0, float(np.ptp(t))])
        assert np.array_equal(ours.x, theirs.x) and ours.cost == theirs.cost
        assert np.array_equal(ours.fun, theirs.fun) and np.array_equal(ours.jac, theirs.jac)
