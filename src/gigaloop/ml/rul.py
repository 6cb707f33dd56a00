"""Degradation trends and remaining useful life: fit a trend that starts at an onset, then
extrapolate it to a failure threshold, with an interval from the fit's uncertainty.

The trend is flat until an onset ``t0`` and then grows monotonically::

    power:        y(t) = level + a · (t − t0)₊ ** b          (b > 0)
    exponential:  y(t) = level + a · (exp(b · (t − t0)₊) − 1)  (b > 0)

All four parameters (``level``, ``log a``, ``b``, ``t0``) are fitted by bounded least squares
from several starting onsets, so the healthy stretch before the onset anchors ``level`` and
no separate change-point step is needed. The remaining life is the time from ``now`` until
the trend reaches the threshold; its distribution comes from a wild bootstrap of the fit
(or, faster, from normal parameter draws), so the interval widens when the onset or the
curvature are poorly determined. Failure means the *trend* crossing the threshold, not
one noisy reading.

>>> rng = np.random.default_rng(0)
>>> t = np.arange(100.0)
>>> y = 1.2 + 0.002 * np.clip(t - 40, 0, None) ** 2 + rng.normal(0, 0.02, t.size)
>>> trend = fit_degradation(t, y)
>>> round(trend.onset, 0), round(trend.shape, 1)
(40.0, 2.0)
>>> rul = trend.rul(now=99.0, threshold=14.0, seed=0)
>>> bool(rul.low < 120 - 99 < rul.high)  # truth: crossing at 40 + sqrt(12.8 / 0.002) = 120
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

from gigaloop.errors import ModelError
from gigaloop.ml._validate import as_vector, check_same_length

Growth = Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]]

#: excess over the level as a function of time since onset (d ≥ 0) and shape b.
GROWTH: dict[str, Growth] = {
    "power": lambda d, b: d**b,
    "exponential": lambda d, b: np.expm1(np.minimum(b * d, MAX_EXPONENT)),
}
#: time since onset at which the excess reaches ``e`` (the inverse of GROWTH for a = 1).
INVERSE: dict[str, Growth] = {
    "power": lambda e, b: e ** (1.0 / b),
    "exponential": lambda e, b: np.log1p(e) / b,
}
#: bounds of the shape b: a power law between linear-ish and steeply convex.
SHAPE_BOUNDS: dict[str, tuple[float, float]] = {"power": (0.5, 6.0), "exponential": (1e-4, 5.0)}
MIN_POINTS = 8
MAX_EXPONENT = 50.0  # e^50 ≈ 5e21: far past any threshold, and its square stays finite
_STARTS = (0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True)
class RulEstimate:
    """Remaining useful life: median and ``level`` interval (time units of the fit), and the
    draws behind them (``inf`` where a draw never reaches the threshold)."""

    median: float
    low: float
    high: float
    level: float
    samples: NDArray[np.float64]

    def prob_within(self, horizon: float) -> float:
        """P(the threshold is reached within ``horizon`` of now).

        >>> RulEstimate(5.0, 2.0, 9.0, 0.9, np.array([1.0, 4.0, 8.0, np.inf])).prob_within(5)
        0.5
        """
        return float(np.mean(self.samples <= horizon))


@dataclass(frozen=True)
class DegradationTrend:
    """A fitted trend: ``params`` = (level, log a, b, t0) with their (heteroscedasticity-
    robust) covariance ``cov``; ``times`` and ``residuals`` of the fit, kept for the
    bootstrap; ``bounds`` (lower, upper) of the parameters."""

    model: str
    params: NDArray[np.float64]
    cov: NDArray[np.float64]
    times: NDArray[np.float64]
    residuals: NDArray[np.float64]
    bounds: tuple[NDArray[np.float64], NDArray[np.float64]]

    @property
    def level(self) -> float:
        return float(self.params[0])

    @property
    def shape(self) -> float:
        return float(self.params[2])

    @property
    def onset(self) -> float:
        return float(self.params[3])

    @property
    def sigma(self) -> float:
        """Residual standard deviation."""
        return float(np.sqrt(np.sum(self.residuals**2) / max(self.times.size - 4, 1)))

    def predict(self, t: ArrayLike) -> NDArray[np.float64]:
        """The trend at times ``t``."""
        return _trend(self.model, self.params, np.asarray(t, dtype=np.float64))

    def crossing_time(self, threshold: float) -> float:
        """When the fitted trend reaches ``threshold`` (``inf`` if it never does)."""
        return float(_crossing(self.model, self.params[None, :], threshold)[0])

    def rul(self, now: float, threshold: float, *, level: float = 0.9, method: str = "bootstrap",
            draws: int = 200, seed: int = 0) -> RulEstimate:
        """Remaining life from ``now`` to ``threshold`` with a ``level`` interval.

        ``method="bootstrap"`` refits ``draws`` wild-bootstrap replicates (residuals with
        random signs: honest under changing noise and a poorly placed onset; ~2 ms a draw);
        ``"normal"`` draws parameters from N(θ̂, cov) (instant, narrower early on). Draws
        already past the threshold at ``now`` count as zero remaining life.
        """
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        if method not in ("bootstrap", "normal"):
            raise ValueError(f"method must be 'bootstrap' or 'normal', got {method!r}")
        rng = np.random.default_rng(seed)
        if method == "normal":
            theta = rng.multivariate_normal(self.params, self.cov, size=draws, method="eigh")
            theta = np.clip(theta, *self.bounds)
        else:
            fitted = self.predict(self.times)
            signs = rng.choice([-1.0, 1.0], size=(draws, self.times.size))
            theta = np.array([
                _least_squares(self.model, self.times, fitted + sign * self.residuals,
                               self.params, self.bounds).x
                for sign in signs])
        samples = np.maximum(_crossing(self.model, theta, threshold) - now, 0.0)
        tail = (1 - level) / 2
        low, median, high = np.quantile(samples, [tail, 0.5, 1 - tail])
        return RulEstimate(float(median), float(low), float(high), level, samples)


def fit_degradation(t: ArrayLike, y: ArrayLike, *, model: str = "power",
                    start: ArrayLike | None = None) -> DegradationTrend:
    """Fit a flat-then-growing trend of ``y`` (e.g. vibration RMS) over time ``t``.

    ``start`` (level, log a, b, t0), e.g. yesterday's ``params`` when one more day came in,
    is the one starting point (one least-squares run instead of one per starting onset).
    Raises :class:`~gigaloop.errors.ModelError` with fewer than 8 points or when no fit
    converges; ``ValueError`` for malformed input.

    >>> t = np.arange(60.0)
    >>> y = 2.0 + 0.5 * np.expm1(0.1 * np.clip(t - 20, 0, None))
    >>> trend = fit_degradation(t, y, model="exponential")
    >>> round(trend.onset, 1), round(trend.crossing_time(10.0), 1)
    (20.0, 48.3)
    """
    if model not in GROWTH:
        raise ValueError(f"model must be one of {sorted(GROWTH)}, got {model!r}")
    times, values = as_vector("t", t), as_vector("y", y)
    n = check_same_length(t=times, y=values)
    if n < MIN_POINTS:
        raise ModelError(f"a degradation trend needs at least {MIN_POINTS} points, got {n}",
                         n_points=n)
    span = float(times.max() - times.min())
    if span <= 0:
        raise ModelError("a degradation trend needs more than one distinct time")
    spread = float(np.ptp(values)) or 1.0
    low_b, high_b = SHAPE_BOUNDS[model]
    bounds = (np.array([values.min() - spread, -50.0, low_b, times.min()]),
              np.array([values.max() + spread, 50.0, high_b, times.max()]))
    starts = [] if start is None else [as_vector("start", start)]
    for fraction in () if starts else _STARTS:
        onset = times.min() + fraction * span
        shape = 2.0 if model == "power" else 3.0 / span
        level = float(np.median(values[times <= onset]))
        reach = float(GROWTH[model](np.array(times.max() - onset), np.array(shape)))
        scale = max(float(values[-MIN_POINTS:].mean()) - level, 1e-6 * spread) / max(reach, 1e-12)
        starts.append(np.array([level, np.log(scale), shape, onset]))
    best: optimize.OptimizeResult | None = None
    for initial in starts:
        fit = _least_squares(model, times, values, initial, bounds)
        if np.isfinite(fit.cost) and (best is None or fit.cost < best.cost):
            best = fit  # the best of the starts, converged or out of evaluations
    if best is None:
        raise ModelError("the degradation trend could not be fitted", n_points=n)
    dof = max(n - 4, 1)
    bread = np.linalg.pinv(best.jac.T @ best.jac)
    meat = (best.jac * best.fun[:, None] ** 2).T @ best.jac * n / dof
    cov = bread @ meat @ bread
    return DegradationTrend(model, best.x, (cov + cov.T) / 2, times, best.fun.copy(), bounds)


def _least_squares(model: str, t: NDArray[np.float64], y: NDArray[np.float64],
                   start: NDArray[np.float64],
                   bounds: tuple[NDArray[np.float64], NDArray[np.float64]]) -> Any:
    scale = [max(float(np.ptp(y)), 1e-12), 1.0, 1.0, max(float(np.ptp(t)), 1e-12)]
    return optimize.least_squares(lambda p: _trend(model, p, t) - y, np.clip(start, *bounds),
                                  jac=lambda p: _jacobian(model, p, t), bounds=bounds,
                                  x_scale=scale)


def _jacobian(model: str, params: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray:
    """d trend / d (level, log a, b, t0); zero growth terms before the onset."""
    _, log_a, shape, onset = params
    since = np.clip(t - onset, 0.0, None)
    after = since > 0
    a = np.exp(log_a)
    jac = np.zeros((t.size, 4))
    jac[:, 0] = 1.0
    if model == "power":
        grown = since[after] ** shape
        jac[after, 1] = a * grown
        jac[after, 2] = a * grown * np.log(since[after])
        jac[after, 3] = -a * shape * since[after] ** (shape - 1)
    else:
        rise = np.exp(np.minimum(shape * since[after], MAX_EXPONENT))
        jac[after, 1] = a * (rise - 1)
        jac[after, 2] = a * since[after] * rise
        jac[after, 3] = -a * shape * rise
    return jac


def _trend(model: str, params: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray:
    level, log_a, shape, onset = params
    since = np.clip(t - onset, 0.0, None)
    return level + np.exp(log_a) * GROWTH[model](since, np.asarray(shape))


def _crossing(model: str, theta: NDArray[np.float64], threshold: float) -> NDArray[np.float64]:
    """Crossing time for each row (level, log a, b, t0) of ``theta``."""
    level, log_a, shape, onset = theta.T
    excess = (threshold - level) / np.exp(log_a)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        since = INVERSE[model](np.clip(excess, 0.0, None), shape)
    return np.where(np.isfinite(since), onset + since, np.inf)


__all__ = ["DegradationTrend", "RulEstimate", "fit_degradation"]
