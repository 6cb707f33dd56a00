"""Every route of the OpenAPI document refuses a missing, unknown, expired, revoked and
wrong-role token, so a new route cannot escape; and the app refuses a route that names no
roles."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gigaloop.api import create_app
from gigaloop.api.main import _check_every_route_is_gated
from gigaloop.appstate import AppState, Role
from gigaloop.errors import ConfigError


def _operations(client: TestClient, auth: Any) -> list[tuple[str, str, list[str]]]:
    document = client.get("/openapi.json", headers=auth(Role.admin))
    assert document.status_code == 200
    paths = document.json()["paths"]
    found = [(method, re.sub(r"\{[^}]+\}", "X1", path), operation["x-roles"])
             for path, operations in paths.items() for method, operation in operations.items()]
    return [*found, ("get", "/openapi.json", [r.value for r in Role])]


def test_the_openapi_document_lists_every_resource(client: TestClient, auth: Any) -> None:
    paths = {path for _, path, _ in _operations(client, auth)}
    for expected in ("/ingest/X1", "/trace/vehicles/X1", "/trace/vehicles", "/findings",
                     "/change-requests/X1/review", "/plant/spc-alarms",
                     "/plant/maintenance-orders", "/fleet/safety", "/fleet/safety/by/X1",
                     "/fleet/deployments",
                     "/fleet/predictive-service/bookings", "/customers", "/admin/tokens",
                     "/admin/tokens/X1", "/admin/users", "/me", "/health", "/openapi.json"):
        assert expected in paths


def test_every_route_refuses_callers_without_a_valid_token(
        client: TestClient, auth: Any, tokens: Any, served: Any) -> None:
    state = AppState.beside(served / "store")
    revoked = state.access.issue_token("gone", Role.admin, create_user=True)
    state.access.revoke(revoked.record.token_id)
    state.close()
    bad = {"missing": {}, "not ours": auth("Bearer-less"), "unknown": auth("glp_" + "x" * 43),
           "expired": auth(tokens.expired), "revoked": auth(revoked.token),
           "basic auth": {"Authorization": "Basic dXNlcjpwYXNz"}}
    operations = _operations(client, auth)
    assert len(operations) >= 20
    for method, path, _ in operations:
        for what, headers in bad.items():
            answer = client.request(method, path, headers=headers)
            assert answer.status_code == 401, (method, path, what, answer.text)
            assert answer.headers["www-authenticate"] == "Bearer"


def test_every_route_refuses_the_roles_it_does_not_name(client: TestClient, auth: Any) -> None:
    checked = 0
    for method, path, roles in _operations(client, auth):
        for role in set(Role) - set(roles):
            answer = client.request(method, path, headers=auth(role))
            assert answer.status_code == 403, (method, path, role, answer.text)
            assert "may not do this" in answer.json()["detail"]
            checked += 1
    assert checked > 40


def test_only_admins_manage_tokens_and_plant_engineers_review(client: TestClient,
                                                              auth: Any) -> None:
    roles = {(m, p): r for m, p, r in _operations(client, auth)}
    assert roles["post", "/admin/tokens"] == ["admin"]
    assert roles["delete", "/admin/tokens/X1"] == ["admin"]
    assert roles["post", "/change-requests/X1/review"] == ["plant_engineer"]
    assert "marketing_analyst" not in roles["get", "/trace/vehicles"]


def test_an_app_with_a_route_that_names_no_roles_is_refused(tmp_path: Any) -> None:
    app = create_app(tmp_path / "store")

    @app.get("/forgotten")
    def forgotten() -> dict[str, str]:
        return {"secret": "yes"}

    app.openapi_schema = None
    with pytest.raises(ConfigError, match="GET /forgotten allows no roles"):
        _check_every_route_is_gated(app)
    with TestClient(app) as client:  # and even so, it needs a token
        assert client.get("/forgotten").status_code == 401


def test_the_service_has_no_open_documentation_pages(client: TestClient) -> None:
    assert isinstance(client.app, FastAPI)
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert client.get(path).status_code in (401, 404)


def test_unsafe_settings_are_refused_before_the_app_is_built(tmp_path: Any,
                                                             monkeypatch: Any) -> None:
    monkeypatch.setenv("GIGALOOP_PSEUDONYM_KEY", "changeme")
    with pytest.raises(ConfigError, match="pseudonym key needs at least 32 characters"):
        create_app(tmp_path / "store")
