"""The driving model's artefact scores every scene as a walk down each tree would."""

from __future__ import annotations

import numpy as np
import pytest

from gigaloop.actuate.driving_model import FEATURES, LEAF, TreeModel


def random_tree(rng: np.random.Generator, leaves: int) -> dict[str, list]:
    """A tree of ``leaves`` leaves grown by splitting random leaves; thresholds drawn from
    a few values so scenes sit exactly on them."""
    tree = {"feature": [LEAF], "threshold": [0.0], "left": [0], "right": [0], "value": [0.0]}
    open_leaves = [0]
    while len(open_leaves) < leaves:
        node = open_leaves.pop(rng.integers(len(open_leaves)))
        tree["feature"][node] = int(rng.integers(len(FEATURES)))
        tree["threshold"][node] = float(rng.choice([0.0, 0.25, 0.5, 1.0]))
        for side in ("left", "right"):
            tree[side][node] = len(tree["feature"])
            open_leaves.append(len(tree["feature"]))
            for key, fill in (("feature", LEAF), ("threshold", 0.0), ("left", 0),
                              ("right", 0)):
                tree[key].append(fill)
            tree["value"].append(float(rng.normal()))
    return tree


def walk(tree: dict[str, list], scene: np.ndarray) -> float:
    node = 0
    while tree["feature"][node] != LEAF:
        go_left = scene[tree["feature"][node]] <= tree["threshold"][node]
        node = tree["left" if go_left else "right"][node]
    return tree["value"][node]


@pytest.mark.parametrize("seed", range(5))
def test_score_is_the_sum_of_each_trees_walk(seed: int) -> None:
    rng = np.random.default_rng(seed)
    trees = [random_tree(rng, int(rng.integers(1, 65))) for _ in range(12)]
    model = TreeModel.from_trees(trees, bias=0.5)
    scenes = rng.choice([-1.0, 0.0, 0.25, 0.3, 0.5, 1.0, 2.0], (300, len(FEATURES)))
    expected = [0.5 + sum(walk(t, s) for t in trees) for s in scenes]
    assert np.allclose(model.score(scenes), expected, atol=1e-12)


def test_a_tree_wider_than_a_word_is_refused() -> None:
    model = TreeModel.from_trees([random_tree(np.random.default_rng(0), 65)])
    with pytest.raises(ValueError, match="65 leaves; at most 64"):
        model.score(np.zeros((1, len(FEATURES))))
