"""Offer experiments and uplift: power, the always-valid interval, the T-learner, Qini,
outcomes read from the store."""

from __future__ import annotations

import json
from datetime import date, datetime

import ibis
import numpy as np
import pandas as pd
import pytest

from gigaloop.actuate import Offer
from gigaloop.customer.experiment import confidence_sequence, look, sample_size
from gigaloop.customer.offers import OffersConfig, OffersModule
from gigaloop.customer.revenue import software_kpis
from gigaloop.customer.uplift import TLearner, outcomes, qini
from gigaloop.errors import ConfigError
from gigaloop.loop.contract import DayContext


def test_the_sample_size_gives_the_power_it_promises() -> None:
    rng = np.random.default_rng(0)
    n_t, n_c = sample_size(0.01, 0.03, power=0.8, treated_share=0.75)
    assert n_t == pytest.approx(3 * n_c, rel=0.01)
    t = rng.binomial(n_t, 0.03, 4000) / n_t
    c = rng.binomial(n_c, 0.01, 4000) / n_c
    z = (t - c) / np.sqrt(t * (1 - t) / n_t + c * (1 - c) / n_c + 1e-12)
    assert 0.76 < np.mean(z > 1.96) < 0.86


def test_impossible_designs_raise() -> None:
    with pytest.raises(ConfigError):
        sample_size(0.05, 0.05)


def test_the_confidence_sequence_stays_valid_under_weekly_peeking() -> None:
    """No effect, 20 looks each: the naive 95 % interval excludes 0 at some look far more
    often than 5 %; the mSPRT's interval does not."""
    rng = np.random.default_rng(1)
    runs, looks, batch = 400, 20, 200
    naive = valid = 0
    for _ in range(runs):
        t = rng.random((looks, batch)) < 0.05
        c = rng.random((looks, batch)) < 0.05
        hit_naive = hit_valid = False
        for k in range(1, looks + 1):
            tt, cc = t[:k].ravel().astype(float), c[:k].ravel().astype(float)
            s2 = tt.var(ddof=1) / len(tt) + cc.var(ddof=1) / len(cc)
            d = tt.mean() - cc.mean()
            hit_naive |= abs(d) > 1.96 * np.sqrt(s2)
            low, high = confidence_sequence(d, s2, tau2=0.02**2)
            hit_valid |= low > 0 or high < 0
        naive += hit_naive
        valid += hit_valid
    assert naive / runs > 0.15
    assert valid / runs <= 0.05


def test_a_look_finds_a_real_effect() -> None:
    rng = np.random.default_rng(2)
    result = look((rng.random(3000) < 0.06).astype(float),
                  (rng.random(1000) < 0.01).astype(float), tau2=0.015**2)
    assert result is not None and result.significant and result.ci[0] > 0
    assert look(np.ones(1), np.zeros(5), tau2=1.0) is None


