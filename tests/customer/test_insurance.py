from __future__ import annotations

from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pytest

from gigaloop.customer.insurance import (
    ClaimFrequencyGBM,
    ClaimFrequencyGLM,
    Credibility,
    PremiumSettings,
    calibration_by_decile,
    gini_interval,
    monthly_premium,
    normalised_gini,
)
from gigaloop.customer.insurance_features import CHANGEABLE, OTHER, driver_features

DAY = pd.Timestamp("2026-01-01")


def _store(consent: dict[str, tuple[bool, bool]]) -> SimpleNamespace:
    """One vehicle per customer, each with one driving day and one insurance claim on it."""
    vins = [f"V{i}" for i in range(len(consent))]
    n = len(vins)
    tables = {
        "customers": ibis.memtable({
            "customer_id": list(consent), "vin": vins, "climate_region": ["hot"] * n,
            "consent_telemetry": [t for t, _ in consent.values()],
            "consent_insurance": [i for _, i in consent.values()]}),
        "telemetry_daily": ibis.memtable({
            "vin": vins, "day": [DAY.date()] * n, "miles": [50.0] * n,
            "autopilot_miles": [10.0] * n, "rain_miles": [0.0] * n,
            "late_night_miles": [5.0] * n, "hard_braking_fraction": [0.01] * n,
            "aggressive_turning_fraction": [0.02] * n, "unsafe_following_fraction": [0.1] * n,
            "speeding_fraction": [0.0] * n, "fcw_count": [1] * n,
            "forced_disengagements": [0] * n}),
        "insurance_claims": ibis.memtable({"vin": vins, "amount_usd": [5_000.0] * n,
                                           "event_time": [DAY + pd.Timedelta(hours=9)] * n})}
    return SimpleNamespace(table=tables.__getitem__, execute=lambda expr: expr.execute())


def test_only_customers_consenting_to_telemetry_and_insurance_are_scored() -> None:
    store = _store({"both": (True, True), "telemetry_only": (True, False),
                    "insurance_only": (False, True), "neither": (False, False)})
    features = driver_features(store, DAY, DAY)
    assert features.customer_id.tolist() == ["both"]
    assert features.claims.tolist() == [1] and features.claim_cost.tolist() == [5_000.0]
    # nothing of the others reaches a model or a price
    assert features.miles.sum() == 50.0


def _synthetic_drivers(n: int, rate_ratio_per_point: float, seed: int) -> pd.DataFrame:
    """Drivers whose claims are Poisson(miles × 2e-4 × rate_ratio^hard_braking); every
    other feature is noise with no effect."""
    rng = np.random.default_rng(seed)
    data = {name: rng.uniform(0, 4, n) for name in CHANGEABLE + OTHER}
    data["log_miles_per_day"] = np.log(rng.uniform(10, 80, n))
    frame = pd.DataFrame(data)
    frame["climate_region"] = rng.choice(["temperate", "hot", "cold"], n)
    frame["miles"] = rng.uniform(5_000, 20_000, n)
    frame["miles_per_day"] = np.exp(frame["log_miles_per_day"])
    rate = 2e-4 * rate_ratio_per_point ** frame["hard_braking"]
    frame["claims"] = rng.poisson(frame["miles"] * rate)
    return frame


def test_glm_recovers_a_known_rate_ratio() -> None:
    drivers = _synthetic_drivers(20_000, rate_ratio_per_point=1.5, seed=7)
    assert drivers.claims.sum() > 50_000  # enough events that the check has teeth
    glm = ClaimFrequencyGLM().fit(drivers)
    # standard error of the log ratio is ≈ 0.004: ±0.03 is about 5 standard errors
    assert np.exp(glm.coef_["hard_braking"]) == pytest.approx(1.5, abs=0.03)
    assert np.exp(glm.coef_["unsafe_following"]) == pytest.approx(1.0, abs=0.03)
    assert np.exp(glm.intercept_) == pytest.approx(2e-4, rel=0.1)


def test_premium_on_a_worked_example() -> None:
    # 3 claims per million miles × 1,500 mi a month = 0.0045 claims a month;
    # × $20,000 a claim = $90 of expected claims; ÷ 0.75 loss ratio = $120
    settings = PremiumSettings(claim_cost_usd=20_000, target_loss_ratio=0.75)
    assert monthly_premium(3e-6, 1_500, settings) == pytest.approx(120.0)


