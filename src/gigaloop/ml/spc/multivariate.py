"""Multivariate charts on ``dim`` correlated characteristics: Hotelling T² and MEWMA.

Hotelling T² for individual observations (Montgomery §11.3): ``T² = (x - x̄)ᵀ S⁻¹ (x - x̄)``.
With ``x̄, S`` estimated from ``m`` Phase I readings the Phase II limit is
``p (m+1)(m-1) / (m² - m p) · F_{1-α}(p, m-p)``; with ``mean`` and ``cov`` given it is
``χ²_{1-α}(p)``. MEWMA (Lowry et al. 1992): ``Z_t = λ(x_t - μ) + (1-λ) Z_{t-1}`` and
``T² = Zᵀ Σ_Z⁻¹ Z`` with ``Σ_Z = λ/(2-λ) Σ``; it signals above ``h`` (p = 2, λ = 0.1,
h = 8.64 gives ARL₀ ≈ 200, Prabhu & Runger 1997).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from gigaloop.errors import ModelError
from gigaloop.ml.spc._base import Chart, ChartBank, finite_array, pack, positive


class Moments:
    """Welford running mean and scatter of vectors, shape ``(dim,)`` or ``(n_streams, dim)``."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: Any = 0.0
        self.scatter: Any = 0.0

    def add(self, x: NDArray[np.float64]) -> None:
        self.count += 1
        delta = x - self.mean
        self.mean = self.mean + delta / self.count
        self.scatter = self.scatter + delta[..., :, None] * (x - self.mean)[..., None, :]


