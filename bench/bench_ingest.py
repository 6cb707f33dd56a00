"""Ingest cost of a simulated year: every write the twin sends, through ``Store.write``.

The twin (scale ``small``, seed 1) runs ``--days`` days; each day's batches (about 16
tables) go to a fresh store, each write timed in CPU seconds (``time.process_time``, so
other work on the machine does not count; DuckDB and Parquet threads do). Generating
the batches is not timed. The baseline, measured in the same process on the same Arrow
batches: a plain ``INSERT INTO t SELECT * FROM batch`` into an on-disk DuckDB table per
store table (no validation, no quarantine, no key checks, no write-ahead log).

Figures, one JSON line each:

* ``store_cpu_s``: the year's writes (``close`` included), and its ratio to the baseline,
* ``rows_per_s``: rows received over store CPU seconds,
* ``write_ms_first_vs_last_month``: mean CPU per write in the first and last whole month,
  and their ratio; ``fixed_write_ms_first_vs_last_month``: the same over tables whose
  daily batch does not grow with the fleet (machine and energy readings): about 1 when
  the per-write cost is flat, whatever the store already holds,
* ``ms_per_1k_rows_first_vs_last_month``: CPU per 1,000 rows received (telemetry grows
  with the fleet, so per-row cost is the fair figure for the year as a whole),
* ``quarantine_ms_per_1k_rows``: the last day's telemetry sent to a store that knows none
  of its vehicles (every row quarantined, "unknown vin"; after one such row, so that the
  figure is the rows' and not the first write's), against the same batch taken by the
  year's store: what a flood of bad rows costs beside good ones;
* ``quarantine_flood_us_per_row``: the same rows repeated to :data:`FLOOD_ROWS` (each
  copy's vins its own), sent to that store: CPU per rejected row when rows, not writes,
  are the cost.

    .venv/bin/python bench/bench_ingest.py [--days 365] [--scale small] [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.store import Store
from gigaloop.store.validate import to_arrow
from gigaloop.twin import Twin
from gigaloop.twin.source import TwinDay

#: Rows of the large flood (the last day's telemetry repeated, vins made distinct).
FLOOD_ROWS = 100_000

#: Tables whose daily batch has the same size all year (not tied to the fleet's size).
FIXED = ("machine_readings", "energy_readings")


def twin_days(days: int, scale: str, seed: int) -> Iterator[tuple[dt.datetime, list]]:
    """Each day's end and its batches, as the twin sends them."""
    twin = Twin.from_scenario(scale=scale, seed=seed)
    for day in range(days):
        yield twin.day_end(day), list(TwinDay(twin, day).batches())


class RawDuckDB:
    """The baseline: one on-disk DuckDB table per store table, appended batch by batch."""

    def __init__(self, path: Path) -> None:
        self.con = duckdb.connect(str(path))
        self.tables: set[str] = set()

    def append(self, name: str, batch: pa.Table) -> None:
        self.con.register("batch", batch)
        if name not in self.tables:
            self.con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM batch LIMIT 0')
            self.tables.add(name)
        self.con.execute(f'INSERT INTO "{name}" SELECT * FROM batch')
        self.con.unregister("batch")


def replay(args: argparse.Namespace) -> dict:
    """Write the twin's days into a store and into the baseline; CPU seconds of each."""
    spent: dict[str, float] = defaultdict(float)  # by "month" and "month/table"
    writes: dict[str, int] = defaultdict(int)
    rows: dict[str, int] = defaultdict(int)
    store_s = raw_s = 0.0
    received = 0
    with tempfile.TemporaryDirectory() as folder:
        store, raw = Store(Path(folder) / "store"), RawDuckDB(Path(folder) / "raw.duckdb")
        for now, batches in twin_days(args.days, args.scale, args.seed):
            month = now.strftime("%Y-%m")
            for name, batch in batches:
                batch = to_arrow(batch)
                started = time.process_time()
                result = store.write(name, batch, ingested_at=now, source="twin")
                elapsed = time.process_time() - started
                assert result.quarantined == 0, result
                started = time.process_time()
                raw.append(name, batch)
                raw_s += time.process_time() - started
                store_s += elapsed
                received += result.received
                if name == "telemetry_daily":
                    telemetry, telemetry_s = batch, elapsed
                for key in (month, f"{month}/{name}"):
                    spent[key] += elapsed
                    writes[key] += 1
                    rows[key] += result.received
        started = time.process_time()
        store.close()
        store_s += time.process_time() - started
        raw.con.close()
        flood = Store(Path(folder) / "flood")  # its first rejected row opens the table
        flood.write("telemetry_daily", telemetry.slice(0, 1), ingested_at=now, source="twin")
        started = time.process_time()
        result = flood.write("telemetry_daily", telemetry.slice(1), ingested_at=now,
                             source="twin")
        flood_s = time.process_time() - started
        assert result.quarantined == telemetry.num_rows - 1, result
        big = _tiled(telemetry, FLOOD_ROWS)
        started = time.process_time()
        result = flood.write("telemetry_daily", big, ingested_at=now, source="twin")
        big_s = time.process_time() - started
        assert result.quarantined == big.num_rows, result
        flood.close()
    whole = sorted(m for m in writes if "/" not in m)[:-1] or sorted(writes)  # last: partial
    return {
        "store_s": store_s,
        "raw_s": raw_s,
        "received": received,
        "first": whole[0],
        "last": whole[-1],
        "spent": spent,
        "writes": writes,
        "rows": rows,
        "flood": {"rows": telemetry.num_rows - 1, "quarantined_s": flood_s,
                  "accepted_rows": telemetry.num_rows, "accepted_s": telemetry_s,
                  "big_rows": big.num_rows, "big_s": big_s},
    }


