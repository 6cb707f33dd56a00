"""API benchmark: ingest through ``POST /ingest/{table}`` and a trace query, in-process
(FastAPI's TestClient: no network, the service's own cost).

Prints one JSON line per figure:

* ``ingest_ndjson_rows_per_s`` — ``machine_readings`` rows per second in JSON-lines
  payloads of ``--rows`` rows each (parse, validate, write), and ``ingest_ndjson_mb_per_s``;
* ``ingest_arrow_rows_per_s`` — the same rows as Arrow IPC streams;
* ``ingest_unchanged_rows_per_s`` — the first payloads sent again (every row unchanged);
* ``auth_request_ms`` — median time of ``GET /me`` (token check against SQLite included);
* ``trace_forward_ms`` — median ``GET /trace/vehicles?lot=…`` over ``--vehicles`` vehicles.

Run: ``.venv/bin/python bench/bench_api.py [--rows 20000] [--batches 5] [--vehicles 2000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import statistics
import tempfile
import time
from typing import Any

import pyarrow as pa

from gigaloop.api import create_app, load_settings
from gigaloop.appstate import AppState, Role
from gigaloop.schema import get_table
from gigaloop.store import Store

T0 = dt.datetime(2025, 3, 1)


def _reference(store: Store, vehicles: int) -> None:
    day = T0
    store.write_many({
        "sites": [{"site_id": "S1", "name": "F", "region": "CAISO", "timezone": "UTC"}],
        "lines": [{"line_id": "L1", "site_id": "S1", "name": "GA1"}],
        "stations": [{"station_id": "ST-010", "line_id": "L1", "process": "body_weld",
                      "sequence": 10}],
        "machines": [{"machine_id": f"M{i}", "station_id": "ST-010", "kind": "weld_robot",
                      "installed_on": dt.date(2021, 1, 1)} for i in range(8)],
        "suppliers": [{"supplier_id": "SUP", "name": "C", "country": "JP"}],
        "parts": [{"part_number": "P", "name": "cell", "category": "battery"}],
        "lots": [{"lot_id": f"LOT-{i}", "part_number": "P", "supplier_id": "SUP",
                  "manufactured_on": dt.date(2025, 1, 1), "quantity": 10_000,
                  "event_time": day} for i in range(4)],
        "vehicles": [{"vin": f"V{i:07d}", "build_date": dt.date(2025, 3, 1), "site_id": "S1",
                      "line_id": "L1", "shift": "A", "model": "3", "trim": "LR",
                      "hardware_revision": "HW4", "design_revision": "B", "event_time": day}
                     for i in range(vehicles)],
        "vehicle_lots": [{"vin": f"V{i:07d}", "part_number": "P", "lot_id": f"LOT-{i % 4}",
                          "event_time": day} for i in range(vehicles)],
    }, ingested_at=day)


def _readings(batch: int, rows: int) -> list[dict[str, Any]]:
    start = T0 + dt.timedelta(days=batch)
    return [{"machine_id": f"M{i % 8}", "vibration_rms": 2.0 + i % 7 / 10, "kurtosis": 3.0,
             "crest_factor": 3.2, "band_energy_low": 0.1, "band_energy_bearing": 0.01,
             "band_energy_high": 0.02, "temperature_c": 40.0,
             "event_time": start + dt.timedelta(seconds=i // 8)} for i in range(rows)]


def _ndjson(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, default=str) + "\n" for r in rows).encode()


def _arrow(rows: list[dict[str, Any]]) -> bytes:
    schema = pa.schema([f for f in get_table("machine_readings").arrow_schema()
                        if f.name != "ingested_at"])
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    return sink.getvalue()


def main() -> None:
    from fastapi.testclient import TestClient

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--vehicles", type=int, default=2_000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    store = Store(f"{folder}/store")
    _reference(store, args.vehicles)
    store.close()
    state = AppState.beside(f"{folder}/store")
    token = state.access.issue_token("bench", Role.admin, create_user=True).token
    reader = state.access.issue_token("eng", Role.plant_engineer, create_user=True).token
    state.close()
    auth = {"Authorization": f"Bearer {token}"}

    def ingest(bodies: list[bytes], media: str) -> tuple[float, int]:
        started, written = time.perf_counter(), 0
        for body in bodies:
            answer = client.post("/ingest/machine_readings", content=body,
                                 headers={**auth, "Content-Type": media})
            assert answer.status_code == 200, answer.text
            written += answer.json()["written"] + answer.json()["unchanged"]
        return time.perf_counter() - started, written

    quiet = load_settings(decide_every_s=0)  # no decision cycle beside the timed calls
    with TestClient(create_app(f"{folder}/store", settings=quiet)) as client:
        ndjson = [_ndjson(_readings(b, args.rows)) for b in range(args.batches)]
        seconds, rows = ingest(ndjson, "application/x-ndjson")
        print(json.dumps({"figure": "ingest_ndjson_rows_per_s", "value": round(rows / seconds),
                          "rows_per_payload": args.rows, "payloads": args.batches}))
        megabytes = sum(len(b) for b in ndjson) / 1e6
        print(json.dumps({"figure": "ingest_ndjson_mb_per_s",
                          "value": round(megabytes / seconds, 2)}))
        arrow = [_arrow(_readings(args.batches + b, args.rows)) for b in range(args.batches)]
        seconds, rows = ingest(arrow, "application/vnd.apache.arrow.stream")
        print(json.dumps({"figure": "ingest_arrow_rows_per_s", "value": round(rows / seconds)}))
        seconds, rows = ingest(ndjson, "application/x-ndjson")
        print(json.dumps({"figure": "ingest_unchanged_rows_per_s",
                          "value": round(rows / seconds)}))
        for figure, path, who in (("auth_request_ms", "/me", token),
                                  ("trace_forward_ms", "/trace/vehicles?lot=LOT-1&limit=100",
                                   reader)):
            times = []
            for _ in range(20):
                started = time.perf_counter()
                answer = client.get(path, headers={"Authorization": f"Bearer {who}"})
                times.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
            print(json.dumps({"figure": figure,
                              "value": round(1000 * statistics.median(times), 1)}))


if __name__ == "__main__":
    main()
