"""Tabular CUSUM (Page 1954; Montgomery §9.1), upper and lower, with an optional FIR headstart.

``C⁺_t = max(0, C⁺_{t-1} + x_t - (μ + kσ))``, ``C⁻_t = max(0, C⁻_{t-1} + (μ - kσ) - x_t)``;
it signals when either exceeds ``hσ``. ``headstart`` starts both sums at ``headstart·σ``
(Lucas & Crosier 1982 use ``h/2``). k = 0.5, h = 5 gives ARL₀ ≈ 465, ARL(1σ) ≈ 10.4.
"""

from __future__ import annotations

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


def _check_k_headstart(k: float, h: float, headstart: float) -> None:
    if not k >= 0:
        raise ValueError(f"k must be >= 0, got {k!r}")
    positive(h, "h")
    if not 0 <= headstart < h:
        raise ValueError(f"headstart must be in [0, h), got {headstart!r}")


class CUSUM(Chart):
    """Two-sided tabular CUSUM chart.

    >>> import random
    >>> rng = random.Random(3)
    >>> chart = CUSUM(k=0.5, h=5.0, mu=10.0, sigma=2.0)
    >>> for t in range(200):
    ...     chart.update(rng.gauss(8.0 if t >= 50 else 10.0, 2.0))
    ...     if chart.alarm:
    ...         break
    >>> t, chart.rule, round(chart.lower_sum, 2)
    (51, 'cusum_lower', 12.02)
    """

    RULES = ("cusum_upper", "cusum_lower")

    def __init__(
        self,
        k: float = 0.5,
        h: float = 5.0,
        mu: float | None = None,
        sigma: float | None = None,
        headstart: float = 0.0,
    ) -> None:
        _check_k_headstart(k, h, headstart)
        self.k = k
        self.h = h
        self.mu = mu
        self.sigma = sigma if sigma is None else positive(sigma, "sigma")
        self.headstart = headstart
        self._phase_one = PhaseOne()

    @property
    def upper_sum(self) -> float:
        """``C⁺``, in the units of x."""
        return self._upper

    @property
    def lower_sum(self) -> float:
        """``C⁻``, in the units of x."""
        return self._lower


    def _start(self) -> None:
        mu, sigma = self._given_or_estimated()
        self.mu_, self.sigma_ = float(mu), float(sigma)
        self._ref_upper = self.mu_ + self.k * self.sigma_
        self._ref_lower = self.mu_ - self.k * self.sigma_
        self._limit = self.h * self.sigma_
        self._upper = self._lower = self.headstart * self.sigma_

    def _step(self, x: float) -> tuple[str, ...]:
        self._upper = max(0.0, self._upper + (x - self._ref_upper))
        self._lower = max(0.0, self._lower + (self._ref_lower - x))
        up, down = self._upper > self._limit, self._lower > self._limit
        return ("cusum_upper",) * up + ("cusum_lower",) * down

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        return list(rng.normal(size=30)), list(rng.normal(-0.8, 1.0, size=60))


