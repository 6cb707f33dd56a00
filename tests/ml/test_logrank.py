"""logrank_scan against lifelines' logrank_test and a hand-written stratified log-rank."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import logrank_test

from gigaloop.ml import logrank_scan, logrank_subgroup_scan


def _random_fleet(seed: int, n: int = 400, levels: int = 4, horizon: int = 60):
    """Integer days (many ties), ~40 % censored, unequal groups, some missing codes."""
    rng = np.random.default_rng(seed)
    codes = rng.choice(np.arange(-1, levels), size=(n, 3), p=[0.05, 0.5, 0.25, 0.15, 0.05])
    days = rng.integers(0, horizon, n)
    failed = rng.random(n) < 0.6
    return days, failed, codes.astype(np.int32)


def _reference(days, failed, group, stratum):
    """O−E and V summed over strata and event days, one loop per day (the textbook recipe)."""
    total_oe = total_v = 0.0
    for s in np.unique(stratum):
        d, e, g = days[stratum == s], failed[stratum == s], group[stratum == s]
        for t in np.unique(d[e]):
            at_risk = d >= t
            n_all, n_group = at_risk.sum(), (at_risk & g).sum()
            deaths = ((d == t) & e).sum()
            total_oe += ((d == t) & e & g).sum() - n_group * deaths / n_all
            if n_all > 1:
                total_v += (n_group / n_all) * (1 - n_group / n_all) * deaths * (
                    n_all - deaths) / (n_all - 1)
    return total_oe, total_v


@pytest.mark.parametrize("seed", range(5))
def test_every_level_matches_lifelines(seed: int) -> None:
    days, failed, codes = _random_fleet(seed)
    scan = logrank_scan(days, failed, codes)
    assert len(scan) == 3 * 4
    for row in scan.itertuples():
        present = codes[:, row.attribute] >= 0
        group = codes[:, row.attribute] == row.level
        rest = present & ~group
        assert row.at_risk == group.sum()
        assert row.observed == failed[group].sum()
        expected = logrank_test(days[group], days[rest], failed[group], failed[rest])
        assert row.chi2 == pytest.approx(expected.test_statistic, rel=1e-8, abs=1e-12)
        assert row.p == pytest.approx(expected.p_value, rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_stratified_matches_hand_computation(seed: int) -> None:
    days, failed, codes = _random_fleet(seed, n=300)
    stratum = np.random.default_rng(seed + 10).integers(0, 4, days.size)
    scan = logrank_scan(days, failed, codes[:, :1], strata=stratum)
    for row in scan.itertuples():
        present = codes[:, 0] >= 0
        o_minus_e, variance = _reference(
            days[present], failed[present], codes[present, 0] == row.level, stratum[present]
        )
        assert row.observed - row.expected == pytest.approx(o_minus_e, rel=1e-10, abs=1e-10)
        assert row.variance == pytest.approx(variance, rel=1e-10)


def test_stratified_sums_per_stratum_scans_and_one_stratum_is_plain() -> None:
    days, failed, codes = _random_fleet(7, n=600)
    stratum = (days * 7919 % 3).astype(np.int64)
    scan = logrank_scan(days, failed, codes, strata=stratum)
    parts = [
        logrank_scan(days[stratum == s], failed[stratum == s], codes[stratum == s])
        .set_index(["attribute", "level"])[["observed", "expected", "variance"]]
        for s in range(3)
    ]
    summed = parts[0].add(parts[1], fill_value=0).add(parts[2], fill_value=0)
    merged = scan.set_index(["attribute", "level"])[["observed", "expected", "variance"]]
    np.testing.assert_allclose(merged.to_numpy(), summed.loc[merged.index].to_numpy(), rtol=1e-10)
    plain = logrank_scan(days, failed, codes)
    single = logrank_scan(days, failed, codes, strata=np.zeros(days.size, int))
    np.testing.assert_allclose(single.chi2, plain.chi2, rtol=1e-12)


def test_strata_stop_usage_masquerading_as_a_factory_cause() -> None:
    rng = np.random.default_rng(3)
    n = 60_000
    hot = rng.random(n) < 0.3
    late_shift = np.where(hot, rng.random(n) < 0.7, rng.random(n) < 0.2).astype(np.int32)
    days = rng.exponential(2000 / np.where(hot, 3.0, 1.0)).astype(int)
    failed = days < 365
    days = np.minimum(days, 365)
    plain = logrank_scan(days, failed, late_shift)
    stratified = logrank_scan(days, failed, late_shift, strata=hot.astype(int))
    assert plain.p.max() < 1e-20
    assert stratified.p.min() > 1e-3


def test_pike_hazard_ratio_recovers_a_small_lots_effect() -> None:
    rng = np.random.default_rng(11)
    n = 200_000
    lot = (rng.random(n) < 1 / 40).astype(np.int32)
    life = 5000 * np.where(lot == 1, 3.0 ** (-1 / 1.5), 1.0) * rng.weibull(1.5, n)
    end = rng.uniform(200, 1000, n)
    scan = logrank_scan(np.minimum(life, end), life < end, lot)
    suspect = scan[scan.level == 1].iloc[0]
    assert suspect.hr_low < 3.0 < suspect.hr_high
    assert suspect.hazard_ratio == pytest.approx(3.0, rel=0.15)
    assert suspect.z > 10


def test_day_bins_threads_and_zero_event_levels() -> None:
    days, failed, codes = _random_fleet(1)
    plain = logrank_scan(days, failed, codes)
    fractional = logrank_scan(days + 0.7, failed, codes, n_threads=2)
    np.testing.assert_allclose(fractional.chi2, plain.chi2, rtol=1e-12)
    never = np.zeros(days.size, np.int32)
    never[:20] = 1
    scan = logrank_scan(days, failed & (never == 0), never)
    quiet = scan[scan.level == 1].iloc[0]
    assert quiet.observed == 0 and quiet.hazard_ratio == 0
    assert 0 < quiet.hr_high < np.inf


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration": [-1, 2]}, "duration must be >= 0"),
        ({"duration": [np.nan, 2]}, "NaN"),
        ({"event": [1, 2]}, "boolean"),
        ({"codes": [0.5, 1.0]}, "integer level codes"),
        ({"codes": [-2, 0]}, ">= -1"),
        ({"codes": [0, 0, 1]}, "shape"),
        ({"strata": [-1, 0]}, "strata must be >= 0"),
        ({"confidence": 1.5}, "confidence"),
        ({"strata": [0, 30_000_000]}, "too large a table"),
    ],
)
def test_bad_input_says_what_to_fix(kwargs: dict, message: str) -> None:
    arguments = {"duration": [1, 2], "event": [True, False], "codes": [0, 1]} | kwargs
    duration, event, codes = arguments.pop("duration"), arguments.pop("event"), arguments.pop(
        "codes")
    with pytest.raises(ValueError, match=message):
        logrank_scan(duration, event, codes, **arguments)
    # the scan within subgroups checks its input the same way (one subgroup of every stratum)
    strata = np.asarray(arguments.pop("strata", [0, 0]))
    groups = np.ones((1, max(int(strata.max()), 0) + 1), dtype=bool)
    with pytest.raises(ValueError, match=message):
        logrank_subgroup_scan(duration, event, codes, strata=strata, subgroups=groups,
                              **arguments)


def test_an_attribute_missing_for_everyone_yields_no_rows():
    rng = np.random.default_rng(2)
    codes = np.column_stack([rng.integers(0, 3, 50), np.full(50, -1)])
    scan = logrank_scan(rng.integers(1, 30, 50), rng.random(50) < 0.3, codes)
    assert set(scan.attribute) == {0}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_subgroup_scan_is_the_scan_of_the_subgroup_s_subjects_alone(seed: int) -> None:
    days, failed, codes = _random_fleet(seed, n=900)
    rng = np.random.default_rng(seed)
    stratum = rng.integers(0, 6, days.size)
    # three climates × two mileage bands: each climate, and each band across the climates
    climate, band = np.arange(6) // 2, np.arange(6) % 2
    groups = np.vstack([climate == c for c in range(3)] + [band == b for b in range(2)])
    scan = logrank_subgroup_scan(days, failed, codes, strata=stratum, subgroups=groups)
    pd.testing.assert_frame_equal(scan.whole, logrank_scan(days, failed, codes, strata=stratum),
                                  rtol=1e-9)
    for group in range(len(groups)):
        inside = groups[group][stratum]
        alone = logrank_scan(days[inside], failed[inside], codes[inside],
                             strata=stratum[inside])
        mine = scan.subgroups[scan.subgroups.subgroup == group].merge(
            alone, on=["attribute", "level"], suffixes=("", "_alone"))
        assert len(mine) == len(alone[alone.expected > 0])
        for column in ("at_risk", "observed", "expected", "variance", "z", "p", "hazard_ratio",
                       "hr_low"):
            np.testing.assert_allclose(mine[column], mine[f"{column}_alone"], rtol=1e-9,
                                       atol=1e-12)


@pytest.mark.parametrize("subgroups", [[[True]], [True, False], [[1, 2]]])
def test_subgroups_need_a_true_or_false_for_every_stratum(subgroups: list) -> None:
    days, failed, codes = _random_fleet(0)
    with pytest.raises(ValueError, match="one row of 2 true/false values"):
        logrank_subgroup_scan(days, failed, codes, strata=days % 2, subgroups=subgroups)


def test_attributes_not_searched_are_tested_over_the_whole_only() -> None:
    days, failed, codes = _random_fleet(1, n=900)
    stratum = np.random.default_rng(1).integers(0, 4, days.size)
    groups = np.vstack([np.arange(4) < 2, np.arange(4) >= 2])
    every = logrank_subgroup_scan(days, failed, codes, strata=stratum, subgroups=groups)
    first = logrank_subgroup_scan(days, failed, codes, strata=stratum, subgroups=groups,
                                  searched=[True, False, False])
    pd.testing.assert_frame_equal(first.whole, every.whole)
    pd.testing.assert_frame_equal(first.subgroups.reset_index(drop=True),
                                  every.subgroups[every.subgroups.attribute == 0]
                                  .reset_index(drop=True))
    with pytest.raises(ValueError, match="one true/false for each of the 3 attributes"):
        logrank_subgroup_scan(days, failed, codes, strata=stratum, subgroups=groups,
                              searched=[True])
