"""Approving and rejecting change requests: recorded with user, time and revision, shown in
the change-request query, once per change request."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from api_store import build_store
from fastapi.testclient import TestClient

from gigaloop.api import create_app
from gigaloop.appstate import AppState, Role


def changes(client: TestClient, auth: Any, **params: Any) -> dict[str, dict[str, Any]]:
    page = client.get("/change-requests", headers=auth(Role.fleet_operations), params=params)
    assert page.status_code == 200, page.text
    return {c["id"]: c for c in page.json()["rows"]}


def test_a_change_request_is_pending_until_reviewed(client: TestClient, auth: Any) -> None:
    listed = changes(client, auth)
    assert {c: r["approval"] for c, r in listed.items()} == {"C001": "pending",
                                                             "C002": "pending"}
    assert listed["C001"]["state"] == "effective" and listed["C001"]["revision"] == 2
    assert [h["state"] for h in listed["C001"]["history"]] == ["proposed", "effective"]


def test_approve_and_reject(client: TestClient, auth: Any) -> None:
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    approved = client.post("/change-requests/C001/review", headers=auth(Role.plant_engineer),
                           json={"verdict": "approved", "comment": "lot contained at supplier"})
    assert approved.status_code == 201, approved.text
    review = approved.json()
    assert review["user"] == "plant_engineer-user" and review["revision"] == 2
    assert dt.datetime.fromisoformat(review["reviewed_at"]) >= before
    rejected = client.post("/change-requests/C002/review", headers=auth(Role.plant_engineer),
                           json={"verdict": "rejected", "comment": "C001 covers it"})
    assert rejected.status_code == 201
    shown = client.get("/change-requests/C001", headers=auth(Role.plant_engineer)).json()
    assert shown["approval"] == "approved"
    assert shown["review"]["comment"] == "lot contained at supplier"
    assert set(changes(client, auth, approval="rejected")) == {"C002"}
    assert set(changes(client, auth, approval="pending")) == set()
    served = client.app.state.services.store  # the verdicts are data too: the loop reads them
    with served.use() as store:
        rows = store.execute(store.table("change_reviews").order_by("change_id"))
    assert list(zip(rows.change_id, rows.verdict, rows.reviewer, strict=True)) == [
        ("C001", "approved", "plant_engineer-user"), ("C002", "rejected", "plant_engineer-user")]


def test_a_second_verdict_is_a_conflict(client: TestClient, auth: Any) -> None:
    client.post("/change-requests/C002/review", headers=auth(Role.plant_engineer),
                json={"verdict": "rejected"})
    again = client.post("/change-requests/C002/review", headers=auth(Role.plant_engineer),
                        json={"verdict": "approved"})
    assert again.status_code == 409
    assert "already rejected by plant_engineer-user" in again.json()["detail"]


def test_reviews_need_a_known_change_and_a_valid_verdict(client: TestClient,
                                                         auth: Any) -> None:
    unknown = client.post("/change-requests/C404/review", headers=auth(Role.plant_engineer),
                          json={"verdict": "approved"})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no change request 'C404'", "error": "NotFoundError",
                              "context": {"change_id": "C404"}}
    bad = client.post("/change-requests/C001/review", headers=auth(Role.plant_engineer),
                      json={"verdict": "maybe"})
    assert bad.status_code == 422
    other_role = client.post("/change-requests/C001/review", headers=auth(Role.fleet_operations),
                             json={"verdict": "approved"})
    assert other_role.status_code == 403


@pytest.mark.service
def test_the_review_flow_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    build_store(tmp_path / "store")
    state = AppState(postgres_url)
    token = state.access.issue_token("pia", Role.plant_engineer, create_user=True).token
    state.close()
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(tmp_path, postgres_url)) as client:
        assert client.get("/health", headers=headers).json()["database"] == "postgresql"
        made = client.post("/change-requests/C001/review", headers=headers,
                           json={"verdict": "approved"})
        assert made.status_code == 201, made.text
        shown = client.get("/change-requests/C001", headers=headers).json()
        assert (shown["approval"], shown["review"]["user"]) == ("approved", "pia")
        again = client.post("/change-requests/C001/review", headers=headers,
                            json={"verdict": "rejected"})
        assert again.status_code == 409
