"""kaplan_meier against lifelines' KaplanMeierFitter, group by group."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter

from gigaloop.ml import kaplan_meier


@pytest.mark.parametrize("seed", range(3))
def test_curves_and_bands_match_lifelines(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    days = rng.integers(1, 90, n)
    failed = rng.random(n) < 0.5
    groups = rng.choice([-1, 0, 1, 3], size=n, p=[0.1, 0.5, 0.3, 0.1])
    curves = kaplan_meier(days, failed, groups)
    assert curves.groups.tolist() == [0, 1, 3]
    for row, group in enumerate(curves.groups):
        member = groups == group
        fitter = KaplanMeierFitter().fit(days[member], failed[member])
        last = int(days[member].max())
        grid = np.arange(last)  # lifelines' bands end at the last observed time
        np.testing.assert_allclose(
            curves.survival[row, grid], fitter.survival_function_at_times(grid), rtol=1e-12
        )
        bands = fitter.confidence_interval_survival_function_
        observed = bands.index.to_numpy().astype(int)
        np.testing.assert_allclose(curves.lower[row, observed], bands.iloc[:, 0], rtol=1e-9)
        np.testing.assert_allclose(curves.upper[row, observed], bands.iloc[:, 1], rtol=1e-9)
        table = fitter.event_table
        np.testing.assert_array_equal(
            curves.at_risk[row, table.index.to_numpy().astype(int)], table["at_risk"]
        )


def test_missing_groups_are_left_out_and_bad_input_raises() -> None:
    curves = kaplan_meier([1, 2, 3], [1, 0, 1], [-1, 2, 2])
    assert curves.groups.tolist() == [2]
    assert curves.survival.shape == (1, 4)
    with pytest.raises(ValueError, match="one code per subject"):
        kaplan_meier([1, 2], [1, 0], [[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="duration must be >= 0"):
        kaplan_meier([-1, 2], [1, 0], [0, 0])
