"""Staged rollouts on random worlds: is a worse release stopped before a tenth of the fleet?

For each seed it draws a random scenario (``twin.random_scenario``), adds two releases at
random days (one worse on disengagements and Autopilot crashes by ×1.2–1.5, one ×0.9 on
disengagements), runs the twin with the ``rollout`` module only, and prints one JSON line
per world: each release's stages (share, day), whether the bad one was rolled back and
the largest share it reached, and what ``gigaloop score`` made of it.

    .venv/bin/python bench/eval_rollout.py [--seeds 3 11 19] [--days 70] [--fleet 10000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from gigaloop.loop.score import score_run
from gigaloop.run import RunOptions, run_job
from gigaloop.store import Store
from gigaloop.twin.random_scenario import random_scenario


def releases(seed: int) -> tuple[str, str, str]:
    """The ``[[releases]]`` text of a world, and its bad and good versions."""
    rng = np.random.default_rng(seed)
    bad_day, good_day = (int(d) for d in rng.integers(5, 20, size=2))
    worse = float(rng.uniform(1.2, 1.5))
    bad, good = f"9.0.{seed}", f"9.1.{seed}"
    text = f"""
[[releases]]
version = "{bad}"
day = {bad_day}
disengagement = {worse:.3f}
crash = {worse:.3f}

[[releases]]
version = "{good}"
day = {good_day}
disengagement = 0.9
"""
    return text, bad, good


def evaluate(seed: int, days: int, fleet: int, folder: Path) -> dict:
    text, bad, good = releases(seed)
    scenario = folder / f"world-{seed}.toml"
    scenario.write_text(random_scenario(seed, days=days) + text, encoding="utf-8")
    out = folder / f"run-{seed}"
    run_job(RunOptions(days=days, scenario=scenario, out=out, modules=("rollout",),
                       fleet=fleet, seed=seed))
    store = Store(out / "store")
    stages = store.execute(store.table("deployments")).sort_values("event_time")
    store.close()
    scored = {f["id"]: f for f in score_run(out)["faults"]}.get(f"release-{bad}", {})
    of_bad = stages[stages.model_version == bad]
    return {
        "figure": "rollout_world", "seed": seed,
        "stages": [(r.model_version, r.stage, float(r.fleet_fraction), str(r.event_time)[:10])
                   for r in stages.itertuples()],
        "bad_rolled_back": bool((of_bad.stage == "rolled_back").any()),
        "bad_largest_share": float(of_bad.fleet_fraction.max()) if len(of_bad) else 0.0,
        "good_reached": float(stages[stages.model_version == good].fleet_fraction.max())
        if (stages.model_version == good).any() else 0.0,
        "found": scored.get("found"), "days_to_find": scored.get("days_to_find"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 11, 19])
    parser.add_argument("--days", type=int, default=70)
    parser.add_argument("--fleet", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            print(json.dumps(evaluate(seed, args.days, args.fleet, Path(folder))), flush=True)


if __name__ == "__main__":
    main()
