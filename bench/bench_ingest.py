"""Ingest throughput: big batches against a raw DuckDB append, and a year of daily writes.

Big batches: writes telemetry_daily batches (new days plus a re-sent stored day, so the key check
finds real matches) into a store that already holds a month of data, validating,
quarantining and de-duplicating on the way; then appends the very same Arrow batches to
an on-disk DuckDB table with ``INSERT INTO t SELECT * FROM batch``. Prints one JSON line
per figure.

    .venv/bin/python bench/bench_ingest.py [--vehicles 50000] [--days 10] [--batches 4]

With the defaults the second batch reaches February, so January is compacted inside the
timed path (as a daily writer would once a month); ``--no-auto-compact`` leaves it out.

Daily writes (``--daily-days 365``, 0 to skip): what the twin sends once per simulated
day into one store, every write timed: a fleet growing from ``--daily-fleet`` vehicles by
``--daily-built`` a day (telemetry_daily 10k to 32k rows), 30k process_readings (the new
vehicles × 10 stations × 50 parameters), new vehicles and customers, a few crashes and
claims. Figures: the p50/p95 of a day's writes, the p50 of a small write (< 100 rows), and
the cost per row of the last whole month over the second (about 1 when the write path
scales linearly; January is left out as it is the one month whose first write compacts
nothing).
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

from gigaloop.schema import get_table, write_order
from gigaloop.store import Store

START = dt.date(2024, 1, 1)
START_TIME = dt.datetime(2024, 1, 1)
TELEMETRY = get_table("telemetry_daily")


def vehicles(count: int, first: int = 0, built: dt.datetime = dt.datetime(2023, 12, 1)) -> pa.Table:
    """``count`` vehicles built at ``built``, numbered from ``first``."""
    vins = [f"5YJ3E1EA{i:09d}" for i in range(first, first + count)]
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


def process_readings(vins: pa.Array, day: int, stations: int, parameters: int) -> pa.Table:
    """One reading per new vehicle, station and parameter, on ``day``."""
    n = len(vins) * stations * parameters
    rng = np.random.default_rng(day)
    seconds = np.arange(n) % 86_400
    return pa.table(
        {
            "vin": np.repeat(np.asarray(vins.to_pylist()), stations * parameters),
            "station_id": np.tile(
                np.repeat([f"ST-{s:02d}" for s in range(stations)], parameters), len(vins)
            ),
            "parameter": np.tile(
                [f"param_{p:02d}" for p in range(parameters)], len(vins) * stations
            ),
            "value": rng.normal(10, 1, n),
            "unit": pa.repeat(pa.scalar("mm"), n),
            "event_time": np.datetime64(START)
            + np.timedelta64(day, "D")
            + seconds * np.timedelta64(1, "s"),
        }
    )


def day_batches(fleet: pa.Array, built: pa.Table, day: int) -> dict[str, pa.Table | list]:
    """What the twin sends at the end of ``day``: ``built`` are that day's new vehicles."""
    moment = START_TIME + dt.timedelta(days=day, hours=12)
    new = built["vin"].combine_chunks()
    customers = [
        {
            "customer_id": f"C-{vin}",
            "vin": vin,
            "region": "CA",
            "climate_region": "hot",
            "delivered_on": moment.date(),
            "consent_telemetry": True,
            "consent_marketing": False,
            "consent_insurance": True,
            "event_time": moment,
        }
        for vin in new.to_pylist()
    ]
    crashes = [
        {
            "crash_id": f"CR-{day}-{k}",
            "vin": fleet[k * 97].as_py(),
            "mode": "manual",
            "software_version": "2024.2.7",
            "condition": "clear",
            "severity": "minor",
            "event_time": moment,
        }
        for k in range(2)
    ]
    claims = [
        {
            "claim_id": f"CL-{day}-{k}",
            "vin": fleet[k * 31].as_py(),
            "component": "camera",
            "failure_mode": "fogging",
            "odometer_miles": 1000.0,
            "roadside": False,
            "cost_usd": 120.0,
            "event_time": moment,
        }
        for k in range(3)
    ]
    return {
        "vehicles": built,
        "customers": customers,
        "process_readings": process_readings(new, day, stations=10, parameters=50),
        "telemetry_daily": telemetry(fleet, day, 1, seed=day),
        "crashes": crashes,
        "component_failures": claims,
    }


