"""The MQTT connector against a real Mosquitto: round trips, bad messages, duplicates, loss."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow as pa
import pytest
from mqtt_world import (
    LINE,
    MACHINES,
    PARAMETERS,
    SITE,
    STATIONS,
    VINS,
    machine_readings,
    process_readings,
    telemetry,
)

from gigaloop.ingest.mqtt import MqttConnector
from gigaloop.ingest.mqtt_publish import EdgeNode, Publisher
from gigaloop.ingest.sequence import ConnectorStats
from gigaloop.store import Store

pytestmark = pytest.mark.service
NODE = f"spBv1.0/{SITE}/{LINE}"


def settled(stats: ConnectorStats, rows: int, messages: int | None = None) -> bool:
    """Every row received has been written, and ``rows`` in all."""
    total = stats.total()
    done = total.written + total.unchanged + total.quarantined + total.rejected
    return total.rows_received >= rows and done >= total.rows_received and (
        messages is None or total.messages >= messages)


def adds_up(stats: ConnectorStats) -> None:
    for name, one in stats.sources.items():
        assert one.rows_received == one.written + one.unchanged + one.quarantined + \
            one.rejected, name


def test_sparkplug_and_json_rows_arrive_once_each(broker, store) -> None:
    readings = {s: process_readings(s, VINS) for s in STATIONS}
    days = {v: telemetry(v, 12) for v in VINS[:8]}
    with MqttConnector(store, port=broker.port, client_id="t-round-trip") as connector, \
            Publisher(port=broker.port, rows_per_message=25) as publisher:
        assert connector.ready.wait(5)
        line = EdgeNode(SITE, LINE)
        publisher.birth(line, {STATIONS[0]: PARAMETERS})  # the second station sends names
        for station, rows in readings.items():
            publisher.process_readings(line, station, rows)
        publisher.machine_readings(line, STATIONS[0], machine_readings(MACHINES[0], 30))
        for vin, rows in days.items():
            publisher.fleet_rows(SITE, vin, "telemetry_daily", rows)
        assert publisher.wait(10)
        sent_rows = sum(s.num_rows for s in publisher.sent)
        assert connector.wait_until(lambda s: settled(s, sent_rows), 15)
        stats = connector.stats

    adds_up(stats)
    plant = stats.sources[NODE]
    assert (plant.rows_received, plant.written, plant.gaps, plant.missing) == (
        2 * 3 * len(VINS) + 30, 2 * 3 * len(VINS) + 30, 0, 0)
    assert stats.sources[f"{SITE}/{VINS[0]}"].written == 12
    assert stats.total().rejected_messages == 0 and stats.total().quarantined == 0
    stored = store.to_pyarrow(store.table("process_readings")).sort_by(
        [("station_id", "ascending"), ("event_time", "ascending")])
    expected = pa.concat_tables(readings.values()).sort_by(
        [("station_id", "ascending"), ("event_time", "ascending")])
    for column in ("vin", "parameter", "value", "unit", "setpoint", "event_time"):
        assert stored[column].to_pylist() == expected[column].to_pylist(), column
    assert store.count("machine_readings") == 30 and store.count("telemetry_daily") == 8 * 12
