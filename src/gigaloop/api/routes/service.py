"""Who am I, is the service up, and its OpenAPI document (a token is needed for each)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from gigaloop.api.deps import ALL_ROLES, CurrentPrincipal, ServicesDep, allow
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


@router.get("/openapi.json", **allow(*ALL_ROLES), include_in_schema=False)
def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI document; each operation lists the roles it allows in ``x-roles``."""
    return request.app.openapi()
