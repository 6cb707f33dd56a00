"""The offers module on a short twin run: experiment → model → targeting, consent, privacy.

One run of the twin (an installed base of 4,000 vehicles, 50 days) with a small design, so
every phase happens: about 15 s, hence ``slow``; the fast twins of the consent and privacy
tests are in ``test_offers.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gigaloop.actuate import Offer
from gigaloop.customer.offers import OffersConfig, OffersModule
from gigaloop.customer.uplift import customer_features
from gigaloop.ingest import ingest
from gigaloop.loop.cycle import DailyCycle
from gigaloop.loop.offer_scoring import offers_against_truth
from gigaloop.store import Store
from gigaloop.twin import Twin, TwinDay

pytestmark = pytest.mark.slow
SMALL = OffersConfig(products=("fsd", "performance_upgrade"), first_day=7,
                     experiment_round=1500, model_treated=500, round_offers=100,
                     mde=(("fsd", 0.04), ("performance_upgrade", 0.03)))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    twin = Twin.from_scenario(seed=2, fleet=4000)
    store = Store(tmp_path_factory.mktemp("offers") / "store")
    module = OffersModule(config=SMALL, every_days=7)
    sent: list[Offer] = []

    class Recording:
        def apply(self, action: Offer) -> Any:
            sent.append(action)
            return twin.apply(action)

    cycle = DailyCycle([module], Recording(), store)
    for day in range(50):
        now = twin.day_end(day)
        source = TwinDay(twin, day)
        source.simulate()
        ingest(source, store, now)
        cycle.run_day(day, now)
    yield twin, store, module, sent, now
    store.close()


def test_each_product_goes_from_experiment_to_targeting(run: Any) -> None:
    _twin, store, module, sent, _ = run
    for product in SMALL.products:
        state = module.states[product]
        assert state.phase == "target", (product, state.looks[-1:])
        assert state.planned is not None and state.decided_day is not None
        assert state.evaluation is not None and "qini" in state.evaluation
    campaigns = {o.campaign_id[:2] for o in sent}
    assert campaigns == {"X-", "T-"}
    assignments = store.execute(store.table("offer_assignments"))
    assert set(assignments.arm) == {"treatment", "control", "targeted", "holdout"}
    offered = set(store.execute(store.table("offers")).customer_id)
    controls = set(assignments.customer_id[assignments.campaign_id.str.startswith("X-")
                                           & (assignments.arm == "control")])
    targeted_later = set(assignments.customer_id[assignments.arm == "targeted"])
    assert not (controls - targeted_later) & offered  # controls were never contacted


def test_only_customers_who_agreed_to_marketing_get_offers(run: Any) -> None:
    twin, store, _, sent, _ = run
    customers = store.execute(store.table("customers"))
    agreed = set(customers.customer_id[customers.consent_marketing])
    named = {c for o in sent for c in (*o.customer_ids, *o.not_offered)}
    assert named and named <= agreed
    assert offers_against_truth(twin.truth())["offered_without_consent"] == 0


def test_marketing_outputs_carry_pseudonymous_ids_only(run: Any) -> None:
    """No VIN (nor a name: the store holds none) in anything the module sends or writes."""
    _, store, _, sent, now = run
    vins = set(store.execute(store.table("vehicles").select("vin")).vin)
    payloads = [o.to_json() for o in sent]
    decisions = store.execute(store.table("decisions"))
    payloads += decisions[["action_json", "inputs_json"]].fillna("").to_numpy().ravel().tolist()
    assignments = store.execute(store.table("offer_assignments"))
    features = customer_features(store, pd.Timestamp(now))
    frames = [assignments, store.execute(store.table("offers")), features.reset_index()]
    for frame in frames:
        assert not {"vin", "name", "first_vin"} & set(frame.columns)
        payloads.append(frame.to_csv())
    text = "\n".join(payloads)
    token = re.compile(r"[A-Z0-9]{11,17}")
    assert not vins & set(token.findall(text))
    assert all(re.fullmatch(r"CU-[0-9a-f]{12}", c) for c in assignments.customer_id)


def test_targeting_beats_random_on_the_hidden_response(run: Any) -> None:
    twin = run[0]
    score = offers_against_truth(twin.truth())
    assert score["all"]["offers"] > 0
    assert score["all"]["ratio"] > 1.0  # the bench measures ≥ 1.3 on larger worlds


def test_decisions_record_the_design_and_the_looks(run: Any, tmp_path: Path) -> None:
    store = run[1]
    decisions = store.execute(store.table("decisions"))
    inputs = [json.loads(i) for i in decisions.inputs_json]
    planned = [i for i in inputs if "planned" in i]
    assert {i["product"] for i in planned} == set(SMALL.products)
    ended = [i for i in inputs if "evaluation" in i]  # experiments that led to targeting
    assert len(ended) == len(SMALL.products)
    assert all(i["look"]["conversion"]["ci"][0] > 0 for i in ended)


def test_fsd_targeting_runs_a_price_experiment_beside_the_list_price(run: Any) -> None:
    """Each FSD round until the price decision is split between $99 and $49.50 (sent as
    ``T-fsd-…-p``), both naming the same holdout; the store bills the price accepted."""
    twin, store, module, sent, _ = run
    exp = module.prices["fsd"]
    assert "performance_upgrade" not in module.prices  # a subscription product only
    rounds = [o for o in sent if o.campaign_id.startswith("T-fsd-")]
    changed = [o for o in rounds if o.campaign_id.endswith("-p")]
    assert changed and all(o.price_usd == 49.5 for o in changed)
    for o in changed:
        (sibling,) = [s for s in rounds if s.campaign_id == o.campaign_id[:-2]]
        assert sibling.price_usd == 99.0 and sibling.not_offered == o.not_offered
        assert not set(sibling.customer_ids) & set(o.customer_ids)
    assert exp.assigned is not None and set(exp.assigned.arm) == {"list", "changed",
                                                                  "holdout"}
    offers = store.execute(store.table("offers"))
    paid = offers[offers.campaign_id.isin([o.campaign_id for o in changed])]
    assert (paid.price_usd == 49.5).all() and len(paid)
    subs = store.execute(store.table("subscriptions"))
    took = set(paid.customer_id[paid.accepted])
    at_half = subs[(subs["product"] == "fsd") & (subs.monthly_price_usd == 49.5)]
    assert took and set(at_half.customer_id) == took  # (earlier or later ones bill $99)
    prices = offers_against_truth(twin.truth())["prices"]["fsd"]
    arms = prices["experiment"]
    assert arms["changed"]["prices_usd"] == [49.5] and arms["list"]["gain_usd"] == 0
    assert arms["changed"]["offers"] == len(paid)  # those sent by the last day
