"""Battery SoH forecast benchmark: does the interval cover held-out vehicles at its rate?

On a run folder's store: a seeded share of vehicles is held out. The forecaster is trained
on the others from an earlier cutoff (features at ``cutoff − horizon``, target the measured
SoH at ``cutoff``) and predicts the held-out vehicles' SoH at ``cutoff + horizon`` from
their features at ``cutoff``. The target is the mean measured SoH over the 14 days ending
then (the BMS estimate's noise averaged down; the twin's noiseless SoH is not read).
Vehicles whose pack was replaced or failed in a window are left out of it (their SoH starts
again). Prints one JSON line per (run, horizon, nominal coverage): vehicles, measured
coverage, interval width, mean absolute error of the forecast and of "SoH stays as now".

With ``--interval out_of_time`` (the default) the interval is sized on the residuals of a
model fitted one window earlier still (features at ``cutoff − 3 × horizon``… ``cutoff −
horizon``) over the training window, :meth:`SohForecaster.fit_out_of_time`; with
``split``, on 30 % of the training vehicles within the training window.

Run: ``PYTHONPATH=src python bench/eval_battery_forecast.py --run DIR [DIR …]
[--horizons 60 90] [--coverage 0.8 0.9] [--held-out 0.3] [--seed 0]
[--interval out_of_time|split]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from gigaloop.customer.battery_forecast import (
    SohForecaster,
    held_out_vehicles,
    soh_at,
    soh_features,
)
from gigaloop.store import Store


def _pack_renewed(store: Store, start: pd.Timestamp, end: pd.Timestamp) -> set[str]:
    """VINs whose pack failed or was serviced in (start, end]."""
    vins: set[str] = set()
    for name in ("component_failures", "service_visits"):
        table = store.table(name)
        rows = store.execute(
            table.filter(
                table.component == "battery_pack",
                table.event_time > start,
                table.event_time <= end + pd.Timedelta(days=1),
            ).select("vin")
        )
        vins |= set(rows.vin)
    return vins


def evaluate(
    run: Path, horizon: int, coverages: list[float], held_out: float, seed: int,
    out_of_time: bool = False,
) -> list[dict]:
    store = Store(run / "store")
    days = store.table("telemetry_daily")
    last = pd.Timestamp(store.execute(days.day.max()))
    cutoff, start = last - pd.Timedelta(days=horizon), last - pd.Timedelta(days=2 * horizon)
    early, now = soh_features(store, start, horizon), soh_features(store, cutoff, horizon)
    earlier_cut = start - pd.Timedelta(days=horizon)
    earlier = soh_features(store, earlier_cut, horizon) if out_of_time else None
    test = held_out_vehicles(now.vin, held_out, seed)
    train = early[
        ~early.vin.isin(now.vin[test]) & ~early.vin.isin(_pack_renewed(store, start, cutoff))
    ]
    test_rows = now[test & ~now.vin.isin(_pack_renewed(store, cutoff, last))]
    target_then, truth = soh_at(store, cutoff), soh_at(store, last)
    test_rows = test_rows[test_rows.vin.isin(truth.index)]
    actual = truth.reindex(test_rows.vin).to_numpy()
    rows = []
    for coverage in coverages:
        model = SohForecaster(horizon_days=horizon, coverage=coverage, seed=seed)
        if earlier is None:
            model.fit(train, target_then)
        else:
            older = earlier[~earlier.vin.isin(now.vin[test])
                            & ~earlier.vin.isin(_pack_renewed(store, earlier_cut, start))]
            model.fit_out_of_time((older, soh_at(store, start)), (train, target_then))
        out = model.predict(test_rows)
        rows.append(
            {
                "bench": "battery_forecast",
                "run": str(run),
                "horizon_days": horizon,
                "cutoff": str(cutoff.date()),
                "nominal": coverage,
                "interval": "out_of_time" if out_of_time else "split",
                "train_vehicles": len(train),
                "held_out_vehicles": len(out),
                "covered": round(float(((out.low <= actual) & (actual <= out.high)).mean()), 3),
                "half_width": round(float(model.half_width), 5),
                "mae": round(float(np.abs(out.soh - actual).mean()), 5),
                "mae_persistence": round(float(np.abs(test_rows.soh_now - actual).mean()), 5),
                "mean_fade_over_horizon": round(float((test_rows.soh_now - actual).mean()), 5),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, nargs="+", required=True)
    parser.add_argument("--horizons", type=int, nargs="+", default=[60, 90])
    parser.add_argument("--coverage", type=float, nargs="+", default=[0.8, 0.9])
    parser.add_argument("--held-out", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--interval", choices=["split", "out_of_time"], default="out_of_time",
                        help="size the interval within the training window, or on the "
                             "window after it (SohForecaster.fit_out_of_time)")
    args = parser.parse_args()
    for run in args.run:
        for horizon in args.horizons:
            for row in evaluate(run, horizon, args.coverage, args.held_out, args.seed,
                                args.interval == "out_of_time"):
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
