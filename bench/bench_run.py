"""The main job's speed: seconds per simulated day, early and late, twin against modules.

For each scale it runs ``gigaloop run`` (the twin and the default loop) for ``--days``
days, timing every day, then the same world with ``--no-loop`` in the same process (the
baseline). One JSON line per figure:

* ``seconds_per_day`` for the first, middle and last 30 days of the loop run;
* ``last_to_middle_month`` — the last month's cost per day over the middle month's (the
  target is at most 1.2: modules read only what is new);
* ``ms_per_1000_rows`` and ``last_to_middle_month_per_row`` — the same months per 1,000 rows
  the day ingested. A fleet built from nothing doubles between the middle and the last
  month, and so does each day's telemetry, so the raw ratio mixes two things: a day's
  input growing with the fleet, and the cost of the history already held. Per row of input
  only the second is left: near 1 when nothing rereads the history;
* ``total_s`` of the loop and no-loop runs, and ``loop_to_no_loop``;
* ``timings_s`` — where the loop run's time went (twin, ingest, each module, report);
  ``total_s`` is the run's own clock, not their sum.

    .venv/bin/python bench/bench_run.py [--days 365] [--scales small medium]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from gigaloop.run import RunOptions, run_job

MONTH = 30


def timed_run(options: RunOptions) -> tuple[dict, np.ndarray, np.ndarray, float]:
    """The summary, the seconds each simulated day took (twin, ingest and modules), the
    rows each day ingested and the run's seconds in all."""
    started = time.perf_counter()
    stamps = [started]
    rows: list[int] = []

    def on_day(day: int, results: dict) -> None:
        stamps.append(time.perf_counter())
        rows.append(sum(result.received for result in results.values()))

    summary = run_job(options, on_day=on_day)
    return summary, np.diff(stamps), np.asarray(rows, dtype=float), time.perf_counter() - started


def bench(scale: str, days: int, root: Path) -> list[dict]:
    loop, per_day, rows, total = timed_run(RunOptions(days=days, scale=scale,
                                               out=root / f"{scale}-loop"))
    started = time.perf_counter()
    run_job(RunOptions(days=days, scale=scale, loop=False, out=root / f"{scale}-base"))
    no_loop_s = time.perf_counter() - started
    middle = days // 2 - MONTH // 2
    spans = {"first": slice(0, MONTH), "middle": slice(middle, middle + MONTH),
             "last": slice(days - MONTH, days)}
    months = {name: per_day[span] for name, span in spans.items()}
    per_row = {name: 1000 * per_day[span].sum() / rows[span].sum() for name, span in spans.items()}
    figures = [{"figure": "seconds_per_day", "scale": scale, "month": name,
                "value": round(float(values.mean()), 4)} for name, values in months.items()]
    figures += [
        {"figure": "last_to_middle_month", "scale": scale, "target": 1.2,
         "value": round(float(months["last"].mean() / months["middle"].mean()), 3)},
    ]
    figures += [{"figure": "ms_per_1000_rows", "scale": scale, "month": name,
                 "value": round(1000 * float(value), 2)} for name, value in per_row.items()]
    figures += [
        {"figure": "last_to_middle_month_per_row", "scale": scale, "target": 1.2,
         "value": round(float(per_row["last"] / per_row["middle"]), 3)},
        {"figure": "total_s", "scale": scale, "days": days, "loop": True,
         "value": round(total, 1)},
        {"figure": "total_s", "scale": scale, "days": days, "loop": False,
         "value": round(no_loop_s, 1)},
        {"figure": "loop_to_no_loop", "scale": scale, "value": round(total / no_loop_s, 2)},
        {"figure": "timings_s", "scale": scale, "value": loop["run"]["timings"]},
    ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--scales", nargs="+", default=["small", "medium"],
                        choices=["small", "medium", "large"])
    args = parser.parse_args()
    if args.days < 3 * MONTH:
        parser.error(f"--days must be at least {3 * MONTH} (three months are compared)")
    with tempfile.TemporaryDirectory() as root:
        for scale in args.scales:
            for figure in bench(scale, args.days, Path(root)):
                print(json.dumps(figure), flush=True)


if __name__ == "__main__":
    main()
