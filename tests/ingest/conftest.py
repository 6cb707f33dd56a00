"""Fixtures for the MQTT tests: a broker of the test's own, a seeded store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_world import seed

from gigaloop.store import Store


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[object]:
    """Mosquitto with the shipped config on a free port, in the test's folder."""
    pytest.importorskip("paho.mqtt.client")
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    from gigaloop.ingest.broker import Mosquitto

    with Mosquitto(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    seed(root)
    return root


@pytest.fixture
def store(store_root: Path) -> Iterator[Store]:
    opened = Store(store_root)
    yield opened
    opened.close()
