"""benjamini_hochberg against scipy.stats.false_discovery_control and the textbook procedure."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from gigaloop.ml import benjamini_hochberg, family_qvalues


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


def _world(rng: np.random.Generator, signal: float | None = None) -> tuple[dict, dict]:
    """Root cause's shape: 12 modes, each 30 attributes of 1 to 120 levels; uniform p
    everywhere, or one two-level attribute of mode "m0" carrying ``signal``."""
    pvalues, groups = {}, {}
    for m in range(12):
        sizes = np.random.default_rng(m).integers(1, 121, size=30)
        sizes[0] = 2
        pvalues[f"m{m}"] = rng.random(int(sizes.sum()))
        groups[f"m{m}"] = np.repeat(np.arange(30), sizes)
    if signal is not None:
        pvalues["m0"][0] = signal
    return pvalues, groups


def test_a_tree_of_families_rejects_nothing_in_null_worlds_beyond_alpha() -> None:
    rng = np.random.default_rng(11)
    worlds = 300
    with_any = 0
    for _ in range(worlds):
        pvalues, groups = _world(rng)
        with_any += any((q <= 0.01).any() for q in family_qvalues(pvalues, 0.01, groups).values())
    assert with_any / worlds <= 0.03  # the global null: about alpha = 0.01


def test_a_tree_of_families_finds_a_small_attribute_one_flat_family_misses() -> None:
    pvalues, groups = _world(np.random.default_rng(3), signal=2e-6)
    flat = family_qvalues(pvalues, 0.01)["m0"][0]
    tree = family_qvalues(pvalues, 0.01, groups)["m0"][0]
    assert flat > 0.01 >= tree


def _tree_by_definition(p: np.ndarray, labels: np.ndarray, alpha: float) -> np.ndarray:
    """A family's q-values one level down, written as the definition reads: each group a
    family of its own (its tests picked out label by label)."""
    inner = family_qvalues({g: p[labels == g] for g in np.unique(labels)}, alpha)
    q = np.ones_like(p)
    for g, q_of_group in inner.items():
        q[labels == g] = q_of_group
    return q


@pytest.mark.parametrize("seed", range(20))
def test_a_grouped_family_s_qvalues_are_its_groups_as_families_of_their_own(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 500))
    p = rng.random(n) ** rng.uniform(1, 8)
    p[rng.random(n) < 0.03] = 1e-15
    p[0] = 1e-15  # the family is selected: its q-values are its groups' alone
    labels = rng.choice([f"a{i}" for i in range(int(rng.integers(1, 80)))], n)
    alpha = float(rng.choice([0.01, 0.05]))
    q = family_qvalues({"m": p, "other": rng.random(7)}, alpha, {"m": labels})["m"]
    lone = family_qvalues({"m": p}, alpha, {"m": labels})["m"]
    reference = _tree_by_definition(p, labels, alpha)
    np.testing.assert_array_equal(lone, reference)  # one family: no inflation from others
    assert np.all(q >= lone)


def test_a_grouped_family_checks_its_pvalues_and_alpha() -> None:
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        family_qvalues({"m": [0.2, 1.5]}, 0.05, {"m": ["a", "b"]})
    with pytest.raises(ValueError, match="alpha"):
        family_qvalues({"m": [0.2, 0.5]}, 1.5, {"m": ["a", "b"]})
