"""``POST /ingest/{table}``: counts that add up, bad payloads refused with a clear message
and counted, the size limit, and a device writing only its own source's rows."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pyarrow as pa
from api_store import MACHINE, VINS, telemetry
from fastapi.testclient import TestClient

from gigaloop.appstate import Role
from gigaloop.schema import get_table

NDJSON = {"Content-Type": "application/x-ndjson"}
T0 = dt.datetime(2025, 3, 20, 8)


def reading(minute: int, machine: str = MACHINE, **changes: Any) -> dict[str, Any]:
    row = {"machine_id": machine, "vibration_rms": 2.1, "kurtosis": 3.0, "crest_factor": 3.5,
           "band_energy_low": 0.1, "band_energy_bearing": 0.01, "band_energy_high": 0.02,
           "temperature_c": 41.0, "event_time": (T0 + dt.timedelta(minutes=minute)).isoformat()}
    row.update(changes)
    return row


def lines(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, default=str) + "\n" for r in rows)


def post(client: TestClient, auth: Any, role: Role, table: str, body: str | bytes,
         headers: dict[str, str] | None = None) -> Any:
    return client.post(f"/ingest/{table}", content=body,
                       headers={**auth(role), **(headers or NDJSON)})


def test_good_bad_and_duplicate_rows_add_up(client: TestClient, auth: Any) -> None:
    rows = [reading(0), reading(1), reading(2),
            reading(3, vibration_rms=-1.0),        # out of range: quarantined
            reading(4, temperature_c="hot"),        # not a number: quarantined
            reading(1, vibration_rms=7.7),          # same key, other values: quarantined
            reading(2)]                             # the same row again: unchanged
    first = post(client, auth, Role.device, "machine_readings", lines(rows))
    assert first.status_code == 200, first.text
    counts = first.json()
    assert counts["received"] == 7
    assert (counts["written"], counts["unchanged"], counts["quarantined"]) == (3, 1, 3)
    assert counts["received"] == counts["written"] + counts["unchanged"] + counts["quarantined"]
    assert sum(counts["reasons"].values()) >= 3
    assert any("vibration_rms" in r for r in counts["reasons"])
    assert any("duplicate key" in r for r in counts["reasons"])
    again = post(client, auth, Role.device, "machine_readings", lines(rows[:3])).json()
    assert (again["written"], again["unchanged"], again["quarantined"]) == (0, 3, 0)
    changed = post(client, auth, Role.device, "machine_readings",
                   lines([reading(0, vibration_rms=9.9)])).json()
    assert changed["quarantined"] == 1
    assert "conflicts with stored row" in changed["reasons"]


def test_an_arrow_stream_is_written_like_json_lines(client: TestClient, auth: Any) -> None:
    spec = get_table("machine_readings")
    rows = [reading(30 + i) for i in range(4)]
    for row in rows:
        row["event_time"] = dt.datetime.fromisoformat(row["event_time"])
    table = pa.Table.from_pylist(rows, schema=pa.schema(
        [f for f in spec.arrow_schema() if f.name != "ingested_at"]))
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    answer = post(client, auth, Role.device, "machine_readings", sink.getvalue(),
                  {"Content-Type": "application/vnd.apache.arrow.stream"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["written"] == 4


def test_malformed_payloads_are_refused_clearly_and_counted(client: TestClient,
                                                            auth: Any) -> None:
    before = client.get("/ingest/log", headers=auth(Role.admin)).json()
    cases = [
        (lines([reading(50)]) + '{"machine_id": "ST-010-M1", \n', 400, "line 2 is not valid JSON"),
        ("[1, 2]\n", 400, "line 1 is a JSON list, not an object"),
        ('{"machine_id": {"nested": 1}}\n', 400, "must be a plain value"),
        (b"\xff\xfe", 400, "not UTF-8"),
        (lines([{"machine_id": MACHINE, "no_such_column": 1}]), 422, "no_such_column"),
    ]
    for body, status, message in cases:
        answer = post(client, auth, Role.admin, "machine_readings", body)
        assert answer.status_code == status, (body, answer.text)
        assert message in answer.json()["detail"]
    arrow = post(client, auth, Role.admin, "machine_readings", b"not arrow",
                 {"Content-Type": "application/vnd.apache.arrow.stream"})
    assert arrow.status_code == 400 and "not an Arrow IPC stream" in arrow.json()["detail"]
    csv = post(client, auth, Role.admin, "machine_readings", "a,b\n", {"Content-Type": "text/csv"})
    assert csv.status_code == 415 and "application/x-ndjson" in csv.json()["detail"]
    after = client.get("/ingest/log", headers=auth(Role.admin)).json()
    assert after["payloads_refused"] - before["payloads_refused"] == len(cases) + 2
    assert after["written"] == before["written"]  # nothing of a refused payload is written
    assert "not an object" in " ".join(r["reason"] for r in after["latest_refusals"])


def test_a_payload_over_the_limit_is_413(client: TestClient, auth: Any) -> None:
    limit = 10 * 1024 * 1024
    row = json.dumps(reading(60)) + "\n"
    body = row * (limit // len(row) + 1)
    declared = post(client, auth, Role.admin, "machine_readings", body)
    assert declared.status_code == 413
    assert "over the limit of 10,485,760 bytes" in declared.json()["detail"]

    def chunks() -> Any:  # no Content-Length: refused while it streams in
        for start in range(0, len(body), 1 << 20):
            yield body[start:start + (1 << 20)].encode()

    streamed = client.post("/ingest/machine_readings", content=chunks(),
                           headers={**auth(Role.admin), **NDJSON})
    assert streamed.status_code == 413
    assert client.get("/ingest/log", headers=auth(Role.admin)).json()["latest_refusals"][0][
        "http_status"] == 413


def test_a_device_writes_only_its_own_rows(client: TestClient, auth: Any) -> None:
    def count() -> int:
        log = client.get("/ingest/log", headers=auth(Role.admin)).json()
        return int(log["written"] + log["quarantined"] + log["unchanged"])

    start = count()
    mixed = lines([reading(70), reading(71, machine="ST-020-M1")])
    answer = post(client, auth, Role.device, "machine_readings", mixed)
    assert answer.status_code == 403
    assert "1 of 2 rows name another machine_id than this device's 'ST-010-M1'" in \
        answer.json()["detail"]
    missing = post(client, auth, Role.device, "machine_readings",
                   lines([{k: v for k, v in reading(72).items() if k != "machine_id"}]))
    assert missing.status_code == 403 and "machine_id" in missing.json()["detail"]
    other_table = post(client, auth, Role.device, "telemetry_daily",
                       lines([telemetry(VINS[0], dt.date(2025, 3, 7))]))
    assert other_table.status_code == 403  # its source column is vin, not this machine
    reference = post(client, auth, Role.device, "vehicles", lines([{"vin": "X"}]))
    assert reference.status_code == 403 and "may not write vehicles" in \
        reference.json()["detail"]
    assert count() == start  # nothing was written
    own = post(client, auth, Role.device, "machine_readings", lines([reading(73)]))
    assert own.status_code == 200 and own.json()["written"] == 1


def test_loop_tables_and_unknown_tables_are_not_ingested(client: TestClient, auth: Any) -> None:
    for table in ("findings", "decisions", "change_requests", "spc_alarms", "quarantine"):
        answer = post(client, auth, Role.admin, table, "{}\n")
        assert answer.status_code == 403 and "written by the loop" in answer.json()["detail"]
    unknown = post(client, auth, Role.admin, "telemetry_weekly", "{}\n")
    assert unknown.status_code == 404


def test_an_admin_writes_reference_data_and_sees_the_quarantine(client: TestClient,
                                                                auth: Any) -> None:
    vehicle = {"vin": "5YJ3NEW0000000001", "build_date": "2025-03-21", "site_id": "S1",
               "line_id": "L1", "shift": "B", "model": "Model Y", "trim": "LR",
               "hardware_revision": "HW4", "design_revision": "B",
               "event_time": "2025-03-21T14:00:00"}
    orphan = {**vehicle, "vin": "5YJ3NEW0000000002", "site_id": "NOWHERE"}
    answer = post(client, auth, Role.admin, "vehicles", lines([vehicle, orphan])).json()
    assert (answer["written"], answer["quarantined"]) == (1, 1)
    assert answer["reasons"] == {"site_id: unknown sites.site_id": 1}
    traced = client.get("/trace/vehicles/5YJ3NEW0000000001", headers=auth(Role.plant_engineer))
    assert traced.status_code == 200


def test_every_kind_of_bad_row_is_quarantined_with_its_reason_and_the_log_adds_up(
        client: TestClient, auth: Any) -> None:
    """Over HTTP: a unit other than the stored one (A for kA), an unknown VIN, NaN, a clock
    far ahead, a site whose zone is not an IANA zone, a duplicate; a late (out-of-order)
    reading is data, not an error. Sent = written + unchanged + quarantined, in the log."""
    before = client.get("/ingest/log", headers=auth(Role.admin)).json()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def measured(vin: str, value: float, unit: str, at: dt.datetime) -> dict[str, Any]:
        return {"vin": vin, "station_id": "ST-010", "machine_id": MACHINE,
                "parameter": "weld_time", "value": value, "unit": unit, "setpoint": None,
                "event_time": at.isoformat()}

    readings = [
        measured(VINS[0], 200.0, "ms", T0),                                # good
        {**measured(VINS[1], 11.0, "A", T0), "parameter": "weld_current"},  # kA is stored
        measured("5YJ3E1EA0PF999999", 200.0, "ms", T0),                    # unknown VIN
        measured(VINS[2], float("nan"), "ms", T0),                         # NaN
        {**measured(VINS[1], 200.0, "ms", now + dt.timedelta(days=3)), "parameter": "gap"},
        {**measured(VINS[1], 190.0, "ms", T0 - dt.timedelta(days=15)), "parameter": "late"},
        measured(VINS[0], 210.0, "ms", T0),                # its key again, another value
    ]
    sites = [{"site_id": "BER", "name": "Berlin", "region": "DE", "timezone": "CET+1"}]
    answers = [post(client, auth, Role.admin, "process_readings",
                    "".join(json.dumps(r) + "\n" for r in readings)).json(),
               post(client, auth, Role.admin, "sites", lines(sites)).json()]

    reasons = {**answers[0]["reasons"], **answers[1]["reasons"]}
    assert (answers[0]["written"], answers[0]["quarantined"]) == (2, 5), reasons
    for expected in ("unit: not the unit first stored for its station_id, parameter",
                     "vin: unknown vehicles.vin", "value: not a number",
                     "event_time: more than a day after it was received (a clock ahead?)",
                     "duplicate key in batch",
                     "timezone: not an IANA time zone (e.g. America/Los_Angeles, Europe/Berlin)"):
        assert expected in reasons, (expected, reasons)
    after = client.get("/ingest/log", headers=auth(Role.admin)).json()
    for answer in answers:
        assert answer["received"] == answer["written"] + answer["unchanged"] + \
            answer["quarantined"]
    assert sum(after[k] - before[k] for k in ("written", "unchanged", "quarantined")) == \
        len(readings) + len(sites)
