"""The MQTT connector against a real Mosquitto: round trips, bad messages, duplicates, loss."""

from __future__ import annotations

import base64
import json
import time

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

from gigaloop.appstate import AppState
from gigaloop.ingest import fleet_json
from gigaloop.ingest.mqtt import MqttConnector
from gigaloop.ingest.mqtt_publish import EdgeNode, Publisher
from gigaloop.ingest.sequence import ConnectorStats
from gigaloop.store import Store

pytestmark = pytest.mark.service
NODE = f"spBv1.0/{SITE}/{LINE}"
TRUNCATED = b"\x12\x10\xff\xfe"  # a metric of 16 bytes, 2 of them sent (not UTF-8)


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


def _ddata(seq: int, metrics: list[tuple[str | None, int | None, int, object]]) -> bytes:
    """A DDATA payload by hand: (name, alias, datatype, value) per metric; vin and unit."""
    from tahutils.tahu import sparkplug_b as spb

    payload = spb.Payload()
    payload.timestamp, payload.seq = 1_709_280_000_000, seq
    for name, alias, datatype, value in metrics:
        metric = spb.addMetric(payload, name, alias, datatype, value, 1_709_280_000_000)
        for key, text in (("vin", VINS[0]), ("unit", "kA")):
            metric.properties.keys.append(key)
            holder = metric.properties.values.add()
            holder.type, holder.string_value = 12, text
    return payload.SerializeToString()


def test_bad_messages_are_kept_with_their_reason_and_counted(broker, store) -> None:
    fleet = f"gigaloop/{SITE}/fleet/{VINS[1]}/telemetry_daily"
    good = telemetry(VINS[1], 2)
    wrong_type = telemetry(VINS[1], 1, first=5).to_pylist()[0] | {"miles": "far"}
    stranger = f"gigaloop/{SITE}/fleet/5YJ3NOBODY0000000/telemetry_daily"
    ddata = f"spBv1.0/{SITE}/DDATA/{LINE}/{STATIONS[0]}"
    with MqttConnector(store, port=broker.port, client_id="t-bad") as connector, \
            Publisher(port=broker.port) as publisher:
        assert connector.ready.wait(5)
        publisher.fleet_rows(SITE, VINS[1], "telemetry_daily", good)  # seq 0, fine
        publisher.publish(fleet, b'{"seq": 1, "rows": [{"day": ')  # bad JSON
        publisher.publish(fleet, json.dumps({"seq": 2, "rows": [wrong_type]}, default=str)
                          .encode(), num_rows=1)
        publisher.publish(fleet, json.dumps({"seq": 3, "rows": [{"day": "2024-03-09",
                                                                 "colour": "red"}]}).encode())
        publisher.publish(fleet, json.dumps({"rows": []}).encode())  # no seq
        row = telemetry("5YJ3NOBODY0000000", 1).to_pylist()[0]
        publisher.publish(stranger, json.dumps({"seq": 0, "rows": [row]}, default=str).encode(),
                          num_rows=1)
        node = EdgeNode(SITE, LINE)
        publisher.birth(node, {})
        publisher.publish(ddata, TRUNCATED)
        publisher.publish(ddata, _ddata(node.next_seq(), [
            ("weld_current", None, 10, 11.5),  # fine
            ("weld_time", None, 12, "slow"),  # a String where a number belongs
            (None, 77, 10, 1.0),  # an alias no DBIRTH declared
        ]), num_rows=3)
        assert publisher.wait(10)
        assert connector.wait_until(lambda s: settled(s, 7, messages=9), 10)
        stats = connector.stats

    adds_up(stats)
    vehicle = stats.sources[f"{SITE}/{VINS[1]}"]
    assert (vehicle.messages, vehicle.rejected_messages, vehicle.written, vehicle.quarantined) \
        == (5, 3, 2, 1)
    assert vehicle.reasons["miles: not a float64"] == 1
    assert {r for r in vehicle.reasons if r.startswith("bad JSON")}
    assert any(r.startswith("unknown columns ['colour']") for r in vehicle.reasons)
    assert vehicle.reasons["seq: missing or not a non-negative integer"] == 1
    assert stats.sources[f"{SITE}/5YJ3NOBODY0000000"].reasons == {
        "vin: unknown vehicles.vin": 1}
    plant = stats.sources[NODE]
    assert (plant.written, plant.quarantined, plant.rejected, plant.rejected_messages) == (
        1, 1, 1, 1)
    assert plant.reasons["value: not a float64"] == 1
    assert plant.reasons["unknown alias 77 (no DBIRTH declared it)"] == 1
    assert any(r.startswith("bad Sparkplug B protobuf") for r in plant.reasons)

    quarantine = store.execute(store.quarantine())
    kept = dict(zip(quarantine.reason, quarantine.row_json, strict=True))
    bad_json = next(text for reason, text in kept.items() if reason.startswith("bad JSON"))
    assert json.loads(bad_json) == {"topic": fleet, "payload": '{"seq": 1, "rows": [{"day": '}
    protobuf = next(text for reason, text in kept.items() if reason.startswith("bad Sparkplug"))
    assert base64.b64decode(json.loads(protobuf)["payload_base64"]) == TRUNCATED
    assert "vin: unknown vehicles.vin" in kept and "miles: not a float64" in kept
    alias = json.loads(kept["unknown alias 77 (no DBIRTH declared it)"])
    assert alias == {"topic": ddata, "reading": {"alias": 77, "datatype": 10, "name": "",
                                                 "timestamp": 1_709_280_000_000}}
    assert set(quarantine.source) >= {f"mqtt:{SITE}/{VINS[1]}", f"mqtt:{NODE}"}


