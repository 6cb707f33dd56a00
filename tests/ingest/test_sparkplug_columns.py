"""Columnar Sparkplug B: a table's rows as array metrics, in and out, and what is refused."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("tahutils", reason="needs gigaloop[service]")

from gigaloop.errors import IngestError
from gigaloop.ingest.messages import RejectedMessage
from gigaloop.ingest.mqtt_publish import EdgeNode, birth_payloads, columns_payload
from gigaloop.ingest.sparkplug import SparkplugDecoder, protobuf, topic

STATION = "BW-030"
DDATA = topic("FRE", "DDATA", "BIW", STATION)


def readings(n: int) -> pa.Table:
    start = dt.datetime(2025, 1, 6, 7)
    return pa.table({
        "vin": [f"5YJ3E1EA0PF{i % 7:06d}" for i in range(n)],
        "station_id": [STATION] * n, "machine_id": ["BW-030-R2"] * n,
        "parameter": ["weld_current" if i % 2 else "weld_time" for i in range(n)],
        "value": np.linspace(8.0, 9.0, n), "unit": pa.nulls(n, pa.string()),
        "setpoint": pa.nulls(n, pa.float64()),
        "event_time": [start + dt.timedelta(microseconds=1001 * i) for i in range(n)]})


def decoder_after_birth(node: EdgeNode) -> SparkplugDecoder:
    decoder = SparkplugDecoder()
    for name, payload, _ in birth_payloads(node, {STATION: {"weld_current": "kA",
                                                            "weld_time": "ms"}}):
        decoder.decode(name, payload)
    return decoder


def test_rows_sent_as_columns_come_back_as_they_were_with_the_births_units() -> None:
    node = EdgeNode("FRE", "BIW")
    decoder = decoder_after_birth(node)
    rows = readings(500)
    payload, seq = columns_payload(node, "process_readings", rows)
    decoded = decoder.decode(DDATA, payload)
    back = decoded.tables["process_readings"]
    assert decoded.seq == seq and back.num_rows == 500
    for name in ("vin", "station_id", "machine_id", "parameter", "value", "event_time"):
        assert back[name].to_pylist() == rows[name].to_pylist(), name
    assert back["unit"].to_pylist() == ["ms", "kA"] * 250  # from the DBIRTH
    assert back["setpoint"].null_count == 500


def _payload(metrics: list[tuple[str, int, bytes]]) -> bytes:
    message = protobuf().Payload()
    message.seq = 1
    for name, datatype, raw in metrics:
        metric = message.metrics.add()
        metric.name, metric.datatype, metric.bytes_value = name, datatype, raw
    return message.SerializeToString()


@pytest.mark.parametrize(("metrics", "reason"), [
    ([("process_readings/vin", 33, b"V1\x00V2\x00"),
      ("process_readings/value", 31, np.array([1.0]).tobytes())], "different lengths"),
    ([("process_readings/value", 31, b"\x00" * 12)], "not a whole number of 8-byte"),
    ([("process_readings/vin", 33, b"V1\x00V2")], "end each string with a NUL"),
    ([("process_readings/vin", 33, b"\xff\xfe\x00")], "not UTF-8"),
    ([("process_readings/value", 10, b"")], "datatype 10 is not a Sparkplug B array"),
    ([("process_readings/event_time", 31, np.array([1.0]).tobytes())],
     "event_time must be an Int64Array"),
])
def test_a_block_that_cannot_be_read_rejects_its_message_with_the_reason(metrics, reason):
    with pytest.raises(RejectedMessage, match=reason):
        SparkplugDecoder().decode(DDATA, _payload(metrics))


def test_a_column_with_some_nulls_cannot_be_sent_as_an_array() -> None:
    rows = readings(4).set_column(2, "machine_id", pa.array(["M", None, "M", "M"]))
    with pytest.raises(IngestError, match="machine_id has 1 nulls"):
        columns_payload(EdgeNode("FRE", "BIW"), "process_readings", rows)
