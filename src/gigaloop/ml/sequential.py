"""An always-valid test of a Poisson rate ratio, for a staged rollout looked at every day.

Is a candidate's event rate per unit of exposure (Autopilot crashes or disengagements per
mile) worse than the incumbent's — or no worse than a margin? :class:`RateRatioTest` takes
each batch of both arms' events and exposures, as often as one likes, and keeps its error
rate at ``alpha`` however many times it is read.

Given a batch's total events, the candidate's are binomial: X_c | N ~ Bin(N, p(θ)),
p(θ) = θ·e_c / (θ·e_c + e_i), θ the rate ratio candidate / incumbent and e the batch's
exposures (they may change from batch to batch, as the rollout's waves do; the incumbent's
own rate, whatever it is and however it moves between batches, cancels). Against a null
θ₀, the likelihood ratio of the batches so far, mixed over a grid of alternatives,
Λ = Σₖ wₖ Πₛ LRₛ(θₖ), is a non-negative (super)martingale of mean at most 1 under the
null (the binomial has monotone likelihood ratios in θ, so the one-sided composite nulls
below hold too), and by Ville's inequality P(supₜ Λₜ ≥ 1/α) ≤ α: the test may stop the
first time Λ crosses 1/α (Robbins 1970's mixture martingale; the mixture SPRT of Johari,
Pekelis and Walsh 2017, here over a discrete prior).

Two questions run side by side, each at ``alpha``:

* **harm**, null θ ≤ 1 against θ > 1: rejected → ``"harm"`` (roll back);
* **no worse**, null θ ≥ 1 + ``margin`` against θ < 1 + margin: rejected → ``"no_worse"``
  (promote).

>>> test = RateRatioTest(alpha=0.05, margin=0.1)
>>> test.update(60, 1e6, 20, 1e6)        # three times the incumbent's rate in one batch
'harm'
>>> test = RateRatioTest(alpha=0.05, margin=0.1)
>>> [test.update(20, 2e6, 100, 10e6) for _ in range(3)]   # the same rate: not yet
[None, None, None]
>>> test.update(100, 20e6, 500, 50e6)    # then clearly lower
'no_worse'
>>> round(test.ratio, 3)
0.615
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

GRID_POINTS = 32


@dataclass
class RateRatioTest:
    """Sequential harm / non-inferiority test of a candidate's rate against an incumbent's.

    ``alpha``: each question's error rate over the whole sequence of looks. ``margin``:
    the non-inferiority margin (``no_worse`` means θ < 1 + margin). ``largest_ratio``: the
    widest alternative of the grids (ratios 1 … ``largest_ratio`` for harm, and
    (1 + margin) / ``largest_ratio`` … 1 + margin for no-worse, equally weighted on the
    log scale). :attr:`decision` is ``None`` until one question is answered, then stays.
    """

    alpha: float = 0.05
    margin: float = 0.1
    largest_ratio: float = 4.0
    decision: str | None = None
    events: NDArray[np.float64] = field(default_factory=lambda: np.zeros(2))
    exposure: NDArray[np.float64] = field(default_factory=lambda: np.zeros(2))

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0 <= self.margin < 1 or self.largest_ratio <= 1 + self.margin:
            raise ValueError("need 0 <= margin < 1 and largest_ratio > 1 + margin")
        grid = np.geomspace(1.0, self.largest_ratio, GRID_POINTS + 1)[1:]
        self._harm = _Mixture(null=1.0, alternatives=grid)
        self._no_worse = _Mixture(null=1.0 + self.margin,
                                  alternatives=(1.0 + self.margin) / grid)

    @property
    def ratio(self) -> float:
        """The rate ratio of all batches so far (NaN before events on both arms)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = self.events / self.exposure
            return float(rates[0] / rates[1])

    @property
    def evidence(self) -> dict[str, float]:
        """Each question's mixture likelihood ratio Λ (it answers at 1 / ``alpha``)."""
        return {"harm": self._harm.value, "no_worse": self._no_worse.value}

    def update(self, events_candidate: float, exposure_candidate: float,
               events_incumbent: float, exposure_incumbent: float) -> str | None:
        """Add a batch; the decision (``"harm"``, ``"no_worse"`` or None) after it."""
        counts = (float(events_candidate), float(events_incumbent))
        exposures = (float(exposure_candidate), float(exposure_incumbent))
        if not all(math.isfinite(x) and x >= 0 for x in counts + exposures):
            raise ValueError(f"events and exposures must be finite and >= 0, got "
                             f"{list(counts)} and {list(exposures)}")
        if sum(counts) > 0 and not min(exposures) > 0:
            raise ValueError("a batch with events needs exposure on both arms")
        self.events += counts
        self.exposure += exposures
        if self.decision is None and sum(counts) > 0:
            self._harm.add(counts, exposures)
            self._no_worse.add(counts, exposures)
            if self._harm.value >= 1 / self.alpha:
                self.decision = "harm"
            elif self._no_worse.value >= 1 / self.alpha:
                self.decision = "no_worse"
        return self.decision


