"""Per-vehicle, per-component risk of failing soon, from telemetry trends and precursor
codes: a discrete-time hazard model with time-varying covariates, fitted on the store only.

Every vehicle-week is one interval: its covariates are the trend features at the week's
start (:mod:`gigaloop.customer.telemetry_signals`) and whether a code foretelling the
component came in the last 30 days; its outcome is whether the component failed within
the week. A logistic regression on these intervals is the weekly hazard h (scikit-learn;
the intervals of a vehicle are conditionally independent given their covariates, the
discrete-time survival likelihood). The risk over the next ``horizon`` days holds today's
covariates fixed: 1 − (1 − h)^(horizon / 7). An interval with a predictive visit in the
week before or after it, or that starts within 14 days of a failure of the part (the car
waits for its repair), is left out: its outcome was not the part's own.

The held-out check fits on the intervals that ended before ``split`` and scores those that
started after it (AUC of the weekly hazard; time is the split, not the vehicle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gigaloop.customer.telemetry_signals import BASELINE_GAP_DAYS, SignalHistory

WEEK_DAYS = 7
CODE_WINDOW_DAYS = 30
AFTER_FAILURE_DAYS = 14
#: Intervals without a failure kept for a fit at most (a seeded sample, weighted back).
MAX_NEGATIVES = 40_000
MIN_FAILURES = 5


@dataclass
class HazardModel:
    """One component's fitted weekly hazard, with what it was fitted on and its held-out
    check (``held_out``: auc, intervals, failures, split day)."""

    component: str
    features: tuple[str, ...]
    model: Any = field(repr=False)
    intervals: int
    failures: int
    held_out: dict[str, Any]

    def weekly_hazard(self, covariates: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(covariates[list(self.features)].to_numpy())[:, 1]

    def coefficients(self) -> dict[str, float]:
        """The logistic coefficients on standardised covariates, by feature."""
        fitted = self.model[-1]
        return {f: round(float(c), 3) for f, c in zip(self.features, fitted.coef_[0],
                                                      strict=True)}


@dataclass(frozen=True)
class Events:
    """Dated events of vehicle rows, as sorted keys ``row × span + day`` for counting."""

    keys: np.ndarray
    span: int

    @classmethod
    def of(cls, history: SignalHistory, vins: Any, times: Any, span: int) -> Events:
        if len(vins) == 0:
            return cls(np.zeros(0, np.int64), span)
        row = history.row_of(vins)
        day = history.day_index(times)
        ok = (row >= 0) & (day >= 0)
        return cls(np.sort(row[ok] * span + day[ok]), span)

    def count(self, rows: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Events of ``rows[i]`` on days ``first[i] … last[i]``."""
        base = rows * self.span
        return (np.searchsorted(self.keys, base + last, side="right")
                - np.searchsorted(self.keys, base + first, side="left"))


def covariates(history: SignalHistory, codes: Events, rows: np.ndarray,
               at: np.ndarray) -> pd.DataFrame:
    """The model's covariates of vehicles ``rows`` at day indices ``at``."""
    frame = history.features(rows, at)
    frame["code_recent"] = (codes.count(rows, at - CODE_WINDOW_DAYS + 1, at) > 0).astype(float)
    return frame


def intervals(history: SignalHistory, component: str, codes: pd.DataFrame,
              failures: pd.DataFrame, serviced: pd.DataFrame, first: int, last: int
              ) -> tuple[pd.DataFrame, np.ndarray]:
    """Vehicle-weeks starting on days ``first … last`` (every 7th day from
    :data:`BASELINE_GAP_DAYS`) whose week has ended by the data: covariates and whether the
    component failed within the week. ``codes`` are those foretelling the component."""
    span = history.n_days + 2 * WEEK_DAYS + CODE_WINDOW_DAYS
    mine = failures[failures.component == component]
    failed = Events.of(history, mine.vin, mine.event_time, span)
    visits = Events.of(history, serviced.vin, serviced.event_time, span)
    raised = Events.of(history, codes.vin, codes.event_time, span)
    starts = np.arange(max(first, BASELINE_GAP_DAYS), last + 1, WEEK_DAYS)
    rows = np.repeat(np.arange(len(history.rows)), len(starts))
    at = np.tile(starts, len(history.rows))
    frame = covariates(history, raised, rows, at)
    keep = ((frame.recent.to_numpy() > 0)
            & (visits.count(rows, at - WEEK_DAYS, at + WEEK_DAYS) == 0)
            & (failed.count(rows, at - AFTER_FAILURE_DAYS + 1, at) == 0))
    outcome = failed.count(rows[keep], at[keep] + 1, at[keep] + WEEK_DAYS) > 0
    return frame[keep].reset_index(drop=True), outcome