class CUSUMBank(Restartable):
    """Tabular CUSUM over ``n_streams`` streams, in place; alarms equal :class:`CUSUM`'s.

    >>> import numpy as np
    >>> rng = np.random.default_rng(4)
    >>> bank = CUSUMBank(n_streams=3, k=0.5, h=4.0, mu=0.0, sigma=1.0)
    >>> bank.process(rng.normal([0.0, 1.0, -1.0], 1.0, size=(400, 3)))
    array([-1, 18,  6])

    Streams that miss readings, start late, follow a moving centre and restart:

    >>> bank = CUSUMBank(n_streams=1, k=0.5, h=4.0, mu=0.0, sigma=1.0)
    >>> bank.add_streams([5.0], [2.0])
    >>> bank.update([np.nan, 8.0], where=[False, True])
    >>> bank.upper_sum.tolist(), bank.limit.tolist()
    ([0.0, 2.0], [4.0, 8.0])
    >>> bank.recentre([1], [6.0])                    # the sums are kept
    >>> bank.update([0.0, 14.0])
    >>> bank.upper_sum.tolist(), bank.rules_fired(1)
    ([0.0, 9.0], ('cusum_upper',))
    >>> bank.restart([1])
    >>> bank.upper_sum.tolist()
    [0.0, 0.0]
    """

    RULES = CUSUM.RULES

    def __init__(
        self,
        n_streams: int,
        k: float = 0.5,
        h: float = 5.0,
        mu: Any = None,
        sigma: Any = None,
        headstart: float = 0.0,
    ) -> None:
        super().__init__(n_streams)
        _check_k_headstart(k, h, headstart)
        self.k = k
        self.h = h
        self.mu = mu
        self.sigma = sigma if sigma is None else positive(sigma, "sigma")
        self.headstart = headstart
        self._phase_one = PhaseOne()

    @property
    def upper_sum(self) -> NDArray[np.float64]:
        """``C⁺`` of each stream, in the units of x (read-only view)."""
        return read_only(self._upper)

    @property
    def lower_sum(self) -> NDArray[np.float64]:
        """``C⁻`` of each stream, in the units of x (read-only view)."""
        return read_only(self._lower)

    @property
    def limit(self) -> NDArray[np.float64]:
        """``hσ`` of each stream (read-only view)."""
        return read_only(self._limit)

    @property
    def codes(self) -> NDArray[np.uint8]:
        return pack(self._alarm_upper, self._alarm_lower)

    @property
    def alarm(self) -> NDArray[np.bool_]:
        return self._alarm_upper | self._alarm_lower

    def _alarm_into(self, out: NDArray[np.bool_]) -> None:
        np.logical_or(self._alarm_upper, self._alarm_lower, out=out)


    def _start(self) -> None:
        self._set_stream_params()
        n = self.n_streams
        self._ref_upper = self.mu_ + self.k * self.sigma_
        self._ref_lower = self.mu_ - self.k * self.sigma_
        self._limit = self.h * self.sigma_
        self._upper = self.headstart * self.sigma_
        self._lower = self._upper.copy()
        self._tmp = np.empty(n)
        self._alarm_upper = np.zeros(n, dtype=np.bool_)
        self._alarm_lower = np.zeros(n, dtype=np.bool_)

    def _step(self, x: NDArray[np.float64]) -> None:
        tmp, upper, lower = self._tmp, self._upper, self._lower
        np.subtract(x, self._ref_upper, out=tmp)
        np.add(upper, tmp, out=upper)
        np.maximum(upper, 0.0, out=upper)
        np.greater(upper, self._limit, out=self._alarm_upper)
        np.subtract(self._ref_lower, x, out=tmp)
        np.add(lower, tmp, out=lower)
        np.maximum(lower, 0.0, out=lower)
        np.greater(lower, self._limit, out=self._alarm_lower)

    def _step_where(self, x: NDArray[np.float64], on: NDArray[np.bool_]) -> None:
        tmp = self._tmp  # dense arithmetic (NaN where off), then a masked copy
        for total, step, alarm in ((self._upper, (x, self._ref_upper), self._alarm_upper),
                                   (self._lower, (self._ref_lower, x), self._alarm_lower)):
            np.subtract(*step, out=tmp)
            np.add(total, tmp, out=tmp)
            np.maximum(tmp, 0.0, out=tmp)
            np.copyto(total, tmp, where=on)
            np.greater(total, self._limit, out=alarm)
            alarm &= on

    def _grow(self, added: int) -> None:
        self._ref_upper = self.mu_ + self.k * self.sigma_
        self._ref_lower = self.mu_ - self.k * self.sigma_
        self._limit = self.h * self.sigma_
        start = self.headstart * self.sigma_[-added:]
        self._upper = np.concatenate([self._upper, start])
        self._lower = np.concatenate([self._lower, start])
        self._tmp = np.empty(self.n_streams)
        self._alarm_upper = np.concatenate([self._alarm_upper, np.zeros(added, dtype=np.bool_)])
        self._alarm_lower = np.concatenate([self._alarm_lower, np.zeros(added, dtype=np.bool_)])

    def _restart(self, index: NDArray[np.intp]) -> None:
        self._upper[index] = self._lower[index] = self.headstart * self.sigma_[index]

    def _move(self, index: NDArray[np.intp], mu: NDArray[np.float64]) -> None:
        self._ref_upper[index] = mu + self.k * self.sigma_[index]
        self._ref_lower[index] = mu - self.k * self.sigma_[index]

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        return list(rng.normal(size=(30, 4))), list(rng.normal(-0.8, 1.0, size=(60, 4)))
