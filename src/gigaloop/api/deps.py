"""What routes depend on: the services the app owns, the caller, and the role gate.

Every route declares the roles it allows with :func:`allow` (``@router.get(…,
**allow(Role.plant_engineer))``): a dependency that authenticates the bearer token and
refuses other roles, and an ``x-roles`` list in the route's OpenAPI entry. The app also
authenticates every route (an app-wide dependency), and
:func:`gigaloop.api.main.create_app` refuses to build an app with an operation that lists
no roles, so no route can be added without saying who may call it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gigaloop.api.privacy import Pseudonyms
from gigaloop.api.settings import ServiceSettings
from gigaloop.appstate import AppState, Principal, Role
from gigaloop.errors import AccessDenied, AuthError
from gigaloop.store import Store

if TYPE_CHECKING:
    from gigaloop.api.schedule import DecisionSchedule


class StoreHandle:
    """The app's one :class:`Store` (it holds the folder's single-writer lock), used by
    one request at a time."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()

    @property
    def root(self) -> str:
        return str(self._store.root)

    @contextmanager
    def use(self) -> Iterator[Store]:
        with self._lock:
            yield self._store

    def close(self) -> None:
        with self._lock:
            self._store.close()


@dataclass
class Services:
    """What the app owns for its lifetime (made in its lifespan, closed at shutdown)."""

    store: StoreHandle
    state: AppState
    settings: ServiceSettings
    pseudonyms: Pseudonyms
    schedule: DecisionSchedule | None = None  # the daily decision cycle, when it runs


def get_services(request: Request) -> Services:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:  # pragma: no cover - only when the lifespan did not run
        raise RuntimeError("the app's services are not open: run it with its lifespan")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
_bearer = HTTPBearer(auto_error=False, description="an API token: `Authorization: Bearer glp_…`")


#: The dashboard's session cookie: the token itself, HttpOnly and SameSite=Strict.
SESSION_COOKIE = "gigaloop_session"
#: A browser request authenticated by the cookie alone that changes something must carry
#: this header: a page of another site cannot send it (no CORS here), so it cannot act on
#: a signed-in user's behalf.
CSRF_HEADER = "X-Gigaloop-Dashboard"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def authenticate(
    request: Request, services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller behind the bearer token, else behind the dashboard's session cookie;
    :class:`AuthError` (401) without a valid one."""
    if credentials is not None:
        return services.state.access.authenticate(credentials.credentials)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        raise AuthError("no token: send the header 'Authorization: Bearer glp_…'")
    if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != "1":
        raise AuthError(f"a signed-in browser's {request.method} needs the header "
                        f"'{CSRF_HEADER}: 1' (or send 'Authorization: Bearer glp_…')")
    return services.state.access.authenticate(cookie)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


class RoleGate:
    """A dependency that lets only ``roles`` through (403 for the others)."""

    def __init__(self, roles: frozenset[Role]) -> None:
        self.roles = roles

    def __call__(self, principal: CurrentPrincipal) -> Principal:
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(self.roles))
            raise AccessDenied(f"a {principal.role} token may not do this (allowed: {allowed})",
                               role=principal.role.value)
        return principal


ALL_ROLES = frozenset(Role)


def allow(*roles: Role, openapi: dict[str, Any] | None = None) -> dict[str, Any]:
    """Route keywords that admit ``roles`` only: the gate, and ``x-roles`` in OpenAPI."""
    if not roles:
        raise ValueError("name at least one role")
    gate = RoleGate(frozenset(roles))
    return {"dependencies": [Depends(gate)],
            "openapi_extra": {**(openapi or {}), "x-roles": sorted(r.value for r in gate.roles)}}