def test_explanation_multiplies_back_to_the_price_ratio() -> None:
    drivers = _synthetic_drivers(5_000, rate_ratio_per_point=1.3, seed=3)
    glm = ClaimFrequencyGLM().fit(drivers)
    explained = glm.explain(drivers.head(50))
    factors = explained.drop(columns=["premium", "mean_driver_premium"])
    assert set(CHANGEABLE) <= set(factors.columns)
    ratio = explained.premium / explained.mean_driver_premium
    np.testing.assert_allclose(factors.prod(axis=1), ratio, rtol=1e-9)
    worst = drivers.head(50).hard_braking.idxmax()
    assert factors.hard_braking[worst] > 1  # more hard braking than the mean costs more


def test_normalised_gini_is_one_for_the_observed_order_and_lower_reversed() -> None:
    claims, miles = np.array([0, 1, 2, 5]), np.full(4, 10.0)
    assert normalised_gini(claims, miles, claims / miles) == pytest.approx(1.0)
    assert normalised_gini(claims, miles, -claims / miles) == pytest.approx(-1.0)


def test_gini_interval_brackets_the_estimate() -> None:
    drivers = _synthetic_drivers(2_000, rate_ratio_per_point=1.5, seed=5)
    claims, miles = drivers.claims.to_numpy(), drivers.miles.to_numpy()
    score = drivers.hard_braking.to_numpy()
    low, high = gini_interval(claims, miles, score, draws=100)
    assert 0 < low <= normalised_gini(claims, miles, score) <= high < 1


def test_credibility_prices_a_short_noisy_record_nearer_the_fleet() -> None:
    # each driver's true log relative risk, and a measured one whose noise shrinks with
    # the miles it was measured over (sd 1 at 1,000 miles); next period's claims follow
    # the true risk
    rng = np.random.default_rng(11)
    n = 200_000
    truth = rng.normal(0.0, 0.4, n)
    window = rng.uniform(200, 8_000, n)
    measured = truth + rng.normal(0.0, 1.0, n) * np.sqrt(1_000 / window)
    miles = rng.uniform(1_000, 3_000, n)
    claims = rng.poisson(1e-4 * np.exp(truth) * miles)
    credibility = Credibility.fit(measured, window, claims, miles)
    assert credibility.k > 0  # the record is not trusted fully
    top = measured >= np.quantile(measured, 0.9)
    raw_rate = credibility.base * np.exp(measured)
    trusted = credibility.rate(measured, window)
    raw = claims[top].sum() / (raw_rate[top] * miles[top]).sum()
    shrunk = claims[top].sum() / (trusted[top] * miles[top]).sum()
    assert raw < 0.75            # taken at face value, the riskiest look riskier than they are
    assert shrunk == pytest.approx(1.0, abs=0.1)


def _realistic_drivers(n: int, seed: int) -> pd.DataFrame:
    """Drivers at about the twin's claim frequency (a few claims per 100 per half-year),
    their rate log-linear in hard braking and late night and higher in the cold."""
    drivers = _synthetic_drivers(n, 1.0, seed)
    rng = np.random.default_rng(seed + 1)
    drivers["miles"] = rng.uniform(1_000, 12_000, n)
    rate = (6e-6 * 1.25 ** drivers["hard_braking"] * 1.08 ** drivers["late_night"]
            * np.where(drivers["climate_region"] == "cold", 1.3, 1.0))
    drivers["claims"] = rng.poisson(drivers["miles"] * rate)
    return drivers


def test_the_gbm_is_calibrated_at_both_ends_on_held_out_drivers() -> None:
    train, held_out = _realistic_drivers(130_000, seed=5), _realistic_drivers(100_000, seed=15)
    assert held_out.claims.sum() > 6_000  # a decile's O/E then carries ±4 % of noise
    rate = ClaimFrequencyGBM().fit(train).rate(held_out)
    table = calibration_by_decile(held_out.claims.to_numpy(), rate * held_out.miles.to_numpy(),
                                  rate)
    # a model that flattens the risk charges the safest tenth too much (O/E well under 1)
    # and the riskiest too little (well over 1); ±15 % is about 4 standard errors
    assert table.o_e.between(0.85, 1.15).all(), table.o_e.round(2).tolist()
