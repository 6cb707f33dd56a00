"""Ingest throughput: the store's whole write path against a raw DuckDB append.

Writes telemetry_daily batches (new days plus a re-sent stored day, so the anti-join
finds real matches) into a store that already holds a month of data, validating,
quarantining and de-duplicating on the way; then appends the very same Arrow batches to
an on-disk DuckDB table with ``INSERT INTO t SELECT * FROM batch``. Prints one JSON line
per figure.

    .venv/bin/python bench/bench_ingest.py [--vehicles 50000] [--days 10] [--batches 4]

With the defaults the second batch reaches February, so January is compacted inside the
timed path (as a daily writer would once a month); ``--no-auto-compact`` leaves it out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from gigaloop.schema import get_table
from gigaloop.store import Store

START = dt.date(2024, 1, 1)
TELEMETRY = get_table("telemetry_daily")


def vehicles(count: int) -> pa.Table:
    vins = [f"5YJ3E1EA{i:09d}" for i in range(count)]
    built = dt.datetime(2023, 12, 1)
    return pa.table(
        {
            "vin": vins,
            "build_date": pa.repeat(pa.scalar(built.date()), count),
            "site_id": pa.repeat(pa.scalar("FRE"), count),
            "line_id": pa.repeat(pa.scalar("FRE-GA1"), count),
            "shift": np.array(["A", "B", "C"])[np.arange(count) % 3],
            "model": pa.repeat(pa.scalar("Model 3"), count),
            "trim": pa.repeat(pa.scalar("LR"), count),
            "hardware_revision": np.array(["HW3", "HW4"])[np.arange(count) % 2],
            "design_revision": pa.repeat(pa.scalar("B"), count),
            "event_time": pa.repeat(pa.scalar(built, pa.timestamp("us")), count),
        }
    )


def telemetry(vins: pa.Array, first_day: int, days: int, seed: int) -> pa.Table:
    """``days`` days of plausible vehicle-day rows for every VIN, starting ``first_day``."""
    rng = np.random.default_rng(seed)
    n = len(vins) * days
    day = np.repeat(np.datetime64(START) + np.arange(first_day, first_day + days), len(vins))
    miles = np.round(rng.gamma(2.0, 15.0, n), 1)
    share = rng.beta(2, 5, n)
    fraction = lambda scale: np.round(rng.beta(1, scale, n), 3)  # noqa: E731
    count = lambda lam: rng.poisson(lam, n)  # noqa: E731
    climate = np.array(["hot", "temperate", "cold"])[np.arange(n) % len(vins) % 3]
    columns = {
        "vin": pa.chunked_array([vins] * days),
        "day": day.astype("datetime64[D]"),
        "climate_region": climate,
        "software_version": np.array(["2024.2.7", "2024.8.1"])[rng.integers(0, 2, n)],
        "miles": miles,
        "autopilot_miles": np.round(miles * share, 1),
        "rain_miles": np.round(miles * fraction(8), 1),
        "late_night_miles": np.round(miles * fraction(20), 1),
        "hard_braking_fraction": fraction(40),
        "aggressive_turning_fraction": fraction(40),
        "unsafe_following_fraction": fraction(10),
        "speeding_fraction": fraction(60),
        "fcw_count": count(0.1),
        "forced_disengagements": count(0.01),
        "disengagements_clear": count(0.3),
        "disengagements_rain": count(0.05),
        "disengagements_night": count(0.05),
        "dc_fast_charge_kwh": np.where(rng.random(n) < 0.1, np.round(rng.gamma(4, 10, n), 1), 0),
        "ambient_temp_c": np.round(rng.normal(15, 8, n), 1),
        "battery_soh": np.round(rng.uniform(0.9, 1.0, n), 3),
        "odometer_miles": np.round(rng.uniform(1e3, 4e4, n), 1),
        "event_time": (day + np.timedelta64(23, "h")).astype("datetime64[us]"),
    }
    schema = pa.schema([f for f in TELEMETRY.arrow_schema() if f.name != "ingested_at"])
    return pa.table({name: columns[name] for name in schema.names}).cast(schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=10, help="new days per batch")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--stored-days", type=int, default=20)
    parser.add_argument(
        "--no-auto-compact", action="store_true", help="leave small files (compact_after=None)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        store = Store(root / "store", compact_after=None if args.no_auto_compact else 32)
        fleet = vehicles(args.vehicles)
        site = {"site_id": "FRE", "name": "Fremont", "region": "CAISO", "timezone": "UTC"}
        line = {"line_id": "FRE-GA1", "site_id": "FRE", "name": "GA1"}
        start = dt.datetime(2024, 1, 1)
        store.write_many({"sites": [site], "lines": [line], "vehicles": fleet}, ingested_at=start)
        vins = fleet["vin"].combine_chunks()
        previous = None
        for first in range(0, args.stored_days, 10):  # what the store already holds
            previous = telemetry(vins, first, min(10, args.stored_days - first), seed=first)
            store.write("telemetry_daily", previous, ingested_at=start + dt.timedelta(days=first))
        assert previous is not None, "--stored-days must be positive"

        batches = []  # each: the last stored day again (unchanged), then new days
        for b in range(args.batches):
            first = args.stored_days + b * args.days
            fresh = telemetry(vins, first, args.days, seed=first)
            batches.append(pa.concat_tables([previous.slice(previous.num_rows - len(vins)), fresh]))
            previous = fresh
        received = sum(b.num_rows for b in batches)

        written = unchanged = quarantined = 0
        started = time.perf_counter()
        for b, batch in enumerate(batches):
            result = store.write(
                "telemetry_daily", batch, ingested_at=dt.datetime(2024, 2, 1) + dt.timedelta(days=b)
            )
            written, unchanged = written + result.written, unchanged + result.unchanged
            quarantined += result.quarantined
        ingest_s = time.perf_counter() - started
        assert quarantined == 0 and written + unchanged == received, (written, unchanged)
        stored = store.count("telemetry_daily")

        raw = duckdb.connect(str(root / "raw.duckdb"))
        raw.register("batch", batches[0])
        raw.execute("CREATE TABLE t AS SELECT * FROM batch LIMIT 0")
        started = time.perf_counter()
        for batch in batches:
            raw.register("batch", batch)
            raw.execute("INSERT INTO t SELECT * FROM batch")
        raw_s = time.perf_counter() - started
        raw.close()

    common = {
        "rows": received,
        "batches": args.batches,
        "vehicles": args.vehicles,
        "auto_compact": not args.no_auto_compact,
    }
    figures = [
        {
            "bench": "ingest",
            "figure": "rows_per_s",
            "value": round(received / ingest_s),
            "unit": "rows/s",
            "written": written,
            "unchanged": unchanged,
            "stored_after": stored,
            "seconds": round(ingest_s, 3),
            **common,
        },
        {
            "bench": "ingest",
            "figure": "raw_duckdb_insert_rows_per_s",
            "value": round(received / raw_s),
            "unit": "rows/s",
            "seconds": round(raw_s, 3),
            **common,
        },
        {
            "bench": "ingest",
            "figure": "ratio_to_raw",
            "value": round(raw_s / ingest_s, 3),
            "unit": "x",
            "target": 0.5,
            **common,
        },
    ]
    for figure in figures:
        print(json.dumps(figure))


if __name__ == "__main__":
    main()
