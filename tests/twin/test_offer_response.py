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
