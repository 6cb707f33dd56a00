"""The dashboard over HTTP: sessions, what a browser gets instead of 401 / 403, Plotly
served once, and each page's content for each role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="needs gigaloop[service]")

from fastapi.testclient import TestClient

from gigaloop.api import create_app
from gigaloop.api.deps import CSRF_HEADER, SESSION_COOKIE
from gigaloop.appstate import Role
from gigaloop.web.shell import PLOTLY_PATH

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
def app(dashboard_folder: Path) -> Iterator[Any]:
    application = create_app(dashboard_folder)
    with TestClient(application):  # opens the services once for the module
        yield application


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_in(app: Any, token: str) -> TestClient:
    """A client holding a session cookie (and no bearer header)."""
    client = TestClient(app)
    answer = client.post("/dashboard/session", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert SESSION_COOKIE in client.cookies
    return client


def test_a_browser_without_a_session_gets_the_sign_in_form(app: Any) -> None:
    client = TestClient(app)
    answer = client.get("/dashboard/plant", headers=HTML)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id=sign-in' in answer.text and "/dashboard/session" in answer.text
    assert answer.headers["x-frame-options"] == "DENY"
    scripted = client.get("/dashboard/plant")  # a script still gets JSON
    assert scripted.status_code == 401 and scripted.json()["error"] == "AuthError"


def test_signing_in_sets_an_http_only_strict_cookie_and_lists_the_pages(
        app: Any, role_tokens: dict[Role, str]) -> None:
    client = TestClient(app)
    answer = client.post("/dashboard/session", headers=bearer(role_tokens[Role.fleet_operations]))
    assert answer.json() == {"user": "fleet_operations-user", "role": "fleet_operations",
                             "pages": ["/dashboard/loop", "/dashboard/fleet",
                                       "/dashboard/customers"]}
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/me").json()["role"] == "fleet_operations"  # the cookie authenticates
    home = client.get("/dashboard", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/dashboard/loop"
    assert client.delete("/dashboard/session", headers={CSRF_HEADER: "1"}).status_code == 200
    assert client.get("/me").status_code == 401


def test_a_device_token_gets_no_session(app: Any, role_tokens: dict[Role, str]) -> None:
    answer = TestClient(app).post("/dashboard/session", headers=bearer(role_tokens[Role.device]))
    assert answer.status_code == 403


def test_a_change_through_the_cookie_alone_needs_the_dashboard_header(
        app: Any, role_tokens: dict[Role, str]) -> None:
    client = signed_in(app, role_tokens[Role.plant_engineer])
    body = {"verdict": "rejected", "comment": "forged"}
    forged = client.post("/change-requests/C001/review", json=body)
    assert forged.status_code == 401 and CSRF_HEADER in forged.json()["detail"]
    assert client.get("/change-requests/C001").json()["approval"] == "pending"


def test_a_role_refused_a_page_is_shown_the_pages_it_may_open(
        app: Any, role_tokens: dict[Role, str]) -> None:
    client = signed_in(app, role_tokens[Role.marketing_analyst])
    answer = client.get("/dashboard/plant", headers=HTML)
    assert answer.status_code == 403
    assert '/dashboard/fleet' in answer.text and '/dashboard/customers' in answer.text
    assert '/dashboard/loop"' not in answer.text


def test_plotly_is_served_by_the_app_and_loaded_once_per_page(
        app: Any, role_tokens: dict[Role, str]) -> None:
    client = signed_in(app, role_tokens[Role.plant_engineer])
    script = client.get(PLOTLY_PATH)
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript")
    assert b"Plotly" in script.content[:2000] and len(script.content) > 1_000_000
    for name in ("plant", "loop", "fleet"):
        answer = client.get(f"/dashboard/{name}")
        assert answer.headers["cache-control"] == "no-store", name
        assert answer.headers["content-security-policy"] == "frame-ancestors 'none'", name
        page = answer.text
        assert page.count(f'src="{PLOTLY_PATH}"') == 1, name
        assert "cdn" not in page.lower(), name


def test_the_plant_page_plots_the_alarmed_stream_vibration_downtime_and_energy(
        app: Any, role_tokens: dict[Role, str]) -> None:
    page = signed_in(app, role_tokens[Role.plant_engineer]).get("/dashboard/plant").text
    assert "ST-010-M1 weld_current: 2 alarms" in page
    assert "ISO 10816" in page and "Downtime hours by cause" in page
    assert "breakdown (unplanned)" in page and "planned_maintenance (planned)" in page
    assert "pre-cool before the 16:00 peak" in page and "12, 13, 14, 15" in page
    assert "service ST-010-M1: RUL" in page


def test_the_loop_page_offers_review_buttons_to_plant_engineers_only(
        app: Any, role_tokens: dict[Role, str]) -> None:
    engineer = signed_in(app, role_tokens[Role.plant_engineer]).get("/dashboard/loop").text
    assert "F001 battery_pack" in engineer and "hazard ratio 3.20 (2.10 to 4.90)" in engineer
    assert engineer.count('data-verdict="approved"') == 2  # C001 and C002 are pending
    operations = signed_in(app, role_tokens[Role.fleet_operations]).get("/dashboard/loop").text
    assert "F001 battery_pack" in operations and "data-verdict=" not in operations


def test_the_customers_page_hides_bookings_from_marketing(
        app: Any, role_tokens: dict[Role, str]) -> None:
    operations = signed_in(app, role_tokens[Role.fleet_operations]).get(
        "/dashboard/customers").text
    assert "3 customers you may see" in operations and "charge_port" in operations
    assert "Subscription revenue earned" in operations
    assert "software revenue per vehicle" in operations and "offers sent" in operations
    marketing = signed_in(app, role_tokens[Role.marketing_analyst]).get(
        "/dashboard/customers").text
    assert "2 customers you may see" in marketing and "charge_port" not in marketing
    assert "fleet operations only" in marketing


def test_the_fleet_page_shows_rates_with_intervals(app: Any,
                                                   role_tokens: dict[Role, str]) -> None:
    page = signed_in(app, role_tokens[Role.marketing_analyst]).get("/dashboard/fleet").text
    assert "Crashes per million miles (95 % exact interval)" in page
    assert "manual" in page and " to " in page
    assert "published Autopilot: 1 per 6.69 M mi" in page


def test_every_page_opens_on_an_empty_store(tmp_path: Path) -> None:
    from gigaloop.appstate import AppState

    state = AppState.beside(tmp_path / "store")
    tokens = {role: state.access.issue_token(role.value, role, create_user=True).token
              for role in (Role.plant_engineer, Role.fleet_operations)}
    state.close()
    with TestClient(create_app(tmp_path / "store")) as client:
        for role, names in ((Role.plant_engineer, ("plant", "loop", "fleet")),
                            (Role.fleet_operations, ("customers",))):
            for name in names:
                answer = client.get(f"/dashboard/{name}", headers=bearer(tokens[role]))
                assert answer.status_code == 200, (name, answer.text)
                assert "No " in answer.text or name == "fleet", name


def test_revoking_the_token_ends_its_browser_session(app: Any, dashboard_folder: Path) -> None:
    from gigaloop.appstate import AppState

    state = AppState.beside(dashboard_folder / "store")
    issued = state.access.issue_token("leaver", Role.fleet_operations, create_user=True)
    client = signed_in(app, issued.token)
    assert client.get("/dashboard/fleet").status_code == 200
    state.access.revoke(issued.record.token_id)
    state.close()
    answer = client.get("/dashboard/fleet", headers=HTML)
    assert answer.status_code == 401 and "id=sign-in" in answer.text


def test_monthly_revenue_adds_up_to_the_software_revenue_kpi(dashboard_folder: Path,
                                                             tmp_path: Path) -> None:
    import datetime as dt
    import shutil

    from dashboard_store import DAY0

    from gigaloop.loop.kpis import software_revenue
    from gigaloop.store import Store
    from gigaloop.web.live import monthly_revenue, revenue_end

    shutil.copytree(dashboard_folder / "store", tmp_path / "store")  # the app holds its lock
    store = Store(tmp_path / "store")
    try:
        store.write("subscriptions", [
            {"subscription_id": "SUB-2", "status": status, "customer_id": "CU-7002",
             "product": "connectivity", "started_on": dt.date(2025, 1, 20),
             "ended_on": dt.date(2025, 2, 10) if status == "ended" else None,
             "monthly_price_usd": 9.99, "event_time": DAY0} for status in ("active", "ended")],
            ingested_at=DAY0 + dt.timedelta(days=20))
        revenue = monthly_revenue(store)
        end = revenue_end(store)
        assert end is not None
        expected = software_revenue(store, end=end.to_pydatetime())
        assert expected is not None and expected > 0
        assert revenue["revenue"].sum() == pytest.approx(expected, abs=0.02)
        assert set(revenue["month"].astype(str)) == {"2025-01-01", "2025-02-01", "2025-03-01"}
    finally:
        store.close()
