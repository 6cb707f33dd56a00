"""What every root-cause test is adjusted for: usage strata and rate covariates."""

from __future__ import annotations

import warnings

import numpy as np
from tests.loop.test_subgroups import fleet

from gigaloop.loop.adjust import rate_covariates, usage_strata


def test_rate_covariates_fill_unknown_usage_with_the_mean_and_unknown_columns_with_zero(
) -> None:
    pop = fleet(5)
    pop.usage.loc[:99, "ambient_temp_c"] = np.nan
    pop.usage["dc_kwh_per_day"] = np.nan  # a fleet that reports no charging at all
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an all-unknown column once warned "Mean of empty slice"
        covariates = rate_covariates(pop)
    assert np.isfinite(covariates).all()
    known = pop.usage.ambient_temp_c.dropna()
    temperature = covariates[:, 4]  # two climate dummies, then miles, charging, temperature
    assert np.allclose(temperature[:100], known.mean())
    assert np.array_equal(covariates[:, 3], np.zeros(len(pop)))


def test_usage_strata_put_unknown_mileage_in_a_band_of_its_own() -> None:
    pop = fleet(6)
    pop.usage.loc[:199, "miles_per_day"] = np.nan
    strata = usage_strata(pop)
    climate_codes = {c: strata[pop.climate == c] for c in np.unique(pop.climate)}
    unknown = strata[:200]
    assert not set(unknown) & set(strata[200:])  # no known-mileage car shares their stratum
    assert len(set(unknown)) == len({pop.climate[k] for k in range(200)})
    assert all(len(np.unique(codes)) > 3 for codes in climate_codes.values())


def test_a_measure_over_part_of_a_car_s_days_is_adjusted_for_that_window_s_age() -> None:
    """A car whose pack a visit replaced halfway is compared, for fade, with cars half its
    age: the measure is over its first pack's days only."""
    from dataclasses import replace

    from gigaloop.fleet.usage import MeasuredRates
    from gigaloop.schema import RATE_MEASURES

    pop = fleet(7)
    fade = RATE_MEASURES[0]
    watched = np.ones(len(pop))
    watched[:50] = 0.5
    pop = replace(pop, rates={fade.mode: MeasuredRates(
        fade, np.ones(len(pop)), np.ones(len(pop)), np.ones(len(pop), bool), watched)})
    age = pop.usage.in_service_days.to_numpy()
    whole, own = rate_covariates(pop), rate_covariates(pop, fade.mode)
    # two climate dummies, miles, charging, temperature, age, Autopilot share, √age, bands
    assert np.allclose(own[:, 5], age * watched) and np.allclose(whole[:, 5], age)
    assert np.allclose(own[:, 7], np.sqrt(age * watched))
    assert np.array_equal(own[:, :5], whole[:, :5]) and np.array_equal(own[:, 6], whole[:, 6])
