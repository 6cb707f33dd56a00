"""A served dashboard store (``dashboard_store``) and a token of each person's role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dashboard_store import build_dashboard_store


@pytest.fixture(scope="module")
def dashboard_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dashboard")
    build_dashboard_store(folder / "store")
    return folder


@pytest.fixture(scope="module")
def role_tokens(dashboard_folder: Path) -> dict[Any, str]:
    """A token of every role (imported here: the report's tests need no service extra)."""
    appstate = pytest.importorskip("gigaloop.appstate", reason="needs gigaloop[service]")
    AppState, Role = appstate.AppState, appstate.Role
    state = AppState.beside(dashboard_folder / "store")
    try:
        return {role: state.access.issue_token(f"{role.value}-user", role, create_user=True,
                                               source_id="S1" if role is Role.device else None
                                               ).token for role in Role}
    finally:
        state.close()
