"""Shewhart charts: individuals + moving range (I-MR) and X̄–R, for one stream or many.

Limits are ``L``-sigma (3 by default, ARL₀ = 1/0.0027 ≈ 370.4 for the I chart alone).
Unless given, Phase I estimates ``μ`` by the mean and ``σ`` by ``MR̄/d2`` (I-MR) or
``R̄/d2(n)`` (X̄–R). A range chart with centre ``d2 σ`` signals outside
``(d2 ± L d3) σ``, which is ``D3 R̄`` … ``D4 R̄`` for L = 3.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from gigaloop.errors import ModelError
from gigaloop.ml.spc._base import (
    Chart,
    ChartBank,
    PhaseOne,
    finite_array,
    pack,
    positive,
    stream_param,
)
from gigaloop.ml.spc.constants import D2, D3_SD, subgroup_size


def _resolve(given: tuple[Any, Any], estimate: Any) -> tuple[Any, Any]:
    """``(mu, sigma)``: the given ones, the rest from ``estimate()`` (called only if needed)."""
    mu, sigma = given
    if mu is None or sigma is None:
        mean, spread = estimate()
        mu, sigma = (mean if mu is None else mu), (spread if sigma is None else sigma)
    return mu, sigma


class IndividualsMR(Chart):
    """Individuals chart with its moving-range chart (``moving_range=False`` drops the MR rule).

    >>> import random
    >>> rng = random.Random(1)
    >>> chart = IndividualsMR()
    >>> for _ in range(25):
    ...     chart.learn_one(rng.gauss(50.0, 2.0))
    >>> for x in (51.0, 49.5, 58.2):
    ...     chart.update(x)
    >>> chart.rules_fired, round(chart.mu_, 2), round(chart.sigma_, 2)
    (('shewhart_upper', 'mr_upper'), 50.19, 1.71)
    """

    RULES = ("shewhart_upper", "shewhart_lower", "mr_upper")

    def __init__(
        self,
        mu: float | None = None,
        sigma: float | None = None,
        L: float = 3.0,
        moving_range: bool = True,
    ) -> None:
        self.mu = mu
        self.sigma = sigma if sigma is None else positive(sigma, "sigma")
        self.L = positive(L, "L")
        self.moving_range = moving_range
        self._phase_one = PhaseOne()


    def _start(self) -> None:
        estimate = lambda: self._phase_one.estimate(type(self).__name__)  # noqa: E731
        mu, sigma = _resolve((self.mu, self.sigma), estimate)
        self.mu_, self.sigma_ = float(mu), float(sigma)
        self._ucl = self.mu_ + self.L * self.sigma_
        self._lcl = self.mu_ - self.L * self.sigma_
        self._mr_ucl = (D2[2] + self.L * D3_SD[2]) * self.sigma_
        self._last = self._phase_one.last

    def _step(self, x: float) -> tuple[str, ...]:
        fired = ("shewhart_upper",) * (x > self._ucl) + ("shewhart_lower",) * (x < self._lcl)
        if self.moving_range and self._last is not None and abs(x - self._last) > self._mr_ucl:
            fired += ("mr_upper",)
        self._last = x
        return fired

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        return list(rng.normal(size=30)), list(rng.normal(0.0, 1.6, size=60))


class XbarR(Chart):
    """X̄ and R charts for rational subgroups of ``size`` readings.

    >>> import random
    >>> rng = random.Random(2)
    >>> chart = XbarR(size=5)
    >>> for _ in range(25):
    ...     chart.learn_one([rng.gauss(10.0, 0.5) for _ in range(5)])
    >>> chart.update([10.9, 11.2, 10.8, 11.0, 11.1])
    >>> chart.rule, round(chart.sigma_, 2)
    ('xbar_upper', 0.5...)
    """

    RULES = ("xbar_upper", "xbar_lower", "range_upper", "range_lower")
    _check_params: ClassVar[dict[str, Any]] = {"size": 4}

    def __init__(
        self, size: int = 5, mu: float | None = None, sigma: float | None = None, L: float = 3.0
    ) -> None:
        self.size = subgroup_size(size)
        self.mu = mu
        self.sigma = sigma if sigma is None else positive(sigma, "sigma")
        self.L = positive(L, "L")
        self._count, self._mean_total, self._range_total = 0, 0.0, 0.0

    def _reading(self, x: Any) -> tuple[float, float]:
        values = finite_array(x, "subgroup")
        if values.shape != (self.size,):
            raise ValueError(f"a subgroup must hold {self.size} readings, got shape {values.shape}")
        total = 0.0
        for value in values.tolist():
            total += value
        return total / self.size, float(values.max() - values.min())

    def _learn(self, x: tuple[float, float]) -> None:
        self._count += 1
        self._mean_total += x[0]
        self._range_total += x[1]

    def _estimate(self) -> tuple[float, float]:
        return _subgroup_estimate(self, self._count, self._mean_total, self._range_total)

    def _start(self) -> None:
        mu, sigma = _resolve((self.mu, self.sigma), self._estimate)
        self.mu_, self.sigma_ = float(mu), float(sigma)
        limits = _subgroup_limits(self.mu_, self.sigma_, self.size, self.L)
        self._limits = tuple(float(limit) for limit in limits)

    def _step(self, x: tuple[float, float]) -> tuple[str, ...]:
        xbar_ucl, xbar_lcl, r_ucl, r_lcl = self._limits
        mean, spread = x
        return (
            ("xbar_upper",) * (mean > xbar_ucl)
            + ("xbar_lower",) * (mean < xbar_lcl)
            + ("range_upper",) * (spread > r_ucl)
            + ("range_lower",) * (spread < r_lcl)
        )

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        return list(rng.normal(size=(20, 4))), list(rng.normal(0.5, 1.5, size=(60, 4)))


def _subgroup_estimate(chart: Any, count: int, mean_total: Any, range_total: Any) -> Any:
    if count < 2:
        raise ModelError(
            f"{type(chart).__name__}: Phase I needs at least 2 subgroups or mu and sigma given",
            subgroups=count,
        )
    sigma = range_total / count / D2[chart.size]
    if np.any(np.asarray(sigma) <= 0):
        raise ModelError(f"{type(chart).__name__}: Phase I subgroups have zero range")
    return mean_total / count, sigma


def _subgroup_limits(mu: Any, sigma: Any, size: int, L: float) -> tuple[Any, Any, Any, Any]:
    """X̄ upper/lower and R upper/lower limits (R lower is 0 when d2 - L d3 < 0)."""
    half = L * sigma / np.sqrt(size)
    return (
        mu + half,
        mu - half,
        (D2[size] + L * D3_SD[size]) * sigma,
        max(0.0, D2[size] - L * D3_SD[size]) * sigma,
    )


class IndividualsMRBank(ChartBank):
    """I-MR charts over ``n_streams`` streams; alarms equal :class:`IndividualsMR`'s.

    >>> import numpy as np
    >>> bank = IndividualsMRBank(n_streams=2, mu=0.0, sigma=1.0)
    >>> bank.update([3.5, -1.0])
    >>> bank.rules_fired(0), bank.rules_fired(1)
    (('shewhart_upper',), ())
    """

    RULES = IndividualsMR.RULES

    def __init__(
        self,
        n_streams: int,
        mu: Any = None,
        sigma: Any = None,
        L: float = 3.0,
        moving_range: bool = True,
    ) -> None:
        super().__init__(n_streams)
        self.mu = mu
        self.sigma = sigma if sigma is None else positive(sigma, "sigma")
        self.L = positive(L, "L")
        self.moving_range = moving_range
        self._phase_one = PhaseOne()

    @property
    def codes(self) -> NDArray[np.uint8]:
        return self._codes.copy()


    def _start(self) -> None:
        estimate = lambda: self._phase_one.estimate(type(self).__name__)  # noqa: E731
        mu, sigma = _resolve((self.mu, self.sigma), estimate)
        n = self.n_streams
        self.mu_, self.sigma_ = stream_param(mu, n, "mu"), stream_param(sigma, n, "sigma")
        positive(self.sigma_, "sigma")
        self._ucl = self.mu_ + self.L * self.sigma_
        self._lcl = self.mu_ - self.L * self.sigma_
        self._mr_ucl = (D2[2] + self.L * D3_SD[2]) * self.sigma_
        last = self._phase_one.last
        self._last = None if last is None else last.copy()
        self._codes = np.zeros(n, dtype=np.uint8)

    def _step(self, x: NDArray[np.float64]) -> None:
        moved = np.zeros(self.n_streams, dtype=np.bool_)
        if self.moving_range and self._last is not None:
            moved = np.abs(x - self._last) > self._mr_ucl
        self._last = x.copy()
        self._codes = pack(x > self._ucl, x < self._lcl, moved)

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        return list(rng.normal(size=(30, 4))), list(rng.normal(0.0, 1.6, size=(60, 4)))


class XbarRBank(ChartBank):
    """X̄–R charts over ``n_streams`` streams, one subgroup per stream and step.

    >>> import numpy as np
    >>> bank = XbarRBank(n_streams=2, size=4, mu=0.0, sigma=1.0)
    >>> bank.update([[2.0, 1.5, 1.8, 2.2], [0.1, -0.3, 0.2, 0.0]])
    >>> bank.rules_fired(0), bank.rules_fired(1)
    (('xbar_upper',), ())
    """

    RULES = XbarR.RULES
    _check_params: ClassVar[dict[str, Any]] = {"n_streams": 4, "size": 4}

    def __init__(
        self, n_streams: int, size: int = 5, mu: Any = None, sigma: Any = None, L: float = 3.0
    ) -> None:
        super().__init__(n_streams)
        self.size = subgroup_size(size)
        self._reading_shape = (size,)
        self.mu = mu
        self.sigma = sigma if sigma is None else positive(sigma, "sigma")
        self.L = positive(L, "L")
        self._count = 0
        self._mean_total: Any = 0.0
        self._range_total: Any = 0.0

    @property
    def codes(self) -> NDArray[np.uint8]:
        return self._codes.copy()

    def _summary(self, x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        total = np.zeros(self.n_streams)
        for j in range(self.size):  # left to right, as XbarR sums
            total += x[:, j]
        return total / self.size, x.max(axis=1) - x.min(axis=1)

    def _learn(self, x: NDArray[np.float64]) -> None:
        mean, spread = self._summary(x)
        self._count += 1
        self._mean_total = self._mean_total + mean
        self._range_total = self._range_total + spread

    def _start(self) -> None:
        estimate = lambda: _subgroup_estimate(  # noqa: E731
            self, self._count, self._mean_total, self._range_total
        )
        mu, sigma = _resolve((self.mu, self.sigma), estimate)
        n = self.n_streams
        self.mu_, self.sigma_ = stream_param(mu, n, "mu"), stream_param(sigma, n, "sigma")
        positive(self.sigma_, "sigma")
        self._limits = _subgroup_limits(self.mu_, self.sigma_, self.size, self.L)
        self._codes = np.zeros(n, dtype=np.uint8)

    def _step(self, x: NDArray[np.float64]) -> None:
        mean, spread = self._summary(x)
        xbar_ucl, xbar_lcl, r_ucl, r_lcl = self._limits
        self._codes = pack(mean > xbar_ucl, mean < xbar_lcl, spread > r_ucl, spread < r_lcl)

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        return list(rng.normal(size=(20, 4, 4))), list(rng.normal(0.5, 1.5, size=(60, 4, 4)))