def fit_hazard(frame: pd.DataFrame, outcome: np.ndarray, features: tuple[str, ...],
               seed: int = 0) -> Any:
    """A standardised logistic regression of ``outcome`` on ``features``: every failure and
    at most :data:`MAX_NEGATIVES` other intervals, weighted back to their share."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    negatives = np.flatnonzero(~outcome)
    kept = negatives
    if len(negatives) > MAX_NEGATIVES:
        kept = np.random.default_rng(seed).choice(negatives, MAX_NEGATIVES, replace=False)
    chosen = np.concatenate([np.flatnonzero(outcome), kept])
    weight = np.where(outcome[chosen], 1.0, len(negatives) / max(len(kept), 1))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(frame.loc[chosen, list(features)].to_numpy(), outcome[chosen],
              logisticregression__sample_weight=weight)
    return model


def fit_component(history: SignalHistory, component: str, codes: pd.DataFrame,
                  failures: pd.DataFrame, serviced: pd.DataFrame, until_day: int,
                  held_out_days: int) -> HazardModel | None:
    """The component's hazard fitted on the weeks ended by day index ``until_day``, and its
    check held out by time (fit on weeks ended by ``until_day − held_out_days``, AUC on
    those starting from then); None while fewer than :data:`MIN_FAILURES` weeks failed."""
    from sklearn.metrics import roc_auc_score

    features = (*(f"{s}_{k}" for s in history.signals for k in ("change", "trend")),
                "code_recent")
    frame, outcome = intervals(history, component, codes, failures, serviced, 0,
                               until_day - WEEK_DAYS)
    if outcome.sum() < MIN_FAILURES:
        return None
    split = until_day - held_out_days
    train_frame, train_outcome = intervals(history, component, codes, failures, serviced, 0,
                                           split - WEEK_DAYS)
    test_frame, test_outcome = intervals(history, component, codes, failures, serviced,
                                         _next_start(split), until_day - WEEK_DAYS)
    held_out: dict[str, Any] = {"split_day": split, "intervals": int(len(test_outcome)),
                                "failures": int(test_outcome.sum()), "auc": None}
    if train_outcome.sum() >= MIN_FAILURES and 0 < test_outcome.sum() < len(test_outcome):
        check = fit_hazard(train_frame, train_outcome, features)
        held_out["auc"] = round(float(roc_auc_score(
            test_outcome, check.predict_proba(test_frame[list(features)].to_numpy())[:, 1])), 3)
    return HazardModel(component, features, fit_hazard(frame, outcome, features),
                       int(len(outcome)), int(outcome.sum()), held_out)


def _next_start(day: int) -> int:
    """The first interval start (every 7th day from :data:`BASELINE_GAP_DAYS`) at or after
    ``day``."""
    return BASELINE_GAP_DAYS + max(0, -(-(day - BASELINE_GAP_DAYS) // WEEK_DAYS)) * WEEK_DAYS


def risk_over(hazard: np.ndarray, horizon_days: int) -> np.ndarray:
    """The chance of failing within ``horizon_days`` at a constant weekly hazard.

    >>> risk_over(np.array([0.0, 0.1, 1.0]), 14).round(2).tolist()
    [0.0, 0.19, 1.0]
    """
    return 1.0 - (1.0 - hazard) ** (horizon_days / WEEK_DAYS)
