"""The fleet: crash rates per million miles, and the predictive-service bookings the loop
made (owners invited before a part fails)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import ibis.expr.types as ir
from fastapi import APIRouter, Query

from gigaloop.api.deps import CurrentPrincipal, ServicesDep, allow
from gigaloop.api.pages import Limit, Offset, Page, decision_record, page
from gigaloop.appstate import Role
from gigaloop.fleet.safety import AUTOPILOT_REFERENCE_PER_MILLION, crash_rates, crash_rates_by
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


@router.get("/safety/by/{grouping}", **allow(Role.fleet_operations, Role.plant_engineer))
def safety_by(grouping: Literal["software_version", "hardware_revision", "week"],
              services: ServicesDep) -> dict[str, Any]:
    """Crashes per million miles per mode and software version, hardware revision or
    week (Monday), with exact 95 % Poisson intervals (sharing owners only)."""
    with services.store.use() as store:
        rates = crash_rates_by(store, grouping)
    rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in rates.to_dict("records")]
    return {"per": "million miles", "level": 0.95, "by": grouping, "rows": rows}


@router.get("/deployments", **allow(Role.fleet_operations, Role.plant_engineer))
def deployments(services: ServicesDep, principal: CurrentPrincipal,
                limit: Limit = 100, offset: Offset = 0) -> Page:
    """Software rollout stages, newest first: release, stage (canary, staged, full,
    rolled_back), fleet share, status (:mod:`gigaloop.fleet.rollout`)."""
    def query(store: Store) -> ir.Table:
        table = store.table("deployments")
        return table.order_by([table.event_time.desc(), "deployment_id"])

    return page(services, principal, query, limit, offset)


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
