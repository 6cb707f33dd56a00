"""Does the driving model learn? A year of the twin with the loop, and the same world without.

Runs the default scenario for ``--days`` (365) with the ``driving_model`` and ``rollout``
modules (``--all-modules``: every default module), then with ``--no-loop``, and prints
one JSON line per figure:

* ``cycles``: candidates trained, shadows passed, candidates that reached the whole fleet
  (a completed collect → train → shadow → rollout cycle), with their days;
* ``cycle_recall`` (one per candidate): held-out recall (random uploads of the two weeks
  after its training data) of the candidate and of production in each condition its
  campaigns targeted, and its and its parent's true recall and miss ratio on the twin's
  reference scenes at the end of the run;
* ``autopilot_crashes``: per million Autopilot miles, loop and no-loop, counted and
  expected (the twin's rates, free of Poisson noise: few Autopilot crashes happen in a
  year of a young fleet), and the ratios (target ≤ 0.8);
* ``campaign_yield``: useful scenes (hazardous and missed by the model that ran) per MB,
  campaign uploads against random uploads at the same per-vehicle budget, and the ratio;
* ``seconds``: wall time of each run.

    PYTHONPATH=src python bench/eval_learning.py [--days 365] [--seed 1] [--all-modules]
        [--out DIR [--reuse]]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from gigaloop.run import DEFAULT_MODULES, RunOptions, run_job
from gigaloop.store import Store


def run(days: int, seed: int, loop: bool, modules: tuple[str, ...], out: Path
        ) -> tuple[dict[str, Any], float | None]:
    started = time.perf_counter()
    summary = run_job(RunOptions(days=days, seed=seed, loop=loop, modules=modules, out=out))
    return summary, time.perf_counter() - started


def figures(loop: Path, base: Path, summaries: tuple[dict, dict]) -> list[dict[str, Any]]:
    store = Store(loop / "store")
    versions = store.execute(store.table("model_versions"))
    deployments = store.execute(store.table("deployments"))
    scenes = store.execute(store.table("scenes"))
    store.close()
    truth = json.loads((loop / "truth" / "truth.json").read_text())["driving_models"]
    base_truth = json.loads((base / "truth" / "truth.json").read_text())["driving_models"]
    start = base_truth["versions"]
    starting = next(iter(start))
    out: list[dict[str, Any]] = []
    learned = versions[versions.model_name == "driving_model"].sort_values("event_time")
    timeline, recalls = [], []
    for row in learned.itertuples():
        mine = deployments[deployments.model_version == row.model_version]
        days = {f"{r.stage}/{r.status}": int((r.event_time - learned.event_time.min()).days)
                for r in mine.itertuples()}
        metrics = json.loads(row.metrics_json)
        timeline.append({"version": row.model_version, "trained_day": metrics["day"],
                         "shadow": "completed" if "shadow/completed" in days else
                         "rejected" if "shadow/rejected" in days else "running",
                         "reached_whole_fleet": "full/active" in days})
        parent = row.parent_version or starting
        recalls.append({
            "figure": "cycle_recall", "version": row.model_version, "day": metrics["day"],
            "targeted": metrics["campaigns"],
            "held_out": {c: {"production": metrics["production"].get(c),
                             "candidate": metrics["candidate"].get(c)}
                         for c in metrics["campaigns"]},
            "held_out_all": {"production": metrics["production"]["all"],
                             "candidate": metrics["candidate"]["all"]},
            "false_alarms": metrics["false_alarms"],
            "true_recall_at_year_end": {c: {
                "parent": _true(truth, parent, "recall", c),
                "candidate": _true(truth, row.model_version, "recall", c)}
                for c in metrics["campaigns"]},
            "true_miss_ratio_at_year_end": {
                "parent": _true(truth, parent, "miss_ratio"),
                "candidate": _true(truth, row.model_version, "miss_ratio")}})
    out.append({"figure": "cycles", "trained": len(learned),
                "shadow_passed": sum(t["shadow"] == "completed" for t in timeline),
                "completed": sum(t["reached_whole_fleet"] for t in timeline),
                "timeline": timeline})
    out += recalls
    counted = [s["kpis"]["crashes_per_million_miles"]["autopilot"] for s in summaries]
    expected = [truth["expected_autopilot_crashes_per_million_miles"],
                base_truth["expected_autopilot_crashes_per_million_miles"]]
    out.append({"figure": "autopilot_crashes_per_million_miles",
                "counted": {"loop": counted[0], "no_loop": counted[1],
                            "ratio": _ratio(counted[0], counted[1])},
                "expected": {"loop": expected[0], "no_loop": expected[1],
                             "ratio": _ratio(expected[0], expected[1])}, "target": 0.8})
    useful = scenes.hazard & ~scenes.flag
    per_arm = {arm: float(useful[scenes.arm == arm].sum()
                          / scenes.size_mb[scenes.arm == arm].sum())
               for arm in ("campaign", "random")}
    by_campaign = {name: {"scenes": len(group), "useful_per_mb": float(
        (group.hazard & ~group.flag).sum() / group.size_mb.sum())}
        for name, group in scenes[scenes.arm == "campaign"].groupby("campaign")}
    out.append({"figure": "campaign_yield", "useful_per_mb": per_arm,
                "ratio": _ratio(per_arm["campaign"], per_arm["random"]),
                "mb": {arm: float(scenes.size_mb[scenes.arm == arm].sum())
                       for arm in ("campaign", "random")},
                "by_campaign": by_campaign})
    return out


def _true(truth: dict[str, Any], version: str, *keys: str) -> Any:
    """A version's figure on the twin's reference scenes at the end of the run."""
    value: Any = truth["versions"].get(version, {}).get("now", {})
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--all-modules", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true",
                        help="read the runs already in --out instead of running them")
    args = parser.parse_args()
    modules = DEFAULT_MODULES if args.all_modules else ("driving_model", "rollout")
    folder = args.out or Path(tempfile.mkdtemp(prefix="eval-learning-"))
    if args.reuse:
        loop_summary, base_summary = (json.loads((folder / f / "summary.json").read_text())
                                      for f in ("loop", "no-loop"))
        loop_s: float | None = None
        base_s: float | None = None
    else:
        loop_summary, loop_s = run(args.days, args.seed, True, modules, folder / "loop")
        base_summary, base_s = run(args.days, args.seed, False, modules, folder / "no-loop")
    for figure in figures(folder / "loop", folder / "no-loop", (loop_summary, base_summary)):
        print(json.dumps(figure, default=str))
    print(json.dumps({"figure": "seconds", "loop": _round(loop_s),
                      "no_loop": _round(base_s), "days": args.days, "modules": modules}))


if __name__ == "__main__":
    main()
