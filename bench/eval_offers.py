"""Offers on the twin: uplift targeting against random targeting at the same number of
offers, on the twin's hidden response; one JSON line per figure.

Runs the twin with the offers module (``--all-modules``: every default module), then reads
the experiment from the store (``decisions``) and each targeted campaign's hidden expected
uplift from the truth (the bench, like ``gigaloop score``, may read it):

* ``targeted_usd`` — Σ hidden expected incremental revenue of the customers offered;
* ``random_usd`` — the same number of offers drawn at random from the campaign's pool: k ×
  the mean hidden uplift of its random holdout;
* ``ratio`` — the first over the second (target ≥ 1.3);
* ``price_experiment`` — the FSD price experiment (list against a changed price, on revenue
  per customer over 12 months): its decision or last look, with the always-valid interval;
* ``price_vs_list`` — on the truth, what the prices sent earned beside the list price on the
  same customers (the experiment's arms, and the rounds after it).

    PYTHONPATH=src python bench/eval_offers.py --fleet 20000 --days 120 --seed 1
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from gigaloop.loop.score import score_offers
from gigaloop.run import DEFAULT_MODULES, RunOptions, run_job
from gigaloop.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fleet", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--all-modules", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="gigaloop-offers-"))
    modules = DEFAULT_MODULES if args.all_modules else ("offers",)
    started = time.perf_counter()
    summary = run_job(RunOptions(days=args.days, seed=args.seed, fleet=args.fleet, out=out,
                                 modules=modules))
    base = {"seed": args.seed, "fleet": args.fleet, "days": args.days}
    emit = lambda figure, value, **extra: print(json.dumps(  # noqa: E731
        {"figure": figure, **base, "value": value, **extra}), flush=True)
    emit("run_seconds", round(time.perf_counter() - started, 1),
         offers_module_seconds=summary["run"]["timings"].get("offers"))
    store = Store(out / "store")
    try:
        decisions = store.execute(store.table("decisions").filter(
            lambda t: t.module == "offers"))
    finally:
        store.close()
    per_product: dict[str, dict[str, object]] = defaultdict(dict)
    price: dict[str, dict[str, object]] = {}
    for row in decisions.sort_values("day").itertuples():
        inputs = json.loads(row.inputs_json)
        product = inputs.get("product")
        if "price_look" in inputs or "price_experiment" in inputs:
            if price.get(product, {}).get("decided"):
                continue
            found = inputs.get("price_experiment") or {"look": inputs["price_look"]}
            price[product] = {"day": row.day, "decided": "price_experiment" in inputs,
                              "summary": row.summary, **found}
            continue
        if "planned" in inputs:
            per_product[product]["planned"] = inputs["planned"]
        if "look" in inputs:
            per_product[product].update(decision_day=row.day, summary=row.summary,
                                        evaluation=inputs.get("evaluation"),
                                        look=inputs["look"])
    for product, info in sorted(per_product.items()):
        emit("experiment", product, **info)
    score = score_offers(out)
    for product, figures in sorted(score["products"].items()):
        emit("uplift_vs_random", product, **figures)
    emit("uplift_vs_random", "all", **score["all"])
    for product, info in sorted(price.items()):
        emit("price_experiment", product, **info)
    for product, figures in sorted(score.get("prices", {}).items()):
        emit("price_vs_list", product, **figures)
    kpis = summary["kpis"]
    emit("offer_uplift", kpis.get("offer_uplift"), ci95=kpis.get("offer_uplift_ci95"),
         offers_sent=kpis.get("offers_sent"))
    for key in ("software_revenue_per_vehicle", "churn_monthly"):
        emit(key, kpis.get(key))


if __name__ == "__main__":
    main()
