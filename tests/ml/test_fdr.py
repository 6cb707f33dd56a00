"""benjamini_hochberg against scipy.stats.false_discovery_control and the textbook procedure."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from gigaloop.ml import benjamini_hochberg


@pytest.mark.parametrize("method", ["bh", "by"])
@pytest.mark.parametrize("seed", range(4))
def test_qvalues_match_scipy(method: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.concatenate([rng.random(300), rng.random(30) * 1e-4, [0.0, 1.0, 0.5, 0.5]])
    q, reject = benjamini_hochberg(p, 0.1, method=method)
    np.testing.assert_allclose(q, false_discovery_control(p, method=method), rtol=1e-12)
    np.testing.assert_array_equal(reject, q <= 0.1)


def test_rejections_are_the_step_up_set_and_shape_is_kept() -> None:
    rng = np.random.default_rng(5)
    p = np.sort(np.concatenate([rng.random(200), rng.random(20) * 1e-3]))
    _, reject = benjamini_hochberg(p, 0.05)
    passing = np.flatnonzero(p <= 0.05 * np.arange(1, p.size + 1) / p.size)
    assert reject.sum() == passing.max() + 1
    q, reject = benjamini_hochberg(p.reshape(20, 11))
    assert q.shape == reject.shape == (20, 11)


def test_by_is_more_conservative_than_bh() -> None:
    p = np.random.default_rng(1).random(500) ** 3
    assert (benjamini_hochberg(p, method="by")[0] >= benjamini_hochberg(p)[0]).all()


@pytest.mark.parametrize(
    ("pvalues", "kwargs", "message"),
    [
        ([0.1, np.nan], {}, "no NaN"),
        ([0.1, 1.2], {}, r"\[0, 1\]"),
        ([0.1], {"alpha": 0}, "alpha"),
        ([0.1], {"method": "holm"}, "method"),
    ],
)
def test_bad_input(pvalues: list, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        benjamini_hochberg(pvalues, **kwargs)