def _parameters(chart: Any, moments: Moments) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(mean, inverse covariance)`` from the given ``mean``/``cov`` or from Phase I."""
    name, dim = type(chart).__name__, chart.dim
    if (chart.mean is None) != (chart.cov is None):
        raise ValueError(f"{name}: give both mean and cov, or neither (Phase I estimates both)")
    if chart.mean is None:
        if moments.count <= dim + 1:
            raise ModelError(f"{name}: Phase I needs more than dim + 1 = {dim + 1} readings",
                             readings=moments.count)
        mean, cov = moments.mean, moments.scatter / (moments.count - 1)
    else:
        mean, cov = finite_array(chart.mean, "mean"), finite_array(chart.cov, "cov")
        if mean.shape[-1:] != (dim,) or cov.shape[-2:] != (dim, dim):
            raise ValueError(f"{name}: mean must end in ({dim},) and cov in ({dim}, {dim})")
    try:
        inverse = np.linalg.inv(cov)
    except np.linalg.LinAlgError as exc:
        raise ModelError(f"{name}: the covariance matrix is singular") from exc
    if not np.isfinite(inverse).all() or (np.linalg.eigvalsh(cov) <= 0).any():
        raise ModelError(f"{name}: the covariance matrix is not positive definite")
    return mean, inverse


def _quadratic(d: NDArray[np.float64], inverse: NDArray[np.float64]) -> Any:
    return np.einsum("...p,...pq,...q->...", d, inverse, d)


def _t2_limit(chart: Any, moments: Moments) -> float:
    p, alpha = chart.dim, chart.alpha
    if chart.mean is not None:
        return float(stats.chi2.ppf(1 - alpha, p))
    m = moments.count
    return float(p * (m + 1) * (m - 1) / (m * m - m * p) * stats.f.ppf(1 - alpha, p, m - p))


def _check(dim: int, alpha: float | None = None, lam: float | None = None) -> int:
    if int(dim) != dim or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    if alpha is not None and not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if lam is not None and not 0 < lam <= 1:
        raise ValueError(f"lam must be in (0, 1], got {lam!r}")
    return dim


class HotellingT2(Chart):
    """Hotelling T² chart for individual observations of ``dim`` characteristics.

    >>> import numpy as np
    >>> rng = np.random.default_rng(5)
    >>> cov = [[1.0, 0.8], [0.8, 1.0]]
    >>> chart = HotellingT2(dim=2, alpha=0.005)
    >>> for x in rng.multivariate_normal([0, 0], cov, size=50):
    ...     chart.learn_one(x)
    >>> chart.update([1.5, -1.5])  # each coordinate is ordinary, the pair is not
    >>> chart.rule, round(chart.limit_, 2), round(chart.statistic, 1)
    ('t2_upper', 12.35, 28.1)
    """

    RULES = ("t2_upper",)
    _check_params: ClassVar[dict[str, Any]] = {"dim": 2}

    def __init__(self, dim: int, alpha: float = 0.0027, mean: Any = None, cov: Any = None) -> None:
        self.dim = _check(dim, alpha=alpha)
        self.alpha = alpha
        self.mean = mean
        self.cov = cov
        self._moments = Moments()

    @property
    def statistic(self) -> float:
        """The last T²."""
        return self._t2

    def _reading(self, x: Any) -> NDArray[np.float64]:
        vector = finite_array(x, "x")
        if vector.shape != (self.dim,):
            raise ValueError(f"x must have shape ({self.dim},), got {vector.shape}")
        return vector

    def _learn(self, x: NDArray[np.float64]) -> None:
        self._moments.add(x)

    def _start(self) -> None:
        self.mean_, self._inverse = _parameters(self, self._moments)
        self.limit_ = _t2_limit(self, self._moments)

    def _step(self, x: NDArray[np.float64]) -> tuple[str, ...]:
        self._t2 = float(_quadratic(x - self.mean_, self._inverse))
        return ("t2_upper",) if self._t2 > self.limit_ else ()

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        return list(rng.normal(size=(30, 2))), list(rng.normal(1.0, 1.0, size=(60, 2)))


class HotellingT2Bank(ChartBank):
    """Hotelling T² over ``n_streams`` streams of ``dim``-vectors; alarms equal HotellingT2's.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> bank = HotellingT2Bank(n_streams=3, dim=2, mean=np.zeros(2), cov=np.eye(2))
    >>> bank.process(rng.normal([[0, 0], [2, 0], [0, -3]], 1.0, size=(200, 3, 2)))
    array([-1, 10,  9])
    """

    RULES = HotellingT2.RULES
    _check_params: ClassVar[dict[str, Any]] = {"n_streams": 4, "dim": 2}

    def __init__(
        self, n_streams: int, dim: int, alpha: float = 0.0027, mean: Any = None, cov: Any = None
    ) -> None:
        super().__init__(n_streams)
        self.dim = _check(dim, alpha=alpha)
        self._reading_shape = (dim,)
        self.alpha = alpha
        self.mean = mean
        self.cov = cov
        self._moments = Moments()

    @property
    def statistic(self) -> NDArray[np.float64]:
        """The last T² of each stream."""
        return self._t2.copy()

    @property
    def codes(self) -> NDArray[np.uint8]:
        return pack(self._t2 > self.limit_)

    def _learn(self, x: NDArray[np.float64]) -> None:
        self._moments.add(x)

    def _start(self) -> None:
        mean, inverse = _parameters(self, self._moments)
        self.mean_ = np.broadcast_to(mean, (self.n_streams, self.dim)).copy()
        self._inverse = np.broadcast_to(inverse, (self.n_streams, self.dim, self.dim)).copy()
        self.limit_ = _t2_limit(self, self._moments)
        self._t2 = np.zeros(self.n_streams)

    def _step(self, x: NDArray[np.float64]) -> None:
        self._t2 = _quadratic(x - self.mean_, self._inverse)

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        return list(rng.normal(size=(30, 4, 2))), list(rng.normal(1.0, 1.0, size=(60, 4, 2)))


class MEWMA(Chart):
    """Multivariate EWMA chart with steady-state covariance; signals when T² > ``h``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(11)
    >>> chart = MEWMA(dim=2, h=8.64, lam=0.1, mean=[0.0, 0.0], cov=[[1.0, 0.5], [0.5, 1.0]])
    >>> for t in range(300):
    ...     chart.update(rng.normal([0.0, 0.0] if t < 100 else [1.0, 0.0], 1.0))
    ...     if chart.alarm:
    ...         break
    >>> t, chart.rule
    (1..., 'mewma_upper')
    """

    RULES = ("mewma_upper",)
    _check_params: ClassVar[dict[str, Any]] = {"dim": 2, "h": 8.64}

    def __init__(
        self, dim: int, h: float, lam: float = 0.1, mean: Any = None, cov: Any = None
    ) -> None:
        self.dim = _check(dim, lam=lam)
        self.h = positive(h, "h")
        self.lam = lam
        self.mean = mean
        self.cov = cov
        self._moments = Moments()

    _reading = HotellingT2._reading
    _learn = HotellingT2._learn

    @property
    def statistic(self) -> float:
        """The last T² of the EWMA vector."""
        return self._t2

    def _start(self) -> None:
        self.mean_, inverse = _parameters(self, self._moments)
        self._inverse = inverse * ((2.0 - self.lam) / self.lam)
        self._z = np.zeros(self.dim)
        self._t2 = 0.0

    def _step(self, x: NDArray[np.float64]) -> tuple[str, ...]:
        self._z = (1.0 - self.lam) * self._z + self.lam * (x - self.mean_)
        self._t2 = float(_quadratic(self._z, self._inverse))
        return ("mewma_upper",) if self._t2 > self.h else ()

    _check_readings = HotellingT2._check_readings


class MEWMABank(ChartBank):
    """MEWMA over ``n_streams`` streams of ``dim``-vectors; alarms equal :class:`MEWMA`'s.

    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> bank = MEWMABank(n_streams=2, dim=2, h=8.64, mean=np.zeros(2), cov=np.eye(2))
    >>> bank.process(rng.normal([[0.0, 0.0], [1.0, 1.0]], 1.0, size=(400, 2, 2)))
    array([-1,  6])
    """

    RULES = MEWMA.RULES
    _check_params: ClassVar[dict[str, Any]] = {"n_streams": 4, "dim": 2, "h": 8.64}

    def __init__(
        self, n_streams: int, dim: int, h: float, lam: float = 0.1, mean: Any = None,
        cov: Any = None,
    ) -> None:
        super().__init__(n_streams)
        self.dim = _check(dim, lam=lam)
        self._reading_shape = (dim,)
        self.h = positive(h, "h")
        self.lam = lam
        self.mean = mean
        self.cov = cov
        self._moments = Moments()

    statistic = HotellingT2Bank.statistic
    _learn = HotellingT2Bank._learn

    @property
    def codes(self) -> NDArray[np.uint8]:
        return pack(self._t2 > self.h)

    def _start(self) -> None:
        mean, inverse = _parameters(self, self._moments)
        self.mean_ = np.broadcast_to(mean, (self.n_streams, self.dim)).copy()
        scaled = inverse * ((2.0 - self.lam) / self.lam)
        self._inverse = np.broadcast_to(scaled, (self.n_streams, self.dim, self.dim)).copy()
        self._z = np.zeros((self.n_streams, self.dim))
        self._t2 = np.zeros(self.n_streams)

    def _step(self, x: NDArray[np.float64]) -> None:
        self._z = (1.0 - self.lam) * self._z + self.lam * (x - self.mean_)
        self._t2 = _quadratic(self._z, self._inverse)

    _check_readings = HotellingT2Bank._check_readings
