"""The dashboard: four HTML pages read live from the store through the API's own queries,
Plotly served once, and a browser session.

A browser signs in by sending its API token once as a bearer (``POST /dashboard/session``,
what the sign-in form does); the answer sets an HttpOnly, SameSite=Strict cookie holding
the token, which then authenticates its requests like the header does (a change through
the cookie alone also needs ``X-Gigaloop-Dashboard: 1``: :mod:`gigaloop.api.deps`). A
browser without a session gets the sign-in form as the body of its 401
(:mod:`gigaloop.api.errors`). Each page admits the roles of the API routes it shows.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from gigaloop.api.deps import SESSION_COOKIE, CurrentPrincipal, ServicesDep, allow
from gigaloop.api.routes import customers, fleet, loop, plant
from gigaloop.appstate import Principal, Role
from gigaloop.customer.premiums import insurance_kpis
from gigaloop.customer.revenue import software_kpis
from gigaloop.errors import AuthError
from gigaloop.web import dashboard as pages
from gigaloop.web import live
from gigaloop.web.shell import (
    PAGE_HEADERS,
    PAGES,
    LivePage,
    pages_for,
    plotly_js,
    refused_page,
)

router = APIRouter(prefix="/dashboard", tags=["dashboard"])
#: Everyone but devices may hold a dashboard session.
PEOPLE = (Role.admin, Role.plant_engineer, Role.fleet_operations, Role.marketing_analyst)
#: Rows read for a page (the server's page size caps them).
ROWS = 1000


def _roles(name: str) -> tuple[Role, ...]:
    return next(tuple(Role(r) for r in roles) for n, _, roles in PAGES if n == name)


def _html(text: str) -> HTMLResponse:
    return HTMLResponse(text, headers=PAGE_HEADERS)


def _page(name: str, principal: Principal) -> LivePage:
    title = next(t for n, t, _ in PAGES if n == name)
    return LivePage(name, title, user=principal.user, role=principal.role.value)


@router.post("/session", **allow(*PEOPLE))
def sign_in(request: Request, response: Response, principal: CurrentPrincipal,
            ) -> dict[str, Any]:
    """Trade the bearer token for a session cookie (HttpOnly, SameSite=Strict, ending with
    the browser session): the pages the caller's role may open."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("sign in with the token as 'Authorization: Bearer glp_…'")
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/")
    return {"user": principal.user, "role": principal.role.value,
            "pages": [f"/dashboard/{n}" for n, _ in pages_for(principal.role.value)]}


@router.delete("/session", **allow(*PEOPLE))
def sign_out(response: Response) -> dict[str, bool]:
    """End the browser session (the token itself stays valid: revoke it to end it)."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return {"signed_out": True}


@router.get("", response_class=HTMLResponse, **allow(*PEOPLE))
def home(principal: CurrentPrincipal) -> Response:
    """The first page the caller's role may open (or why there is none)."""
    mine = pages_for(principal.role.value)
    if not mine:
        return _html(refused_page(f"{principal.user} signed in as {principal.role}.",
                                  principal.role.value))
    return RedirectResponse(f"/dashboard/{mine[0][0]}", status_code=303)


@router.get("/plotly.js", **allow(*PEOPLE))
def plotly() -> Response:
    """Plotly's JavaScript from the installed plotly package (no CDN), cached a day."""
    return Response(plotly_js(), media_type="text/javascript",
                    headers={"Cache-Control": "private, max-age=86400"})


@router.get("/plant", response_class=HTMLResponse, **allow(*_roles("plant")))
def plant_page(services: ServicesDep, principal: CurrentPrincipal) -> HTMLResponse:
    """SPC charts with alarms, downtime, vibration against ISO 10816 zones, energy."""
    alarms = plant.spc_alarms(services, principal, limit=ROWS, offset=0)
    orders = plant.maintenance_orders(services, principal, limit=ROWS, offset=0)
    page = _page("plant", principal)
    with services.store.use() as store:
        body = pages.plant_body(page, store, alarms.rows, orders.rows, alarms.total)
    return _html(page.render(body))


@router.get("/loop", response_class=HTMLResponse, **allow(*_roles("loop")))
def loop_page(services: ServicesDep, principal: CurrentPrincipal) -> HTMLResponse:
    """Findings with evidence and intervals, change requests (approve / reject), timeline."""
    found = loop.findings(services, principal, limit=ROWS, offset=0).rows
    evidence = [loop.finding(i, services, principal) for i in pages.evidence_of(found)]
    changes = loop.change_requests(services, principal, limit=ROWS, offset=0).rows
    page = _page("loop", principal)
    can_review = principal.role is Role.plant_engineer
    return _html(page.render(pages.loop_body(page, found, evidence, changes,
                                                    can_review)))


@router.get("/fleet", response_class=HTMLResponse, **allow(*_roles("fleet")))
def fleet_page(services: ServicesDep, principal: CurrentPrincipal) -> HTMLResponse:
    """Crashes per million miles, Autopilot and manual, with exact intervals; per software
    version; the rollout stages."""
    page = _page("fleet", principal)
    by_version = fleet.safety_by("software_version", services)["rows"]
    stages = fleet.deployments(services, principal, limit=ROWS, offset=0).rows
    return _html(page.render(pages.fleet_body(page, fleet.safety(services), by_version,
                                              stages)))


@router.get("/customers", response_class=HTMLResponse, **allow(*_roles("customers")))
def customers_page(services: ServicesDep, principal: CurrentPrincipal) -> HTMLResponse:
    """Subscription revenue, and predictive-service bookings (fleet operations only)."""
    people = customers.customers(services, principal, limit=1, offset=0)
    booked = (fleet.bookings(services, principal, limit=ROWS, offset=0).rows
              if principal.role is Role.fleet_operations else None)
    page = _page("customers", principal)
    with services.store.use() as store:
        revenue = live.monthly_revenue(store)
        end = live.revenue_end(store)
        software = None if end is None else {
            **software_kpis(store, end=end.to_pydatetime()),
            **insurance_kpis(store, end=end.to_pydatetime())}
    return _html(page.render(pages.customers_body(page, revenue, people.total,
                                                         booked, software)))

