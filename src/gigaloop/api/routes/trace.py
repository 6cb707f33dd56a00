"""Traceability both ways (:mod:`gigaloop.loop.trace`): a vehicle back to what built it,
a lot / station / machine / build window / reading range forward to every vehicle it
touched and where that vehicle is now."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from gigaloop.api.deps import CurrentPrincipal, ServicesDep, allow
from gigaloop.api.pages import Limit, Offset, Page, window
from gigaloop.appstate import Role
from gigaloop.errors import ConfigError, NotFoundError
from gigaloop.loop.trace import page_of_vehicles_touched, vehicle_trace

router = APIRouter(prefix="/trace", tags=["trace"])
TRACERS = (Role.plant_engineer, Role.fleet_operations)
Text = Annotated[str | None, Query(min_length=1, max_length=100)]


@router.get("/vehicles/{vin}", **allow(*TRACERS))
def backwards(vin: str, services: ServicesDep, principal: CurrentPrincipal,
              limit: Limit = 1000, offset: Offset = 0) -> Page:
    """Everything that built ``vin``: lots, suppliers, machines, shifts, revisions and
    every process reading (``kind``, ``name``, ``value``, ``unit``).

    One vehicle's trace is a few hundred rows, read in one query and paged here; a known
    vehicle always has its build links, so an empty trace means an unknown VIN."""
    with services.store.use() as store:
        rows = store.to_pyarrow(vehicle_trace(store, vin)).to_pylist()
    if not rows:
        raise NotFoundError(f"no vehicle {vin!r} in the store", vin=vin)
    return window(rows, services, principal, limit, offset)


@router.get("/vehicles", **allow(*TRACERS))
def forwards(services: ServicesDep, principal: CurrentPrincipal, lot: Text = None,
             station: Text = None, machine: Text = None, built_from: date | None = None,
             built_to: date | None = None, parameter: Text = None,
             value_min: float | None = None, value_max: float | None = None,
             limit: Limit = 100, offset: Offset = 0) -> Page:
    """Vehicles matching every criterion given (at least one), with where they are now:
    customer, region, last telemetry day, odometer, failures, campaigns."""
    if (value_min is None) != (value_max is None):
        raise ConfigError("give both value_min and value_max, or neither")
    if value_min is not None and parameter is None:
        raise ConfigError("a value range needs the parameter it applies to")
    if all(v is None for v in (lot, station, machine, built_from, built_to, parameter)):
        raise ConfigError("give at least one of lot, station, machine, built_from, built_to, "
                          "parameter")
    span = (value_min, value_max) if value_min is not None and value_max is not None else None
    criteria = {"lot": lot, "station": station, "machine": machine, "built_from": built_from,
                "built_to": built_to, "parameter": parameter, "value_range": span}
    limit = min(limit, services.settings.max_page_rows)
    with services.store.use() as store:
        total, rows = page_of_vehicles_touched(store, **criteria, limit=limit, offset=offset)
    return Page(total=total, offset=offset, limit=limit,
                rows=services.pseudonyms.present(rows.to_pylist(), principal.role))
