"""Predictive service benchmark: roadside failures with the loop against ``--no-loop``.

For each seed it runs the default world twice (the default modules, and ``--no-loop``;
with ``--only-predictive`` a third run with predictive service alone, which says what the
module itself avoids), then prints one JSON line per seed and run pair:

* ``roadside`` — roadside failures loop / no loop and their ratio (target ≤ 0.6), and per
  component;
* ``visits`` — predictive visits booked and made (``service_visits`` with reason
  ``predictive``), their cost, failures and roadside failures avoided (no loop − loop),
  the visits' cost per failure avoided and per roadside failure avoided, and the warranty
  cost of each run (claims + campaigns + predictive visits, from the store).

Run: ``PYTHONPATH=src python bench/eval_predictive.py --seeds 1 2 3 [--days 365]
[--only-predictive] [--root DIR] [--reuse]`` (``--reuse`` scores runs already in DIR).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from gigaloop.run import DEFAULT_MODULES, RunOptions, run_job
from gigaloop.store import Store


def _run(options: RunOptions, reuse: bool) -> dict:
    summary = options.out / "summary.json"
    if reuse and summary.exists():
        return json.loads(summary.read_text())
    return run_job(options)


def _store_figures(folder: Path) -> dict:
    """Failures by component and roadside, and service visits by reason, from the store."""
    store = Store(folder / "store")
    failures = store.table("component_failures")
    visits = store.table("service_visits")
    by_part = store.execute(
        failures.group_by("component").aggregate(
            failures=failures.count(),
            roadside=failures.roadside.cast("int64").sum(),
            cost=failures.cost_usd.sum(),
        )
    )
    by_reason = store.execute(
        visits.group_by("reason").aggregate(visits=visits.count(), cost=visits.cost_usd.sum())
    )
    decisions = store.table("decisions")
    booked = store.execute(
        decisions.filter(decisions.module == "predictive_service").select("action_json")
    )
    return {
        "failures": int(by_part.failures.sum()),
        "roadside": int(by_part.roadside.sum()),
        "claims_cost": float(by_part.cost.sum()),
        "roadside_by_component": dict(
            zip(by_part.component, by_part.roadside.astype(int), strict=True)
        ),
        "visits": {
            r: (int(n), float(c))
            for r, n, c in zip(by_reason.reason, by_reason.visits, by_reason.cost, strict=True)
        },
        "booked": int(sum(len(json.loads(a)["vins"]) for a in booked.action_json)),
    }


def compare(loop: dict, base: dict) -> dict:
    """Loop against no loop: roadside ratio, visits, avoided failures and their cost."""
    visits, visit_cost = loop["visits"].get("predictive", (0, 0.0))
    avoided = base["failures"] - loop["failures"]
    avoided_roadside = base["roadside"] - loop["roadside"]

    def warranty(run: dict) -> float:
        return run["claims_cost"] + sum(c for r, (_, c) in run["visits"].items() if r != "repair")

    parts = sorted(set(base["roadside_by_component"]) | set(loop["roadside_by_component"]))
    return {
        "roadside": {
            "loop": loop["roadside"],
            "no_loop": base["roadside"],
            "ratio": round(loop["roadside"] / base["roadside"], 3) if base["roadside"] else None,
            "by_component": {
                p: [
                    loop["roadside_by_component"].get(p, 0),
                    base["roadside_by_component"].get(p, 0),
                ]
                for p in parts
            },
        },
        "visits": {
            "booked": loop["booked"],
            "made": visits,
            "cost_usd": round(visit_cost),
            "failures_avoided": avoided,
            "roadside_avoided": avoided_roadside,
            "cost_per_failure_avoided": round(visit_cost / avoided) if avoided > 0 else None,
            "cost_per_roadside_avoided": round(visit_cost / avoided_roadside)
            if avoided_roadside > 0
            else None,
            "warranty_cost_usd": {"loop": round(warranty(loop)), "no_loop": round(warranty(base))},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument(
        "--only-predictive",
        action="store_true",
        help="also run predictive service alone against no loop",
    )
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="eval-predictive-"))
    variants = {"default": DEFAULT_MODULES}
    if args.only_predictive:
        variants["predictive_only"] = ("predictive_service",)
    for seed in args.seeds:
        base_dir = root / f"{seed}-base"
        _run(RunOptions(days=args.days, seed=seed, loop=False, out=base_dir), args.reuse)
        base = _store_figures(base_dir)
        for name, modules in variants.items():
            out = root / f"{seed}-{name}"
            summary = _run(
                RunOptions(days=args.days, seed=seed, modules=modules, out=out), args.reuse
            )
            row = {
                "bench": "predictive",
                "seed": seed,
                "days": args.days,
                "modules": name,
                **compare(_store_figures(out), base),
                "predictive_seconds": summary["run"].get("timings", {}).get("predictive_service"),
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
