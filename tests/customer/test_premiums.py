"""The insurance module: who is priced, with which model, and what the prices earned."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pytest

from gigaloop.customer.insurance import Credibility
from gigaloop.customer.insurance_features import (
    CHANGEABLE,
    OTHER,
    consenting_vehicles,
    driver_features,
)
from gigaloop.customer.premiums import (
    PCF_FACTORS,
    DrivingLedger,
    GlmRating,
    InsuranceConfig,
    InsuranceModule,
    PcfRating,
    fit_rating,
    insurance_kpis,
)
from gigaloop.loop.contract import DayContext

START = pd.Timestamp("2026-01-01")
DAYS = 60


def _store(n: int, seed: int, consent_every: int = 4, days: int = DAYS) -> SimpleNamespace:
    """``n`` customers, each with a car driven every day; every ``consent_every``-th one
    has not agreed to score-based insurance. Hard braking raises the claim rate."""
    rng = np.random.default_rng(seed)
    vins = [f"V{i:03d}" for i in range(n)]
    braking = rng.uniform(0.0, 0.04, n)
    dates = pd.date_range(START, periods=days)
    rows = pd.DataFrame({"vin": np.repeat(vins, days), "day": np.tile(dates.date, n)})
    rows["miles"] = 40.0
    rows["hard_braking_fraction"] = np.repeat(braking, days)
    for column in ("autopilot_miles", "rain_miles", "late_night_miles",
                   "aggressive_turning_fraction", "unsafe_following_fraction",
                   "speeding_fraction"):
        rows[column] = 0.0
    rows["fcw_count"] = 0
    rows["forced_disengagements"] = 0
    rows["ingested_at"] = pd.to_datetime(rows.day) + pd.Timedelta(days=1)
    claims = rng.poisson(40.0 * days * 1e-3 * np.exp(40 * braking))
    hit = np.repeat(np.arange(n), claims)
    tables = {
        "customers": ibis.memtable({
            "customer_id": [f"C{i:03d}" for i in range(n)], "vin": vins,
            "climate_region": ["temperate"] * n, "consent_telemetry": [True] * n,
            "consent_insurance": [i % consent_every != 0 for i in range(n)]}),
        "telemetry_daily": ibis.memtable(rows),
        "insurance_claims": ibis.memtable({
            "vin": np.array(vins)[hit].tolist(),
            "amount_usd": rng.lognormal(np.log(8_000), 0.5, len(hit)),
            "event_time": [START + pd.Timedelta(days=int(d), hours=9)
                           for d in rng.integers(0, days, len(hit))],
            "ingested_at": [START + pd.Timedelta(days=days)] * len(hit)}),
    }
    return SimpleNamespace(table=tables.__getitem__, execute=lambda expr: expr.execute(),
                           cutoff=(START + pd.Timedelta(days=days, hours=6)).to_pydatetime())


def _decide(store: SimpleNamespace, config: InsuranceConfig) -> DayContext:
    ctx = DayContext(DAYS - 1, datetime(2026, 3, 2, 6), store)
    InsuranceModule(config).decide(ctx)
    return ctx


def test_only_consenting_customers_are_priced_and_each_price_is_explained() -> None:
    ctx = _decide(_store(80, seed=1), InsuranceConfig(first_day=0, min_claims=1,
                                                     glm_min_claims=10**9))
    rows = pd.DataFrame(ctx.emitted["premiums"])
    assert len(rows) == 60  # 80 customers, every fourth without consent
    assert not rows.customer_id.isin([f"C{i:03d}" for i in range(0, 80, 4)]).any()
    assert (rows.period_start == pd.Timestamp("2026-03-02").date()).all()
    factors = pd.DataFrame([json.loads(f) for f in rows.factors_json])
    # the heaviest braker pays most, and braking is what makes the difference
    heaviest = factors.hard_braking.idxmax()
    assert rows.premium_usd.idxmax() == heaviest and factors.hard_braking[heaviest] > 1


def test_a_history_with_too_few_claims_prices_nobody() -> None:
    ctx = _decide(_store(20, seed=2), InsuranceConfig(first_day=0, min_claims=10_000))
    assert "premiums" not in ctx.emitted


def test_the_model_learns_every_factor_only_when_the_claims_support_it() -> None:
    drivers = pd.DataFrame({"claims": [5, 15], "miles": [1e6, 1e6], "pcf_v22": [0.5, 1.5],
                            **{f: [0.0, 2.0] for f in ("hard_braking", "aggressive_turning",
                                                      "unsafe_following",
                                                      "excessive_speeding", "late_night")}})
    assert isinstance(fit_rating(drivers, InsuranceConfig(glm_min_claims=21)), PcfRating)
    rating = fit_rating(drivers, InsuranceConfig(glm_min_claims=21))
    assert rating.rate(drivers).sum() * 1e6 == pytest.approx(20.0)  # the base is calibrated
    rng = np.random.default_rng(3)
    many = pd.DataFrame({f: rng.uniform(0, 4, 2000) for f in CHANGEABLE + OTHER})
    many["climate_region"] = rng.choice(["temperate", "hot", "cold"], 2000)
    many["miles"] = rng.uniform(5_000, 20_000, 2000)
    many["claims"] = rng.poisson(many.miles * 1e-4)
    assert many.claims.sum() >= 1000
    assert isinstance(fit_rating(many, InsuranceConfig(glm_min_claims=1000)), GlmRating)


def test_the_loss_ratio_counts_what_claims_inside_ended_periods_cost() -> None:
    premiums = ibis.memtable({
        "vin": ["A", "B", "C"], "period_start": pd.to_datetime(
            ["2026-01-01", "2026-01-01", "2026-02-20"]).date,
        "period_days": [30, 30, 30], "premium_usd": [100.0, 300.0, 50.0]})
    claims = ibis.memtable({"vin": ["A", "A", "C"], "event_time": pd.to_datetime(
        ["2026-01-10", "2026-02-10", "2026-02-25"]),  # A's second is after its period
        "amount_usd": [300.0, 5_000.0, 7_000.0]})
    store = SimpleNamespace(table={"premiums": premiums, "insurance_claims": claims}.__getitem__,
                            execute=lambda expr: expr.execute())
    kpis = insurance_kpis(store, end=datetime(2026, 3, 1))
    assert kpis["loss_ratio"] == pytest.approx(300 / 400)  # C's period has not ended
    assert kpis["premium_per_vehicle_month"] == pytest.approx(150 / 30 * 365.25 / 12, 0.01)


def test_no_loss_ratio_before_a_period_has_ended() -> None:
    premiums = ibis.memtable({"vin": ["A", "B"], "period_start": pd.to_datetime(
        ["2026-01-01", "2026-01-01"]).date, "period_days": [30, 30],
        "premium_usd": [100.0, 300.0]})
    claims = ibis.memtable({"vin": ["A"], "event_time": pd.to_datetime(["2026-01-10"]),
                            "amount_usd": [900.0]})
    store = SimpleNamespace(table={"premiums": premiums, "insurance_claims": claims}.__getitem__,
                            execute=lambda expr: expr.execute())
    kpis = insurance_kpis(store, end=datetime(2026, 1, 20))
    assert kpis["loss_ratio"] is None
    assert kpis["premium_per_vehicle_month"] == pytest.approx(200 / 30 * 365.25 / 12, 0.01)


def _as_of(store: SimpleNamespace, cutoff: datetime) -> SimpleNamespace:
    """``store`` as it stood at ``cutoff`` (rows ingested after it hidden)."""
    def table(name: str) -> ibis.Table:
        t = store.table(name)
        return t.filter(t.ingested_at <= cutoff) if "ingested_at" in t.columns else t
    return SimpleNamespace(table=table, execute=store.execute, cutoff=cutoff)


def test_the_ledger_read_in_pieces_gives_the_features_read_at_once() -> None:
    store = _store(40, seed=4)
    ledger = DrivingLedger(block_days=20)
    for cutoff in (datetime(2026, 1, 25), datetime(2026, 2, 14, 12), datetime(2026, 3, 2, 6)):
        ledger.update(_as_of(store, cutoff), START)
    consenting = store.execute(consenting_vehicles(store))
    end = START + pd.Timedelta(days=DAYS - 1)
    pd.testing.assert_frame_equal(ledger.features(consenting),
                                  driver_features(store, START, end), rtol=1e-12)
    since = START + pd.Timedelta(days=20)  # a block's first day
    pd.testing.assert_frame_equal(ledger.features(consenting, since=since),
                                  driver_features(store, since, end), rtol=1e-12)


def test_a_record_trusted_by_its_miles_tempers_the_price_and_keeps_the_claims_expected() -> None:
    drivers = pd.DataFrame({"miles": [100.0, 100.0, 50_000.0, 50_000.0],
                            "miles_per_day": [30.0] * 4, "claims": [0, 0, 0, 0],
                            "pcf_v22": [0.5, 2.0, 0.5, 2.0],
                            **{f: [0.0, 2.0, 0.0, 2.0] for f in PCF_FACTORS}})
    rating = PcfRating(base=1e-5, mean_points={f: 1.0 for f in PCF_FACTORS})
    plain = rating.prices(drivers, InsuranceConfig())
    trusted = rating.prices(drivers, InsuranceConfig(), Credibility(k=1_000.0, base=1e-5))
    # 100 miles say little: those two drivers are priced close together; 50,000 say much
    assert trusted.premium[1] / trusted.premium[0] < 1.2 < plain.premium[1] / plain.premium[0]
    assert trusted.premium[3] / trusted.premium[2] == pytest.approx(
        plain.premium[3] / plain.premium[2], rel=0.1)
    assert trusted.expected.sum() == pytest.approx(plain.expected.sum())
    braking = [json.loads(f)["hard_braking"] for f in trusted.factors]
    assert abs(np.log(braking[1])) < abs(np.log(braking[3]))  # the short record's is tempered


def test_how_far_a_record_is_trusted_is_learnt_from_the_last_complete_period() -> None:
    # 120 days: the rating fitted on days 0–59 is judged on days 60–89's claims
    config = InsuranceConfig(first_day=0, min_claims=1, glm_min_claims=10**9,
                             credibility_min_claims=10)
    now = (START + pd.Timedelta(days=120, hours=6)).to_pydatetime()
    ctx = DayContext(119, now, _store(300, seed=5, days=120))
    (decision,) = InsuranceModule(config).decide(ctx)
    assert decision.inputs["credibility_k_miles"] is not None
    assert decision.inputs["credibility_k_miles"] >= 0
    assert len(ctx.emitted["premiums"]) == 225  # 300 customers, every fourth without consent
    # too few claims in the last complete period: every record trusted fully
    strict = dataclasses.replace(config, credibility_min_claims=10**6)
    (decision,) = InsuranceModule(strict).decide(DayContext(119, now, _store(300, seed=5,
                                                                          days=120)))
    assert decision.inputs["credibility_k_miles"] is None
