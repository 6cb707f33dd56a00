"""Publishing rows the way plants and vehicles do: Sparkplug B and fleet JSON, numbered.

:class:`Publisher` sends at QoS 1 with a persistent session and remembers every message
(topic, sequence number, rows, and whether the broker acknowledged it), so that tests
and benchmarks can tell what was acknowledged. :class:`EdgeNode` numbers one Sparkplug
edge node's messages (``seq`` 0–255, NBIRTH at 0, ``bdSeq`` per session); fleet
messages are numbered per source from 0.

    with Publisher(port=broker.port) as publisher:
        line = EdgeNode("FRE", "FRE-BIW")
        publisher.birth(line, {"ST-WELD": {"weld_current": "kA"}})
        publisher.process_readings(line, "ST-WELD", readings)     # process_readings rows
        publisher.columns(line, "ST-WELD", "process_readings", readings)   # …as columns
        publisher.fleet_rows("FRE", "VIN001", "telemetry_daily", days)
        publisher.wait()                                         # every PUBACK received
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from gigaloop.errors import IngestError, require
from gigaloop.ingest import fleet_json, sparkplug, sparkplug_columns
from gigaloop.schema import INGESTED_AT

DOUBLE, STRING, INT64, DOUBLE_ARRAY = 10, 12, 4, 31  # Sparkplug B datatypes


def _tahu() -> Any:
    return require("tahutils.tahu.sparkplug_b", "service")


@dataclass
class EdgeNode:
    """One Sparkplug edge node (a line of a site): its session and message numbers."""

    group: str
    edge: str
    bd_seq: int = 0
    seq: int = -1
    aliases: dict[str, dict[str, int]] = field(default_factory=dict)  # device → name → alias

    def next_seq(self) -> int:
        self.seq = (self.seq + 1) % sparkplug.SEQ_MODULUS
        return self.seq


@dataclass
class Sent:
    """One published message: its paho info, and its rows and payload (when kept)."""

    topic: str
    source: str
    seq: int | None
    num_rows: int
    info: Any
    rows: pa.Table | None = None
    payload: bytes | None = None

    acknowledged: bool = False  # the broker acknowledged it (PUBACK received)


class Publisher:
    """Publishes payloads at QoS 1; ``keep_rows`` keeps each message's rows in :attr:`sent`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883, *, client_id: str | None = None,
                 rows_per_message: int = 500, keep_rows: bool = True,
                 max_inflight: int = 1000) -> None:
        mqtt = require("paho.mqtt.client", "service")
        self.host, self.port = host, port
        self.rows_per_message, self.keep_rows = rows_per_message, keep_rows
        self.sent: list[Sent] = []
        self._fleet_seq: dict[str, int] = {}
        self._connected = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                   client_id=client_id or f"gigaloop-pub-{uuid.uuid4().hex[:8]}",
                                   clean_session=False)
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(0)  # paho queues without limit while offline
        self._client.reconnect_delay_set(min_delay=1, max_delay=2)
        self._pending: dict[int, Sent] = {}  # mid → message awaiting its PUBACK
        self._early: set[int] = set()  # PUBACKs that came before publish() returned
        self._lock = threading.Lock()
        self._client.on_publish = self._on_publish
        self._client.on_connect = lambda *args: self._connected.set()
        self._client.on_disconnect = lambda *args: self._connected.clear()

    def connect(self, timeout_s: float = 10.0) -> Publisher:
        self._client.connect_async(self.host, self.port)
        self._client.loop_start()
        if not self._connected.wait(timeout_s):
            raise IngestError(f"no broker at {self.host}:{self.port}", port=self.port)
        return self

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Publisher:
        return self.connect()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- sending -------------------------------------------------------------------------
    def publish(self, topic: str, payload: bytes, *, source: str = "", seq: int | None = None,
                rows: pa.Table | None = None, num_rows: int = 0) -> Sent:
        """Publish one payload at QoS 1 (also while the broker is away: paho queues it)."""
        info = self._client.publish(topic, payload, qos=1)
        sent = Sent(topic, source, seq, rows.num_rows if rows is not None else num_rows,
                    info, *((rows, payload) if self.keep_rows else (None, None)))
        with self._lock:  # the PUBACK may have come before publish() returned
            if info.mid in self._early:
                self._early.discard(info.mid)
                sent.acknowledged = True
            else:
                self._pending[info.mid] = sent
            self.sent.append(sent)
        return sent

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any,
                    properties: Any) -> None:
        with self._lock:
            sent = self._pending.pop(mid, None)
            if sent is None:
                self._early.add(mid)
            else:
                sent.acknowledged = True

    def birth(self, node: EdgeNode, devices: Mapping[str, Mapping[str, str | None]]) -> None:
        """Publish :func:`birth_payloads` (a new session of ``node``)."""
        source = f"{sparkplug.NAMESPACE}/{node.group}/{node.edge}"
        for topic, payload, seq in birth_payloads(node, devices):
            self.publish(topic, payload, source=source, seq=seq)

    def process_readings(self, node: EdgeNode, device: str, rows: pa.Table) -> list[Sent]:
        """``process_readings`` rows of one station as DDATA messages (a metric per row,
        by alias when the DBIRTH declared one; ``vin``, ``setpoint``, ``machine_id`` as
        properties, ``unit`` too when not declared)."""
        aliases = node.aliases.get(device, {})
        topic = sparkplug.topic(node.group, "DDATA", node.edge, device)
        source = f"{sparkplug.NAMESPACE}/{node.group}/{node.edge}"
        sent = []
        for chunk in _chunks(rows, self.rows_per_message):
            payload, seq = self.ddata_payload(node, chunk, aliases)
            sent.append(self.publish(topic, payload, source=source, seq=seq, rows=chunk))
        return sent

    def ddata_payload(self, node: EdgeNode, rows: pa.Table,
                      aliases: dict[str, int]) -> tuple[bytes, int]:
        """One DDATA payload of ``process_readings`` rows, numbered; and its ``seq``."""
        spb = _tahu()
        payload = spb.Payload()
        payload.timestamp = _now_ms()
        payload.seq = node.next_seq()
        for row in rows.to_pylist():
            alias = aliases.get(row["parameter"])
            metric = spb.addMetric(payload, None if alias is not None else row["parameter"],
                                   alias, DOUBLE, row["value"], _ms(row["event_time"]))
            props = metric.properties
            row["event_time_us"] = row["event_time"].microsecond % 1000 or None
            for name, kind in (("vin", STRING), ("setpoint", DOUBLE), ("machine_id", STRING),
                               ("unit", STRING), ("event_time_us", INT64)):
                value = row.get(name)
                if value is None or (name == "unit" and alias is not None):
                    continue
                props.keys.append(name)
                holder = props.values.add()
                holder.type = kind
                if kind == STRING:
                    holder.string_value = value
                elif kind == INT64:
                    holder.long_value = value
                else:
                    holder.double_value = value
        return payload.SerializeToString(), payload.seq

    def columns(self, node: EdgeNode, device: str, table: str, rows: pa.Table,
                rows_per_message: int = 10_000) -> list[Sent]:
        """Rows of ``table`` (process or machine readings of station ``device``) as
        columnar DDATA messages (:func:`columns_payload`)."""
        topic = sparkplug.topic(node.group, "DDATA", node.edge, device)
        source = f"{sparkplug.NAMESPACE}/{node.group}/{node.edge}"
        sent = []
        for chunk in _chunks(rows, rows_per_message):
            payload, seq = columns_payload(node, table, chunk)
            sent.append(self.publish(topic, payload, source=source, seq=seq, rows=chunk))
        return sent

    def machine_readings(self, node: EdgeNode, device: str, rows: pa.Table) -> list[Sent]:
        """``machine_readings`` rows as DDATA metrics ``machine/<machine_id>/<column>``."""
        spb = _tahu()
        sent = []
        for chunk in _chunks(rows, self.rows_per_message):
            payload = spb.Payload()
            payload.timestamp = _now_ms()
            payload.seq = node.next_seq()
            for row in chunk.to_pylist():
                stamp = _ms(row["event_time"])
                for column in sorted(sparkplug.MACHINE_COLUMNS):
                    spb.addMetric(payload, f"machine/{row['machine_id']}/{column}", None,
                                  DOUBLE, row[column], stamp)
            sent.append(self.publish(sparkplug.topic(node.group, "DDATA", node.edge, device),
                                     payload.SerializeToString(),
                                     source=f"{sparkplug.NAMESPACE}/{node.group}/{node.edge}",
                                     seq=payload.seq, rows=chunk))
        return sent

    def fleet_rows(self, site: str, vin: str, table: str, rows: pa.Table,
                   source: str | None = None) -> list[Sent]:
        """A vehicle's rows of a fleet table as JSON messages (``columns`` form), numbered
        per ``source`` (default ``{site}/{vin}``)."""
        source = source or f"{site}/{vin}"
        sent = []
        for chunk in _chunks(rows.drop_columns([c for c in ("vin", "ingested_at")
                                                if c in rows.column_names]),
                             self.rows_per_message):
            seq = self._fleet_seq.get(source, 0)
            self._fleet_seq[source] = seq + 1
            body = {"source": source, "seq": seq, "columns": chunk.to_pydict()}
            sent.append(self.publish(fleet_json.topic(site, vin, table), fleet_json.encode(body),
                                     source=source, seq=seq, rows=chunk))
        return sent

    def table_rows(self, site: str, table: str, rows: pa.Table,
                   source: str | None = None) -> list[Sent]:
        """Rows of any table as JSON messages on the generic topic, numbered per ``source``
        (default ``{site}/{table}``)."""
        source = source or f"{site}/{table}"
        sent = []
        for chunk in _chunks(rows.drop_columns([c for c in ("ingested_at",)
                                                if c in rows.column_names]),
                             self.rows_per_message):
            seq = self._fleet_seq.get(source, 0)
            self._fleet_seq[source] = seq + 1
            body = {"source": source, "seq": seq, "columns": chunk.to_pydict()}
            sent.append(self.publish(fleet_json.table_topic(site, table),
                                     fleet_json.encode(body), source=source, seq=seq,
                                     rows=chunk))
        return sent

    # ---- waiting -------------------------------------------------------------------------
    def wait(self, timeout_s: float = 30.0) -> bool:
        """Wait until the broker acknowledged every message sent (False on timeout)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.02)
        return False


def birth_payloads(node: EdgeNode, devices: Mapping[str, Mapping[str, str | None]]
                   ) -> list[tuple[str, bytes, int]]:
    """NBIRTH (a new session: ``seq`` 0, next ``bdSeq``), then a DBIRTH per device that
    declares each metric's alias and unit (``{device: {metric: unit}}``): (topic, payload,
    seq) of each."""
    node.seq, node.aliases = -1, {}
    spb = _tahu()
    payload = spb.Payload()
    payload.timestamp = _now_ms()
    payload.seq = node.next_seq()
    spb.addMetric(payload, "bdSeq", None, INT64, node.bd_seq)
    node.bd_seq += 1
    births = [(sparkplug.topic(node.group, "NBIRTH", node.edge), payload.SerializeToString(),
               payload.seq)]
    for device, metrics in devices.items():
        payload = spb.Payload()
        payload.timestamp = _now_ms()
        payload.seq = node.next_seq()
        aliases = node.aliases[device] = {}
        for alias, (name, unit) in enumerate(metrics.items()):
            aliases[name] = alias
            metric = spb.addMetric(payload, name, alias, DOUBLE, 0.0)
            if unit is not None:
                metric.properties.keys.append("unit")
                value = metric.properties.values.add()
                value.type, value.string_value = STRING, unit
        births.append((sparkplug.topic(node.group, "DBIRTH", node.edge, device),
                       payload.SerializeToString(), payload.seq))
    return births


def columns_payload(node: EdgeNode, table: str, rows: pa.Table) -> tuple[bytes, int]:
    """One DDATA payload holding ``rows`` of ``table`` as array metrics
    ``<table>/<column>`` (:mod:`gigaloop.ingest.sparkplug_columns`), numbered; and its
    ``seq``. A column of nulls only is left out; one with some nulls cannot be sent so."""
    spb = require("tahutils.tahu.sparkplug_b_pb2", "service")
    payload = spb.Payload()
    payload.timestamp = _now_ms()
    payload.seq = node.next_seq()
    device_column = sparkplug_columns.TABLES[table]
    for name in rows.column_names:
        column = rows[name].combine_chunks()
        if name in (device_column, INGESTED_AT) or column.null_count == len(column):
            continue
        if column.null_count:
            raise IngestError(f"{table}.{name} has {column.null_count} nulls: a Sparkplug B "
                              "array cannot hold one; send those rows as metrics")
        metric = payload.metrics.add()
        metric.name = f"{table}/{name}"
        if pa.types.is_timestamp(column.type):
            metric.datatype = sparkplug_columns.INT64_ARRAY
            values = column.cast(pa.timestamp("us")).cast(pa.int64()).to_numpy()
            metric.bytes_value = values.astype("<i8").tobytes()
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            metric.datatype = sparkplug_columns.STRING_ARRAY
            metric.bytes_value = "".join(f"{text}\0" for text in column.to_pylist()).encode()
        else:
            metric.datatype = DOUBLE_ARRAY
            metric.bytes_value = column.to_numpy().astype("<f8").tobytes()
    return payload.SerializeToString(), payload.seq


def _chunks(rows: pa.Table, size: int) -> Iterator[pa.Table]:
    for start in range(0, rows.num_rows, size):
        yield rows.slice(start, size)


def _ms(moment: datetime) -> int:
    """Milliseconds since the epoch of a naive-UTC (or aware) datetime (exact: no float).

    >>> _ms(datetime(2025, 1, 6, 0, 0, 0, 123999))
    1736121600123
    """
    from datetime import UTC, timedelta

    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _now_ms() -> int:
    return int(time.time() * 1000)
