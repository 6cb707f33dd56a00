"""A driving-model candidate: trained, cut and judged against production.

:func:`fit_trees` trains scikit-learn's histogram gradient boosting and exports it as the
NumPy tree artefact the vehicles run; :func:`cut_at` picks its cut at a false-alarm rate;
:func:`paired` is the one-sided sign test of the hazards only one of two models caught;
:func:`recall` is the share of hazards flagged, overall and by driving condition.
"""

from __future__ import annotations

import numpy as np

from gigaloop.actuate.driving_model import CONDITIONS, LEAF, TreeModel, where_mask


def fit_trees(x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None, *,
              trees: int = 100, leaves: int = 15, seed: int = 0) -> TreeModel:
    """scikit-learn's histogram gradient boosting, exported as a :class:`TreeModel` whose
    score is the classifier's decision function (log-odds).

    The trees are read from the fitted predictors' node arrays (``_predictors``, not
    public API: ``tests/fleet/test_learning.py`` checks the export reproduces the
    classifier's own scores, so a change in scikit-learn fails there, not in the field).

    >>> rng = np.random.default_rng(0)
    >>> from gigaloop.actuate.driving_model import FEATURES
    >>> x = rng.random((500, len(FEATURES)))
    >>> y = x[:, 0] + 0.3 * rng.random(500) > 0.8
    >>> model = fit_trees(x, y, trees=20)
    >>> model.feature.shape[0], bool(model.score(x[y]).mean() > model.score(x[~y]).mean())
    (20, True)
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    clf = HistGradientBoostingClassifier(max_iter=trees, max_leaf_nodes=leaves,
                                         learning_rate=0.1, early_stopping=False,
                                         random_state=seed)
    # One OpenMP thread: a fit this small gains little from a second core, and on 2 cores
    # that are busy (evaluations run worlds side by side) 30,000 scenes took 8.7 s on two
    # threads against 0.4 s on one (bench/bench_tree_scoring.py; docs/architecture.md).
    with threadpool_limits(1):
        clf.fit(x, y, sample_weight=weight)
    exported = []
    for (predictor,) in clf._predictors:
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        exported.append({"feature": np.where(leaf, LEAF, nodes["feature_idx"]).tolist(),
                         "threshold": nodes["num_threshold"].tolist(),
                         "left": nodes["left"].tolist(), "right": nodes["right"].tolist(),
                         "value": np.where(leaf, nodes["value"], 0.0).tolist()})
    bias = float(np.ravel(clf._baseline_prediction)[0])
    return TreeModel.from_trees(exported, bias=bias)


def cut_at(negatives: np.ndarray, alarms: float) -> float:
    """The lowest cut whose false-alarm rate on ``negatives`` (scores of harmless scenes)
    is at most ``alarms`` (scores tie a lot: trees have few leaves).

    >>> scores = np.array([0.0, 1.0, 1.0, 2.0])
    >>> cut_at(scores, 0.75), cut_at(scores, 0.5), cut_at(scores, 0.2) > 2.0
    (1.0, 2.0, True)
    """
    if not len(negatives):
        return 0.0
    ordered = np.sort(negatives)
    cuts = np.unique(ordered)
    rate = 1.0 - np.searchsorted(ordered, cuts, side="left") / len(ordered)
    ok = cuts[rate <= alarms + 1e-12]
    return float(ok[0]) if ok.size else float(np.nextafter(ordered[-1], np.inf))


def paired(candidate: np.ndarray, production: np.ndarray, hazard: np.ndarray
            ) -> dict[str, float]:
    """Hazards only the candidate caught (``gained``) and only production caught
    (``lost``), on the same scenes, and the one-sided sign test of gained > lost.

    >>> paired(np.array([1, 1, 1, 0], bool), np.array([0, 0, 1, 1], bool), np.ones(4, bool))
    {'gained': 2, 'lost': 1, 'p': 0.5}
    """
    from scipy.stats import binomtest

    gained = int((candidate & ~production & hazard).sum())
    lost = int((production & ~candidate & hazard).sum())
    p = binomtest(gained, gained + lost, alternative="greater").pvalue if gained + lost else 1.0
    return {"gained": gained, "lost": lost, "p": round(float(p), 6)}


def share(flag: np.ndarray, among: np.ndarray) -> float:
    return float(flag[among].mean()) if among.any() else float("nan")


def recall(scenes: dict[str, np.ndarray], flag: np.ndarray,
            min_hazards: int) -> dict[str, float | None]:
    """Share of hazardous scenes flagged, overall (``all``) and by condition (None where
    fewer than ``min_hazards`` hazards)."""
    hazard = scenes["hazard"]
    out: dict[str, float | None] = {}
    for name, where in {"all": {}, **CONDITIONS}.items():
        m = hazard & where_mask(where, scenes) if where else hazard
        out[name] = round(float(flag[m].mean()), 4) if m.sum() >= min_hazards else None
    return out


__all__ = ["cut_at", "fit_trees", "paired", "recall", "share"]