class _Mixture:
    """Σₖ wₖ Πₛ LRₛ(θₖ against ``null``), equal weights, kept as log likelihood ratios."""

    def __init__(self, null: float, alternatives: NDArray[np.float64]) -> None:
        self.null, self.alternatives = null, alternatives
        self.log_ratio = np.zeros(len(alternatives))

    def add(self, counts: tuple[float, float], exposures: tuple[float, float]) -> None:
        share = exposures[0] / (exposures[0] + exposures[1])
        p0 = _share(self.null, share)
        p = _share(self.alternatives, share)
        self.log_ratio += counts[0] * np.log(p / p0) + counts[1] * np.log((1 - p) / (1 - p0))

    @property
    def value(self) -> float:
        """The mixture's mean likelihood ratio (a log-sum-exp, safe from overflow)."""
        top = float(self.log_ratio.max())
        return math.exp(top + math.log(float(np.exp(self.log_ratio - top).mean())))


def _share(ratio: float | NDArray[np.float64], exposure_share: float) -> NDArray[np.float64]:
    """The candidate's expected share of a batch's events at rate ratio ``ratio``."""
    weighted = np.asarray(ratio) * exposure_share
    return weighted / (weighted + 1 - exposure_share)


def confidence_sequence(diff: float, s2: float, *, tau2: float,
                        alpha: float = 0.05) -> tuple[float, float]:
    """The always-valid (1 − ``alpha``) interval of the mixture sequential probability
    ratio test with a normal mixture over the effect (Johari, Koomen, Pekelis & Walsh,
    "Always valid inference", Operations Research 70(3), 2022): for an estimate ``diff``
    of a difference with variance ``s2`` and mixing variance ``tau2``, the mixture
    likelihood ratio against θ is Λ(θ) = √(s2 / (s2 + tau2)) · exp(tau2 (diff − θ)² /
    (2 s2 (s2 + tau2))), and {θ : Λ(θ) < 1/α} covers the true difference at every look
    at once (normal approximation).

    >>> low, high = confidence_sequence(0.02, 0.0001, tau2=0.02**2, alpha=0.05)
    >>> round(low, 4), round(high, 4)
    (-0.0108, 0.0508)
    """
    if s2 <= 0:
        return (-math.inf, math.inf)
    half = math.sqrt(2 * s2 * (s2 + tau2) / tau2
                     * (math.log(1 / alpha) + 0.5 * math.log((s2 + tau2) / s2)))
    return diff - half, diff + half


@dataclass
class MeanDifferenceTest:
    """Sequential harm / non-inferiority test of a per-unit measure where higher is worse
    (e.g. a weld's distance from its scheduled current): the candidate's mean against the
    incumbent's, by the always-valid interval of their difference
    (:func:`confidence_sequence`; the mixing spread is ``effect`` × the incumbent's mean).

    ``harm``: the interval lies above 0; ``no_worse``: it lies below ``margin`` × the
    incumbent's mean. Each batch adds the units' values; only running sums are kept.

    >>> rng = np.random.default_rng(0)
    >>> test = MeanDifferenceTest()
    >>> test.update(np.abs(rng.normal(0, 1.5, 200)), np.abs(rng.normal(0, 1, 1000)))
    'harm'
    >>> test = MeanDifferenceTest()
    >>> [test.update(np.abs(rng.normal(0, 1, 100)), np.abs(rng.normal(0, 1, 500)))
    ...  for _ in range(4)][-1]
    'no_worse'
    """

    alpha: float = 0.05
    margin: float = 0.2
    effect: float = 0.2
    decision: str | None = None
    n: NDArray[np.float64] = field(default_factory=lambda: np.zeros(2))
    sums: NDArray[np.float64] = field(default_factory=lambda: np.zeros(2))
    squares: NDArray[np.float64] = field(default_factory=lambda: np.zeros(2))

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if not self.margin > 0 or not self.effect > 0:
            raise ValueError(f"need margin > 0 and effect > 0, got {self.margin} and "
                             f"{self.effect}")

    @property
    def means(self) -> NDArray[np.float64]:
        """(candidate, incumbent) means so far (NaN before values)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.sums / self.n

    @property
    def ratio(self) -> float:
        """Candidate mean ÷ incumbent mean."""
        candidate, incumbent = self.means
        return float(candidate / incumbent) if incumbent > 0 else math.nan

    def interval(self) -> tuple[float, float] | None:
        """The always-valid interval of candidate − incumbent (None before two each)."""
        if self.n.min() < 2:
            return None
        mean = self.means
        variance = (self.squares - self.n * mean**2) / (self.n - 1)
        s2 = float((np.maximum(variance, 0.0) / self.n).sum())
        tau2 = (self.effect * float(mean[1])) ** 2
        if tau2 <= 0:
            return None
        return confidence_sequence(float(mean[0] - mean[1]), s2, tau2=tau2, alpha=self.alpha)

    def update(self, candidate: NDArray[np.float64],
               incumbent: NDArray[np.float64]) -> str | None:
        """Add a batch of each arm's values; the decision (sticky) after it."""
        for arm, values in enumerate((candidate, incumbent)):
            values = np.asarray(values, dtype=np.float64)
            if not np.isfinite(values).all():
                raise ValueError("values must be finite")
            self.n[arm] += values.size
            self.sums[arm] += values.sum()
            self.squares[arm] += (values**2).sum()
        bounds = self.interval()
        if self.decision is None and bounds is not None:
            if bounds[0] > 0:
                self.decision = "harm"
            elif bounds[1] < self.margin * float(self.means[1]):
                self.decision = "no_worse"
        return self.decision


__all__ = ["MeanDifferenceTest", "RateRatioTest", "confidence_sequence"]
