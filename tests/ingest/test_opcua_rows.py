"""Notifications into rows, without a server: VINs by source time, machine snapshots."""

from __future__ import annotations

import datetime as dt

from gigaloop.ingest.opcua_rows import Notification, RowAssembler
from gigaloop.ingest.opcua_space import Binding

T0 = dt.datetime(2024, 3, 1, 6)
PATH = "FRE/FRE-BIW/S1"
VIN = Binding("vin", PATH, "S1", "current_vin")
CURRENT = Binding("parameter", PATH, "S1", "weld_current", unit="kA")
SETPOINT = Binding("setpoint", PATH, "S1", "weld_current", unit="kA")


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def machine(column: str) -> Binding:
    return Binding("machine", PATH, "S1", column, "M1")


def test_each_reading_gets_the_vin_in_force_at_its_source_time() -> None:
    rows = RowAssembler({})
    # as a server sends them: per variable, not in write order
    out = rows.assemble([Notification(CURRENT, 1.0, at(0.001)),
                         Notification(CURRENT, 2.0, at(1.001)),
                         Notification(SETPOINT, 9.5, at(0)),
                         Notification(VIN, "V1", at(0)), Notification(VIN, "V2", at(1))])
    later = rows.assemble([Notification(CURRENT, 3.0, at(0.5))])  # late, still V1's
    got = out.tables["opcua:" + PATH, "process_readings"]
    assert [(r["vin"], r["value"], r["setpoint"]) for r in got] == [
        ("V1", 1.0, 9.5), ("V2", 2.0, 9.5)]
    assert later.tables["opcua:" + PATH, "process_readings"][0]["vin"] == "V1"
    assert out.notifications["opcua:" + PATH] == 5


def test_a_reading_before_any_vin_or_an_empty_vin_is_rejected() -> None:
    rows = RowAssembler({})
    out = rows.assemble([Notification(VIN, "", at(5)), Notification(CURRENT, 1.0, at(1)),
                         Notification(CURRENT, 1.0, at(6))])
    assert [reason for _, _, reason, _ in out.rejected] == [
        "no current_vin at the station at the reading's time"] * 2
    assert not out.tables


def test_readings_older_than_the_kept_history_say_so() -> None:
    rows = RowAssembler({}, history=3)
    rows.assemble([Notification(VIN, f"V{i}", at(i)) for i in range(5)])
    out = rows.assemble([Notification(CURRENT, 1.0, at(0.5)), Notification(CURRENT, 1.0, at(4))])
    assert [r["vin"] for r in out.tables["opcua:" + PATH, "process_readings"]] == ["V4"]
    assert out.rejected[0][2] == "older than the current_vin changes kept"


def test_machine_snapshots_are_rows_once_complete_or_lingered() -> None:
    rows = RowAssembler({"M1": {"vibration_rms", "temperature_c"}}, linger_s=30)
    # two snapshots, their columns variable by variable, split over two publishes
    first = rows.assemble([Notification(machine("vibration_rms"), 1.0, at(0)),
                           Notification(machine("vibration_rms"), 2.0, at(60))])
    assert not first.tables and rows.open_snapshots == 2
    second = rows.assemble([Notification(machine("temperature_c"), 40.0, at(0))])
    assert second.tables["opcua:" + PATH, "machine_readings"] == [
        {"machine_id": "M1", "vibration_rms": 1.0, "temperature_c": 40.0, "event_time": at(0)}]
    rows.linger_s = 0.0  # as if 30 s had passed
    lingered = rows.assemble([])
    assert lingered.tables["opcua:" + PATH, "machine_readings"] == [
        {"machine_id": "M1", "vibration_rms": 2.0, "event_time": at(60)}]
    assert rows.open_snapshots == 0


def test_bad_status_and_unknown_columns_are_rejected_with_their_reason() -> None:
    out = RowAssembler({}).assemble([
        Notification(CURRENT, None, at(1), status="BadSensorFailure"),
        Notification(Binding("unknown", PATH, "S1", "spindle_speed", "M1"), 1200.0, at(1))])
    assert [(table, reason) for _, table, reason, _ in out.rejected] == [
        ("process_readings", "bad status BadSensorFailure"),
        ("machine_readings", "unknown machine_readings column 'spindle_speed'")]
