"""Insurance benchmark: claim-frequency models on a run folder's store, judged on
held-out drivers.

Prints one JSON line per figure:

* ``counts`` — consenting drivers, miles and claims in training and held out;
* ``glm_rate_ratios`` — the GLM's rate ratio per unit of each feature, with its 95 % CI;
* ``deciles`` (one line per model: glm, gbm) — observed / expected claims per decile of
  predicted frequency, exact Poisson 95 % interval, and whether every decile's O/E is
  within ±10 % and whether every interval covers 1;
* ``ranking`` (one line per predictor: glm, gbm, pcf_v22) — normalised Gini with a 95 %
  bootstrap interval (200 resamples of drivers) and top-decile lift on held-out drivers;
* ``premium`` — held-out drivers' monthly premiums (GLM): quantiles, mean and the mean
  driver's premium, at the training drivers' mean claim cost and the stated loss ratio;
* with ``--folds K`` (K ≥ 2), ``crossfit_deciles`` (glm, gbm): the decile table again, every
  driver held out once — each driver's rate from the model fitted on the other K − 1 folds
  of customers — so all the claims judge the calibration, not a held-out share of them;
* with ``--ahead D``, ``ahead_deciles`` and ``ahead_ranking`` (glm, pcf_v22,
  glm_fitted_ahead): the models fitted on every driver's window but its last ``D`` days,
  judged on the claims of those ``D`` days (at the miles then driven) — a price is set
  before the period it covers. ``glm_fitted_ahead`` is fitted the way it is then used, the
  earlier window's features against the last days' claims, on the other four fifths of
  customers; ``glm_credibility`` is the GLM's relative risk trusted in proportion to the
  miles behind it (:class:`~gigaloop.customer.insurance.Credibility`, its constant fitted
  on the other four fifths' later claims).

Run: ``PYTHONPATH=src .venv/bin/python bench/eval_insurance.py --run DIR [--held-out 0.3]
[--seed 0] [--folds 5] [--ahead 30]`` (DIR from ``gigaloop run --out DIR``; the window is all its
telemetry days).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from gigaloop.customer.insurance import (
    ClaimFrequencyGBM,
    ClaimFrequencyGLM,
    Credibility,
    PremiumSettings,
    calibration_by_decile,
    gini_interval,
    log_relative_risk,
    normalised_gini,
    split_by_customer,
    top_decile_lift,
)
from gigaloop.customer.insurance_features import driver_features
from gigaloop.store import Store


def _emit(figure: str, **values: object) -> None:
    print(json.dumps({"figure": figure, **values}, default=float), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder (with store/)")
    parser.add_argument("--held-out", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folds", type=int, default=0, help="cross-fitted deciles (K ≥ 2)")
    parser.add_argument("--ahead", type=int, default=0,
                        help="judge on the claims of the last D days, fitted before them")
    args = parser.parse_args()
    if args.folds == 1 or args.folds < 0:
        parser.error(f"--folds {args.folds}: give 2 or more folds (or 0 for none)")
    if not 0 < args.held_out < 1:
        parser.error(f"--held-out {args.held_out}: give a share between 0 and 1")
    if not (args.run / "store").is_dir():
        parser.error(f"{args.run} holds no store/: give a folder of `gigaloop run --out`")
    store = Store(args.run / "store")
    days = store.table("telemetry_daily")
    span = store.execute(days.aggregate(start=days.day.min(), end=days.day.max()))
    if pd.isna(span.start[0]):
        parser.error(f"{args.run}: its store holds no telemetry_daily rows to price from")
    start, end = pd.Timestamp(span.start[0]), pd.Timestamp(span.end[0])
    if args.ahead < 0 or (args.ahead and (end - start).days - args.ahead < 14):
        parser.error(f"--ahead {args.ahead}: the run's {(end - start).days + 1} telemetry days "
                     "leave fewer than 14 to fit on before them")
    features = driver_features(store, start, end)
    test_mask = split_by_customer(features["customer_id"], args.held_out, args.seed)
    train, test = features[~test_mask], features[test_mask]
    _emit("counts", window=[str(start.date()), str(end.date())],
          **{f"{name}_{k}": v for name, part in (("train", train), ("held_out", test))
             for k, v in (("drivers", len(part)), ("miles", part.miles.sum()),
                          ("claims", int(part.claims.sum())))})
    glm = ClaimFrequencyGLM().fit(train)
    _emit("glm_rate_ratios", **{name: [np.exp(b), np.exp(b - 1.96 * se), np.exp(b + 1.96 * se)]
                                for name, b, se in zip(glm.coef_.index, glm.coef_, glm.stderr_,
                                                       strict=True)})
    gbm = ClaimFrequencyGBM(seed=args.seed).fit(train)
    claims, miles = test.claims.to_numpy(), test.miles.to_numpy()
    predictors = {"glm": glm.rate(test), "gbm": gbm.rate(test),
                  "pcf_v22": test.pcf_v22.to_numpy()}
    for name in ("glm", "gbm"):
        table = calibration_by_decile(claims, predictors[name] * miles, predictors[name])
        _emit("deciles", model=name, rows=table.to_dict("records"),
              all_within_10pct=bool((table.o_e.sub(1).abs() <= 0.1).all()),
              all_cover_1=bool(((table.low <= 1) & (table.high >= 1)).all()))
    for name, score in predictors.items():
        _emit("ranking", predictor=name, normalised_gini=normalised_gini(claims, miles, score),
              gini_ci=gini_interval(claims, miles, score, seed=args.seed),
              top_decile_lift=top_decile_lift(claims, miles, score))
    # the claim cost as the module sets it: the mean cost of the training drivers' claims
    settings = PremiumSettings(claim_cost_usd=float(train.claim_cost.sum() / train.claims.sum()))
    priced = glm.explain(test, settings)
    _emit("premium", settings=dataclasses.asdict(settings), usd_per_month={
        f"p{q}": float(np.percentile(priced.premium, q)) for q in (5, 25, 50, 75, 95)},
        mean=priced.premium.mean(), mean_driver=priced.mean_driver_premium.iloc[0])
    if args.folds >= 2:
        _crossfit_deciles(features, args.folds, args.seed)
    if args.ahead > 0:
        _ahead(store, start, end, args.ahead, args.seed)


def _ahead(store: Store, start: pd.Timestamp, end: pd.Timestamp, days: int,
           seed: int) -> None:
    """Fit on the window to ``end − days``; judge on the claims of the ``days`` after it,
    at the miles the drivers then drove."""
    cut = end - pd.Timedelta(days=days)
    past = driver_features(store, start, cut)
    future = driver_features(store, cut + pd.Timedelta(days=1), end)
    both = past.merge(future[["customer_id", "miles", "claims"]], on="customer_id",
                      suffixes=("", "_ahead"))
    glm = ClaimFrequencyGLM().fit(past)
    claims, miles = both.claims_ahead.to_numpy(), both.miles_ahead.to_numpy()
    rates = {"glm": glm.rate(both), "pcf_v22": both.pcf_v22.to_numpy()}
    rates["pcf_v22"] = rates["pcf_v22"] * past.claims.sum() / (past.miles * past.pcf_v22).sum()
    # fitted the way it is used: the window's features against the next days' claims, on
    # the other folds of customers (so no driver's own next claims price it)
    ahead = both.assign(claims=both.claims_ahead, miles=both.miles_ahead)
    ids = np.sort(both.customer_id.unique())
    fold = both.customer_id.map(dict(zip(ids, np.random.default_rng(seed).permutation(
        len(ids)) % 5, strict=True))).to_numpy()
    rates["glm_fitted_ahead"] = np.zeros(len(both))
    rates["glm_credibility"] = np.zeros(len(both))
    log_rr, window_miles = log_relative_risk(rates["glm"], both.miles), both.miles.to_numpy()
    ks = []
    for k in range(5):
        train, test = fold != k, fold == k
        fitted = ClaimFrequencyGLM().fit(ahead[train])
        rates["glm_fitted_ahead"][test] = fitted.rate(both[test])
        credibility = Credibility.fit(log_rr[train], window_miles[train], claims[train],
                                      miles[train])
        rates["glm_credibility"][test] = credibility.rate(log_rr[test], window_miles[test])
        ks.append(credibility.k)
    _emit("ahead_credibility", k_miles_by_fold=ks)
    for name, rate in rates.items():
        table = calibration_by_decile(claims, rate * miles, rate)
        _emit("ahead_deciles", model=name, fitted_until=str(cut.date()), days=days,
              drivers=len(both), claims=int(claims.sum()), rows=table.to_dict("records"),
              all_within_10pct=bool((table.o_e.sub(1).abs() <= 0.1).all()),
              all_cover_1=bool(((table.low <= 1) & (table.high >= 1)).all()))
        _emit("ahead_ranking", predictor=name, normalised_gini=normalised_gini(claims, miles, rate),
              gini_ci=gini_interval(claims, miles, rate, seed=seed),
              top_decile_lift=top_decile_lift(claims, miles, rate))


def _crossfit_deciles(features: pd.DataFrame, folds: int, seed: int) -> None:
    """Every driver's rate from the models fitted without its fold of customers; the
    decile tables of all drivers on those rates."""
    ids = np.sort(features.customer_id.unique())
    fold_of = dict(zip(ids, np.random.default_rng(seed).permutation(len(ids)) % folds,
                       strict=True))
    fold = features.customer_id.map(fold_of).to_numpy()
    rates = {"glm": np.zeros(len(features)), "gbm": np.zeros(len(features))}
    for k in range(folds):
        train, test = features[fold != k], features[fold == k]
        rates["glm"][fold == k] = ClaimFrequencyGLM().fit(train).rate(test)
        rates["gbm"][fold == k] = ClaimFrequencyGBM(seed=seed).fit(train).rate(test)
    claims, miles = features.claims.to_numpy(), features.miles.to_numpy()
    for name, rate in rates.items():
        table = calibration_by_decile(claims, rate * miles, rate)
        _emit("crossfit_deciles", model=name, folds=folds, drivers=len(features),
              claims=int(claims.sum()), rows=table.to_dict("records"),
              all_within_10pct=bool((table.o_e.sub(1).abs() <= 0.1).all()),
              all_cover_1=bool(((table.low <= 1) & (table.high >= 1)).all()))


if __name__ == "__main__":
    main()
