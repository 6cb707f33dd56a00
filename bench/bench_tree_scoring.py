"""Driving-model scoring benchmark: the vehicles' tree evaluator against a node-by-node walk.

Prints one JSON line per figure, for a model trained as the learning loop trains one
(``fleet.candidate.fit_trees``: 100 trees of at most 15 leaves) on the twin's scenes:

* ``scenes_per_s`` — :meth:`TreeModel.score` (every tree at once, by the leaves each split
  rules out) on ``--scenes`` scenes;
* ``walk_scenes_per_s`` — the evaluator it replaced, run here as the baseline: every
  (scene, tree) pair steps down one level per pass, in NumPy;
* ``ratio_to_walk`` — the first over the second, in the same process;
* ``fit_s_one_thread`` and ``fit_s_all_threads`` — one ``fit_trees`` on 30,000 scenes
  with one OpenMP thread (what the loop uses) and with the machine's default.

Run: ``.venv/bin/python bench/bench_tree_scoring.py [--scenes 100000]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from threadpoolctl import threadpool_limits

from gigaloop.actuate.driving_model import LEAF, TreeModel
from gigaloop.fleet.candidate import fit_trees
from gigaloop.twin.scenes import draw_features, hazard_probability


def walk(model: TreeModel, x: np.ndarray) -> np.ndarray:
    """The level-synchronous walk the vehicles ran before (the baseline)."""
    n, (t, width) = len(x), model.feature.shape
    offset = np.repeat(np.arange(t, dtype=np.intp) * width, width)
    feature, threshold = model.feature.ravel(), model.threshold.ravel()
    left, right = model.left.ravel() + offset, model.right.ravel() + offset
    node = np.tile(np.arange(t, dtype=np.intp) * width, n)
    values, columns = np.ascontiguousarray(x, np.float64).ravel(), x.shape[1]
    active = np.arange(n * t, dtype=np.intp)
    while active.size:
        at = node[active]
        f = feature.take(at)
        inner = f != LEAF
        active, at, f = active[inner], at[inner], f[inner]
        go_left = values.take(active // t * columns + f) <= threshold.take(at)
        node[active] = np.where(go_left, left.take(at), right.take(at))
    return model.bias + model.value.ravel().take(node).reshape(n, t).sum(axis=1)


def scenes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = draw_features(rng, np.full(n, 0.1), np.full(n, 0.2), rng.random(n) < 0.3)
    hazard = rng.random(n) < hazard_probability(x, np.ones(n), rng.normal(0, 0.5, n), 0)
    return x, hazard


def best_of(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x_train, y_train = scenes(rng, 30_000)
    with threadpool_limits(1):
        fit_one = best_of(1, lambda: fit_trees(x_train, y_train))
    from sklearn.ensemble import HistGradientBoostingClassifier

    fit_all = best_of(1, lambda: HistGradientBoostingClassifier(
        max_iter=100, max_leaf_nodes=15, early_stopping=False).fit(x_train, y_train))
    model = fit_trees(x_train, y_train)
    x, _ = scenes(rng, args.scenes)
    assert np.allclose(model.score(x), walk(model, x))
    ours = best_of(args.repeat, lambda: model.score(x))
    baseline = best_of(args.repeat, lambda: walk(model, x))
    for name, value in (("scenes_per_s", args.scenes / ours),
                        ("walk_scenes_per_s", args.scenes / baseline),
                        ("ratio_to_walk", baseline / ours),
                        ("fit_s_one_thread", fit_one), ("fit_s_all_threads", fit_all)):
        print(json.dumps({"bench": "tree_scoring", "figure": name, "value": round(value, 3),
                          "scenes": args.scenes, "trees": int(model.feature.shape[0])}))


if __name__ == "__main__":
    main()
