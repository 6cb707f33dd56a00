"""The main job's speed: seconds per simulated day, early and late, twin against modules.

For each scale it runs ``gigaloop run`` (the twin and the default loop) for ``--days``
days, timing every day, then the same world with ``--no-loop`` in the same process (the
baseline). One JSON line per figure:

* ``seconds_per_day`` for the first, middle and last 30 days of the loop run;
* ``last_to_middle_month`` — the last month's cost per day over the middle month's: flat
  when it is near 1 (the target is at most 1.2: modules read only what is new);
* ``total_s`` of the loop and no-loop runs, and ``loop_to_no_loop``;
* ``timings_s`` — where the loop run's time went (twin, ingest, each module, report).

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


def timed_run(options: RunOptions) -> tuple[dict, np.ndarray]:
    """The summary and the seconds each simulated day took (twin, ingest and modules)."""
    stamps = [time.perf_counter()]
    summary = run_job(options, on_day=lambda day, results: stamps.append(time.perf_counter()))
    return summary, np.diff(stamps)


def bench(scale: str, days: int, root: Path) -> list[dict]:
    loop, per_day = timed_run(RunOptions(days=days, scale=scale, out=root / f"{scale}-loop"))
    started = time.perf_counter()
    run_job(RunOptions(days=days, scale=scale, loop=False, out=root / f"{scale}-base"))
    no_loop_s = time.perf_counter() - started
    middle = days // 2 - MONTH // 2
    months = {"first": per_day[:MONTH], "middle": per_day[middle:middle + MONTH],
              "last": per_day[-MONTH:]}
    total = float(sum(loop["run"]["timings"].values()))
    figures = [{"figure": "seconds_per_day", "scale": scale, "month": name,
                "value": round(float(values.mean()), 4)} for name, values in months.items()]
    figures += [
        {"figure": "last_to_middle_month", "scale": scale, "target": 1.2,
         "value": round(float(months["last"].mean() / months["middle"].mean()), 3)},
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
