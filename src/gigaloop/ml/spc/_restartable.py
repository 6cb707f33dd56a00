"""Banks whose streams keep their own time: missing readings, late streams, restarts and a
moving centre (:class:`Restartable`; the EWMA and CUSUM banks are)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gigaloop.errors import ModelError
from gigaloop.ml.spc._base import ChartBank, finite_array, positive, stream_param


class Restartable(ChartBank):
    """A bank of one-value-per-reading charts whose streams come and go on their own time.

    Its ``mu`` and ``sigma`` are given (per stream); subclasses implement ``_step_where``,
    ``_grow``, ``_restart`` and ``_move``. With these a bank charts streams that start Phase II
    on different days (:meth:`add_streams`), miss readings (``update(x, where=...)``),
    restart after a signal (:meth:`restart`) and follow a moving centre (:meth:`recentre`).
    """

    takes_missing = True
    mu: Any
    sigma: Any

    def add_streams(self, mu: ArrayLike, sigma: ArrayLike) -> None:
        """Start monitoring ``len(mu)`` more streams, in control, from the next ``update``.

        The bank's parameters grow with them, so ``clone()`` watches every stream.
        """
        if self.mu is None or self.sigma is None:
            raise ModelError(f"{type(self).__name__}: add_streams needs mu and sigma given")
        new_mu = finite_array(np.atleast_1d(mu), "mu")
        new_sigma = positive(finite_array(np.atleast_1d(sigma), "sigma"), "sigma")
        if new_mu.ndim != 1 or new_mu.shape != new_sigma.shape:
            raise ValueError(f"mu and sigma need one value per new stream, got shapes "
                             f"{new_mu.shape} and {new_sigma.shape}")
        self._start_once()
        n = self.n_streams
        self.mu = np.concatenate([stream_param(self.mu, n, "mu"), new_mu])
        self.sigma = np.concatenate([stream_param(self.sigma, n, "sigma"), new_sigma])
        self.n_streams = n + len(new_mu)
        self.mu_ = np.concatenate([self.mu_, new_mu])
        self.sigma_ = np.concatenate([self.sigma_, new_sigma])
        self._grow(len(new_mu))

    def restart(self, streams: ArrayLike) -> None:
        """Start ``streams`` (indices) afresh at their centres, as after a signal."""
        self._restart(self._indices(streams))

    def recentre(self, streams: ArrayLike, mu: ArrayLike) -> None:
        """Move the centres of ``streams`` to ``mu``; each statistic keeps its distance from the
        centre, as on a chart of residuals from a moving centre line."""
        index = self._indices(streams)
        target = finite_array(stream_param(mu, len(index), "mu"), "mu")
        self._move(index, target)
        self.mu_[index] = target

    def _indices(self, streams: ArrayLike) -> NDArray[np.intp]:
        if not self._started:
            raise ModelError(f"{type(self).__name__}: restart and recentre act in Phase II")
        index = np.asarray(streams, dtype=np.intp).reshape(-1)
        if ((index < 0) | (index >= self.n_streams)).any():
            raise ValueError(f"streams must be indices below {self.n_streams}, got {index}")
        return index

    def update(self, x: ArrayLike, where: ArrayLike | None = None) -> None:
        """As :meth:`ChartBank.update`; streams ``where`` is False had no reading and keep
        their state."""
        if where is None:
            super().update(x)
            return
        readings, on = self._readings_where(x, where)
        self._start_once()
        self._step_where(readings, on)

    @abstractmethod
    def _step_where(self, x: NDArray[np.float64], on: NDArray[np.bool_]) -> None:
        """``_step`` for the streams ``on`` only."""

    @abstractmethod
    def _grow(self, added: int) -> None:
        """Extend the state arrays by ``added`` streams (``mu_``, ``sigma_`` already are)."""
        ...

    @abstractmethod
    def _restart(self, index: NDArray[np.intp]) -> None:
        ...

    @abstractmethod
    def _move(self, index: NDArray[np.intp], mu: NDArray[np.float64]) -> None:
        """Shift the state of ``index`` to centres ``mu`` (``mu_`` still holds the old ones)."""
        ...
