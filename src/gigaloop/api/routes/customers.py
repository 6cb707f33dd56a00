"""Customers, as each role may see them: fleet operations with their ids; marketing only
those who agreed to offers, under keyed pseudonyms (:mod:`gigaloop.api.privacy`)."""

from __future__ import annotations

from typing import Annotated

import ibis
import ibis.expr.types as ir
from fastapi import APIRouter, Query

from gigaloop.api.deps import CurrentPrincipal, ServicesDep, allow
from gigaloop.api.pages import Limit, Offset, Page, page
from gigaloop.api.privacy import PSEUDONYMOUS_ROLES
from gigaloop.appstate import Role
from gigaloop.store import Store

router = APIRouter(prefix="/customers", tags=["customers"])


@router.get("", **allow(Role.fleet_operations, Role.marketing_analyst))
def customers(services: ServicesDep, principal: CurrentPrincipal,
              region: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
              limit: Limit = 100, offset: Offset = 0) -> Page:
    """Customers with their region, climate, consents and active subscriptions. Marketing
    sees only customers who agreed to offers, and pseudonyms instead of customer ids and
    VINs."""
    marketing = principal.role in PSEUDONYMOUS_ROLES

    def query(store: Store) -> ir.Table:
        people = store.table("customers")
        if marketing:
            people = people.filter(people.consent_marketing)
        if region is not None:
            people = people.filter(people.region == region)
        subs = store.table("subscriptions")
        ended = subs.filter(subs.status == "ended").select("subscription_id")
        active = subs.filter(subs.status == "active").anti_join(ended, "subscription_id")
        products = active.group_by("customer_id").aggregate(
            active_subscriptions=active["product"].collect())
        joined = people.left_join(products, "customer_id").drop("customer_id_right")
        shown = joined.select("customer_id", "vin", "region", "climate_region", "delivered_on",
                              "consent_telemetry", "consent_marketing", "consent_insurance",
                              active_subscriptions=joined.active_subscriptions.fill_null(
                                  ibis.literal([], type="array<string>")))
        return shown.order_by("customer_id")

    return page(services, principal, query, limit, offset)
