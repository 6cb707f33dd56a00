"""The OPC UA connector against an asyncua server playing a station: rows land once each,
bad readings are quarantined with their reason, a server restart is survived."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("asyncua")

from mqtt_world import BUILT, VINS
from opcua_world import COLUMNS, MACHINE, STATION, StationServer

import gigaloop
from gigaloop.ingest.opcua import OpcUaConnector
from gigaloop.ingest.sequence import ConnectorStats
from gigaloop.store import Store

pytestmark = pytest.mark.service
SOURCE = f"opcua:FRE/FRE-BIW/{STATION}"


def settled(stats: ConnectorStats, rows: int) -> bool:
    one = stats.sources.get(SOURCE)
    return one is not None and one.rows_received >= rows and (
        one.written + one.unchanged + one.quarantined + one.rejected >= one.rows_received)


def adds_up(stats: ConnectorStats) -> None:
    for name, one in stats.sources.items():
        assert one.rows_received == one.written + one.unchanged + one.quarantined + \
            one.rejected, name


def readings(i: int) -> dict[str, float]:
    return {"weld_current": 10.0 + i, "weld_time": 200.0 + i, "electrode_force": 3.0}


def play(server: StationServer, vins: list[str], first: int = 0) -> None:
    for i, vin in enumerate(vins, start=first):
        server.unit(vin, readings(i), BUILT + dt.timedelta(seconds=60 * i))


def test_readings_and_machine_snapshots_land_once_each(store) -> None:
    with StationServer() as server, OpcUaConnector(store, server.url,
                                                   publishing_ms=50) as connector, \
            OpcUaConnector(store, server.url, root=("NOWHERE",),
                           reconnect_max_s=0.3) as lost:  # a path with no station below
        assert connector.ready.wait(15)
        play(server, VINS[:10])
        for i in range(4):
            server.write({c: 1.0 + i / 10 for c in COLUMNS},
                         BUILT + dt.timedelta(minutes=10 * i))
        assert connector.wait_until(lambda s: settled(s, 10 * 3 + 4), 10), connector.stats
        assert not lost.ready.is_set() and lost.sessions == 0  # it keeps trying
    stats = connector.stats
    adds_up(stats)
    assert lost.stats.sources == {} and lost.error is None
    one = stats.sources[SOURCE]
    assert (one.rows_received, one.written, one.quarantined, one.rejected) == (34, 34, 0, 0), \
        one.reasons
    rows = store.table("process_readings").to_pandas()
    assert len(rows) == 30 and set(rows["vin"]) == set(VINS[:10])
    vin3 = rows[(rows["vin"] == VINS[3]) & (rows["parameter"] == "weld_current")].iloc[0]
    assert (vin3["value"], vin3["unit"], vin3["setpoint"], vin3["station_id"]) == \
        (13.0, "kA", 10.0, STATION)
    machines = store.table("machine_readings").to_pandas()
    assert len(machines) == 4 and set(machines["machine_id"]) == {MACHINE}
    assert machines["temperature_c"].notna().all()


def test_bad_readings_are_quarantined_with_their_reason(store) -> None:
    with StationServer() as server, OpcUaConnector(store, server.url,
                                                   publishing_ms=50) as connector:
        assert connector.ready.wait(15)
        play(server, VINS[:2])
        at = BUILT + dt.timedelta(hours=1)
        server.write({"weld_current": float("nan")}, BUILT + dt.timedelta(seconds=62))  # NaN
        server.unit("NOT-A-BUILT-VIN", readings(7), at)  # 3 readings of an unknown VIN
        server.write({"label": "high"}, BUILT + dt.timedelta(seconds=61))  # text: VINS[1]
        server.write({"spindle_speed": 1200.0}, at)  # not a machine_readings column
        server.write({"weld_time": 99.0}, BUILT - dt.timedelta(hours=1))  # before any VIN
        server.fail("electrode_force", "BadSensorFailure", at + dt.timedelta(seconds=5))
        ahead = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=3)
        server.unit(VINS[2], {"weld_time": 201.0}, ahead)  # a station clock days ahead
        assert connector.wait_until(lambda s: settled(s, 6 + 1 + 3 + 1 + 3 + 1), 10)
    stats = connector.stats
    adds_up(stats)
    one = stats.sources[SOURCE]
    assert (one.written, one.quarantined, one.rejected) == (6, 6, 3), one.reasons
    assert one.reasons["vin: unknown vehicles.vin"] == 3
    assert one.reasons["value: not a float64"] == 1  # the text label (and its unit missing)
    assert one.reasons["value: missing"] == 1  # NaN: the reading carries no number
    assert one.reasons["event_time: more than a day after it was received (a clock ahead?)"] == 1
    assert one.reasons["unknown machine_readings column 'spindle_speed'"] == 1
    assert one.reasons["no current_vin at the station at the reading's time"] == 1
    assert one.reasons["bad status BadSensorFailure"] == 1
    quarantine = store.table("quarantine").to_pandas()
    kept = quarantine[quarantine["reason"].str.contains("spindle_speed")].iloc[0]
    assert json.loads(kept["row_json"])["reading"]["value"] == "1200.0"
    assert kept["source"] == SOURCE


@pytest.mark.slow
def test_a_station_reconfigured_to_another_unit_is_quarantined(store) -> None:
    """A PLC re-set to report weld current in A (its readings were in kA): the connector's
    next session reads the new unit, and the store refuses it for that parameter (the
    A-for-kA case of the bad-input list)."""
    with StationServer() as server:
        with OpcUaConnector(store, server.url, publishing_ms=50) as first:
            assert first.ready.wait(15)
            play(server, VINS[:2])
            assert first.wait_until(lambda s: settled(s, 6), 10)
        server.set_unit("weld_current", "A")
        with OpcUaConnector(store, server.url, publishing_ms=50) as second:
            assert second.ready.wait(15)
            server.unit(VINS[2], {"weld_current": 12_000.0}, BUILT + dt.timedelta(hours=2))
            # the session's first publish re-sends the values held (VINS[1]'s): unchanged,
            # but its weld current now in A; then VINS[2]'s reading in A
            assert second.wait_until(lambda s: settled(s, 4), 10)
    adds_up(second.stats)
    one = second.stats.sources[SOURCE]
    assert (one.written, one.unchanged, one.quarantined) == (0, 2, 2), one.reasons
    assert one.reasons == {"unit: not the unit first stored for its station_id, parameter": 2}
    rows = store.table("process_readings").to_pandas()
    assert set(rows.query("parameter == 'weld_current'")["unit"]) == {"kA"}


def test_a_server_restart_is_survived(store) -> None:
    server = StationServer().start()
    with OpcUaConnector(store, server.url, publishing_ms=50, watchdog_s=0.3,
                        reconnect_max_s=0.5) as connector:
        assert connector.ready.wait(15)
        play(server, VINS[:5])
        assert connector.wait_until(lambda s: settled(s, 15), 10)
        server.stop()
        assert connector.wait_until(lambda s: not connector.ready.is_set(), 10)
        server = StationServer(server.port).start()
        try:
            assert connector.ready.wait(15)
            play(server, VINS[5:10], first=5)
            assert connector.wait_until(lambda s: settled(s, 30), 10)
        finally:
            server.stop()
    stats = connector.stats
    adds_up(stats)
    one = stats.sources[SOURCE]
    assert connector.sessions == 2
    assert (one.rows_received, one.written, one.quarantined, one.rejected) == (30, 30, 0, 0)
    rows = store.table("process_readings").to_pandas()
    assert len(rows) == 30 and set(rows["vin"]) == set(VINS[:10])


def test_without_the_service_extra_the_error_names_the_install(monkeypatch, store) -> None:
    from gigaloop.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "asyncua", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'gigaloop\[service\]'"):
        OpcUaConnector(store, "opc.tcp://127.0.0.1:4840")



@pytest.mark.slow
def test_the_connector_as_a_process_writes_and_stops_on_sigterm(store_root) -> None:
    src = str(Path(gigaloop.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    with StationServer() as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "gigaloop.ingest.opcua", "--store", str(store_root),
             "--url", server.url, "--root", "FRE", "--publishing-ms", "50", "--every", "0.1"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        lines: list[dict] = []

        def read() -> None:
            assert process.stdout is not None
            lines.extend(json.loads(line) for line in process.stdout)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 20
        while not lines and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lines[:1] == [{"ready": True}]
        play(server, VINS[:3])
        while not (lines[-1].get("written", 0) >= 9 or time.monotonic() > deadline):
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    assert lines[-1]["written"] == 9 and lines[-1]["sessions"] == 1
    store = Store(store_root)
    try:
        assert store.count("process_readings") == 9
    finally:
        store.close()