def daily_figures(days: int, fleet_size: int, built_per_day: int) -> list[dict]:
    """Time every write of ``days`` daily batches into one store."""
    day_ms, day_rows, small_ms = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder))
        site = {"site_id": "FRE", "name": "Fremont", "region": "CAISO", "timezone": "UTC"}
        line = {"line_id": "FRE-GA1", "site_id": "FRE", "name": "GA1"}
        stations = [
            {"station_id": f"ST-{s:02d}", "line_id": "FRE-GA1", "process": "paint", "sequence": s}
            for s in range(10)
        ]
        plant = {"sites": [site], "lines": [line], "stations": stations}
        store.write_many({**plant, "vehicles": vehicles(fleet_size)}, ingested_at=START_TIME)
        all_vins = pa.array([f"5YJ3E1EA{i:09d}" for i in range(fleet_size + days * built_per_day)])
        for day in range(days):
            size = fleet_size + (day + 1) * built_per_day
            noon = START_TIME + dt.timedelta(days=day, hours=12)
            built = vehicles(built_per_day, first=size - built_per_day, built=noon)
            batches = day_batches(all_vins.slice(0, size), built, day)
            total = 0.0
            for name in write_order(list(batches)):
                started = time.perf_counter()
                result = store.write(name, batches[name], ingested_at=noon + dt.timedelta(hours=12))
                elapsed = (time.perf_counter() - started) * 1000
                assert result.written == result.received, (name, result)
                total += elapsed
                if result.received < 100:
                    small_ms.append(elapsed)
            day_ms.append(total)
            day_rows.append(sum(len(b) for b in batches.values()))
        store.close()
    months = _ms_per_1k_rows_by_month(day_ms, day_rows)
    common = {"bench": "ingest", "days": days, "fleet": fleet_size, "built_per_day": built_per_day}
    figures = [
        {
            "figure": "daily_write_ms_p50",
            "value": _percentile(day_ms, 50),
            "unit": "ms",
            "rows_per_day_p50": int(np.median(day_rows)),
        },
        {"figure": "daily_write_ms_p95", "value": _percentile(day_ms, 95), "unit": "ms"},
        {
            "figure": "small_write_ms_p50",
            "value": _percentile(small_ms, 50),
            "unit": "ms",
            "writes": len(small_ms),
        },
        {"figure": "daily_writes_total_s", "value": round(sum(day_ms) / 1000, 2), "unit": "s"},
    ]
    if len(months) >= 3:  # January compacts nothing; later months compact the month before
        figures.append(
            {
                "figure": "daily_ms_per_row_last_vs_second_month",
                "value": round(months[-1] / months[1], 2),
                "unit": "x",
                "ms_per_1k_rows_by_month": [round(m, 2) for m in months],
            }
        )
    return [{**common, **figure} for figure in figures]


def _ms_per_1k_rows_by_month(day_ms: list[float], day_rows: list[int]) -> list[float]:
    """Write time per 1,000 rows of each calendar month the run covers whole."""
    spent: dict[dt.date, float] = {}
    rows: dict[dt.date, int] = {}
    for day, (ms, count) in enumerate(zip(day_ms, day_rows, strict=True)):
        month = (START + dt.timedelta(days=day)).replace(day=1)
        spent[month] = spent.get(month, 0.0) + ms
        rows[month] = rows.get(month, 0) + count
    unfinished = (START + dt.timedelta(days=len(day_ms))).replace(day=1)
    return [spent[m] / rows[m] * 1000 for m in spent if m < unfinished]


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=10, help="new days per batch")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--stored-days", type=int, default=20)
    parser.add_argument(
        "--no-auto-compact", action="store_true", help="leave small files (compact_after=None)"
    )
    parser.add_argument("--daily-days", type=int, default=365, help="0: skip the daily figures")
    parser.add_argument("--daily-fleet", type=int, default=10_000)
    parser.add_argument("--daily-built", type=int, default=60, help="new vehicles a day")
    parser.add_argument("--skip-big", action="store_true", help="only the daily figures")
    args = parser.parse_args()
    if not args.skip_big:
        big_batch_figures(args)
    if args.daily_days:
        for figure in daily_figures(args.daily_days, args.daily_fleet, args.daily_built):
            print(json.dumps(figure), flush=True)


def big_batch_figures(args: argparse.Namespace) -> None:
    """Whole write path vs a raw DuckDB append of the same telemetry batches."""

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
        print(json.dumps(figure), flush=True)


if __name__ == "__main__":
    main()
