"""A level whose failures come in one climate, or one band of use, only, tested there.

A lot whose parts crack only in the cold, a seal that leaks only in the heat, a bearing that
wears out only on cars driven far every day: the level's excess is confined to one
subgroup of the fleet, and its whole-fleet test, whose spread counts every subgroup's
failures, dilutes it (with a third of the fleet's failures carrying all of the signal, z
falls by about √3). So each level is also tested within each climate and within each third
of the fleet by miles per day — the stratified log-rank's sums are sums over strata, and
the strata are climate × mileage band, so one count gives the whole fleet and every
subgroup (:func:`gigaloop.ml.logrank_subgroup_scan`). Where a level's best subgroup, its p
multiplied by the subgroups searched (Bonferroni), stands out more than the whole fleet
does, that subgroup's test becomes a candidate of its own (the level's units there against
the other units there), named with the subgroup (``climate``, or ``miles_per_day``: the
band's lowest and highest). The candidates are a false-discovery family of their own
(:func:`gigaloop.loop.rootcause.combine_scans`), as the signals are: they cannot relax the
scan's bar, and the trees share its ``alpha``.

>>> climate = np.array(["cold", "hot", "cold", "temperate", "hot", "cold"])
>>> miles = np.array([10.0, 12.0, 30.0, 31.0, 80.0, 90.0])
>>> groups = Subgroups.of(climate, miles, strata=np.array([0, 5, 1, 9, 6, 2]))
>>> groups.keys[3:], groups.values
(['miles_per_day', 'miles_per_day', 'miles_per_day'], ['cold', 'hot', 'temperate', \
[10.0, 12.0], [30.0, 31.0], [80.0, 90.0]])
>>> groups.multiplier, groups.of_stratum[:, 5].astype(int).tolist()
(6, [0, 1, 0, 1, 0, 0])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gigaloop import ml
from gigaloop.loop.population import Attribute
from gigaloop.loop.windows import LevelAttribute, WindowCandidate, compared_failures

#: Kinds of level searched by subgroup: what a vehicle carries into its climate and its use
#: (a part's lot or supplier, a revision, a trim). A process reading's tails and a
#: machine's or shift's units are many levels each, and their splits by climate found
#: chance in random worlds.
SUBGROUP_KINDS = ("lot", "supplier", "hardware_revision", "trim")
#: What a subgroup's finding is named by, besides its level.
SUBGROUP_KEYS = ("climate", "miles_per_day")
#: The fleet is cut into this many bands of miles per day, of about equal units.
USAGE_BANDS = 3


@dataclass(frozen=True)
class Subgroups:
    """The subgroups searched, each a set of usage strata (``of_stratum``: subgroups ×
    strata), named by a key of :data:`SUBGROUP_KEYS` and its value."""

    of_stratum: np.ndarray
    keys: list[str]
    values: list[Any]

    @classmethod
    def of(cls, climate: np.ndarray, miles_per_day: np.ndarray, strata: np.ndarray
           ) -> Subgroups:
        """From the units' climates, miles per day and usage strata (each stratum within
        one climate and one narrow band of miles, as :func:`gigaloop.loop.adjust.usage_strata`
        builds them): every climate, and :data:`USAGE_BANDS` bands of miles per day (the
        strata by their units' median; strata of unknown mileage are in none)."""
        n_strata = int(strata.max(initial=-1)) + 1
        code, names = pd.factorize(pd.Series(climate, dtype=object).fillna("unknown"),
                                   sort=True)
        climate_of = np.zeros(n_strata, dtype=np.int64)
        climate_of[strata] = code
        rows = [climate_of == c for c in range(len(names))]
        keys: list[str] = ["climate"] * len(names)
        values: list[Any] = [str(n) for n in names]
        if len(names) < 2:
            rows, keys, values = [], [], []
        miles = np.asarray(miles_per_day, dtype=np.float64)
        known = np.isfinite(miles) & (miles > 0)
        if known.sum() >= USAGE_BANDS:
            median = pd.Series(miles[known]).groupby(strata[known]).median()
            cuts = np.quantile(miles[known], np.arange(1, USAGE_BANDS) / USAGE_BANDS)
            band_of = np.full(n_strata, -1)
            band_of[median.index.to_numpy()] = np.searchsorted(cuts, median.to_numpy())
            bands = [band_of == b for b in range(USAGE_BANDS) if (band_of == b).any()]
            if len(bands) > 1:
                for band in bands:
                    inside = miles[known & band[strata]]
                    rows.append(band)
                    keys.append("miles_per_day")
                    values.append([round(float(inside.min()), 1), round(float(inside.max()), 1)])
        of_stratum = np.array(rows, dtype=bool).reshape(len(rows), n_strata)
        return cls(of_stratum, keys, values)

    @property
    def multiplier(self) -> int:
        """What a level's best subgroup's p is multiplied by: the subgroups searched."""
        return len(self.keys)


def searched_by_subgroup(attributes: list[Attribute]) -> np.ndarray:
    """Which ``attributes`` are tested within subgroups: those of :data:`SUBGROUP_KINDS`."""
    return np.array([a.kind in SUBGROUP_KINDS for a in attributes], dtype=bool)


def subgroup_candidates(subgroups: pd.DataFrame, whole: pd.DataFrame, codes: np.ndarray,
                        attributes: list[Attribute], searched: np.ndarray, levels_from: int,
                        groups: Subgroups, strata: np.ndarray, min_events: int, alpha: float
                        ) -> tuple[list[WindowCandidate], pd.DataFrame]:
    """The subgroup attribute of every level whose best subgroup, its p multiplied by
    :attr:`Subgroups.multiplier`, is below the level's whole-fleet p (``whole``: the scan's
    hypotheses) and at most ``alpha`` (none above it can become a finding), with
    ``min_events`` failures there; and every other level's best subgroup, as ``family``
    (its attribute's) and ``p`` (so multiplied), which the false-discovery family counts
    too — a family of the few that passed a screen would pass them again.
    ``subgroups``: :func:`gigaloop.ml.logrank_subgroup_scan`'s table over ``codes``, whose
    columns are ``attributes`` (``searched``: :func:`searched_by_subgroup` of them); those
    from ``levels_from`` on compare level 1 only; ``strata``: each unit's usage stratum."""
    keys = whole[["attribute", "level", "p"]].rename(columns={"p": "p_whole"})
    at = keys.attribute.to_numpy()
    keys = keys[searched[at] & ((at < levels_from) | (keys.level.to_numpy() == 1))]
    if groups.multiplier < 2 or subgroups.empty or keys.empty:
        return [], pd.DataFrame({"family": [], "p": []})
    # the χ² is far too small in the tail for a level with few failures in a subgroup
    floor = ml.exact_share_p(subgroups.observed, subgroups.expected,
                             compared_failures(subgroups, ["attribute", "subgroup"]))
    rows = subgroups.assign(p=np.minimum(np.maximum(subgroups.p.to_numpy(), floor)
                                         * groups.multiplier, 1.0))
    rows = rows[rows.z.to_numpy() > 0]
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
        compared = groups.of_stratum[int(group)][strata] & (column >= 0)
        sub_codes = np.where(compared, (column == int(level)).astype(np.int32), -1).astype(
            np.int32)
        key, value = groups.keys[int(group)], groups.values[int(group)]
        meta = {**attribute.meta, "names": {**attribute.names(int(level)), key: value}}
        if "depth" in meta:  # a reading's bin: how deep in the tail, for both codes
            meta["depth"] = np.full(2, meta["depth"][int(level)])
        out.append(WindowCandidate(
            LevelAttribute(f"{attribute.name}@{key}={value}", attribute.kind, sub_codes,
                           ["others", "level"], meta),
            groups.multiplier))
    return out, padding


__all__ = ["SUBGROUP_KEYS", "SUBGROUP_KINDS", "Subgroups", "searched_by_subgroup",
           "subgroup_candidates"]
