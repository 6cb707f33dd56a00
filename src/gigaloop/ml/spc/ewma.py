"""EWMA chart (Roberts 1959; Lucas & Saccucci 1990), for one stream or many.

``z_t = λ x_t + (1 - λ) z_{t-1}``, ``z_0 = μ``; it signals when ``z_t`` leaves
``μ ± L σ √(λ/(2-λ) · (1 - (1-λ)^{2t}))`` (``exact_limits``) or the steady-state
``μ ± L σ √(λ/(2-λ))``. λ = 0.1, L = 2.814 gives ARL₀ ≈ 500 with steady-state limits.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gigaloop.ml.spc._base import (
    Chart,
    PhaseOne,
    pack,
    positive,
    read_only,
)
from gigaloop.ml.spc._restartable import Restartable


def _check_lam(lam: float) -> float:
    if not 0 < lam <= 1:
        raise ValueError(f"lam must be in (0, 1], got {lam!r}")
    return lam


class EWMA(Chart):
    """Exponentially weighted moving average chart.

    >>> import random
    >>> rng = random.Random(7)
    >>> chart = EWMA(lam=0.1, L=2.814, mu=0.0, sigma=1.0)
    >>> for t in range(200):
    ...     chart.update(rng.gauss(1.0 if t >= 100 else 0.0, 1.0))
    ...     if chart.alarm:
    ...         break
    >>> t, chart.rule
    (106, 'ewma_upper')
    """

    RULES = ("ewma_upper", "ewma_lower")

    def __init__(
        self,
        lam: float = 0.1,
        L: float = 2.814,
        mu: float | None = None,
        sigma: float | None = None,
        exact_limits: bool = False,
    ) -> None:
        self.lam = _check_lam(lam)
        self.L = positive(L, "L")
        self.mu = mu
        self.sigma = sigma if sigma is None else positive(sigma, "sigma")
        self.exact_limits = exact_limits
        self._phase_one = PhaseOne()

    @property
    def statistic(self) -> float:
        """The current EWMA ``z_t``."""
        return self._z


    def _start(self) -> None:
        mu, sigma = self._given_or_estimated()
        self.mu_, self.sigma_ = float(mu), float(sigma)
        self._z = self.mu_
        self._keep = 1.0 - self.lam
        self._decay = 1.0
        self._shrink = self._keep * self._keep
        self._spread = self.lam / (2.0 - self.lam)
        self._scale = self.L * self.sigma_
        self._width = self._scale * math.sqrt(self._spread)

    def _step(self, x: float) -> tuple[str, ...]:
        self._z = self._keep * self._z + self.lam * x
        width = self._width
        if self.exact_limits:
            self._decay = self._decay * self._shrink
            width = self._scale * math.sqrt(self._spread * (1.0 - self._decay))
        if self._z > self.mu_ + width:
            return ("ewma_upper",)
        if self._z < self.mu_ - width:
            return ("ewma_lower",)
        return ()

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        return list(rng.normal(size=30)), list(rng.normal(0.8, 1.0, size=60))


class EWMABank(Restartable):
    """EWMA charts over ``n_streams`` streams, updated in place; alarms equal :class:`EWMA`'s.

    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> bank = EWMABank(n_streams=3, lam=0.1, L=2.814, mu=0.0, sigma=1.0)
    >>> shift = np.array([0.0, 1.0, -2.0])
    >>> bank.process(rng.normal(shift, 1.0, size=(300, 3)))
    array([-1,  5,  4])

    Streams that miss readings, start late, restart and follow a moving centre (steady-state
    limits only: with ``exact_limits`` the limits count the bank's steps, not a stream's):

    >>> bank = EWMABank(n_streams=1, lam=0.5, L=3.0, mu=10.0, sigma=1.0)
    >>> bank.add_streams([20.0], [2.0])
    >>> bank.update([np.nan, 21.0], where=[False, True])
    >>> bank.statistic.tolist(), bank.alarm.tolist()
    ([10.0, 20.5], [False, False])
    >>> bank.recentre([1], [21.0])                   # the EWMA keeps its distance, +0.5
    >>> bank.statistic.tolist(), bank.upper_limit.round(3).tolist()
    ([10.0, 21.5], [11.732, 24.464])
    >>> bank.restart([1])
    >>> bank.statistic.tolist()
    [10.0, 21.0]
    """

    RULES = EWMA.RULES

    def __init__(
        self,
        n_streams: int,
        lam: float = 0.1,
        L: float = 2.814,
        mu: Any = None,
        sigma: Any = None,
        exact_limits: bool = False,
    ) -> None:
        super().__init__(n_streams)
        self.lam = _check_lam(lam)
        self.L = positive(L, "L")
        self.mu = mu
        self.sigma = sigma if sigma is None else positive(sigma, "sigma")
        self.exact_limits = exact_limits
        self._phase_one = PhaseOne()

    @property
    def statistic(self) -> NDArray[np.float64]:
        """The current EWMA of each stream (read-only view)."""
        return read_only(self._z)

    @property
    def upper_limit(self) -> NDArray[np.float64]:
        """Each stream's upper control limit (read-only view)."""
        return read_only(self._ucl)

    @property
    def lower_limit(self) -> NDArray[np.float64]:
        """Each stream's lower control limit (read-only view)."""
        return read_only(self._lcl)

    @property
    def codes(self) -> NDArray[np.uint8]:
        return pack(self._upper, self._lower)

    @property
    def alarm(self) -> NDArray[np.bool_]:
        return self._upper | self._lower

    def _alarm_into(self, out: NDArray[np.bool_]) -> None:
        np.logical_or(self._upper, self._lower, out=out)


    def _start(self) -> None:
        self._set_stream_params()
        n = self.n_streams
        self._z = self.mu_.copy()
        self._keep = 1.0 - self.lam
        self._decay = 1.0
        self._shrink = self._keep * self._keep
        self._spread = self.lam / (2.0 - self.lam)
        self._scale = self.L * self.sigma_
        self._width = self._scale * math.sqrt(self._spread)
        self._ucl, self._lcl = self.mu_ + self._width, self.mu_ - self._width
        self._tmp = np.empty(n)
        self._upper = np.zeros(n, dtype=np.bool_)
        self._lower = np.zeros(n, dtype=np.bool_)

    def _step(self, x: NDArray[np.float64]) -> None:
        z, tmp = self._z, self._tmp
        np.multiply(z, self._keep, out=z)
        np.multiply(x, self.lam, out=tmp)
        np.add(z, tmp, out=z)
        if self.exact_limits:  # all streams share t, so the width is one number per step
            self._decay = self._decay * self._shrink
            root = math.sqrt(self._spread * (1.0 - self._decay))
            np.multiply(self._scale, root, out=tmp)
            np.add(self.mu_, tmp, out=self._ucl)
            np.subtract(self.mu_, tmp, out=self._lcl)
        np.greater(z, self._ucl, out=self._upper)
        np.less(z, self._lcl, out=self._lower)

    def _steady(self) -> None:
        if self.exact_limits:
            raise ValueError("EWMABank: streams on their own time (missing readings, added "
                             "streams, restarts) need exact_limits=False")

    def _step_where(self, x: NDArray[np.float64], on: NDArray[np.bool_]) -> None:
        self._steady()
        z, tmp = self._z, self._tmp  # dense arithmetic, then a masked copy: faster than where=
        np.multiply(z, self._keep, out=tmp)
        np.add(tmp, np.multiply(x, self.lam), out=tmp)
        np.copyto(z, tmp, where=on)
        np.greater(z, self._ucl, out=self._upper)
        np.less(z, self._lcl, out=self._lower)
        self._upper &= on
        self._lower &= on

    def _grow(self, added: int) -> None:
        self._steady()
        self._z = np.concatenate([self._z, self.mu_[-added:]])
        self._scale = self.L * self.sigma_
        self._width = self._scale * math.sqrt(self._spread)
        self._ucl, self._lcl = self.mu_ + self._width, self.mu_ - self._width
        self._tmp = np.empty(self.n_streams)
        self._upper = np.concatenate([self._upper, np.zeros(added, dtype=np.bool_)])
        self._lower = np.concatenate([self._lower, np.zeros(added, dtype=np.bool_)])

    def _restart(self, index: NDArray[np.intp]) -> None:
        self._steady()
        self._z[index] = self.mu_[index]

    def _move(self, index: NDArray[np.intp], mu: NDArray[np.float64]) -> None:
        self._z[index] += mu - self.mu_[index]
        self._ucl[index] = mu + self._width[index]
        self._lcl[index] = mu - self._width[index]

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        return list(rng.normal(size=(30, 4))), list(rng.normal(0.8, 1.0, size=(60, 4)))
