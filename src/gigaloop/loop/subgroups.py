"""A level whose failures come in one climate only, tested in that climate.

A lot whose parts crack only in the cold, a seal that leaks only in the heat: the level's
excess is confined to one climate, and its whole-fleet test, whose spread counts every
climate's failures, dilutes it (with a third of the fleet's failures carrying all of the
signal, z falls by about √3). So each level is also tested within each climate — the
stratified log-rank's sums are sums over strata, and the strata are climate × mileage band,
so one count gives the whole fleet and every climate
(:func:`gigaloop.ml.logrank_subgroup_scan`). Where a level's best climate stands out more
than the whole fleet does, that climate's test becomes an attribute of its own (the
level's units there against the other units there), scanned beside the build windows
(:mod:`gigaloop.loop.windows`) and named with the climate. The level's false-discovery
budget is split (weighted Bonferroni, valid however the tests overlap): the whole-fleet
test keeps :data:`WHOLE_WEIGHT` of it, its p multiplied by 1 / WHOLE_WEIGHT; the climates
share the rest, a climate's p multiplied by climates / (1 − WHOLE_WEIGHT).

>>> pop_climate = np.array(["cold", "hot", "cold", "temperate"])
>>> climates = Climates.of(pop_climate, strata=np.array([0, 5, 1, 9]))
>>> climates.names, climates.of_stratum.tolist(), round(climates.multiplier, 6)
(['cold', 'hot', 'temperate'], [0, 0, 0, 0, 0, 1, 0, 0, 0, 2], 60.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gigaloop.loop.population import Attribute
from gigaloop.loop.windows import LevelAttribute, WindowCandidate

#: Share of a level's false-discovery budget its whole-fleet test keeps; the climates share
#: the rest. A level that fails alike everywhere loses little (p × 1.05); one that fails
#: in one climate only is tested where it fails.
WHOLE_WEIGHT = 0.95


@dataclass(frozen=True)
class Climates:
    """Each unit's climate code, the climate of each usage stratum, the climates' names."""

    code: np.ndarray
    of_stratum: np.ndarray
    names: list[str]

    @classmethod
    def of(cls, climate: np.ndarray, strata: np.ndarray) -> Climates:
        """From the units' climates and their usage strata (each stratum within one climate,
        as :func:`gigaloop.loop.adjust.usage_strata` builds them)."""
        code, names = pd.factorize(pd.Series(climate, dtype=object).fillna("unknown"),
                                   sort=True)
        of_stratum = np.zeros(int(strata.max(initial=0)) + 1, dtype=np.int64)
        of_stratum[strata] = code
        return cls(code.astype(np.int64), of_stratum, [str(n) for n in names])

    @property
    def multiplier(self) -> float:
        """What a climate's p is multiplied by: climates / (1 − :data:`WHOLE_WEIGHT`)."""
        return len(self.names) / (1.0 - WHOLE_WEIGHT)


def subgroup_candidates(subgroups: pd.DataFrame, whole: pd.DataFrame, codes: np.ndarray,
                        attributes: list[Attribute], levels_from: int, climates: Climates,
                        min_events: int, alpha: float) -> list[WindowCandidate]:
    """The climate attribute of every level whose best climate, its p multiplied by
    :attr:`Climates.multiplier`, is below the level's whole-fleet p (``whole``: the scan's
    hypotheses, p already divided by :data:`WHOLE_WEIGHT`) and at most ``alpha`` (none
    above it can become a finding), with ``min_events`` failures there. ``subgroups``:
    :func:`gigaloop.ml.logrank_subgroup_scan`'s table over ``codes``, whose columns are
    ``attributes``; those from ``levels_from`` on compare level 1 only (contemporaries)."""
    if len(climates.names) < 2 or subgroups.empty:
        return []
    rows = subgroups[(subgroups.z.to_numpy() > 0)
                     & (subgroups.observed.to_numpy() >= min_events)]
    rows = rows[(rows.attribute.to_numpy() < levels_from) | (rows.level.to_numpy() == 1)]
    rows = rows.merge(whole[["attribute", "level", "p"]], on=["attribute", "level"],
                      suffixes=("", "_whole"))
    adjusted = np.minimum(rows.p.to_numpy() * climates.multiplier, 1.0)
    rows = rows[(adjusted < rows.p_whole.to_numpy()) & (adjusted <= alpha)]
    best = rows.sort_values("z", ascending=False, kind="stable").drop_duplicates(
        ["attribute", "level"])
    out = []
    for attribute_at, level, group in zip(best.attribute, best.level, best.subgroup,
                                          strict=True):
        attribute, column = attributes[int(attribute_at)], codes[:, int(attribute_at)]
        compared = (climates.code == int(group)) & (column >= 0)
        sub_codes = np.where(compared, (column == int(level)).astype(np.int32), -1).astype(
            np.int32)
        climate = climates.names[int(group)]
        meta = {**attribute.meta, "names": {**attribute.names(int(level)), "climate": climate}}
        if "depth" in meta:  # a reading's bin: how deep in the tail, for both codes
            meta["depth"] = np.full(2, meta["depth"][int(level)])
        out.append(WindowCandidate(
            LevelAttribute(f"{attribute.name}@climate={climate}", attribute.kind, sub_codes,
                           ["others", "level"], meta),
            int(np.ceil(climates.multiplier))))
    return out


__all__ = ["WHOLE_WEIGHT", "Climates", "subgroup_candidates"]
