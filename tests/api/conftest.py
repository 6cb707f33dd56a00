"""The API over a small store (``api_store``), and a token of every role."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="needs gigaloop[service]")

from api_store import MACHINE, build_store
from fastapi.testclient import TestClient

from gigaloop.api import create_app
from gigaloop.appstate import AppState, Role


class Tokens(dict[Role, str]):
    """A valid token of every role (the device one bound to ``MACHINE``), plus
    ``expired`` (a plant engineer's, expired yesterday)."""

    expired: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with its store (module-wide: the tests here only add to it)."""
    folder = tmp_path_factory.mktemp("served")
    build_store(folder / "store")
    return folder


@pytest.fixture(scope="module")
def tokens(served: Path) -> Tokens:
    state = AppState.beside(served / "store")
    out = Tokens()
    try:
        for role in Role:
            out[role] = state.access.issue_token(
                f"{role.value}-user", role, create_user=True,
                source_id=MACHINE if role is Role.device else None).token
        out.expired = state.access.issue_token(
            "late", Role.plant_engineer, days=1, create_user=True,
            now=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=2)).token
    finally:
        state.close()
    return out


@pytest.fixture(scope="module")
def client(served: Path, tokens: Tokens) -> Iterator[TestClient]:
    with TestClient(create_app(served)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def auth(tokens: Tokens) -> Any:
    """``auth(Role.admin)``: the headers of that role's token (or of a token string)."""
    def headers(role_or_token: Role | str) -> dict[str, str]:
        token = tokens[role_or_token] if isinstance(role_or_token, Role) else role_or_token
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema on the local server (dropped after)."""
    psycopg = pytest.importorskip("psycopg")
    server = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        connection = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {server}: {exc}")
    schema = f"gigaloop_api_{uuid.uuid4().hex[:12]}"
    connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
        connection.close()
