"""Failures mid-stream: the broker restarts, the ingesting process is killed (SIGKILL).

Either way every reading the broker acknowledged to the publisher ends up in the store,
and none is stored twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from mqtt_world import LINE, PARAMETERS, SITE, STATIONS, VINS, process_readings, telemetry

import gigaloop
from gigaloop.ingest.mqtt import MqttConnector
from gigaloop.ingest.mqtt_publish import EdgeNode, Publisher
from gigaloop.store import Store

pytestmark = pytest.mark.service
KEY = ["vin", "station_id", "parameter"]


def keys(rows: pa.Table) -> set[tuple[str, ...]]:
    return set(zip(*(rows[k].to_pylist() for k in KEY), strict=True))


def stream(publisher: Publisher, node: EdgeNode, chunks: int, *, pause_s: float,
           midway=None) -> pa.Table:
    """``chunks`` batches of readings (120 each), ``midway()`` called half-way through."""
    sent = []
    for chunk in range(chunks):
        rows = process_readings(STATIONS[chunk % 2], VINS, start=chunk + 1)
        publisher.process_readings(node, STATIONS[chunk % 2], rows)
        sent.append(rows)
        if chunk == chunks // 2 and midway is not None:
            midway()
        time.sleep(pause_s)
    return pa.concat_tables(sent)


def test_a_broker_restart_mid_stream_loses_no_acknowledged_reading(broker, store,
                                                                   caplog) -> None:
    with MqttConnector(store, port=broker.port, client_id="t-restart") as connector, \
            Publisher(port=broker.port, client_id="p-restart", rows_per_message=20) as publisher:
        assert connector.ready.wait(5)
        node = EdgeNode(SITE, LINE)
        publisher.birth(node, {s: PARAMETERS for s in STATIONS})
        sent = stream(publisher, node, 10, pause_s=0.02, midway=broker.restart)
        assert publisher.wait(20)
        assert connector.wait_until(lambda s: s.total().written >= sent.num_rows, 20)
        stats = connector.stats
    assert store.count("process_readings") == sent.num_rows
    assert keys(store.to_pyarrow(store.table("process_readings"))) == keys(sent)
    assert stats.total().quarantined == stats.total().rejected == 0
    assert "lost the broker" in caplog.text  # the restart did cut the connection
    assert (broker.folder / "mosquitto.db").exists()  # where its queues waited


def _connector(root: Path, port: int) -> tuple[subprocess.Popen[str], list[dict]]:
    """``python -m gigaloop.ingest.mqtt`` on ``root``; its JSON lines, read as they come."""
    src = str(Path(gigaloop.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "gigaloop.ingest.mqtt", "--store", str(root), "--port", str(port),
         "--client-id", "t-kill", "--every", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    lines: list[dict] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(json.loads(line))
    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + 20
    while not lines and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lines and lines[0] == {"ready": True}, "the connector did not subscribe"
    return process, lines


def _quiet(lines: list[dict], for_s: float = 1.0, timeout_s: float = 20.0) -> dict:
    """The counts once they stopped changing for ``for_s`` seconds."""
    deadline, last, since = time.monotonic() + timeout_s, None, time.monotonic()
    while time.monotonic() < deadline:
        now = lines[-1]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= for_s and "written" in now:
            return now
        time.sleep(0.05)
    raise AssertionError("the connector never settled")


def test_killing_the_connector_mid_stream_loses_and_doubles_nothing(broker, store_root) -> None:
    first, _ = _connector(store_root, broker.port)
    with Publisher(port=broker.port, client_id="p-kill", rows_per_message=20) as publisher:
        node = EdgeNode(SITE, LINE)
        publisher.birth(node, {})  # metrics by name: a restarted connector knows no aliases

        def crash() -> None:
            first.send_signal(signal.SIGKILL)
            first.wait()

        sent = stream(publisher, node, 16, pause_s=0.03, midway=crash)
        publisher.fleet_rows(SITE, VINS[0], "telemetry_daily", telemetry(VINS[0], 30))
        second, lines = _connector(store_root, broker.port)  # the broker kept its session
        assert publisher.wait(20)
        counts = _quiet(lines)
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    # the first process had written (and acknowledged) part; the second got the rest
    assert 0 < counts["rows_received"] < sent.num_rows + 30 and counts["gaps"] == 0
    store = Store(store_root)
    try:
        assert store.count("process_readings") == sent.num_rows
        assert keys(store.to_pyarrow(store.table("process_readings"))) == keys(sent)
        assert store.count("telemetry_daily") == 30 and store.count("quarantine") == 0
    finally:
        store.close()
