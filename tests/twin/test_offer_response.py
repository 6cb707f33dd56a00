"""The twin's offers: hidden, heterogeneous answers; consent; averse customers; truth."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from gigaloop.actuate import Offer
from gigaloop.twin import Twin
from gigaloop.twin import offers as twin_offers
from gigaloop.twin.customers import draw_drivers


def _twin(fleet: int = 3000, days: int = 2) -> tuple[Twin, list[dict[str, pa.Table]]]:
    twin = Twin.from_scenario(seed=3, fleet=fleet)
    return twin, [twin.step(day) for day in range(days)]


def _ids(twin: Twin, consent: bool) -> list[str]:
    f = twin.fleet
    mask = f.info.view("consent_marketing") == consent
    return [c for c, m in zip(f.customer_ids.to_pylist(), mask, strict=True) if m]


def test_answers_depend_on_what_the_store_can_see() -> None:
    rng = np.random.default_rng(0)
    drivers = draw_drivers(rng, np.zeros(20_000))
    none = np.zeros(20_000, bool)
    p = {product: twin_offers.OfferResponse.accept_probability(
        product, drivers, none, age_years=np.zeros(20_000), tech=np.zeros(20_000),
        unhappy=none) for product in twin_offers.ACCEPT}
    heavy = drivers["ap_share"] > 0.4
    assert p["fsd"][heavy].mean() > 3 * p["fsd"][drivers["ap_share"] < 0.15].mean()
    aggressive = drivers["style"] == 2
    assert p["performance_upgrade"][aggressive].mean() > 4 * p["performance_upgrade"][
        ~aggressive].mean()
    assert 0.01 < p["fsd"].mean() < 0.12  # a few per cent on average, far more for some


def test_only_consenting_customers_are_contacted_and_prices_are_list_prices() -> None:
    twin, _ = _twin()
    yes, no = _ids(twin, True), _ids(twin, False)
    refused = twin.apply(Offer(day=2, campaign_id="X", product="fsd", price_usd=49.0,
                               customer_ids=tuple(yes[:5])))
    assert not refused.accepted and "list price" in refused.detail
    assert not twin.apply(Offer(day=2, product="cupholder", price_usd=1.0)).accepted
    assert twin.apply(Offer(day=2, campaign_id="T-fsd-001", product="fsd", price_usd=99.0,
                            customer_ids=tuple(yes[:400] + no[:100]),
                            not_offered=tuple(yes[400:800]))).accepted
    offers = twin.step(2)["offers"]
    assert offers.num_rows == 400
    assert set(offers.column("customer_id").to_pylist()) <= set(yes[:400])
    truth = twin.truth()["offers"][0]
    assert truth["offered_without_consent"] == 100 and len(truth["offered"]) == 400
    assert truth["held"] == 400


def test_accepted_subscriptions_start_and_averse_customers_cancel() -> None:
    twin, _ = _twin(fleet=6000)
    yes = _ids(twin, True)
    twin.apply(Offer(day=2, campaign_id="X-fsd-01", product="fsd", price_usd=99.0,
                     customer_ids=tuple(yes)))
    tables = twin.step(2)
    offers, subs = tables["offers"].to_pandas(), tables["subscriptions"].to_pandas()
    taken = set(offers.customer_id[offers.accepted])
    started = subs[(subs.status == "active") & (subs["product"] == "fsd")]
    assert taken and taken <= set(started.customer_id)
    ended = subs[subs.status == "ended"]
    assert len(ended) > 10  # pushy offers: averse subscribers cancel the same day
    uplift = np.array(list(twin.truth()["offers"][0]["offered"].values()))
    assert (uplift < 0).any() and (uplift > 5).any()


def test_offers_change_nothing_else_on_the_day_they_are_sent() -> None:
    """Offers draw from their own stream; later, the subscriptions they changed shift how
    many organic subscription events the day draws times for, and the world diverges as it
    does after any action."""
    plain, _ = _twin()
    offered, _ = _twin()
    offered.apply(Offer(day=2, campaign_id="X", product="performance_upgrade",
                        price_usd=2000.0, customer_ids=tuple(_ids(offered, True)[:300])))
    a, b = plain.step(2), offered.step(2)
    assert set(a) == set(b) - {"offers"}
    for name in set(a) - {"offers", "subscriptions"}:
        assert a[name].equals(b[name]), name
    assert b["offers"].num_rows == 300


def test_traits_do_not_depend_on_when_they_are_drawn() -> None:
    once, twice = (twin_offers.OfferResponse(np.random.default_rng(5)) for _ in range(2))
    once.grow(100)
    twice.grow(40)
    twice.grow(100)
    assert once.tech == pytest.approx(twice.tech)


# ---- prices ---------------------------------------------------------------------------------
def test_acceptance_falls_with_price_and_more_for_low_mileage_and_older_cars() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    drivers = draw_drivers(rng, np.zeros(n))
    none, age = np.zeros(n, bool), rng.uniform(0, 6, n)
    eps = twin_offers.OfferResponse.elasticity(drivers, age_years=age,
                                               price_z=rng.standard_normal(n))
    p = {r: twin_offers.OfferResponse.accept_probability(
        "fsd", drivers, none, age_years=age, tech=np.zeros(n), unhappy=none, price_ratio=r,
        elasticity=eps) for r in (0.5, 0.75, 1.0, 1.25, 1.5)}
    means = [p[r].mean() for r in sorted(p)]
    assert (np.diff(means) < 0).all()
    assert (p[0.5] > p[1.0]).all() and (p[1.5] < p[1.0]).all()  # every customer
    # the hidden rule: log-odds fall by ε × ln(price ÷ list)
    odds = lambda q: q / (1 - q)  # noqa: E731
    assert np.log(odds(p[1.5]) / odds(p[1.0])) == pytest.approx(-eps * np.log(1.5))
    miles = np.log(drivers["mean_miles"])
    low, high = miles < np.quantile(miles, 0.25), miles > np.quantile(miles, 0.75)
    assert eps[low].mean() > 1.3 * eps[high].mean()
    assert eps[age > 4].mean() > 1.3 * eps[age < 2].mean()
    # at list price nothing about price enters: exactly the old answer
    assert np.array_equal(p[1.0], twin_offers.OfferResponse.accept_probability(
        "fsd", drivers, none, age_years=age, tech=np.zeros(n), unhappy=none))


def test_the_old_streams_are_untouched_by_the_price_trait() -> None:
    """The traits drawn before prices were modelled — ``rng.spawn(2)``: traits, answers —
    are drawn exactly as before; price sensitivity comes from a third child."""
    book = twin_offers.OfferResponse(np.random.default_rng(7))
    book.grow(500)
    traits, answers = np.random.default_rng(7).spawn(2)
    u = traits.random((500, 2))
    assert np.array_equal(book.tech, twin_offers.ndtri(u[:, 0]))
    assert np.array_equal(book._u_averse, u[:, 1])
    assert np.array_equal(book.draw(10), answers.random(10))
    assert not np.allclose(book.price_z[:100], book.tech[:100])


def test_a_list_price_offer_is_answered_and_billed_as_before() -> None:
    """Named and unnamed list price give the same answer, bill the list price, and the
    world's other tables stay as a twin that was sent nothing."""
    twin, _ = _twin()
    book, f = twin.fleet.offer_response, twin.fleet
    idx = np.arange(500)
    drivers = {k: f.vehicles.view(k)[idx] for k in ("mean_miles", "ap_share", "style",
                                                   "climate")}
    held = {q: f.subscriptions.active[q][idx] >= 0 for q in ("fsd", "connectivity")}
    kw = {"age_years": np.ones(500), "unhappy": np.zeros(500, bool), "style": drivers["style"]}
    plain = book.respond("fsd", idx, drivers, held, **kw)
    named = book.respond("fsd", idx, drivers, held, price_usd=None, **kw)
    for key in plain:
        assert np.array_equal(plain[key], named[key]), key
    assert np.array_equal(plain["value"], plain["value_at_list"])
    yes = _ids(twin, True)
    twin.apply(Offer(day=2, campaign_id="T-fsd-001", product="fsd", price_usd=99.0,
                     customer_ids=tuple(yes[:1500])))
    subs = twin.step(2)["subscriptions"].to_pandas()
    started = subs[(subs.status == "active") & (subs["product"] == "fsd")]
    assert len(started) and (started.monthly_price_usd == 99.0).all()
    assert twin.fleet.subscriptions.churn_multiplier("fsd") is None


