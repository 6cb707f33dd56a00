"""Plant messages: Sparkplug B, decoded with Eclipse Tahu's Python bindings.

The payloads are Tahu's ``sparkplug_b.proto`` messages, read with the bindings that the
``tahutils`` package ships (``tahutils.tahu.sparkplug_b_pb2``, part of the
``gigaloop[service]`` extra). Topics ``spBv1.0/{group}/{type}/{edge node}[/{device}]``
map onto the plant: group = site, edge node = line, device = station.

A DDATA metric becomes a row:

* ``<parameter>`` (e.g. ``weld_current``) → ``process_readings``: ``value`` from the
  metric, ``event_time`` its timestamp (ms since the epoch, UTC; the payload's when the
  metric has none), ``station_id`` the device, and from the metric's properties ``vin``
  (String, required), ``unit`` (String; else the ``unit`` property the metric had in
  its DBIRTH), ``setpoint`` (Double) and ``machine_id`` (String), both optional, and
  ``event_time_us`` (an integer 0–999: microseconds past the timestamp's millisecond, for
  clocks finer than Sparkplug's milliseconds; gigaloop's own extension, optional);
* ``machine/<machine_id>/<column>`` (e.g. ``machine/M1/vibration_rms``) → one
  ``machine_readings`` row per machine and timestamp, a column per metric.

Or, for many readings a second, a table's rows as columns: array metrics named
``process_readings/<column>`` or ``machine_readings/<column>``
(:mod:`gigaloop.ingest.sparkplug_columns`).

Aliases declared in a DBIRTH (name + alias) let DDATA metrics carry the alias alone; an
NBIRTH starts a new session of the edge node (its aliases are forgotten, ``seq`` starts
again at 0). Every message of an edge node but NDEATH carries ``seq`` 0–255 (wrapping).
Values keep their Sparkplug type; the store casts and quarantines (a String ``value``
is quarantined as "value: not a float64"). Metrics that cannot become a row (an unknown
alias, a DataSet) are rejected: kept in the quarantine with the reason, and counted.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow as pa

from gigaloop.errors import require
from gigaloop.ingest.messages import Decoded, RejectedMessage, concat, table_from_columns
from gigaloop.ingest.sparkplug_columns import block_of, decode_blocks
from gigaloop.schema import get_table

NAMESPACE = "spBv1.0"
TOPIC_FILTER = f"{NAMESPACE}/#"
SEQ_MODULUS = 256
MACHINE_PREFIX = "machine/"
PROCESS = get_table("process_readings")
MACHINE = get_table("machine_readings")
MACHINE_COLUMNS = frozenset(c.name for c in MACHINE.columns if c.name != "machine_id")
_SIGNED = {1: 8, 2: 16, 3: 32, 4: 64}  # Sparkplug Int8..Int64 are sent as unsigned
_TEXT = frozenset((12, 14, 15))  # String, Text, UUID


def protobuf() -> Any:
    """Tahu's generated ``sparkplug_b_pb2`` module (``MissingExtraError`` without the extra)."""
    return require("tahutils.tahu.sparkplug_b_pb2", "service")


def topic(group: str, kind: str, edge: str, device: str | None = None) -> str:
    """``spBv1.0/{group}/{kind}/{edge}[/{device}]``."""
    return "/".join([NAMESPACE, group, kind, edge, *([device] if device else [])])


def source_of(topic_name: str) -> str | None:
    """The edge node ``spBv1.0/{group}/{edge}`` a topic's messages count under (None: not
    a Sparkplug B topic)."""
    parts = topic_name.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        return None
    return f"{NAMESPACE}/{parts[1]}/{parts[3]}"


