"""The general faults at work: which units they mark, and what that does in the field.

At build, :meth:`Effects.mark` gives each unit an *excess* per general fault (0 = not
touched): for the hazard kinds the extra hazard ``m − 1`` of the fault's failure mode —
``hazard_ratio − 1`` for a lot, a supplier's window or a design, ``slope · max(0, d −
threshold)^power`` for a process dose ``d`` (the delivered value's distance from nominal,
on the fault's ``side``) — and for the confounds the probability that the unit goes to
the confounding customers (:func:`place_customers`).

In the field a marked unit's component gets a second, competing life (:func:`extra_life`):
a Weibull of the fault's own shape whose cumulative hazard over the first clock-year is
``m − 1`` times the nominal one (times the unit's climate and usage covariates), only where
the fault's climate and mileage conditions hold. With the component's shape this is the
proportional-hazards multiplier ``m``; which life ends first says, exactly, whether a
failure was the fault's.

>>> from gigaloop.twin.hazards import draw_life
>>> rng = np.random.default_rng(0)
>>> comp = Component("x", "days", 1.5, 0.01, 100.0, 0.0, ("x",))
>>> nominal = (draw_life(comp, np.ones(200_000), rng) < 365).mean()
>>> extra = (extra_life(comp, np.full(200_000, 1.0), np.ones(200_000), 1.5, rng) < 365).mean()
>>> round(float(extra / nominal), 1)      # m = 2: as many extra failures as nominal ones
1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from gigaloop.twin.climate import CLIMATE_INDEX, REGION_CLIMATE, REGION_SHARE
from gigaloop.twin.fault_rules import CONFOUND_KINDS, HAZARD_KINDS
from gigaloop.twin.hazards import Component
from gigaloop.twin.layout import station

if TYPE_CHECKING:
    from gigaloop.twin.scenario import Fault, Scenario

#: One clock-year per clock: the span over which a hazard ratio is stated.
CLOCK_YEAR = {"days": 365.0, "miles": 13_500.0}


@dataclass(frozen=True)
class GeneralFault:
    """A general fault as the twin applies it; ``component`` indexes the scenario's
    components (−1 for a confound), ``climate`` indexes CLIMATES (−1: anywhere)."""

    fault: Fault
    component: int
    shape: float
    climate: int
    min_daily_miles: float

    @property
    def id(self) -> str:
        return self.fault.id

    @property
    def kind(self) -> str:
        return self.fault.kind


def general_faults(scenario: Scenario) -> list[GeneralFault]:
    """The scenario's general faults, in file order."""
    index = {c.name: i for i, c in enumerate(scenario.components)}
    out = []
    for fault in scenario.faults:
        if fault.kind not in (*HAZARD_KINDS, *CONFOUND_KINDS):
            continue
        component = index[fault.mode] if fault.mode else -1
        shape = fault.effect.get("shape", scenario.components[component].shape
                                 if component >= 0 else 1.0)
        climate = CLIMATE_INDEX[fault.climate] if fault.climate else -1
        out.append(GeneralFault(fault, component, shape, climate,
                                fault.effect.get("min_daily_miles", 0.0)))
    return out


