"""`gigaloop run --transport mqtt`: the twin through a broker gives the in-process run.

Also the two mapping pieces the transport needs: the generic JSON topic (any table) and
Sparkplug B timestamps exact to the microsecond.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from gigaloop.cli import app
from gigaloop.ingest import fleet_json
from gigaloop.ingest.messages import RejectedMessage
from gigaloop.run import RunOptions, run_job
from gigaloop.schema import TABLES
from gigaloop.store import Store

DAYS = 20


def test_rows_of_any_table_travel_on_the_generic_topic() -> None:
    body = {"seq": 3, "columns": {"lot_id": ["L1"], "part_number": ["P1"],
                                  "supplier_id": ["S1"], "manufactured_on": ["2025-01-02"],
                                  "quantity": [400], "event_time": ["2025-01-02T08:00:00"]}}
    decoded = fleet_json.decode(fleet_json.table_topic("FRE", "lots"), fleet_json.encode(body))
    assert (decoded.source, decoded.seq) == ("FRE/lots", 3)
    assert decoded.tables["lots"]["quantity"].to_pylist() == [400]
    with pytest.raises(RejectedMessage, match="not a table of the schema"):
        fleet_json.decode(fleet_json.table_topic("FRE", "quarantine"), fleet_json.encode(body))


def test_sparkplug_timestamps_keep_their_microseconds() -> None:
    pytest.importorskip("paho.mqtt.client")
    from gigaloop.ingest.mqtt_publish import EdgeNode, Publisher
    from gigaloop.ingest.sparkplug import SparkplugDecoder, topic

    stamps = [dt.datetime(2025, 1, 6, 7, 0, 0, 123456), dt.datetime(2025, 1, 6, 7, 0, 1)]
    rows = pa.table({"vin": ["V1", "V2"], "station_id": ["BW-030"] * 2,
                     "machine_id": ["BW-030-R2", None], "parameter": ["weld_current"] * 2,
                     "value": [9.1, 9.2], "unit": ["kA", "kA"], "setpoint": [9.0, None],
                     "event_time": stamps})
    payload, _ = Publisher().ddata_payload(EdgeNode("FRE", "BIW"), rows, {})
    decoded = SparkplugDecoder().decode(topic("FRE", "DDATA", "BIW", "BW-030"), payload)
    back = decoded.tables["process_readings"]
    assert back["event_time"].to_pylist() == stamps
    assert back.select(rows.column_names).to_pylist() == rows.to_pylist()


def test_a_broker_that_does_not_answer_is_an_error_that_names_it(tmp_path: Path) -> None:
    pytest.importorskip("paho.mqtt.client")
    from gigaloop.errors import IngestError
    from gigaloop.ingest.broker import free_port
    from gigaloop.ingest.mqtt_transport import MqttTransport

    port = free_port()
    store = Store(tmp_path / "store")
    try:
        with pytest.raises(IngestError, match=f"no broker at 127.0.0.1:{port}"):
            MqttTransport(store, port=port).start(connect_timeout_s=0.5)
    finally:
        store.close()


@pytest.fixture(scope="module")
def mosquitto(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("paho.mqtt.client")
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    from gigaloop.ingest.broker import Mosquitto

    with Mosquitto(tmp_path_factory.mktemp("broker")) as running:
        yield running


def _without_timings(summary: dict) -> dict:
    run = {k: v for k, v in summary["run"].items() if k not in ("timings", "transport")}
    return {**summary, "run": run}


@pytest.mark.slow
@pytest.mark.service
def test_a_run_through_a_broker_equals_the_run_in_process(tmp_path: Path, mosquitto) -> None:
    """Same seed, 20 days, every module: the same KPIs, findings, changes and rows per table;
    nothing quarantined."""
    inprocess = run_job(RunOptions(days=DAYS, seed=3, out=tmp_path / "inprocess"))
    result = CliRunner().invoke(app, ["run", "--days", str(DAYS), "--seed", "3", "--out",
                                      str(tmp_path / "mqtt"), "--transport", "mqtt",
                                      "--broker", f"127.0.0.1:{mosquitto.port}"])
    assert result.exit_code == 0, result.output
    through = json.loads((tmp_path / "mqtt" / "summary.json").read_text())
    assert through["run"]["transport"] == "mqtt"
    assert through["kpis"] == inprocess["kpis"]
    assert _without_timings(through) == _without_timings(json.loads(json.dumps(inprocess)))
    a, b = Store(tmp_path / "inprocess" / "store"), Store(tmp_path / "mqtt" / "store")
    try:
        counts = {name: (a.count(name), b.count(name)) for name in TABLES}
        assert {n: c for n, c in counts.items() if c[0] != c[1]} == {}
        assert counts["process_readings"][0] > 0 and counts["telemetry_daily"][0] > 0
        assert counts["quarantine"] == (0, 0)
        stamps = b.execute(b.table("telemetry_daily").ingested_at.max())
        assert stamps == a.execute(a.table("telemetry_daily").ingested_at.max())
    finally:
        a.close()
        b.close()


@pytest.mark.slow
@pytest.mark.service
def test_a_run_starts_its_own_broker_when_given_none(tmp_path: Path) -> None:
    pytest.importorskip("paho.mqtt.client")
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    options = RunOptions(days=3, seed=2, out=tmp_path / "mqtt", transport="mqtt",
                         modules=("maintenance",))
    through = run_job(options)
    inprocess = run_job(RunOptions(days=3, seed=2, out=tmp_path / "in",
                                   modules=("maintenance",)))
    assert through["kpis"] == inprocess["kpis"] and through["kpis"]["units_built"] > 0


def test_a_broker_given_without_its_port_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--days", "1", "--out", str(tmp_path / "run"),
                                      "--transport", "mqtt", "--broker", "broker.lab"])
    assert result.exit_code == 2 and "give HOST:PORT" in result.output
