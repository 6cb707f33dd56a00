"""Who am I, is the service up, what has its decision cycle done, and its OpenAPI document
(a token is needed for each)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from gigaloop.api.deps import ALL_ROLES, CurrentPrincipal, ServicesDep, allow
from gigaloop.appstate import Role
from gigaloop.appstate.migrate import HEAD, current_revision

router = APIRouter(tags=["service"])


class Me(BaseModel):
    user: str
    role: str
    token_id: str
    source_id: str | None


class Health(BaseModel):
    store: str
    database: str
    schema_revision: str | None
    schema_head: str | None


@router.get("/me", **allow(*ALL_ROLES))
def me(principal: CurrentPrincipal) -> Me:
    """The caller: user, role, token id and (device tokens) the source it is bound to."""
    return Me(user=principal.user, role=principal.role.value, token_id=principal.token_id,
              source_id=principal.source_id)


@router.get("/health", **allow(*ALL_ROLES))
def health(services: ServicesDep) -> Health:
    """The store served and the app-state database, at which schema revision."""
    engine = services.state.engine
    return Health(store=services.store.root, database=engine.url.get_backend_name(),
                  schema_revision=current_revision(engine), schema_head=HEAD)


class DecideStatus(BaseModel):
    """The daily decision cycle: whether it runs, how often, with which approval; its last
    tick, the last day decided, the days and findings since the service started, and the
    last error (``null`` once a later day was decided without one)."""

    running: bool
    every_s: float | None = None
    approval: str | None = None
    last_tick_at: datetime | None = None
    last_day: int | None = None
    days_decided: int = 0
    findings_reported: int = 0
    last_error: str | None = None


@router.get("/decide/status", **allow(Role.plant_engineer, Role.fleet_operations,
                                      Role.marketing_analyst, Role.admin))
def decide_status(services: ServicesDep) -> DecideStatus:
    """What the service's decision cycle has done (``GIGALOOP_DECIDE_EVERY_S``; 0: it
    does not run, and ``gigaloop decide`` is left to run it)."""
    if services.schedule is None:
        return DecideStatus(running=False)
    return DecideStatus(running=True, **vars(services.schedule.status))


@router.get("/openapi.json", **allow(*ALL_ROLES), include_in_schema=False)
def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI document; each operation lists the roles it allows in ``x-roles``."""
    return request.app.openapi()