class SparkplugDecoder:
    """Decodes Sparkplug B messages, remembering the aliases and units of each device."""

    def __init__(self) -> None:
        self._payload_type = protobuf().Payload
        from google.protobuf.message import DecodeError

        self._decode_error = DecodeError
        # (group, edge, device) → alias → name, and name → unit
        self._aliases: dict[tuple[str, str, str], dict[int, str]] = defaultdict(dict)
        self._units: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)

    def decode(self, topic_name: str, payload: bytes) -> Decoded:
        source = source_of(topic_name)
        if source is None:
            raise RejectedMessage(f"not a Sparkplug B topic: {topic_name!r}")
        parts = topic_name.split("/")
        group, kind, edge = parts[1], parts[2], parts[3]
        device = parts[4] if len(parts) == 5 else None
        message = self._payload_type()
        try:
            message.ParseFromString(payload)
        except self._decode_error as exc:
            raise RejectedMessage(f"bad Sparkplug B protobuf: {exc}", source=source,
                                  table=PROCESS.name if kind == "DDATA" else None) from None
        if kind in ("NDEATH", "NCMD", "DCMD"):
            return Decoded(source, None)  # no sequence number: host or broker sent it
        if not message.HasField("seq") or message.seq >= SEQ_MODULUS:
            raise RejectedMessage("seq: missing or not 0–255", source=source)
        decoded = Decoded(source, message.seq, SEQ_MODULUS)
        if kind == "NBIRTH":
            decoded.restart = True
            for key in [k for k in self._aliases if k[:2] == (group, edge)]:
                del self._aliases[key], self._units[key]
        elif kind == "DBIRTH" and device is not None:
            self._birth((group, edge, device), message)
        elif kind == "DDATA" and device is not None:
            self._rows((group, edge, device), message, decoded)
        return decoded

    def _birth(self, key: tuple[str, str, str], message: Any) -> None:
        aliases, units = self._aliases[key], self._units[key]
        aliases.clear()
        units.clear()
        for metric in message.metrics:
            if metric.HasField("alias"):
                aliases[metric.alias] = metric.name
            properties = _properties(metric)
            unit = properties.get("unit", properties.get("engUnit"))
            if unit is not None:
                units[metric.name] = unit

    def _rows(self, key: tuple[str, str, str], message: Any, decoded: Decoded) -> None:
        aliases, units = self._aliases.get(key, {}), self._units.get(key, {})
        default_time = message.timestamp if message.HasField("timestamp") else None
        process: dict[str, list[Any]] = {n: [] for n in (
            "vin", "machine_id", "parameter", "value", "unit", "setpoint", "event_time")}
        machines: dict[tuple[str, int | None], dict[str, Any]] = {}
        blocks: list[tuple[str, Any]] = []
        for metric in message.metrics:
            name = (metric.name or aliases.get(metric.alias)) if metric.HasField("alias") \
                else metric.name
            if name and block_of(name):
                blocks.append((name, metric))
                continue
            if not name:
                _reject(decoded, f"unknown alias {metric.alias} (no DBIRTH declared it)"
                        if metric.HasField("alias") else "metric has neither name nor alias",
                        metric)
                continue
            stamp = metric.timestamp if metric.HasField("timestamp") else default_time
            try:
                value = _value(metric.datatype, metric)
            except ValueError as exc:
                _reject(decoded, str(exc), metric)
                continue
            if name.startswith(MACHINE_PREFIX):
                parts = name.split("/")
                if len(parts) != 3 or parts[2] not in MACHINE_COLUMNS:
                    _reject(decoded, "not a machine reading (machine/<machine_id>/<column>)",
                            metric, table=MACHINE.name)
                    continue
                machines.setdefault((parts[1], stamp), {})[parts[2]] = value
                continue
            properties = _properties(metric) if len(metric.properties.keys) else {}
            process["vin"].append(properties.get("vin"))
            process["machine_id"].append(properties.get("machine_id"))
            process["parameter"].append(name)
            process["value"].append(value)
            process["unit"].append(properties.get("unit", units.get(name)))
            process["setpoint"].append(properties.get("setpoint"))
            process["event_time"].append(None if stamp is None else
                                         stamp * 1000 + (properties.get("event_time_us") or 0))
        if blocks:
            decoded.tables.update(decode_blocks(blocks, key[2], units))
        if process["parameter"]:
            count = len(process["parameter"])
            times = process.pop("event_time")
            rows = _with_times(table_from_columns(
                PROCESS, {**process, "station_id": [key[2]] * count}, count), times)
            decoded.tables[PROCESS.name] = concat([decoded.tables[PROCESS.name], rows]) \
                if PROCESS.name in decoded.tables else rows
        if machines:
            columns: dict[str, list[Any]] = {"machine_id": [m for m, _ in machines]}
            for column in MACHINE_COLUMNS:
                columns[column] = [values.get(column) for values in machines.values()]
            rows = _with_times(table_from_columns(MACHINE, columns, len(machines)),
                               [None if t is None else t * 1000 for _, t in machines])
            decoded.tables[MACHINE.name] = concat([decoded.tables[MACHINE.name], rows]) \
                if MACHINE.name in decoded.tables else rows


def _reject(decoded: Decoded, reason: str, metric: Any, table: str = PROCESS.name) -> None:
    """Keep a metric that cannot become a row, with its reason (for the quarantine)."""
    kept = {"name": metric.name, "datatype": metric.datatype,
            "alias": metric.alias if metric.HasField("alias") else None,
            "timestamp": metric.timestamp if metric.HasField("timestamp") else None}
    decoded.rejected.append((table, reason, kept))


def _with_times(rows: pa.Table, micros: list[int | None]) -> pa.Table:
    """``event_time`` from microseconds since the epoch (UTC)."""
    times = pa.array(micros, pa.int64()).cast(pa.timestamp("us"))
    return rows.set_column(rows.column_names.index("event_time"), "event_time", times)


def _value(datatype: int, holder: Any) -> Any:
    """A metric's or property's value by its Sparkplug datatype."""
    if getattr(holder, "is_null", False):
        return None
    if datatype == 10:
        return holder.double_value
    if datatype == 9:
        return holder.float_value
    if datatype in _TEXT:
        return holder.string_value
    if datatype in _SIGNED:
        bits = _SIGNED[datatype]
        raw = holder.long_value if datatype == 4 else holder.int_value
        return raw - (1 << bits) if raw >= 1 << (bits - 1) else raw
    if datatype in (5, 6, 7):
        return holder.int_value
    if datatype in (8, 13):  # UInt64, DateTime (ms)
        return holder.long_value
    if datatype == 11:
        return holder.boolean_value
    raise ValueError(f"unsupported Sparkplug datatype {datatype}")


def _properties(metric: Any) -> dict[str, Any]:
    properties = metric.properties
    found = {}
    for name, value in zip(properties.keys, properties.values, strict=False):
        try:
            found[name] = _value(value.type, value)
        except ValueError:
            found[name] = None
    return found
