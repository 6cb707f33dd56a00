"""A Mosquitto of the test's own, for the MQTT command tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[object]:
    pytest.importorskip("paho.mqtt.client")
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    from gigaloop.ingest.broker import Mosquitto

    with Mosquitto(tmp_path / "broker") as running:
        yield running
