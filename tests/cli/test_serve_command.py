"""`gigaloop token create` and `gigaloop serve`: the first admin token, a real server on a
free port, and the pip install hint when the service extra is missing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gigaloop
from gigaloop.cli import app

pytest.importorskip("fastapi", reason="needs gigaloop[service]")
httpx = pytest.importorskip("httpx2")

runner = CliRunner()
SRC = str(Path(gigaloop.__file__).resolve().parents[1])


def _gigaloop(*args: str, prelude: str = "") -> list[str]:
    return [sys.executable, "-c", f"{prelude}from gigaloop.cli import app; app()", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, "GIGALOOP_DATABASE_URL": ""}


def test_token_create_prints_the_token_once(tmp_path: Path) -> None:
    from gigaloop.appstate import AppState

    result = runner.invoke(app, ["token", "create", "--role", "admin", "--user", "root",
                                 "--store", str(tmp_path / "store")], env={
                                     "GIGALOOP_DATABASE_URL": ""})
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("glp_") and "shown once" in result.output
    state = AppState.beside(tmp_path / "store")
    assert state.access.authenticate(token).role == "admin"
    assert (tmp_path / "appstate.sqlite").is_file()
    state.close()
    bad = runner.invoke(app, ["token", "create", "--role", "root", "--user", "x",
                              "--store", str(tmp_path / "store")])
    assert bad.exit_code == 2 and "unknown role 'root'" in bad.output


@pytest.mark.slow  # a server process: about 5 s to import and start
def test_serve_answers_with_a_token_and_stops_cleanly(tmp_path: Path) -> None:
    created = runner.invoke(app, ["token", "create", "--role", "plant_engineer", "--user",
                                  "ana", "--store", str(tmp_path)],
                            env={"GIGALOOP_DATABASE_URL": ""})
    token = created.output.strip().splitlines()[-1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(_gigaloop("serve", "--store", str(tmp_path), "--port", str(port)),
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        answer = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/me",
                                   headers={"Authorization": f"Bearer {token}"})
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, server.communicate(timeout=5)[0].decode()
        assert answer.status_code == 200 and answer.json()["user"] == "ana"
        assert httpx.get(f"http://127.0.0.1:{port}/me").status_code == 401
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=30)[0].decode()
    assert server.returncode == 0, output
    assert "Application shutdown complete" in output
    assert f"dashboard: http://127.0.0.1:{port}/dashboard" in output


def test_a_missing_service_extra_names_the_pip_install(tmp_path: Path) -> None:
    blocked = "import sys; sys.modules['fastapi'] = None; "
    result = subprocess.run(_gigaloop("serve", "--store", str(tmp_path), prelude=blocked),
                            env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "pip install 'gigaloop[service]'" in result.stdout.replace("\n", "")
