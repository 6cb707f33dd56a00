"""Sustained MQTT ingest: readings through a broker of our own into a store, and the loss.

A Mosquitto with the shipped config runs on a free loopback port. Payloads are encoded
before the clock starts: plant readings as Sparkplug B DDATA (``--per-message`` metrics
each, by alias, ``vin`` as a property), fleet rows as compact JSON per vehicle
(``telemetry_daily``, ``--per-message`` days per message), and the plant readings again as
columnar Sparkplug B (array metrics, 10,000 readings a message,
:mod:`gigaloop.ingest.sparkplug_columns`). Timed: from the first publish
until the connector has written every row (each message acknowledged only once durable).

The baseline, measured in the same process on the same payloads and broker: a plain paho
subscriber (QoS 1, automatic acknowledgement) that only counts the messages: no decoding,
no store. Figures, one JSON line each, per format: ``readings_per_s`` (and messages/s, the
baseline's, the ratio), ``loss`` (rows sent − rows written: must be 0; missing sequence
numbers beside).

    .venv/bin/python bench/bench_mqtt.py [--readings 200000] [--per-message 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa

from gigaloop.ingest import fleet_json, sparkplug
from gigaloop.ingest.broker import Mosquitto
from gigaloop.ingest.mqtt import MqttConnector
from gigaloop.ingest.mqtt_publish import EdgeNode, Publisher, birth_payloads, columns_payload
from gigaloop.store import Store

SITE, LINE, STATION = "FRE", "FRE-BIW", "FRE-BIW-10"
BUILT = dt.datetime(2024, 3, 1, 6)
COLUMNS_PER_MESSAGE = 10_000  # readings per columnar DDATA (about 250 kB)


def seed(root: Path, vehicles: int) -> list[str]:
    vins = [f"5YJ3E1EA0PF{i:06d}" for i in range(vehicles)]
    store = Store(root)
    store.write_many({
        "sites": [{"site_id": SITE, "name": "Fremont", "region": "CAISO", "timezone": "UTC"}],
        "lines": [{"line_id": LINE, "site_id": SITE, "name": "Body in white"}],
        "stations": [{"station_id": STATION, "line_id": LINE, "process": "body_weld",
                      "sequence": 10}],
        "vehicles": [{"vin": v, "build_date": BUILT.date(), "site_id": SITE, "line_id": LINE,
                      "shift": "A", "model": "Model 3", "trim": "LR", "hardware_revision": "HW4",
                      "design_revision": "B", "event_time": BUILT} for v in vins],
    }, ingested_at=BUILT)
    store.close()
    return vins


Payloads = list[tuple[str, bytes]]


def sparkplug_payloads(publisher: Publisher, vins: list[str], readings: int,
                       per_message: int) -> tuple[Payloads, Payloads, Payloads]:
    """Births, then DDATA messages of ``readings`` process readings (unique keys): a metric
    per reading, ``per_message`` a message; and the same readings as columns."""
    parameters = {f"weld_spot_{k:04d}": "kA" for k in range(-(-readings // len(vins)))}
    node = EdgeNode(SITE, LINE)
    births = [(topic, payload) for topic, payload, _ in birth_payloads(node, {STATION: parameters})]
    aliases, names = node.aliases[STATION], list(parameters)
    n = readings
    rows = pa.table({
        "vin": [vins[i % len(vins)] for i in range(n)], "machine_id": pa.nulls(n, pa.string()),
        "parameter": [names[i // len(vins)] for i in range(n)],
        "value": [10.0 + (i % 97) / 10 for i in range(n)], "unit": ["kA"] * n,
        "setpoint": pa.nulls(n, pa.float64()),
        "event_time": [BUILT + dt.timedelta(milliseconds=i) for i in range(n)]})
    topic = sparkplug.topic(SITE, "DDATA", LINE, STATION)
    data = [(topic, publisher.ddata_payload(node, rows.slice(s, per_message), aliases)[0])
            for s in range(0, n, per_message)]
    columnar = [(topic, columns_payload(node, "process_readings",
                                        rows.slice(s, COLUMNS_PER_MESSAGE))[0])
                for s in range(0, n, COLUMNS_PER_MESSAGE)]
    return births, data, columnar


def json_payloads(vins: list[str], readings: int, per_message: int) -> list[tuple[str, bytes]]:
    """Per-vehicle ``telemetry_daily`` messages, ``per_message`` days each."""
    days = -(-readings // len(vins))
    first = min(BUILT.date(), dt.date.today() - dt.timedelta(days=days + 1))  # none ahead
    template = {"climate_region": "temperate", "software_version": "2024.8",
                "autopilot_miles": 7.0, "rain_miles": 1.0, "late_night_miles": 0.5,
                "hard_braking_fraction": 0.01, "aggressive_turning_fraction": 0.01,
                "unsafe_following_fraction": 0.02, "speeding_fraction": 0.0, "fcw_count": 0,
                "forced_disengagements": 0, "disengagements_clear": 0, "disengagements_rain": 0,
                "disengagements_night": 0, "dc_fast_charge_kwh": 0.0, "ambient_temp_c": 18.0,
                "battery_soh": 0.99}
    payloads = []
    for vin in vins:
        for start in range(0, days, per_message):
            span = range(start, min(days, start + per_message))
            dates = [first + dt.timedelta(days=d) for d in span]
            columns = {name: [value] * len(span) for name, value in template.items()}
            columns |= {"day": [d.isoformat() for d in dates],
                        "event_time": [f"{d.isoformat()}T23:59:00" for d in dates],
                        "miles": [30.0 + d for d in span],
                        "odometer_miles": [100.0 + d for d in span]}
            body = {"source": vin, "seq": start // per_message, "columns": columns}
            payloads.append((fleet_json.topic(SITE, vin, "telemetry_daily"),
                             fleet_json.encode(body)))
    return payloads


def baseline(port: int, payloads: list[tuple[str, bytes]], timeout_s: float) -> float:
    """Seconds for a plain paho subscriber to receive every payload (no decoding, no store)."""
    import paho.mqtt.client as mqtt

    received, ready = [0], threading.Event()
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-baseline")
    subscriber.on_connect = lambda c, *a: c.subscribe([(sparkplug.TOPIC_FILTER, 1),
                                                       (fleet_json.TOPIC_FILTER, 1)])
    subscriber.on_subscribe = lambda *a: ready.set()

    def count(*args: object) -> None:
        received[0] += 1
    subscriber.on_message = count
    subscriber.connect("127.0.0.1", port)
    subscriber.loop_start()
    ready.wait(10)
    with Publisher(port=port, keep_rows=False) as publisher:
        started = time.perf_counter()
        for topic, payload in payloads:
            publisher.publish(topic, payload)
        while received[0] < len(payloads) and time.perf_counter() - started < timeout_s:
            time.sleep(0.005)
        elapsed = time.perf_counter() - started
    subscriber.disconnect()
    subscriber.loop_stop()
    return elapsed


def through_store(port: int, root: Path, births: list[tuple[str, bytes]],
                  payloads: list[tuple[str, bytes]], rows: int, timeout_s: float) -> dict:
    """Seconds until the connector wrote ``rows`` rows of ``payloads``; its counts."""
    store = Store(root)
    connector = MqttConnector(store, port=port, client_id=f"bench-{root.name}").start()
    connector.ready.wait(10)
    with Publisher(port=port, keep_rows=False) as publisher:
        for topic, payload in births:
            publisher.publish(topic, payload)
        started = time.perf_counter()
        for topic, payload in payloads:
            publisher.publish(topic, payload)
        connector.wait_until(lambda s: s.total().written + s.total().quarantined >= rows,
                             timeout_s)
        elapsed = time.perf_counter() - started
    total = connector.stats.total()
    connector.stop()
    store.close()
    return {"seconds": elapsed, "written": total.written, "quarantined": total.quarantined,
            "missing": total.missing, "rejected": total.rejected + total.rejected_messages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000, help="rows per format")
    parser.add_argument("--per-message", type=int, default=1000)
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        vins = seed(base / "seed", args.vehicles)
        with Mosquitto(base / "broker") as broker:
            encoder = Publisher(port=broker.port, keep_rows=False)
            births, plant, columnar = sparkplug_payloads(encoder, vins, args.readings,
                                                         args.per_message)
            days_per_message = max(1, args.per_message // 10)
            fleet = json_payloads(vins, args.readings, days_per_message)
            rows_fleet = len(vins) * -(-args.readings // len(vins))
            for name, birth, payloads, rows in (
                    ("sparkplug", births, plant, args.readings),
                    ("sparkplug_columns", births, columnar, args.readings),
                    ("json", [], fleet, rows_fleet)):
                raw_s = baseline(broker.port, payloads, args.timeout)
                root = base / name
                root.mkdir()
                for path in (base / "seed").iterdir():  # the same reference rows
                    _copy(path, root / path.name)
                ran = through_store(broker.port, root, birth, payloads, rows, args.timeout)
                per_s = rows / ran["seconds"]
                print(json.dumps({
                    "figure": f"mqtt_{name}_readings_per_s", "value": round(per_s),
                    "messages_per_s": round(len(payloads) / ran["seconds"]),
                    "rows_per_message": round(rows / len(payloads)), "readings": rows,
                    "seconds": round(ran["seconds"], 2),
                    "baseline_readings_per_s": round(rows / raw_s),
                    "ratio_to_baseline": round(raw_s / ran["seconds"], 3)}), flush=True)
                print(json.dumps({
                    "figure": f"mqtt_{name}_loss", "value": rows - ran["written"],
                    "missing_sequence_numbers": ran["missing"], "rejected": ran["rejected"],
                    "quarantined": ran["quarantined"]}), flush=True)


def _copy(source: Path, target: Path) -> None:
    import shutil

    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)


if __name__ == "__main__":
    main()
