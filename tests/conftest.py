"""Shared fixtures: one small Spark session, the engines every store test runs on, and an
MQTT broker of the test's own."""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

#: --doctest-modules would import every conftest.py as a module named "conftest": the
#: second folder's clashes with the first ("import file mismatch"). They hold no doctests.
collect_ignore = ["conftest.py"]
collect_ignore_glob = ["*/conftest.py"]

#: Apps built by tests run no background decision cycle unless a test asks for one
#: (tests/api/test_schedule.py): it would write decisions into stores other tests read.
os.environ.setdefault("GIGALOOP_DECIDE_EVERY_S", "0")

#: ``make test`` runs a test file on each core already: a run's second process (the loop's
#: worker, :mod:`gigaloop.loop.worker`) or a second OpenMP thread per model fit would only
#: oversubscribe the two cores. Runs compute in place, as the worker's results are the same
#: by design (tests/loop/test_worker.py pins that, with the worker on); set before NumPy
#: and scikit-learn load their thread pools.
os.environ.setdefault("GIGALOOP_WORKER", "0")
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def two_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop's worker process on, as a run on a machine of two cores or more has it."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: the worker is off")
    monkeypatch.setenv("GIGALOOP_WORKER", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Test files in the order the two workers should start them (``make test`` runs
    ``--dist loadfile --no-loadscope-reorder``, so this order is the queue): the files whose
    ``slow(seconds=…)`` mark states the longest run first, then the files with the most
    tests. A year-long loop test queued last would keep one core busy for minutes after
    the other ran out of work."""
    seconds: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for item in items:
        path = str(item.path)
        count[path] += 1
        for mark in item.iter_markers("slow"):
            seconds[path] = max(seconds[path], float(mark.kwargs.get("seconds", 0)))
    items.sort(key=lambda item: (-seconds[str(item.path)], -count[str(item.path)]))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark session (2 cores, no UI, 2 shuffle partitions, UTC), shared by all tests."""
    pytest.importorskip("pyspark")
    from gigaloop.store.engines import local_session

    session = local_session()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest) -> str:
    """The name of each query engine; Spark tests are marked ``spark``."""
    return str(request.param)


@pytest.fixture
def broker(tmp_path: Any) -> Iterator[Any]:
    """Mosquitto with the shipped config on a free port, in the test's folder (so a test
    may restart it); skipped without paho-mqtt or the mosquitto binary."""
    pytest.importorskip("paho.mqtt.client")
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    from gigaloop.ingest.broker import Mosquitto

    with Mosquitto(tmp_path / "broker") as running:
        yield running


@pytest.fixture
def signed_update() -> tuple[Any, str, str, Any]:
    """A signing registry with two versions of one model (artefacts ``b"old"`` and
    ``b"new"``, the second trained from the first) and a HW4 vehicle running the first:
    ``(registry, old, new, vehicle)``."""
    from gigaloop.actuate.ota import Vehicle
    from gigaloop.fleet.registry import Registry, Signer

    lineage = {"data_window": ["2026-01-01", "2026-02-01"], "campaign": "c1",
               "code_version": "abc", "metrics": {"night": {"auc": 0.8}}}
    registry = Registry(Signer.generate())
    old = registry.register("planner", b"old", lineage=lineage)
    new = registry.register("planner", b"new", lineage=lineage, parent=old)
    vehicle = Vehicle(registry.signer.trusted(), "HW4", installed_version=1,
                      installed_model=old)
    return registry, old, new, vehicle