def test_the_t_learner_ranks_responders_first_and_random_scores_do_not() -> None:
    rng = np.random.default_rng(3)
    n = 6000
    x = pd.DataFrame({"miles": rng.normal(size=n), "noise": rng.normal(size=n)})
    treated = rng.random(n) < 0.7
    p = 0.02 + 0.2 * (x.miles > 1)
    y = 99.0 * (treated & (rng.random(n) < p))
    model = TLearner(seed=0).fit(x[: n // 2], y[: n // 2], treated[: n // 2])
    test = slice(n // 2, n)
    good = qini(model.predict(x[test]), y[test], treated[test])
    chance = qini(rng.random(n - n // 2), y[test], treated[test])
    assert good["qini"] > 0.8 and good["uplift_top"] > 2 * good["uplift_all"]
    assert abs(chance["qini"]) < good["qini"] / 3


class Memory:
    """A store of in-memory tables (what the functions under test read)."""

    def __init__(self, **tables: pd.DataFrame) -> None:
        self.tables = {k: ibis.memtable(v) for k, v in tables.items()}

    def table(self, name: str) -> ibis.Table:
        return self.tables[name]

    def execute(self, expr: ibis.Expr) -> object:
        return expr.execute()


def _store() -> Memory:
    d = date
    subs = pd.DataFrame({
        "subscription_id": ["S1", "S2", "S2", "S3"], "customer_id": ["a", "b", "b", "c"],
        "product": ["fsd", "connectivity", "connectivity", "fsd"],
        "status": ["active", "active", "ended", "active"],
        "started_on": [d(2025, 2, 3), d(2024, 12, 1), d(2024, 12, 1), d(2025, 3, 30)],
        "ended_on": [None, None, d(2025, 2, 5), None],
        "monthly_price_usd": [99.0, 9.99, 9.99, 99.0]})
    offers = pd.DataFrame({"offer_id": ["O1"], "customer_id": ["c"], "campaign_id": ["T-1"],
                           "product": ["performance_upgrade"], "channel": ["app"],
                           "price_usd": [2000.0], "accepted": [True],
                           "event_time": [datetime(2025, 2, 4, 12)]})
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "vin": ["V1", "V2", "V3"],
                              "delivered_on": [d(2024, 11, 1)] * 3})
    return Memory(subscriptions=subs, offers=offers, customers=customers,
                  offer_assignments=pd.DataFrame({
                      "campaign_id": ["T-1"], "customer_id": ["a"], "product": ["fsd"],
                      "arm": ["targeted"], "predicted_uplift_usd": [1.0],
                      "event_time": [datetime(2025, 3, 1)]}))


def test_outcomes_count_starts_ends_and_one_off_purchases_inside_the_window() -> None:
    assigned = pd.DataFrame({"customer_id": ["a", "b", "c", "a"],
                             "product": ["fsd", "fsd", "performance_upgrade", "fsd"],
                             "start": pd.to_datetime(["2025-02-01"] * 3 + ["2025-03-01"])})
    out = outcomes(_store(), assigned, horizon_days=14)
    assert out.converted.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert out.revenue.round(2).tolist() == [99.0, -9.99, 2000.0, 0.0]


def test_software_kpis_add_one_off_revenue_and_count_churn() -> None:
    kpis = software_kpis(_store(), end=datetime(2025, 3, 31))
    assert kpis["offers_sent"] == 1
    assert kpis["software_revenue"] > 2000
    assert kpis["software_revenue_per_vehicle"] == pytest.approx(kpis["software_revenue"] / 3,
                                                                      abs=0.01)
    assert 0 < kpis["churn_monthly"] < 1
    assert kpis["offer_uplift"] is None  # one targeted customer and no holdout


def _people(n: int = 800) -> Memory:
    """``n`` customers, every other one agreed to marketing; telemetry for all."""
    rng = np.random.default_rng(4)
    ids = [f"CU-{i:012x}" for i in range(n)]
    vins = [f"5YJ3E1EA{i:09d}" for i in range(n)]
    day = date(2025, 2, 1)
    empty_subs = pd.DataFrame({"subscription_id": ["S0"], "customer_id": [ids[0]],
                               "product": ["fsd"], "status": ["active"],
                               "started_on": [date(2024, 1, 1)], "ended_on": [None],
                               "monthly_price_usd": [99.0]})
    return Memory(
        customers=pd.DataFrame({"customer_id": ids, "vin": vins, "climate_region": "hot",
                                "delivered_on": date(2024, 6, 1),
                                "consent_marketing": np.arange(n) % 2 == 0}),
        telemetry_daily=pd.DataFrame({"vin": vins, "day": day, "miles": rng.uniform(10, 80, n),
                                      "autopilot_miles": 5.0, "hard_braking_fraction": 0.01,
                                      "aggressive_turning_fraction": 0.02}),
        component_failures=pd.DataFrame({"vin": vins[:1], "event_time": [datetime(2025, 2, 1)]}),
        subscriptions=empty_subs,
        offers=pd.DataFrame({"customer_id": ["x"], "product": ["fsd"], "price_usd": [99.0],
                             "accepted": [False], "event_time": [datetime(2025, 1, 1)]}),
        feedback=pd.DataFrame({"customer_id": ids[:3], "rating": [5, 4, 1],
                               "event_time": [datetime(2025, 2, 1)] * 3}))


def test_the_module_offers_to_consenting_customers_only_and_writes_no_vin() -> None:
    store = _people()
    module = OffersModule(OffersConfig(products=("fsd",), model_treated=200))
    ctx = DayContext(14, datetime(2025, 2, 3, 6), store)
    decisions = module.decide(ctx)
    offers = [d.action for d in decisions if isinstance(d.action, Offer)]
    assert offers and offers[0].customer_ids and offers[0].not_offered
    customers = store.execute(store.table("customers"))
    agreed = set(customers.customer_id[customers.consent_marketing])
    assert {*offers[0].customer_ids, *offers[0].not_offered} <= agreed
    rows = ctx.emitted["offer_assignments"]
    assert {r["customer_id"] for r in rows} <= agreed
    vins = set(customers.vin)
    text = " ".join([offers[0].to_json(), str(rows),
                     *(json.dumps(d.inputs) for d in decisions)])
    assert not any(v in text for v in vins)


def test_the_report_shows_the_offer_kpis_in_words() -> None:
    from gigaloop.web.format import kpi_rows

    rows = {r.key: r.text for r in kpi_rows({
        "software_revenue_per_vehicle": 403.8, "churn_monthly": 0.0292, "offer_uplift": 5e5,
        "offer_uplift_ci95": [4e5, 6e5]})}
    assert rows == {"software_revenue_per_vehicle": "$403.80", "churn_monthly": "2.92 %",
                    "offer_uplift": "$500,000", "offer_uplift_ci95": "$400,000–$600,000"}
