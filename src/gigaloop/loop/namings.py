"""What a candidate of a mode's scan names, and which candidates name the same vehicles.

A candidate is a row of the scan (an attribute and a level); ``located`` holds the
candidates localised into a station and build window (:mod:`gigaloop.loop.localise`):
their names, vehicles and evidence replace the level's. Candidates that mark (almost) the
same vehicles are one finding, named by all of them (:func:`twin_namings`); one naming a level
in a subgroup (a climate, a band of use) is the level's (:func:`same_level`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gigaloop.loop.population import Attribute
from gigaloop.loop.subgroups import SUBGROUP_KEYS

#: (attribute, level) of a localised candidate → its names, vehicles and scan row
Located = dict[tuple[int, int], tuple[dict, np.ndarray, pd.Series]]


def members_of(attributes: list[Attribute], row: pd.Series, located: Located) -> np.ndarray:
    """The vehicles a candidate marks (its localised window's, if it has one)."""
    if (row.attribute, row.level) in located:
        return located[row.attribute, row.level][1]
    return attributes[int(row.attribute)].codes == int(row.level)


def names_of(attributes: list[Attribute], row: pd.Series, located: Located) -> dict:
    """What a candidate names (its localised window's names, if it has one)."""
    key = (row.attribute, row.level)
    return located[key][0] if key in located else \
        attributes[int(row.attribute)].names(int(row.level))


def twin_namings(candidates: pd.DataFrame, own: dict[str, Any], members: np.ndarray,
                 attributes: list[Attribute], located: Located, overlap: float = 0.98
                 ) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any]]:
    """The candidates that mark (almost) the same vehicles as ``members`` (the finding
    naming ``own``): one finding names them all, rather than one of them at random. Names
    of another kind join the finding's (a supplier's window that is a revision); a whole
    naming that gives a name of ``own`` another value (another part's lot, where every
    part changed lots at the same unit) is listed apart, and so is one that gives a name
    joined already another value, with ``own``'s names (a revision that is one supplier's
    cameras and, as the suppliers took turns in step, another's cells: two namings, and no
    data tells which). Returns the names, the namings listed apart and the candidates'
    index labels.

    >>> codes = np.array([0, 0, 1, 1])
    >>> lots = [Attribute("lot:A", "lot", codes, ["A-1", "A-2"], {"part": "A"}),
    ...         Attribute("lot:B", "lot", codes, ["B-7", "B-8"], {"part": "B"})]
    >>> rows = pd.DataFrame({"attribute": [1, 1], "level": [1, 0]}, index=[10, 11])
    >>> twin_namings(rows, {"part": "A", "lot": "A-2"}, codes == 1, lots, {})
    ({}, [{'lot': 'B-8', 'part': 'B'}], [10])
    >>> suppliers = [Attribute("supplier:CAM", "supplier", codes, ["W", "X"], {"part": "CAM"}),
    ...              Attribute("supplier:CELL", "supplier", codes, ["D", "Y"], {"part": "CELL"})]
    >>> rows = pd.DataFrame({"attribute": [0, 1], "level": [1, 1]}, index=[20, 21])
    >>> twin_namings(rows, {"hardware_revision": "CAM-A"}, codes == 1, suppliers, {})
    ({'supplier': 'X', 'part': 'CAM'}, [{'supplier': 'Y', 'part': 'CELL', \
'hardware_revision': 'CAM-A'}], [20, 21])
    """
    names: dict[str, Any] = {}
    apart: list[dict[str, Any]] = []
    twins = []
    size = int(members.sum())
    for label, row in candidates.iterrows():
        other = members_of(attributes, row, located)
        if (other & members).sum() >= overlap * max(size, int(other.sum()), 1):
            found = names_of(attributes, row, located)
            if differs(found, own):
                alias = dict(found)
            elif differs(found, names):
                alias = {**found, **{k: v for k, v in own.items() if k not in found}}
            else:
                names, alias = {**found, **names}, None
            if alias is not None and alias not in apart:
                apart.append(alias)
            twins.append(label)
    return names, apart, twins


def differs(found: dict[str, Any], names: dict[str, Any]) -> bool:
    """Whether ``found`` gives a name of ``names`` another value."""
    return any(k in names and str(names[k]) != str(v) for k, v in found.items())


def same_level(candidates: pd.DataFrame, names: dict[str, Any], attributes: list[Attribute],
               located: Located) -> list[Any]:
    """Index labels of the candidates naming the level ``names`` does, in another subgroup
    or in none (:mod:`gigaloop.loop.subgroups`): one cause, one finding."""
    level = without_subgroup(names)
    return [label for label, row in candidates.iterrows()
            if without_subgroup(names_of(attributes, row, located)) == level]


def in_subgroup(names: dict[str, Any]) -> bool:
    """Whether ``names`` name a level in one subgroup (a climate, a band of use)."""
    return any(k in names for k in SUBGROUP_KEYS)


def without_subgroup(names: dict[str, Any]) -> dict[str, Any]:
    """``names`` without their subgroup: the level over the whole fleet."""
    return {k: v for k, v in names.items() if k not in SUBGROUP_KEYS}
