"""The driving model's artefact: boosted decision trees as canonical JSON, run with NumPy.

The loop writes it (:mod:`gigaloop.fleet.learning` trains scikit-learn's gradient boosting
and exports its trees); vehicles run it (in the twin: :mod:`gigaloop.twin.scenes`). It
lives beside the OTA manifest format (:mod:`gigaloop.actuate.ota`) because both sides of
the link read it and neither needs the training library to run it. A scene is a row of
:data:`FEATURES`; the model's score is ``bias + Σ tree leaf values``, and it *flags* the
scene (hands over / brakes) when the score reaches ``cut``.

>>> rule = starting_rule()
>>> scenes = np.array([[0, 0, 65, 0.8, 0, 0, 0, 0, 0, 0],  # close behind a lead vehicle
...                    [1, 1, 40, 10, 1, 1, 1, 1, 0, 0]])  # night, rain, road works
>>> rule.flag(scenes).tolist()
[True, False]
>>> TreeModel.from_bytes(rule.to_bytes()) == rule
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

#: A scene's features, in column order. ``lead_gap_s`` is 10 when there is no lead
#: vehicle; ``road`` 0 highway, 1 urban, 2 rural; ``sensor_rev`` the camera revision's
#: index in the order the fleet first saw it; ``glare`` low sun ahead; ``cut_in`` a
#: vehicle cutting in.
FEATURES = ("rain", "night", "speed_mph", "lead_gap_s", "no_lead", "road", "construction",
            "sensor_rev", "glare", "cut_in")
LEAF = -1
#: Driving conditions recall is reported by: each a ``where`` over scene columns.
CONDITIONS: dict[str, dict[str, float]] = {
    "clear": {"rain": 0, "night": 0, "construction": 0},
    "rain": {"rain": 1},
    "night": {"night": 1},
    "construction": {"construction": 1},
    "night_construction": {"night": 1, "construction": 1},
    "rain_highway": {"rain": 1, "road": 0},
    "pedestrian_night": {"night": 1, "road": 1, "no_lead": 1},
    "glare": {"glare": 1},
    "cut_in": {"cut_in": 1},
}


#: What a trigger campaign's ``where`` may name: the scene's features and, per scene, the
#: model's flag, whether the driver took over or braked hard, and whether the two disagree.
TRIGGER_COLUMNS = (*FEATURES, "flag", "took_over", "hard_brake", "disagree")


def campaign_problem(campaign: dict[str, Any]) -> str | None:
    """Why a trigger campaign cannot run on a vehicle (None when it can).

    >>> campaign_problem({"name": "rain", "where": {"rain": 1}, "mb_per_scene": 5.0})
    >>> campaign_problem({"name": "x", "where": {"fog": 1}})
    "campaign 'x': unknown scene column 'fog' (known: rain, night, speed_mph, ...)"
    """
    name = campaign.get("name", "?")
    for column in campaign.get("where", {}):
        if column not in TRIGGER_COLUMNS:
            return (f"campaign {name!r}: unknown scene column {column!r} "
                    f"(known: {', '.join(TRIGGER_COLUMNS)})")
    size = campaign.get("mb_per_scene", 1.0)  # the vehicle's own size when none is given
    if not isinstance(size, int | float) or not size > 0:
        return f"campaign {name!r}: mb_per_scene must be > 0, got {size!r}"
    return None


def where_mask(where: dict[str, float], columns: dict[str, Any]) -> np.ndarray:
    """Which rows have every named column at its value (a declarative predicate).

    >>> where_mask({"rain": 1, "night": 0}, {"rain": np.array([1, 1, 0]),
    ...                                      "night": np.array([0, 1, 0])}).tolist()
    [True, False, False]
    """
    n = len(next(iter(columns.values())))
    mask = np.ones(n, bool)
    for name, value in where.items():
        mask &= np.asarray(columns[name]) == value
    return mask


#: Leaves per tree :meth:`TreeModel.score` can run (a bit each in a 64-bit word).
_MAX_LEAVES = 64
_BLOCK = 8192  # scenes scored at once (bounds the trees × scenes words in memory)


@dataclass(frozen=True)
class _Compiled:
    """A :class:`TreeModel` laid out for scoring: per split feature, its thresholds sorted
    and, for each prefix of them, the leaves each tree has left; the leaf values."""

    prefixes: list[tuple[int, np.ndarray, np.ndarray]]
    leaf_value: np.ndarray  # tree by tree, as many as the widest tree has
    first_leaf: np.ndarray  # where each tree's leaves start in leaf_value
    word: type[np.unsignedinteger]  # the narrowest that holds a bit per leaf


@dataclass(frozen=True, eq=False)
class TreeModel:
    """Trees as arrays (trees × nodes): split feature (``LEAF`` at a leaf), threshold
    (go left when ``x <= threshold``), children, leaf value; the bias and the cut."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    bias: float = 0.0
    cut: float = 0.0

    @classmethod
    def from_trees(cls, trees: list[dict[str, list[Any]]], *, bias: float = 0.0,
                   cut: float = 0.0) -> TreeModel:
        """From one dict per tree (``feature``, ``threshold``, ``left``, ``right``,
        ``value``: lists over its nodes), padded to the widest tree with leaves."""
        width = max(len(t["feature"]) for t in trees)
        arrays = {}
        for key, fill, dtype in (("feature", LEAF, np.int32), ("threshold", 0.0, np.float64),
                                 ("left", 0, np.int32), ("right", 0, np.int32),
                                 ("value", 0.0, np.float64)):
            block = np.full((len(trees), width), fill, dtype)
            for i, tree in enumerate(trees):
                block[i, :len(tree[key])] = tree[key]
            arrays[key] = block
        return cls(**arrays, bias=float(bias), cut=float(cut))

    def score(self, x: np.ndarray) -> np.ndarray:
        """The raw score of each scene (rows of ``x``, columns :data:`FEATURES`).

        Every tree at once, by the leaves each split rules out (QuickScorer, Lucchese et
        al., SIGIR 2015): a split the scene fails (not ``x <= threshold``) rules out the
        leaves of its left subtree, and the scene's leaf in a tree is the leftmost one
        left. The splits on a feature that a scene fails are those with a threshold below
        its value: a prefix of them sorted, whose surviving leaves are looked up.
        """
        x = np.asarray(x, np.float64)
        compiled = self._compiled
        out = np.empty(len(x))
        for start in range(0, len(x), _BLOCK):
            block = x[start:start + _BLOCK]
            word = compiled.word
            alive = np.full((len(block), len(compiled.first_leaf)), ~word(0))
            for f, thresholds, survivors in compiled.prefixes:
                alive &= survivors[np.searchsorted(thresholds, block[:, f])]
            lowest = (alive & (~alive + word(1))).astype(np.float64)  # exact: 2**k
            leaf = np.frexp(lowest)[1] - 1 + compiled.first_leaf
            out[start:start + _BLOCK] = compiled.leaf_value.take(leaf).sum(axis=1)
        return self.bias + out

    @cached_property
    def _compiled(self) -> _Compiled:
        """The splits by feature and the leaf values, for :meth:`score`."""
        trees = self.feature.shape[0]
        splits: dict[int, list[tuple[float, int, int]]] = {}
        leaf_value = np.zeros((trees, _MAX_LEAVES))
        widest = 1
        for t in range(trees):
            leaves: list[float] = []

            def walk(node: int, t: int = t, leaves: list[float] = leaves) -> int:
                """The bits of the leaves under ``node`` (numbered left to right)."""
                if self.feature[t, node] == LEAF:
                    leaves.append(float(self.value[t, node]))
                    return 1 << (len(leaves) - 1)
                left = walk(int(self.left[t, node]))
                splits.setdefault(int(self.feature[t, node]), []).append(
                    (float(self.threshold[t, node]), t, left))
                return left | walk(int(self.right[t, node]))

            walk(0)
            if len(leaves) > _MAX_LEAVES:
                raise ValueError(f"tree {t} has {len(leaves)} leaves; at most {_MAX_LEAVES}")
            leaf_value[t, :len(leaves)] = leaves
            widest = max(widest, len(leaves))
        word = next(w for w in (np.uint8, np.uint16, np.uint32, np.uint64)
                    if np.iinfo(w).bits >= widest)
        prefixes = []
        for f, rows in sorted(splits.items()):
            rows.sort(key=lambda row: row[0])
            survivors = np.full((len(rows) + 1, trees), ~word(0))
            for i, (_, t, ruled_out) in enumerate(rows):
                survivors[i + 1] = survivors[i]
                survivors[i + 1, t] &= ~word(ruled_out)
            prefixes.append((f, np.array([row[0] for row in rows]), survivors))
        first_leaf = np.arange(trees) * widest
        return _Compiled(prefixes, leaf_value[:, :widest].ravel(), first_leaf, word)

    def flag(self, x: np.ndarray) -> np.ndarray:
        """Whether the model flags each scene (score ≥ cut)."""
        return self.score(x) >= self.cut

    def with_cut(self, cut: float) -> TreeModel:
        return TreeModel(self.feature, self.threshold, self.left, self.right, self.value,
                         self.bias, float(cut))

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces): the bytes that are signed and shipped."""
        body = {k: getattr(self, k).tolist() for k in ("feature", "threshold", "left",
                                                       "right", "value")}
        body.update(bias=self.bias, cut=self.cut, features=list(FEATURES))
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> TreeModel:
        body = json.loads(data)
        if body.get("features") != list(FEATURES):
            raise ValueError(f"artefact features {body.get('features')} are not {FEATURES}")
        return cls(**{k: np.asarray(body[k], np.int32 if k in ("feature", "left", "right")
                                    else np.float64)
                      for k in ("feature", "threshold", "left", "right", "value")},
                   bias=float(body["bias"]), cut=float(body["cut"]))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeModel) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())


def starting_rule() -> TreeModel:
    """The model the fleet starts with: a hand-written rule that flags close following
    (0.8 s or less, or 1.2 s or less above 70 mph) and nothing else."""
    gap, speed = FEATURES.index("lead_gap_s"), FEATURES.index("speed_mph")
    tree: dict[str, list[Any]] = {"feature": [gap, LEAF, speed, LEAF, gap, LEAF, LEAF],
            "threshold": [0.8, 0.0, 70.0, 0.0, 1.2, 0.0, 0.0],
            "left": [1, 0, 3, 0, 5, 0, 0], "right": [2, 0, 4, 0, 6, 0, 0],
            "value": [0.0, 1.0, 0.0, -1.0, 0.0, 1.0, -1.0]}
    return TreeModel.from_trees([tree])


__all__ = ["CONDITIONS", "FEATURES", "TRIGGER_COLUMNS", "TreeModel", "campaign_problem",
           "starting_rule", "where_mask"]