def figures(run: dict, common: dict) -> list[dict]:
    """The JSON figures of one replay."""
    spent, writes, rows, first, last = (
        run[k] for k in ("spent", "writes", "rows", "first", "last")
    )

    def per_write(month: str, tables: tuple[str, ...] | None = None) -> float:
        keys = [month] if tables is None else [f"{month}/{t}" for t in tables]
        return 1000 * sum(spent[k] for k in keys) / max(1, sum(writes[k] for k in keys))

    def per_1k_rows(month: str) -> float:
        return 1e6 * spent[month] / max(1, rows[month])

    def pair(name: str, before: float, after: float, unit: str) -> dict:
        return {
            "figure": name,
            "first": round(before, 3),
            "last": round(after, 3),
            "value": round(after / before, 2) if before else None,
            "unit": f"x ({unit}, {last} over {first})",
        }

    return [
        {**common, **figure}
        for figure in [
            {
                "figure": "store_cpu_s",
                "value": round(run["store_s"], 2),
                "unit": "s",
                "baseline_raw_duckdb_s": round(run["raw_s"], 2),
                "ratio_to_baseline": round(run["store_s"] / run["raw_s"], 2),
                "writes": sum(writes[m] for m in writes if "/" not in m),
            },
            {
                "figure": "rows_per_s",
                "value": round(run["received"] / run["store_s"]),
                "unit": "rows/s",
                "baseline_raw_duckdb": round(run["received"] / run["raw_s"]),
                "rows": run["received"],
            },
            pair("write_ms_first_vs_last_month", per_write(first), per_write(last), "ms"),
            pair(
                "fixed_write_ms_first_vs_last_month",
                per_write(first, FIXED),
                per_write(last, FIXED),
                "ms",
            ),
            pair(
                "ms_per_1k_rows_first_vs_last_month",
                per_1k_rows(first),
                per_1k_rows(last),
                "ms",
            ),
            _flood_figure(run["flood"]),
            {"figure": "quarantine_flood_us_per_row",
             "value": round(1e6 * run["flood"]["big_s"] / run["flood"]["big_rows"], 2),
             "unit": "us", "rows": run["flood"]["big_rows"]},
        ]
    ]


def _tiled(telemetry: pa.Table, rows: int) -> pa.Table:
    """``telemetry`` repeated to at least ``rows`` rows, each copy's vins made its own."""
    copies = -(-rows // telemetry.num_rows)
    parts = []
    for copy in range(copies):
        vins = pc.binary_join_element_wise(telemetry["vin"], pa.scalar(f"F{copy}"), "-")
        parts.append(telemetry.set_column(telemetry.schema.get_field_index("vin"), "vin", vins))
    return pa.concat_tables(parts)


def _flood_figure(flood: dict) -> dict:
    """``quarantine_ms_per_1k_rows`` of a run's flood against the same rows accepted."""
    rejected = 1e6 * flood["quarantined_s"] / flood["rows"]
    accepted = 1e6 * flood["accepted_s"] / flood["accepted_rows"]
    return {"figure": "quarantine_ms_per_1k_rows", "value": round(rejected, 2), "unit": "ms",
            "accepted_ms_per_1k_rows": round(accepted, 2),
            "ratio_to_accepted": round(rejected / accepted, 2), "rows": flood["rows"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    common = {"bench": "ingest", "days": args.days, "scale": args.scale, "seed": args.seed}
    for figure in figures(replay(args), common):
        print(json.dumps(figure), flush=True)


if __name__ == "__main__":
    main()
