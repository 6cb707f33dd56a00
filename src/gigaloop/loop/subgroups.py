"""A level whose failures come in one climate only, tested in that climate.

A lot whose parts crack only in the cold, a seal that leaks only in the heat: the level's
excess is confined to one climate, and its whole-fleet test, whose spread counts every
climate's failures, dilutes it (with a third of the fleet's failures carrying all of the
signal, z falls by about √3). So each level is also tested within each climate — the
stratified log-rank's sums are sums over strata, and the strata are climate × mileage band,
so one count gives the whole fleet and every climate
(:func:`gigaloop.ml.logrank_subgroup_scan`). Where a level's best climate, its p multiplied
by the climates searched (Bonferroni), stands out more than the whole fleet does, that
climate's test becomes a candidate of its own (the level's units there against the other
units there), named with the climate. The candidates are a false-discovery family of their
own (:func:`gigaloop.loop.rootcause.combine_scans`), as the signals and owners' complaints
are: they spend none of the scan's budget and cannot relax its bar.

>>> pop_climate = np.array(["cold", "hot", "cold", "temperate"])
>>> climates = Climates.of(pop_climate, strata=np.array([0, 5, 1, 9]))
>>> climates.names, climates.of_stratum.tolist(), climates.multiplier
(['cold', 'hot', 'temperate'], [0, 0, 0, 0, 0, 1, 0, 0, 0, 2], 3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gigaloop.loop.population import Attribute
from gigaloop.loop.windows import LevelAttribute, WindowCandidate

#: Kinds of level searched by climate: what a vehicle carries into its climate (a part's lot
#: or supplier, a revision, a trim). A process reading's tails and a machine's or shift's
#: units are many levels each, and their splits by climate found chance in random worlds.
CLIMATE_KINDS = ("lot", "supplier", "hardware_revision", "trim")


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
    def multiplier(self) -> int:
        """What a level's best climate's p is multiplied by: the climates searched."""
        return len(self.names)


def subgroup_candidates(subgroups: pd.DataFrame, whole: pd.DataFrame, codes: np.ndarray,
                        attributes: list[Attribute], levels_from: int, climates: Climates,
                        min_events: int, alpha: float
                        ) -> tuple[list[WindowCandidate], pd.DataFrame]:
    """The climate attribute of every level whose best climate, its p multiplied by
    :attr:`Climates.multiplier`, is below the level's whole-fleet p (``whole``: the scan's
    hypotheses) and at most ``alpha`` (none above it can become a finding), with
    ``min_events`` failures there; and every other level's best climate, as ``family``
    (its attribute's) and ``p`` (so multiplied), which the false-discovery family counts
    too — a family of the few that passed a screen would pass them again.
    ``subgroups``: :func:`gigaloop.ml.logrank_subgroup_scan`'s table over ``codes``, whose
    columns are ``attributes``; those from ``levels_from`` on compare level 1 only."""
    keys = whole[["attribute", "level", "p"]].rename(columns={"p": "p_whole"})
    at = keys.attribute.to_numpy()
    searched = np.array([a.kind in CLIMATE_KINDS for a in attributes], dtype=bool)
    keys = keys[searched[at] & ((at < levels_from) | (keys.level.to_numpy() == 1))]
    if len(climates.names) < 2 or subgroups.empty or keys.empty:
        return [], pd.DataFrame({"family": [], "p": []})
    rows = subgroups[(subgroups.z.to_numpy() > 0)]
    rows = rows.assign(p=np.minimum(rows.p.to_numpy() * climates.multiplier, 1.0))
    best = keys.merge(rows.sort_values("p", kind="stable").drop_duplicates(
        ["attribute", "level"]), on=["attribute", "level"], how="left")
    best["p"] = best.p.fillna(1.0)
    chosen = ((best.observed.fillna(0).to_numpy() >= min_events)
              & (best.p.to_numpy() < best.p_whole.to_numpy())
              & (best.p.to_numpy() <= alpha))
    others = best[~chosen]
    padding = pd.DataFrame({"family": [attributes[int(a)].family for a in others.attribute],
                            "p": others.p.to_numpy()})
    out = []
    for attribute_at, level, group in zip(best.attribute[chosen], best.level[chosen],
                                          best.subgroup[chosen], strict=True):
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
            climates.multiplier))
    return out, padding


__all__ = ["CLIMATE_KINDS", "Climates", "subgroup_candidates"]
