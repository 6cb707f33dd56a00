"""Fixtures for the connector tests: a seeded store (the broker is the suite's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_world import seed

from gigaloop.store import Store


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
