"""Each vehicle's own event rate, shrunk towards the fleet's: the risk a rollout's arms carry.

Drivers differ. A canary of a hundred vehicles drawn at random can hold drivers who
disengage 10 % more often than the fleet, and a test that counts its miles as the fleet's
would blame the software. :class:`VehicleRates` keeps every vehicle's events and exposure
(disengagements and miles, say) as they arrive, and :meth:`VehicleRates.relative_risk`
turns them into each vehicle's expected rate relative to the fleet, by empirical Bayes:
rates drawn from a gamma distribution whose spread is estimated from the vehicles
themselves (method of moments), each vehicle's posterior mean (α + x) / (β + m) divided
by the fleet's rate. A vehicle with much history keeps its own rate; one with little, or a
measure whose rates do not differ beyond Poisson noise (τ² = 0), gets the fleet's (1).

Weighting each arm's exposure by its vehicles' relative risk, as of before the release,
makes the rate-ratio test compare each vehicle with itself: under no effect the
candidate's share of the events is again its share of the risk-weighted exposure.

>>> rates = VehicleRates()
>>> rng = np.random.default_rng(0)
>>> risk = rng.gamma(4.0, 0.25, 2000)                  # drivers differ, mean 1
>>> vins = np.array([f"V{i}" for i in range(2000)])
>>> for _ in range(30):
...     miles = np.full(2000, 40.0)
...     rates.add(vins, rng.poisson(risk * miles * 0.01), miles)
>>> weights = rates.relative_risk().of(vins)
>>> round(float(np.corrcoef(weights, risk)[0, 1]), 1) > 0.7, round(float(weights.mean()), 2)
(True, 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray


@dataclass
class VehicleRates:
    """Events and exposure per vehicle, added batch by batch (any order, any vehicles)."""

    index: pd.Index = field(default_factory=lambda: pd.Index([], dtype=object))
    events: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    exposure: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def add(self, vins: ArrayLike, events: ArrayLike, exposure: ArrayLike) -> None:
        """Add each row's events and exposure to its vehicle (new vehicles are appended)."""
        vins = np.asarray(vins, dtype=object)
        events, exposure = np.asarray(events, float), np.asarray(exposure, float)
        if not (len(vins) == len(events) == len(exposure)):
            raise ValueError("vins, events and exposure must have the same length")
        if (events < 0).any() or (exposure < 0).any():
            raise ValueError("events and exposure must be >= 0")
        position = self.index.get_indexer(vins)
        new = position < 0
        if new.any():
            added = pd.unique(vins[new])
            self.index = self.index.append(pd.Index(added, dtype=object))
            self.events = np.r_[self.events, np.zeros(len(added))]
            self.exposure = np.r_[self.exposure, np.zeros(len(added))]
            position[new] = self.index.get_indexer(vins[new])
        self.events += np.bincount(position, events, len(self.index))
        self.exposure += np.bincount(position, exposure, len(self.index))

    def relative_risk(self) -> RelativeRisk:
        """Every vehicle's shrunk rate ÷ the fleet's rate, as of now (later batches do not
        change it); 1 for every vehicle while the fleet has no events or no spread."""
        seen = self.exposure > 0
        total_events, total_exposure = self.events[seen].sum(), self.exposure[seen].sum()
        flat = RelativeRisk(self.index, np.ones(len(self.index)))
        if total_events <= 0 or seen.sum() < 2:
            return flat
        fleet = total_events / total_exposure
        spread = _between_vehicle_variance(self.events[seen], self.exposure[seen], fleet)
        if spread <= 0:
            return flat
        shape, rate = fleet**2 / spread, fleet / spread  # gamma prior: mean fleet, var spread
        return RelativeRisk(self.index, (shape + self.events) / (rate + self.exposure) / fleet)


@dataclass(frozen=True)
class RelativeRisk:
    """Vehicles' relative risks as of one moment; :meth:`of` gives 1 to a vehicle unseen."""

    index: pd.Index
    weights: NDArray[np.float64]

    def of(self, vins: ArrayLike) -> NDArray[np.float64]:
        position = self.index.get_indexer(np.asarray(vins, dtype=object))
        return np.where(position >= 0, self.weights[np.maximum(position, 0)], 1.0) \
            if len(self.weights) else np.ones(len(position))


def _between_vehicle_variance(events: NDArray[np.float64], exposure: NDArray[np.float64],
                              fleet: float) -> float:
    """τ², the variance of true rates across vehicles beyond Poisson noise: the
    exposure-weighted spread of observed rates less what Poisson counts alone would give
    (method of moments, as DerSimonian–Laird for a random-effects mean), at least 0."""
    total = exposure.sum()
    spread = float((exposure * (events / exposure - fleet) ** 2).sum())
    noise = (len(events) - 1) * fleet
    scale = total - float((exposure**2).sum()) / total
    return max(0.0, (spread - noise) / scale) if scale > 0 else 0.0


__all__ = ["RelativeRisk", "VehicleRates"]