def test_messages_sent_again_change_nothing(broker, store) -> None:
    days = telemetry(VINS[2], 5)
    with MqttConnector(store, port=broker.port, client_id="t-again") as connector, \
            Publisher(port=broker.port) as publisher:
        assert connector.ready.wait(5)
        first = publisher.fleet_rows(SITE, VINS[2], "telemetry_daily", days)[0]
        node = EdgeNode(SITE, LINE)
        publisher.birth(node, {STATIONS[0]: PARAMETERS})
        readings = publisher.process_readings(node, STATIONS[0], process_readings(
            STATIONS[0], VINS[:4]))[0]
        assert publisher.wait(5)
        assert connector.wait_until(lambda s: settled(s, 5 + 12), 10)
        for sent in (first, readings):  # the same payloads again: QoS 1 redelivery
            assert sent.payload is not None
            publisher.publish(sent.topic, sent.payload, num_rows=sent.num_rows)
        assert publisher.wait(5)
        assert connector.wait_until(lambda s: settled(s, 2 * (5 + 12)), 10)
        stats = connector.stats

    adds_up(stats)
    vehicle, plant = stats.sources[f"{SITE}/{VINS[2]}"], stats.sources[NODE]
    assert (vehicle.written, vehicle.unchanged, vehicle.duplicates, vehicle.gaps) == (5, 5, 1, 0)
    assert (plant.written, plant.unchanged, plant.duplicates, plant.gaps) == (12, 12, 1, 0)
    assert store.count("telemetry_daily") == 5 and store.count("process_readings") == 12
    assert store.count("quarantine") == 0


def test_a_hole_in_the_sequence_is_reported(broker, store) -> None:
    with MqttConnector(store, port=broker.port, client_id="t-hole") as connector, \
            Publisher(port=broker.port, rows_per_message=1) as publisher:
        assert connector.ready.wait(5)
        node = EdgeNode(SITE, LINE)
        publisher.birth(node, {STATIONS[0]: PARAMETERS})
        rows = process_readings(STATIONS[0], VINS[:2])  # 6 readings: 6 messages
        publisher.process_readings(node, STATIONS[0], rows.slice(0, 2))
        node.seq += 3  # three messages the broker "lost"
        publisher.process_readings(node, STATIONS[0], rows.slice(2))
        sent = publisher.fleet_rows(SITE, VINS[3], "telemetry_daily", telemetry(VINS[3], 1))
        publisher._fleet_seq[sent[0].source] = 7  # six lost
        publisher.fleet_rows(SITE, VINS[3], "telemetry_daily", telemetry(VINS[3], 1, first=1))
        assert publisher.wait(5)
        assert connector.wait_until(lambda s: settled(s, 8), 10)
        stats = connector.stats
    plant, vehicle = stats.sources[NODE], stats.sources[f"{SITE}/{VINS[3]}"]
    assert (plant.gaps, plant.missing, plant.written) == (1, 3, 6)
    assert (vehicle.gaps, vehicle.missing, vehicle.written) == (1, 6, 2)


