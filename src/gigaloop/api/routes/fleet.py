"""The fleet: crash rates per million miles, and the predictive-service bookings the loop
made (owners invited before a part fails)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import ibis.expr.types as ir
from fastapi import APIRouter, Query

from gigaloop.api.deps import CurrentPrincipal, ServicesDep, allow
from gigaloop.api.pages import Limit, Offset, Page, decision_record, page
from gigaloop.appstate import Role
from gigaloop.fleet.safety import AUTOPILOT_REFERENCE_PER_MILLION, crash_rates
from gigaloop.store import Store

router = APIRouter(prefix="/fleet", tags=["fleet"])


@router.get("/safety", **allow(Role.fleet_operations, Role.plant_engineer,
                               Role.marketing_analyst))
def safety(services: ServicesDep) -> dict[str, Any]:
    """Crashes per million miles on Autopilot and in manual driving, with exact 95 %
    Poisson intervals (vehicles whose owners share telemetry only)."""
    with services.store.use() as store:
        rates = crash_rates(store)
    return {"per": "million miles", "level": 0.95, "modes": rates,
            "reference": {"autopilot": AUTOPILOT_REFERENCE_PER_MILLION,
                          "source": "published: one crash per 6.69 M miles on Autopilot"}}


@router.get("/predictive-service/bookings", **allow(Role.fleet_operations))
def bookings(services: ServicesDep, principal: CurrentPrincipal,
             component: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
             limit: Limit = 100, offset: Offset = 0) -> Page:
    """Owners booked for a visit before a part fails, newest first: the component, the
    precursor code and its measured precision (``inputs``), the VINs booked."""
    def query(store: Store) -> ir.Table:
        decisions = store.table("decisions")
        booked = decisions.filter(decisions.action_kind == "predictive_service")
        if component is not None:
            needle = json.dumps({"component": component})[1:-1]  # as the loop writes it
            booked = booked.filter(booked.action_json.contains(needle))
        return booked.order_by([booked.day.desc(), "module", "seq"])

    result = page(services, principal, query, limit, offset)
    result.rows = [decision_record(r) for r in result.rows]
    return result
