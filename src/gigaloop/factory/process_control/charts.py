"""EWMA and two-sided CUSUM together over many streams, on :mod:`gigaloop.ml.spc`'s banks.

A stream signals when either chart does; both then restart (EWMA at the centre, CUSUM sums at
0). Readings come in ragged blocks (NaN: no reading for that stream at that step), streams
join as their Phase I ends, and a moving centre follows each stream's day level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gigaloop.errors import ConfigError
from gigaloop.ml.spc import CUSUMBank, EWMABank

RULES = EWMABank.RULES + CUSUMBank.RULES


@dataclass(frozen=True)
class Signals:
    """What :meth:`StreamCharts.process` saw, per stream: its first signal (``first``: the
    step, -1 for none; ``rule``: index into :data:`RULES`; the statistic, the limit it crossed
    and the EWMA then) and how many signals (``count``)."""

    first: NDArray[np.intp]
    rule: NDArray[np.intp]
    statistic: NDArray[np.float64]
    limit: NDArray[np.float64]
    ewma: NDArray[np.float64]
    count: NDArray[np.intp]


class StreamCharts:
    """An :class:`~gigaloop.ml.spc.EWMABank` and a :class:`~gigaloop.ml.spc.CUSUMBank` over
    the same streams; a stream restarts on both after each signal.

    >>> charts = StreamCharts(lam=0.2, L=4.0, k=1.0, h=5.0)
    >>> charts.add_streams(mu=[10.0, 10.0], sigma=[1.0, 1.0])
    >>> block = np.array([[10.2, 12.5], [np.nan, 12.8], [9.9, 13.1], [10.1, np.nan]])
    >>> signals = charts.process(block)
    >>> signals.first.tolist(), [RULES[r] for r in signals.rule[1:]]
    ([-1, 2], ['ewma_upper'])
    """

    def __init__(self, lam: float = 0.2, L: float = 3.8, k: float = 1.0, h: float = 4.0) -> None:
        if not (0 < lam <= 1 and L > 0 and k >= 0 and h > 0):
            raise ConfigError("need 0 < lam <= 1, L > 0, k >= 0, h > 0", lam=lam, L=L, k=k, h=h)
        self.lam, self.L, self.k, self.h = lam, L, k, h
        self._ewma: EWMABank | None = None  # made with the first streams (banks are not empty)
        self._cusum: CUSUMBank | None = None

    @property
    def n_streams(self) -> int:
        return 0 if self._ewma is None else self._ewma.n_streams

    @property
    def mu(self) -> NDArray[np.float64]:
        """Each stream's centre now (a copy)."""
        return np.empty(0) if self._ewma is None else self._ewma.mu_.copy()

    @property
    def sigma(self) -> NDArray[np.float64]:
        """Each stream's σ (a copy)."""
        return np.empty(0) if self._ewma is None else self._ewma.sigma_.copy()

    @property
    def ewma(self) -> NDArray[np.float64]:
        """The current EWMA of each stream (a copy)."""
        return np.empty(0) if self._ewma is None else self._ewma.statistic.copy()

    def add_streams(self, mu: ArrayLike, sigma: ArrayLike) -> None:
        """Start monitoring new streams with centre ``mu`` and spread ``sigma``."""
        mu_, sigma_ = np.atleast_1d(np.asarray(mu, float)), np.atleast_1d(np.asarray(sigma, float))
        if mu_.shape != sigma_.shape or not (np.isfinite(mu_).all() and (sigma_ > 0).all()):
            raise ConfigError("mu and sigma need one finite value each, sigma > 0")
        if self._ewma is None or self._cusum is None:
            self._ewma = EWMABank(len(mu_), lam=self.lam, L=self.L, mu=mu_, sigma=sigma_)
            self._cusum = CUSUMBank(len(mu_), k=self.k, h=self.h, mu=mu_, sigma=sigma_)
        else:
            self._ewma.add_streams(mu_, sigma_)
            self._cusum.add_streams(mu_, sigma_)

    def process(self, block: ArrayLike) -> Signals:
        """Run a block of shape ``(n_steps, n_streams)`` (NaN = no reading) through the charts."""
        rows = np.asarray(block, dtype=np.float64)
        n = self.n_streams
        if rows.ndim != 2 or rows.shape[1] != n or np.isinf(rows).any():
            raise ConfigError(f"block must be finite or NaN with shape (n_steps, {n}), "
                              f"got {rows.shape}")
        first, rule = np.full(n, -1, np.intp), np.full(n, -1, np.intp)
        statistic, crossed, at_alarm = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        count = np.zeros(n, np.intp)
        ewma, cusum = self._ewma, self._cusum
        if ewma is None or cusum is None:
            return Signals(first, rule, statistic, crossed, at_alarm, count)
        for t, x in enumerate(rows):
            on = ~np.isnan(x)
            ewma.update(x, where=on)
            cusum.update(x, where=on)
            fired = np.flatnonzero(ewma.alarm | cusum.alarm)
            if not len(fired):
                continue
            count[fired] += 1
            new = fired[first[fired] < 0]
            which = _first_rule(ewma.codes[new], cusum.codes[new])
            values = np.choose(which, [ewma.statistic[new], ewma.statistic[new],
                                       cusum.upper_sum[new], cusum.lower_sum[new]])
            bounds = np.choose(which, [ewma.upper_limit[new], ewma.lower_limit[new],
                                       cusum.limit[new], cusum.limit[new]])
            first[new], rule[new] = t, which
            statistic[new], crossed[new], at_alarm[new] = values, bounds, ewma.statistic[new]
            self.restart(fired)
        return Signals(first, rule, statistic, crossed, at_alarm, count)

    def restart(self, streams: ArrayLike) -> None:
        """Restart streams: EWMA at the centre, CUSUM sums at 0."""
        if self._ewma is not None and self._cusum is not None:
            self._ewma.restart(streams)
            self._cusum.restart(streams)

    def recentre(self, streams: ArrayLike, mu: ArrayLike) -> None:
        """Move streams' centres to ``mu``; the EWMA moves with them (its distance from the
        centre, like the CUSUM sums, is kept), as on a chart of residuals from the centre.

        >>> charts = StreamCharts()
        >>> charts.add_streams([10.0], [1.0])
        >>> _ = charts.process([[11.0]])
        >>> charts.recentre([0], [10.5])
        >>> charts.mu.tolist(), (charts.ewma - charts.mu).round(3).tolist()
        ([10.5], [0.2])
        """
        if self._ewma is not None and self._cusum is not None:
            self._ewma.recentre(streams, mu)
            self._cusum.recentre(streams, mu)

    def follow(self, block: ArrayLike, signals: Signals, weight: float, anchor: ArrayLike,
               band: float) -> None:
        """Move each centre toward the stream's mean reading in ``block`` (an EWMA step of
        ``weight``), except for streams without a reading or with a signal in it, and keep it
        within ``band`` σ of ``anchor`` (the Phase I mean): a moving centre line.

        >>> charts = StreamCharts()
        >>> charts.add_streams([10.0, 10.0], [1.0, 1.0])
        >>> block = [[10.8, 10.8], [11.2, np.nan]]
        >>> charts.follow(block, charts.process(block), 0.5, [10.0, 10.0], band=0.4)
        >>> charts.mu.tolist()
        [10.4, 10.4]
        """
        rows = np.asarray(block, dtype=np.float64)
        quiet = np.flatnonzero((~np.isnan(rows)).any(axis=0) & (signals.first < 0))
        if weight == 0 or not len(quiet):
            return
        mu, sigma = self.mu[quiet], self.sigma[quiet]
        means = np.nanmean(rows[:, quiet], axis=0)
        centre = np.asarray(anchor, dtype=np.float64)[quiet]
        reach = band * sigma
        level = (1.0 - weight) * mu + weight * means
        self.recentre(quiet, np.clip(level, centre - reach, centre + reach))


def _first_rule(ewma_codes: NDArray[np.uint8], cusum_codes: NDArray[np.uint8]) -> NDArray[np.intp]:
    """Index into :data:`RULES` of the first rule fired: EWMA before CUSUM, upper before lower.

    >>> _first_rule(np.array([0, 2, 1], np.uint8), np.array([3, 1, 0], np.uint8)).tolist()
    [2, 1, 0]
    """
    codes = ewma_codes.astype(np.intp) | (cusum_codes.astype(np.intp) << len(EWMABank.RULES))
    return ((codes[:, None] >> np.arange(len(RULES))) & 1).argmax(axis=1)
