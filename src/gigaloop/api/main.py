"""The app: :func:`create_app` serves one store folder with its app state.

>>> import tempfile
>>> from fastapi.testclient import TestClient
>>> from gigaloop.appstate import AppState, Role
>>> folder = tempfile.mkdtemp()
>>> app = create_app(f"{folder}/store")
>>> with TestClient(app) as client:
...     token = AppState.beside(f"{folder}/store").access.issue_token(
...         "ana", Role.plant_engineer, create_user=True).token
...     client.get("/me", headers={"Authorization": f"Bearer {token}"}).json()["role"]
...     client.get("/me").status_code
'plant_engineer'
401
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI

from gigaloop import __version__
from gigaloop.api.deps import Services, StoreHandle, authenticate
from gigaloop.api.errors import handle_domain_error
from gigaloop.api.privacy import Pseudonyms
from gigaloop.api.routes import (
    admin,
    customers,
    dashboard,
    fleet,
    ingest,
    loop,
    plant,
    service,
    trace,
)
from gigaloop.api.schedule import DecisionSchedule
from gigaloop.api.settings import ServiceSettings, load_settings
from gigaloop.appstate import AppState, store_root
from gigaloop.errors import ConfigError, GigaloopError
from gigaloop.store import Store

ROUTERS = (service, admin, ingest, trace, loop, plant, fleet, customers, dashboard)
PSEUDONYM_SECRET = "pseudonym_key"


def create_app(store_dir: Path | str, database_url: str | None = None, *,
               settings: ServiceSettings | None = None) -> FastAPI:
    """The API over the store at ``store_dir`` (a run folder's ``store/``, or the run
    folder), with its app state at ``database_url`` (default: ``GIGALOOP_DATABASE_URL``,
    else SQLite beside the store). The store and the database are opened when the app
    starts (migrations applied) and closed when it stops; in between, the daily decision
    cycle runs every ``settings.decide_every_s`` (:mod:`gigaloop.api.schedule`)."""
    settings = settings or load_settings()
    root = store_root(store_dir)
    url = database_url or settings.database_url

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = AppState.beside(root, url)
        try:
            key = (settings.pseudonym_key.get_secret_value() if settings.pseudonym_key
                   else state.access.secret(PSEUDONYM_SECRET))
            store = StoreHandle(Store(root))
        except BaseException:
            state.close()
            raise
        schedule = (DecisionSchedule(store, settings.decide_every_s, approval=settings.approval)
                    if settings.decide_every_s else None)
        app.state.services = Services(store, state, settings, Pseudonyms(key.encode()),
                                      schedule)
        if schedule is not None:
            schedule.start()
        try:
            yield
        finally:
            if schedule is not None:
                schedule.stop()
            store.close()
            state.close()

    app = FastAPI(title="gigaloop", version=__version__, lifespan=lifespan,
                  dependencies=[Depends(authenticate)],
                  openapi_url=None, docs_url=None, redoc_url=None,
                  description="The factory, its fleet and customers in one loop: ingest, "
                              "traceability, findings, change requests. Every route needs "
                              "a bearer token; `x-roles` lists the roles each allows.")
    for module in ROUTERS:
        app.include_router(module.router)
    app.add_exception_handler(GigaloopError, handle_domain_error)
    _check_every_route_is_gated(app)
    return app


def _check_every_route_is_gated(app: FastAPI) -> None:
    """No operation without the roles it allows: a new route must say who may call it
    (and without them it still needs a valid token: the app authenticates every route)."""
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            if not operation.get("x-roles"):
                raise ConfigError(f"{method.upper()} {path} allows no roles: declare them "
                                  "with **allow(Role.…)", route=path)
