"""The app state on SQLite and on PostgreSQL (a fresh schema per test): migrations, users,
hashed tokens with expiry and revocation, verdicts, connector offsets, the outbox and the
ingest log."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="needs gigaloop[service]")

from sqlalchemy import inspect, text

from gigaloop.appstate import AppState, IngestEntry, Role
from gigaloop.appstate.access import hash_token
from gigaloop.appstate.migrate import HEAD, current_revision
from gigaloop.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    NotFoundError,
    StoreError,
)

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = dt.datetime(2026, 1, 10, 12)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of its own: a SQLite file, or a fresh PostgreSQL schema (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'appstate.sqlite'}"
        return
    psycopg = pytest.importorskip("psycopg")
    schema = f"gigaloop_test_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES.replace("+psycopg", "")
    try:
        connection = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {admin}: {exc}")
    connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
        connection.close()


@pytest.fixture
def state(url: str) -> Iterator[AppState]:
    opened = AppState(url)
    yield opened
    opened.close()


def test_migrations_reach_head_once(url: str) -> None:
    first = AppState(url)
    assert current_revision(first.engine) == HEAD
    assert {"users", "api_tokens", "change_reviews", "connector_offsets", "actuator_outbox",
            "ingest_log"} <= set(inspect(first.engine).get_table_names())
    first.access.create_user("kept")
    first.close()
    again = AppState(url)  # opening again migrates nothing and keeps the rows
    assert current_revision(again.engine) == HEAD
    assert [u.name for u in again.access.users()] == ["kept"]
    again.close()


def test_tokens_are_stored_as_hashes_only(state: AppState) -> None:
    issued = state.access.issue_token("ana", Role.plant_engineer, create_user=True, now=NOW)
    assert issued.token.startswith("glp_") and len(issued.token) == 47
    with state.engine.connect() as connection:
        stored = connection.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert stored == [hash_token(issued.token)]
    assert issued.token not in str(stored)
    who = state.access.authenticate(issued.token, now=NOW + dt.timedelta(days=1))
    assert (who.user, who.role, who.source_id) == ("ana", Role.plant_engineer, None)


def test_expiry_revocation_and_unknown_tokens(state: AppState) -> None:
    issued = state.access.issue_token("ana", Role.admin, days=7, create_user=True, now=NOW)
    assert state.access.authenticate(issued.token, now=NOW + dt.timedelta(days=6)).role == "admin"
    with pytest.raises(AuthError, match="token expired at 2026-01-17 12:00"):
        state.access.authenticate(issued.token, now=NOW + dt.timedelta(days=7))
    altered = issued.token[:-1] + ("B" if issued.token.endswith("A") else "A")  # 1 in 64
    with pytest.raises(AuthError, match="unknown token"):
        state.access.authenticate(altered)
    with pytest.raises(AuthError, match="not a gigaloop token"):
        state.access.authenticate("secret")
    revoked = state.access.revoke(issued.record.token_id, now=NOW)
    assert revoked.revoked_at == NOW
    with pytest.raises(AuthError, match="revoked"):
        state.access.authenticate(issued.token, now=NOW)
    with pytest.raises(NotFoundError):
        state.access.revoke("nope")


def test_a_device_token_is_bound_to_one_source(state: AppState) -> None:
    device = state.access.issue_token("plc-7", Role.device, source_id="ST-010",
                                      create_user=True)
    assert state.access.authenticate(device.token).source_id == "ST-010"
    assert state.access.authenticate(device.token).label == "device:ST-010"
    with pytest.raises(ConfigError, match="a device token names its source id"):
        state.access.issue_token("plc-7", Role.device)
    with pytest.raises(ConfigError, match="other roles name none"):
        state.access.issue_token("plc-7", Role.admin, source_id="ST-010")
    with pytest.raises(ConfigError, match="unknown role 'root'"):
        state.access.issue_token("plc-7", "root")
    with pytest.raises(NotFoundError, match="no user 'ghost'"):
        state.access.issue_token("ghost", Role.admin)
    assert [t.role for t in state.access.tokens("plc-7")] == [Role.device]


def test_user_names_are_unique(state: AppState) -> None:
    state.access.create_user("ana")
    with pytest.raises(ConflictError, match="user 'ana' exists"):
        state.access.create_user("ana")


def test_one_verdict_per_change_request(state: AppState) -> None:
    state.access.create_user("ana")
    state.access.create_user("ben")
    review = state.reviews.record("C001", 3, "approved", user="ana", comment="ok", now=NOW)
    assert (review.user, review.revision, review.reviewed_at) == ("ana", 3, NOW)
    with pytest.raises(ConflictError, match="already approved by ana at 2026-01-10 12:00"):
        state.reviews.record("C001", 3, "rejected", user="ben")
    state.reviews.record("C002", 1, "rejected", user="ben")
    assert {c: r.verdict for c, r in state.reviews.of().items()} == {"C001": "approved",
                                                                     "C002": "rejected"}
    assert set(state.reviews.of(["C002", "C404"])) == {"C002"}
    with pytest.raises(NotFoundError):
        state.reviews.record("C003", 1, "approved", user="ghost")


def test_connector_offsets_never_move_back(state: AppState) -> None:
    assert state.offsets.get("mqtt:plant/ST-010") is None
    assert state.offsets.acknowledge("mqtt:plant/ST-010", 10) == 10
    assert state.offsets.acknowledge("mqtt:plant/ST-010", 4) == 10
    assert state.offsets.acknowledge("mqtt:plant/ST-010", 2**40) == 2**40
    assert state.offsets.get("mqtt:plant/ST-010") == 2**40


def test_the_outbox_keeps_an_action_until_it_is_delivered(state: AppState) -> None:
    payload = {"machine_id": "ST-010-M1", "day": 12}
    state.outbox.enqueue("A1", "maintenance_order", payload, now=NOW)
    assert state.outbox.enqueue("A1", "maintenance_order", payload).state == "pending"
    with pytest.raises(ConflictError, match="another payload"):
        state.outbox.enqueue("A1", "maintenance_order", {"machine_id": "other"})
    failed = state.outbox.mark_failed("A1", "CMMS answered 503")
    assert (failed.state, failed.attempts, failed.last_error) == ("failed", 1, "CMMS answered 503")
    assert [e.action_id for e in state.outbox.pending()] == ["A1"]
    delivered = state.outbox.mark_delivered("A1")
    assert (delivered.state, delivered.attempts, delivered.payload) == ("delivered", 2, payload)
    assert state.outbox.pending() == []
    with pytest.raises(NotFoundError):
        state.outbox.mark_delivered("A2")


def test_the_ingest_log_counts_payloads(state: AppState) -> None:
    state.ingest_log.add(IngestEntry("machine_readings", "device:M1", "accepted", 200, 900,
                                     5, 3, 1, 1))
    state.ingest_log.add(IngestEntry("machine_readings", "device:M1", "refused", 400, 20,
                                     reason="line 1 is not valid JSON"))
    totals = state.ingest_log.totals("machine_readings")
    assert totals == {"payloads_accepted": 1, "payloads_refused": 1, "received": 5,
                      "written": 3, "unchanged": 1, "quarantined": 1}
    assert state.ingest_log.totals("vehicles")["payloads_accepted"] == 0
    assert state.ingest_log.refusals()[0].reason == "line 1 is not valid JSON"


def test_the_service_secret_is_made_once(state: AppState) -> None:
    first = state.access.secret("pseudonym_key")
    assert len(first) == 64 and state.access.secret("pseudonym_key") == first


def test_a_database_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a database URL"):
        AppState("no such thing")
    with pytest.raises(StoreError, match="cannot open the app-state database"):
        AppState("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")  # psycopg 3 chosen
