"""The plant: SPC alarms on process streams, and the maintenance orders the loop sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import ibis.expr.types as ir
from fastapi import APIRouter, Query

from gigaloop.api.deps import CurrentPrincipal, ServicesDep, allow
from gigaloop.api.pages import Limit, Offset, Page, decision_record, page
from gigaloop.appstate import Role
from gigaloop.store import Store

router = APIRouter(prefix="/plant", tags=["plant"])
Text = Annotated[str | None, Query(min_length=1, max_length=100)]


@router.get("/spc-alarms", **allow(Role.plant_engineer))
def spc_alarms(services: ServicesDep, principal: CurrentPrincipal, station: Text = None,
               machine: Text = None, parameter: Text = None, since: datetime | None = None,
               until: datetime | None = None, limit: Limit = 100, offset: Offset = 0) -> Page:
    """Control-chart alarms, newest first, narrowed by station, machine, parameter and
    time (``event_time``, UTC)."""
    def query(store: Store) -> ir.Table:
        alarms = store.table("spc_alarms")
        for column, value in (("station_id", station), ("machine_id", machine),
                              ("parameter", parameter)):
            if value is not None:
                alarms = alarms.filter(alarms[column] == value)
        if since is not None:
            alarms = alarms.filter(alarms.event_time >= _naive(since))
        if until is not None:
            alarms = alarms.filter(alarms.event_time <= _naive(until))
        return alarms.order_by([alarms.event_time.desc(), "machine_id", "parameter", "rule"])

    return page(services, principal, query, limit, offset)


@router.get("/maintenance-orders", **allow(Role.plant_engineer))
def maintenance_orders(services: ServicesDep, principal: CurrentPrincipal,
                       machine: Text = None, limit: Limit = 100, offset: Offset = 0) -> Page:
    """Maintenance orders the loop sent, newest first: the machine, the day it takes effect,
    why (the evidence it was decided on), and whether the plant accepted it."""
    def query(store: Store) -> ir.Table:
        decisions = store.table("decisions")
        orders = decisions.filter(decisions.action_kind == "maintenance_order")
        if machine is not None:
            needle = json.dumps({"machine_id": machine})[1:-1]  # as the loop writes it
            orders = orders.filter(orders.action_json.contains(needle))
        return orders.order_by([orders.day.desc(), "module", "seq"])

    result = page(services, principal, query, limit, offset)
    result.rows = [decision_record(r) for r in result.rows]
    return result



def _naive(moment: datetime) -> datetime:
    """UTC without a time zone, as the store keeps times."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
