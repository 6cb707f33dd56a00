"""Time-series classification with random convolutional kernels: MiniRocket and a ridge.

:class:`MiniRocket` is the transform of Dempster, Schmidt & Webb (2021, "MiniRocket: a very
fast (almost) deterministic transform for time series classification", KDD), written in
NumPy: the 84 kernels of length 9 with weights −1 and 2 (three 2s), dilations spread on a
log scale up to the series length, biases from quantiles of the convolution of random
training series, and one feature per bias — the proportion of positive values (PPV) of
the convolution, with and without zero padding alternately. About 10 000 features; no
weights are learned. It is written here rather than taken from sktime because sktime's
MiniRocket needs numba and llvmlite (64 MB of wheels, numba pinned below 0.68, beside
sktime's own 8 MB) for a loop that NumPy vectorises.
:func:`ridge_classifier` is the linear classifier the paper puts on top, scikit-learn's
``RidgeClassifierCV`` with the paper's penalty grid ``np.logspace(-3, 3, 10)`` chosen by
the closed-form leave-one-out squared error on the training rows.

>>> rng = np.random.default_rng(0)
>>> t = np.arange(128)
>>> def series(freq, n):  # noisy sines, the class is the frequency
...     phase = rng.uniform(0, 2 * np.pi, (n, 1))
...     return np.sin(2 * np.pi * freq * t / 128 + phase) + rng.normal(0, 0.5, (n, t.size))
>>> x_train = np.r_[series(5, 40), series(8, 40)]
>>> y_train = np.repeat(["slow", "fast"], 40)
>>> rocket = MiniRocket(num_features=840, seed=0).fit(x_train)
>>> features = rocket.transform(x_train)
>>> features.shape, bool(0 <= features.min() and features.max() <= 1)
((80, 840), True)
>>> model = ridge_classifier(len(features)).fit(features, y_train)
>>> model.predict(rocket.transform(np.r_[series(5, 10), series(8, 10)])).tolist() == (
...     ["slow"] * 10 + ["fast"] * 10)
True
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.linear_model import RidgeClassifierCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

KERNEL_LENGTH = 9
#: the positions of the three weights 2 in each of the 84 kernels (the rest are −1).
KERNELS = np.array(list(combinations(range(KERNEL_LENGTH), 3)))
_GOLDEN = (np.sqrt(5.0) + 1.0) / 2.0
#: the penalty grid of the MiniRocket paper.
ALPHAS = np.logspace(-3, 3, 10)


def _as_panel(name: str, values: ArrayLike) -> NDArray[np.float32]:
    array = np.asarray(values, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (series × time), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} has NaN or infinite values; fill or resample them first")
    return array


def _dilations(length: int, num_features: int, max_dilations: int) -> tuple[NDArray, NDArray]:
    """Dilations on a log2 scale and how many features (biases) each gets per kernel."""
    per_kernel = num_features // len(KERNELS)
    count = min(per_kernel, max_dilations)
    exponent = np.log2((length - 1) / (KERNEL_LENGTH - 1))
    dilations, repeats = np.unique(np.logspace(0, exponent, count, base=2).astype(np.int64),
                                   return_counts=True)
    per_dilation = (repeats * (per_kernel / count)).astype(np.int64)
    for i in range(per_kernel - int(per_dilation.sum())):
        per_dilation[i % per_dilation.size] += 1
    return dilations, per_dilation


def _shifted_sum(x: NDArray[np.float32], dilation: int) -> tuple[NDArray, NDArray]:
    """Zero-padded shifts of ``x`` by (j − 4)·dilation, j = 0..8, and their sum."""
    shifted = np.zeros((KERNEL_LENGTH, *x.shape), dtype=np.float32)
    length = x.shape[1]
    for j in range(KERNEL_LENGTH):
        offset = (j - KERNEL_LENGTH // 2) * dilation
        if offset >= 0:
            shifted[j, :, :length - offset] = x[:, offset:]
        else:
            shifted[j, :, -offset:] = x[:, :offset]
    return shifted, shifted.sum(axis=0)


class MiniRocket:
    """MiniRocket transform (univariate, equal-length series); ``fit`` sets the biases.

    >>> x = np.random.default_rng(1).normal(size=(5, 50))
    >>> MiniRocket(num_features=168, seed=0).fit(x).transform(x).shape
    (5, 168)
    """

    def __init__(self, num_features: int = 10_000, max_dilations: int = 32, *,
                 batch: int = 512, seed: int | None = None) -> None:
        if num_features < len(KERNELS):
            raise ValueError(f"num_features must be at least {len(KERNELS)}, got {num_features}")
        self.num_features = num_features
        self.max_dilations = max_dilations
        self.batch = batch
        self.seed = seed
        self.dilations_: NDArray[np.int64] | None = None
        self.per_dilation_: NDArray[np.int64] | None = None
        self.biases_: NDArray[np.float32] | None = None

    def fit(self, x: ArrayLike) -> MiniRocket:
        """Biases: quantiles (low-discrepancy levels) of each kernel's output on a random
        training series, one random series per kernel and dilation."""
        panel = _as_panel("x", x)
        if panel.shape[1] < KERNEL_LENGTH:
            raise ValueError(f"series must have at least {KERNEL_LENGTH} points")
        rng = np.random.default_rng(self.seed)
        dilations, per_dilation = _dilations(panel.shape[1], self.num_features,
                                             self.max_dilations)
        levels = (np.arange(1, len(KERNELS) * int(per_dilation.sum()) + 1) * _GOLDEN) % 1
        biases, start = [], 0
        for dilation, count in zip(dilations, per_dilation, strict=True):
            picks = panel[rng.integers(panel.shape[0], size=len(KERNELS))]
            shifted, total = _shifted_sum(picks, int(dilation))
            for k, (a, b, c) in enumerate(KERNELS):
                out = 3 * (shifted[a, k] + shifted[b, k] + shifted[c, k]) - total[k]
                biases.append(np.quantile(out, levels[start:start + count]))
                start += count
        self.dilations_, self.per_dilation_ = dilations, per_dilation
        self.biases_ = np.concatenate(biases).astype(np.float32)
        return self

    def transform(self, x: ArrayLike) -> NDArray[np.float32]:
        """PPV features, shape (series, len(biases_)), each in [0, 1]."""
        if self.biases_ is None or self.dilations_ is None or self.per_dilation_ is None:
            raise ValueError("call fit() before transform()")
        panel = _as_panel("x", x)
        out = np.empty((panel.shape[0], self.biases_.size), dtype=np.float32)
        for first in range(0, panel.shape[0], self.batch):
            rows = slice(first, first + self.batch)
            column = 0
            for d, (dilation, count) in enumerate(zip(self.dilations_, self.per_dilation_,
                                                      strict=True)):
                pad = (KERNEL_LENGTH - 1) * int(dilation) // 2
                shifted, total = _shifted_sum(panel[rows], int(dilation))
                for k, (a, b, c) in enumerate(KERNELS):
                    conv = 3 * (shifted[a] + shifted[b] + shifted[c]) - total
                    if (d + k) % 2:  # every other kernel: the valid part only
                        conv = conv[:, pad:-pad]
                    for bias in self.biases_[column:column + count]:
                        out[rows, column] = np.count_nonzero(conv > bias, axis=1)
                        out[rows, column] /= conv.shape[1]
                        column += 1
        return out


def ridge_classifier(n_train: int, alphas: ArrayLike = ALPHAS) -> Pipeline:
    """The MiniRocket paper's classifier for ``n_train`` training rows (unfitted).

    The authors' code is ``RidgeClassifierCV(alphas=np.logspace(-3, 3, 10),
    normalize=True)``; scikit-learn dropped ``normalize`` in 1.2, and its stated equivalent
    is standardising the features and multiplying each penalty by the number of rows (a
    centred column of norm 1 is a standardised one over √n). So: ``StandardScaler`` then
    ``RidgeClassifierCV`` over ``alphas · n_train``, the penalty by leave-one-out squared
    error (scikit-learn's default, in closed form); ``[-1].alpha_ / n_train`` is the chosen
    grid value.

    >>> x = np.array([[0.0, 1.0], [0.2, 0.9], [1.0, 0.0], [0.9, 0.1]])
    >>> model = ridge_classifier(len(x)).fit(x, [0, 0, 1, 1])
    >>> model.predict([[0.1, 1.0], [1.0, 0.2]]).tolist()
    [0, 1]
    """
    if n_train < 2:
        raise ValueError(f"n_train must be at least 2, got {n_train}")
    grid = np.asarray(alphas, dtype=np.float64) * n_train
    return make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=grid))