def test_a_hole_while_the_connector_was_away_is_reported_after_its_restart(
        broker, store, tmp_path) -> None:
    """The last sequence number written per fleet source is kept in the app state: a
    connector started later continues from it, so messages lost while none ran count."""
    state = AppState(f"sqlite:///{tmp_path / 'state.db'}")
    source = f"{SITE}/{VINS[4]}"
    with Publisher(port=broker.port, rows_per_message=1) as publisher:
        with MqttConnector(store, port=broker.port, client_id="t-away-1",
                           offsets=state.offsets) as first:
            assert first.ready.wait(5)
            publisher.fleet_rows(SITE, VINS[4], "telemetry_daily", telemetry(VINS[4], 2))
            assert publisher.wait(5) and first.wait_until(lambda s: settled(s, 2), 10)
        assert state.offsets.get(source) == 1  # seq 0 and 1 written
        publisher._fleet_seq[source] = 5  # 2, 3 and 4 went nowhere while none ran
        with MqttConnector(store, port=broker.port, client_id="t-away-2",
                           offsets=state.offsets) as second:
            assert second.ready.wait(5)
            publisher.fleet_rows(SITE, VINS[4], "telemetry_daily",
                                 telemetry(VINS[4], 1, first=2))
            assert publisher.wait(5) and second.wait_until(lambda s: settled(s, 1), 10)
    after = second.stats.sources[source]
    assert (after.gaps, after.missing, after.written) == (1, 3, 1)
    assert state.offsets.get(source) == 5
    state.close()


class SlowStore:
    """A store whose first write takes a while: a connector falling behind."""

    def __init__(self, store: Store, pause_s: float) -> None:
        self.store, self.pause_s = store, pause_s

    def write(self, *args, **kwargs):
        time.sleep(self.pause_s)
        self.pause_s = 0.0
        return self.store.write(*args, **kwargs)


def test_stock_broker_limits_drop_messages_and_the_gap_shows_it(tmp_path, store) -> None:
    """With Mosquitto's stock queue, a connector that falls behind loses messages silently;
    the source's next message shows the hole, and how many are missing."""
    from gigaloop.ingest.broker import CONFIG, Mosquitto

    stock = tmp_path / "stock.conf"
    stock.write_text(CONFIG.read_text().replace("max_queued_messages 10000000",
                                                "max_queued_messages 50")
                     .replace("max_inflight_messages 1000", "max_inflight_messages 20"))
    vin = VINS[4]
    with Mosquitto(tmp_path / "stock", config=stock) as broker, \
            MqttConnector(SlowStore(store, 1.5), port=broker.port, client_id="t-stock",
                          max_batch=5) as connector, \
            Publisher(port=broker.port, rows_per_message=1) as publisher:
        assert connector.ready.wait(5)
        publisher.fleet_rows(SITE, vin, "telemetry_daily", telemetry(vin, 300))
        assert publisher.wait(10)  # the broker acknowledged all 300 …
        assert connector.wait_until(lambda s: settled(s, 70), 10)
        time.sleep(0.3)
        publisher.fleet_rows(SITE, vin, "telemetry_daily", telemetry(vin, 1, first=300))
        assert connector.wait_until(lambda s: s.total().gaps > 0 and settled(s, 1), 10)
        stats = connector.stats
    vehicle = stats.sources[f"{SITE}/{vin}"]
    assert vehicle.written < 300  # … and dropped some
    assert vehicle.gaps >= 1 and vehicle.missing == 301 - vehicle.written
    assert store.count("telemetry_daily") == vehicle.written


def test_without_the_service_extra_the_error_names_the_install(monkeypatch, store) -> None:
    import sys

    from gigaloop.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "paho.mqtt.client", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'gigaloop\[service\]'"):
        MqttConnector(store)


def test_columnar_sparkplug_rows_arrive_once_each(broker, store) -> None:
    rows = process_readings(STATIONS[0], VINS)
    with MqttConnector(store, port=broker.port, client_id="t-columns") as connector, \
            Publisher(port=broker.port) as publisher:
        assert connector.ready.wait(5)
        line = EdgeNode(SITE, LINE)
        publisher.birth(line, {STATIONS[0]: PARAMETERS})
        publisher.columns(line, STATIONS[0], "process_readings", rows, rows_per_message=30)
        assert publisher.wait(10)
        assert connector.wait_until(lambda s: settled(s, rows.num_rows), 15)
        publisher.columns(line, STATIONS[0], "process_readings", rows.slice(0, 30))  # again
        assert publisher.wait(10)
        assert connector.wait_until(lambda s: settled(s, rows.num_rows + 30), 15)
        stats = connector.stats
    adds_up(stats)
    plant = stats.sources[NODE]
    assert (plant.written, plant.unchanged, plant.gaps) == (rows.num_rows, 30, 0)
    stored = store.to_pyarrow(store.table("process_readings")).sort_by("event_time")
    for column in ("vin", "parameter", "value", "unit", "event_time"):
        assert stored[column].to_pylist() == rows.sort_by("event_time")[column].to_pylist()


