"""Seconds predictive service takes over a stored year: its decisions replayed on a run's
store, each day on the store as of that day's end, as the daily cycle calls it.

Prints one JSON line: days, seconds, decisions and a hash of their records (two versions
of the module that decide alike print the same hash).

Run: ``PYTHONPATH=src python bench/bench_predictive.py --run DIR [--days 365]
[--start 2025-01-06]`` (DIR from ``gigaloop run --out DIR``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import pandas as pd

from gigaloop.customer import PredictiveServiceModule
from gigaloop.loop.contract import DayContext
from gigaloop.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--start", default="2025-01-06", help="the run's first day")
    args = parser.parse_args()
    store = Store(args.run / "store")
    start, module, records = pd.Timestamp(args.start), PredictiveServiceModule(), []
    began = time.perf_counter()
    for day in range(args.days):
        now = (start + pd.Timedelta(days=day + 1)).to_pydatetime()
        for decision in module.decide(DayContext(day, now, store.as_of(now))):
            records.append(json.dumps(decision.record(), sort_keys=True, default=str))
    seconds = time.perf_counter() - began
    print(
        json.dumps(
            {
                "bench": "predictive_replay",
                "days": args.days,
                "seconds": round(seconds, 2),
                "decisions": len(records),
                "hash": hashlib.sha1("\n".join(records).encode()).hexdigest()[:12],
            }
        )
    )


if __name__ == "__main__":
    main()