class Effects:
    """Marks built units with the excess of every general fault of a scenario."""

    def __init__(self, scenario: Scenario) -> None:
        self.faults = general_faults(scenario)

    def mark(self, day: int, lots: dict[str, np.ndarray], levels: dict[str, np.ndarray],
             true_values: dict[tuple[str, str], np.ndarray]) -> dict[str, np.ndarray]:
        """Excess per fault id for units built on ``day``: ``lots`` by part number,
        ``levels`` the units' ``shift``, ``trim`` and ``hardware_revision``,
        ``true_values`` the delivered process values by (station, parameter)."""
        out = {}
        for general in self.faults:
            fault = general.fault
            if day < fault.starts or (fault.stops is not None and day >= fault.stops):
                continue
            if fault.kind == "process_defect":
                excess = _dose(fault, true_values[str(fault.where["station"]),
                                                  str(fault.where["parameter"])])
            else:
                size = fault.effect.get("share", fault.effect.get("hazard_ratio", 1.0) - 1.0)
                excess = np.where(_level(fault, lots, levels), size, 0.0)
            if excess.any():
                out[fault.id] = excess
        return out


    def pushed(self, day: int, excess: dict[str, np.ndarray],
               undrifted: dict[tuple[str, str], np.ndarray]) -> dict[str, int]:
        """Per process defect acting on ``day``: its units past the dead band (``excess``,
        :meth:`mark`'s) that would not have been without the drift faults and the setpoint
        moves answering them (``undrifted``, :class:`~gigaloop.twin.process.Delivered`) —
        what a drift, net of control, did; a unit past it by its own spread counts for no
        drift."""
        out = {}
        for general in self.faults:
            fault = general.fault
            if fault.kind != "process_defect" or fault.id not in excess:
                continue
            key = (str(fault.where["station"]), str(fault.where["parameter"]))
            count = int(((excess[fault.id] > 0) & (_dose(fault, undrifted[key]) == 0)).sum())
            if count:
                out[fault.id] = count
        return out


def _level(fault: Fault, lots: dict[str, np.ndarray], levels: dict[str, np.ndarray]
           ) -> np.ndarray:
    """Units of the lot(s), supplier, revision, trim or shift ``fault`` names."""
    where = fault.where
    if "part" in where:
        ids = lots[str(where["part"])].astype(str)
        if "supplier" in where:
            return np.char.find(ids, f"-{where['supplier']}-") >= 0
        named = where["lots"] if "lots" in where else [str(where["lot"])]
        return np.isin(ids, list(named))
    key = next(k for k in ("shift", "trim", "hardware_revision") if k in where)
    return levels[key] == where[key]


def _dose(fault: Fault, values: np.ndarray) -> np.ndarray:
    """``slope · max(0, d − threshold)^power``, ``d`` the distance from nominal on ``side``."""
    nominal = station(str(fault.where["station"])).parameter(str(fault.where["parameter"])).nominal
    side = fault.side or "both"
    distance = {"low": nominal - values, "high": values - nominal,
                "both": np.abs(values - nominal)}[side]
    effect = fault.effect
    beyond = np.maximum(distance - effect["threshold"], 0.0)
    return effect["slope"] * beyond ** effect.get("power", 2.0)


def extra_life(component: Component, excess: np.ndarray, covariates: np.ndarray,
               shape: float, rng: np.random.Generator) -> np.ndarray:
    """A competing life (clock units from now) whose first-year cumulative hazard is
    ``excess × covariates`` times the component's nominal one."""
    year = CLOCK_YEAR[component.clock]
    nominal = -np.log1p(-component.first_year)
    rate = np.maximum(excess * covariates * nominal, 1e-300)
    return year * (rng.standard_exponential(len(excess)) / rate) ** (1.0 / shape)


def place_customers(general: list[GeneralFault], excess: dict[str, np.ndarray],
                    drivers: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    """Send confounded units to their customers (in place): with probability the unit's
    excess, a region of the fault's climate, or the fault's miles multiplier."""
    for fault in general:
        share = excess.get(fault.id)
        if fault.kind not in CONFOUND_KINDS or share is None or not share.any():
            continue
        chosen = np.flatnonzero(rng.random(len(share)) < share)
        if fault.kind == "usage_confound":
            drivers["mean_miles"][chosen] *= fault.fault.effect["miles_multiplier"]
            continue
        regions = np.flatnonzero(fault.climate == REGION_CLIMATE)
        weights = REGION_SHARE[regions] / REGION_SHARE[regions].sum()
        drivers["region"][chosen] = rng.choice(regions, size=len(chosen), p=weights)
        drivers["climate"][chosen] = REGION_CLIMATE[drivers["region"][chosen]]