def test_prices_outside_the_band_are_refused_with_a_reason() -> None:
    twin, _ = _twin(days=1)
    for usd in (49.0, 148.6, 0.0, float("nan"), -99.0):
        receipt = twin.apply(Offer(day=1, product="fsd", price_usd=usd))
        assert not receipt.accepted, usd
        assert "outside" in receipt.detail
        assert "50%–150% of its list price 99.0" in receipt.detail
    for usd in (49.5, 74.25, 148.5):
        assert twin.apply(Offer(day=1, product="fsd", price_usd=usd)).accepted, usd
    assert twin.apply(Offer(day=1, product="performance_upgrade", price_usd=1000.0)).accepted


def test_a_subscription_started_at_an_offered_price_bills_it_and_churns_less() -> None:
    twin, _ = _twin(fleet=6000)
    yes = _ids(twin, True)
    twin.apply(Offer(day=2, campaign_id="T-fsd-001", product="fsd", price_usd=49.5,
                     customer_ids=tuple(yes[:1500]), not_offered=tuple(yes[1500:2000])))
    tables = twin.step(2)
    offers, subs = tables["offers"].to_pandas(), tables["subscriptions"].to_pandas()
    assert (offers.price_usd == 49.5).all()
    started = subs[(subs.status == "active") & (subs["product"] == "fsd")]
    taken = set(offers.customer_id[offers.accepted])
    assert taken and taken <= set(started.customer_id)
    paid = started.set_index("customer_id").monthly_price_usd
    assert (paid[list(taken)] == 49.5).all()  # organic starts the same day bill list price
    assert (paid.drop(list(taken)) == 99.0).all()
    cancelled = subs[subs.status == "ended"]  # averse customers' list-price subscriptions
    assert (cancelled.monthly_price_usd.isin([99.0, 9.99])).all()
    mult = twin.fleet.subscriptions.churn_multiplier("fsd")
    assert mult is not None and sorted(set(mult.round(3))) == [0.5, 1.0]
    truth = twin.truth()["offers"][0]
    assert truth["price_usd"] == 49.5 and truth["list_price_usd"] == 99.0
    assert truth["offered_value_usd"] != truth["offered_value_at_list_usd"]
    assert twin_offers.months("fsd", 49.5) > twin_offers.months("fsd", 99.0)


def test_the_truths_value_rises_with_acceptance_and_falls_with_price_paid() -> None:
    twin, _ = _twin()
    book, f = twin.fleet.offer_response, twin.fleet
    idx = np.arange(2000)
    drivers = {k: f.vehicles.view(k)[idx] for k in ("mean_miles", "ap_share", "style",
                                                   "climate")}
    held = {q: np.zeros(2000, bool) for q in ("fsd", "connectivity")}
    kw = {"age_years": np.ones(2000), "unhappy": np.zeros(2000, bool),
          "style": drivers["style"]}
    half = book.respond("fsd", idx, drivers, held, price_usd=49.5, **kw)
    listed = book.respond("fsd", idx, drivers, held, **kw)
    assert (half["p"] >= listed["p"]).all() and half["p"].mean() > 1.5 * listed["p"].mean()
    assert np.allclose(half["value_at_list"], listed["value"])
    bought = half["p"] > 0
    per_start = (half["value"][bought] + 0.0) / half["p"][bought]  # no organic, no loss
    assert per_start.max() < 49.5 * twin_offers.months("fsd", 49.5) + 1e-9
