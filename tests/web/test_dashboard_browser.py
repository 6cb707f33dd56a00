"""The dashboard in headless Chromium (Debian's ``/usr/bin/chromium``, driven by
Playwright): sign in through the form, open every page, see its charts drawn and no
console error, approve a change request. Screenshots of each page are kept in the test's
tmp folder (``pytest --basetemp=/tmp/dash …``, then open ``/tmp/dash/**/*.png``)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="needs gigaloop[service]")
playwright = pytest.importorskip("playwright.sync_api", reason="needs playwright (dev extra)")

import httpx2 as httpx  # noqa: E402 (the service extra's HTTP client)
import uvicorn  # noqa: E402

from gigaloop.api import create_app  # noqa: E402
from gigaloop.appstate import Role  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                       reason=f"no {CHROMIUM}: apt-get install -y chromium"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served_url(dashboard_folder: Path) -> Iterator[str]:
    """The API on a free local port, in a thread of this process."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(dashboard_folder), host="127.0.0.1",
                                           port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


class Tab:
    """A browser tab that records console errors and uncaught exceptions."""

    def __init__(self, browser: Any, url: str, shots: Path) -> None:
        self.page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        self.page.set_default_timeout(10_000)
        self.url, self.shots, self.errors = url, shots, []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def sign_in(self, token: str, path: str) -> None:
        answer = self.page.goto(self.url + path)
        assert answer.status == 401 and self.page.locator("#sign-in").count() == 1
        self.page.fill("#token", token)
        with self.page.expect_navigation():
            self.page.click("#sign-in button")
        self.errors.clear()  # the browser logs the 401 it just had: expected

    def open(self, name: str) -> int:
        """Open ``/dashboard/name``; every figure drawn, no error; a screenshot. The number
        of charts."""
        answer = self.page.goto(f"{self.url}/dashboard/{name}")
        assert answer.status == 200, (name, answer.status)
        placeholders = self.page.locator(".plotly-graph-div").count()
        assert placeholders > 0, name
        try:
            self.page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
                arg=placeholders, timeout=15_000)
        except playwright.TimeoutError:
            pytest.fail(f"{name}: charts not drawn in 15 s; browser errors: {self.errors}")
        assert self.page.locator(".js-plotly-plot").count() == placeholders, name
        assert self.errors == [], (name, self.errors)
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
        return placeholders


def test_a_plant_engineer_signs_in_opens_every_page_and_approves_a_change(
        browser: Any, served_url: str, role_tokens: dict[Role, str], tmp_path: Path) -> None:
    tab = Tab(browser, served_url, tmp_path)
    tab.sign_in(role_tokens[Role.plant_engineer], "/dashboard/plant")
    assert tab.open("plant") >= 4  # the alarmed stream, downtime, machines, energy
    assert tab.open("fleet") == 1
    assert tab.open("loop") >= 3  # timeline, findings, evidence
    row = tab.page.locator("table.changes tr", has_text="investigate ST-010")
    row.locator("button.approve").click()
    tab.page.wait_for_function(
        "() => [...document.querySelectorAll('table.changes tr')].some(r => r.textContent"
        ".includes('investigate ST-010') && r.querySelector('.approval').textContent"
        ".startsWith('approved by plant_engineer-user'))", timeout=10_000)
    stored = httpx.get(f"{served_url}/change-requests/C002",
                       headers={"Authorization": f"Bearer {role_tokens[Role.plant_engineer]}"})
    assert stored.json()["approval"] == "approved"
    assert tab.open("loop") >= 3  # reloaded: approved, and no buttons left on its row
    row = tab.page.locator("table.changes tr", has_text="investigate ST-010")
    assert row.locator("button").count() == 0 and "approved" in row.inner_text()
    assert tab.errors == []


def test_fleet_operations_and_marketing_see_their_pages(
        browser: Any, served_url: str, role_tokens: dict[Role, str], tmp_path: Path) -> None:
    operations = Tab(browser, served_url, tmp_path / "fleet_operations")
    operations.shots.mkdir()
    operations.sign_in(role_tokens[Role.fleet_operations], "/dashboard/customers")
    assert operations.open("customers") == 2  # revenue, bookings
    assert operations.page.locator("button[data-verdict]").count() == 0
    marketing = Tab(browser, served_url, tmp_path / "marketing")
    marketing.shots.mkdir()
    marketing.sign_in(role_tokens[Role.marketing_analyst], "/dashboard/customers")
    assert marketing.open("customers") == 1  # revenue only: bookings name vehicles
    assert marketing.open("fleet") == 1
    with marketing.page.expect_navigation():
        marketing.page.click("#sign-out")
    assert marketing.page.locator("#sign-in").count() == 1  # the session is gone
    assert marketing.page.context.cookies() == []