def _reading(seq: int, readings: list[tuple[str, float, str, int]]) -> bytes:
    """A DDATA of weld_current readings by hand: (vin, value, unit, ms timestamp) each."""
    from tahutils.tahu import sparkplug_b as spb

    payload = spb.Payload()
    payload.timestamp, payload.seq = 1_709_280_000_000, seq
    for vin, value, unit, stamp in readings:
        metric = spb.addMetric(payload, "weld_current", None, 10, value, stamp)
        for key, text in (("vin", vin), ("unit", unit)):
            metric.properties.keys.append(key)
            holder = metric.properties.values.add()
            holder.type, holder.string_value = 12, text
    return payload.SerializeToString()


def test_every_kind_of_bad_input_is_refused_or_quarantined_and_adds_up(broker, store) -> None:
    """Over MQTT: a unit other than the stored one (A for kA), NaN, a clock far ahead, two
    values under one key, an unknown VIN, a site whose zone is not an IANA zone, a vehicle sending
    another's rows, a 10 MB payload; a late (out-of-order) reading is data, not an error.
    Per source: received = written + unchanged + quarantined + rejected."""
    t0 = 1_709_280_000_000
    ahead = int((time.time() + 3 * 86_400) * 1000)
    ddata = f"spBv1.0/{SITE}/DDATA/{LINE}/{STATIONS[0]}"
    with MqttConnector(store, port=broker.port, client_id="t-all-bad") as connector, \
            Publisher(port=broker.port) as publisher:
        assert connector.ready.wait(5)
        node = EdgeNode(SITE, LINE)
        publisher.birth(node, {})
        publisher.publish(ddata, _reading(node.next_seq(), [(VINS[0], 11.5, "kA", t0)]),
                          num_rows=1)
        assert publisher.wait(10)
        assert connector.wait_until(lambda s: settled(s, 1), 10)
        publisher.publish(ddata, _reading(node.next_seq(), [
            (VINS[1], 11500.0, "A", t0),                  # kA is the stored unit
            (VINS[2], float("nan"), "kA", t0),             # NaN
            (VINS[3], 11.4, "kA", ahead),                  # a clock three days ahead
            (VINS[4], 11.3, "kA", t0), (VINS[4], 11.6, "kA", t0),  # one key, two values
            (VINS[5], 11.2, "kA", t0 - 86_400_000),        # a day late: fine
            ("5YJ3NOBODY0000000", 11.1, "kA", t0),          # no such vehicle
        ]), num_rows=7)
        sites = [{"site_id": "BER", "name": "Berlin", "region": "DE", "timezone": "CET+1"}]
        publisher.publish(fleet_json.table_topic(SITE, "sites"),
                          json.dumps({"seq": 0, "rows": sites}).encode(), num_rows=1)
        other = telemetry(VINS[7], 1).to_pylist()[0]
        publisher.publish(fleet_json.topic(SITE, VINS[6], "telemetry_daily"),
                          json.dumps({"seq": 0, "rows": [other]}, default=str).encode())
        huge = b'{"seq": 1, "rows": [' + b" " * (10 * 1024 * 1024) + b"]}"
        publisher.publish(fleet_json.topic(SITE, VINS[6], "telemetry_daily"), huge)
        assert publisher.wait(20)
        assert connector.wait_until(lambda s: settled(s, 9, messages=6), 20)
        stats = connector.stats

    adds_up(stats)
    plant = stats.sources[NODE]
    assert (plant.rows_received, plant.written, plant.quarantined) == (8, 3, 5), plant.reasons
    for reason in ("unit: not the unit first stored for its station_id, parameter",
                   "value: not a number", "vin: unknown vehicles.vin",
                   "event_time: more than a day after it was received (a clock ahead?)",
                   "duplicate key in batch"):
        assert plant.reasons[reason] == 1, (reason, plant.reasons)
    site = stats.sources[f"{SITE}/sites"]
    assert (site.written, site.quarantined) == (0, 1)
    assert site.reasons["timezone: not an IANA time zone (e.g. America/Los_Angeles, "
                        "Europe/Berlin)"] == 1
    vehicle = stats.sources[f"{SITE}/{VINS[6]}"]
    assert (vehicle.messages, vehicle.rejected_messages, vehicle.written) == (2, 2, 0)
    assert vehicle.reasons[f"rows name vehicles other than the topic's {VINS[6]}"] == 1
    too_big = next(r for r in vehicle.reasons if "over the 10,485,760-byte limit" in r)
    quarantine = store.execute(store.quarantine())
    kept = json.loads(quarantine[quarantine.reason == too_big].row_json.iloc[0])["reading"]
    assert kept["bytes"] == len(huge) and base64.b64decode(kept["head_base64"]) == huge[:1024]
