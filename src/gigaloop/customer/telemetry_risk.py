"""Per-vehicle, per-component risk of failing soon, from telemetry trends and precursor
codes: a discrete-time hazard model with time-varying covariates, fitted on the store only.

Every vehicle-week is one interval: its covariates are the trend features at the week's
start (:mod:`gigaloop.customer.telemetry_signals`) and whether a code that an acting
precursor rule ties to the component came in the last 30 days; its outcome is whether the
component failed within the week. A logistic regression on these intervals is the weekly
hazard h (scikit-learn; the intervals of a vehicle are conditionally independent given
their covariates: the discrete-time survival likelihood). The risk over the next
``horizon`` days holds today's covariates fixed: 1 − (1 − h)^(horizon / 7). An interval
with a predictive visit in the week before or after it, or that starts within 14 days of
a failure of the part (the car waits for its repair), is left out: its outcome was not
the part's own.

The held-out check fits on the intervals known by ``split`` and scores those that start
after it (AUC of the weekly hazard; time is the split, not the vehicle).
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
#: Weeks a fit looks back over (half a year: a bounded cost, and the fleet as it is now).
FIT_WEEKS = 26
#: Days after a week's end before its outcome is taken as known (claims come with repairs).
OUTCOME_LAG_DAYS = 14


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


@dataclass(frozen=True)
class VehicleWeeks:
    """The vehicle-weeks of a fit: each one's vehicle row, start day and trend features
    (shared by every watched part), ordered by VIN and start."""

    rows: np.ndarray
    start: np.ndarray
    trends: pd.DataFrame

    @classmethod
    def of(cls, history: SignalHistory, last: int) -> VehicleWeeks:
        """The :data:`FIT_WEEKS` weeks to the one starting on day ``last`` (none before day
        :data:`BASELINE_GAP_DAYS`) of the vehicles with a reading in the 7 days before."""
        starts = np.arange(last - (FIT_WEEKS - 1) * WEEK_DAYS, last + 1, WEEK_DAYS)
        starts = starts[starts >= BASELINE_GAP_DAYS]
        by_vin = np.argsort(history.vins, kind="stable")
        rows = np.repeat(by_vin, len(starts))  # by VIN: the same fit whatever the read order
        at = np.tile(starts, len(history.rows))
        seen = history.first_seen[rows] <= at
        rows, at = rows[seen], at[seen]
        trends = history.features(rows, at)
        recent = trends.pop("recent").to_numpy() > 0
        return cls(rows[recent], at[recent], trends[recent].reset_index(drop=True))


def intervals(history: SignalHistory, weeks: VehicleWeeks, component: str,
              codes: pd.DataFrame, failures: pd.DataFrame, serviced: pd.DataFrame
              ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The component's intervals among ``weeks``: covariates (with ``code_recent``, from
    ``codes``, those foretelling it), whether it failed within the week, and the start day."""
    span = history.n_days + 2 * WEEK_DAYS + CODE_WINDOW_DAYS
    mine = failures[failures.component == component]
    failed = Events.of(history, mine.vin, mine.event_time, span)
    visits = Events.of(history, serviced.vin, serviced.event_time, span)
    raised = Events.of(history, codes.vin, codes.event_time, span)
    rows, at = weeks.rows, weeks.start
    keep = ((visits.count(rows, at - WEEK_DAYS, at + WEEK_DAYS) == 0)
            & (failed.count(rows, at - AFTER_FAILURE_DAYS + 1, at) == 0))
    rows, at = rows[keep], at[keep]
    frame = weeks.trends[keep].reset_index(drop=True)
    frame["code_recent"] = code_recent(raised, rows, at)
    return frame, failed.count(rows, at + 1, at + WEEK_DAYS) > 0, at


def code_recent(raised: Events, rows: np.ndarray, at: np.ndarray) -> np.ndarray:
    """1.0 where a code came in the 30 days to ``at``."""
    return (raised.count(rows, at - CODE_WINDOW_DAYS + 1, at) > 0).astype(float)


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
    model.fit(frame[list(features)].to_numpy()[chosen], outcome[chosen],
              logisticregression__sample_weight=weight)
    return model


def fit_component(history: SignalHistory, weeks: VehicleWeeks, component: str,
                  codes: pd.DataFrame, failures: pd.DataFrame, serviced: pd.DataFrame,
                  until_day: int, held_out_days: int) -> HazardModel | None:
    """The component's hazard fitted on ``weeks`` (:func:`weeks_known`: those whose
    outcome is known by day index ``until_day``), and its check held out by time: fitted
    on the weeks known by ``until_day − held_out_days``, its AUC on the weeks starting
    from then. None while fewer than :data:`MIN_FAILURES` weeks failed."""
    from sklearn.metrics import roc_auc_score

    features = (*weeks.trends.columns, "code_recent")
    frame, outcome, start = intervals(history, weeks, component, codes, failures, serviced)
    if outcome.sum() < MIN_FAILURES:
        return None
    split = until_day - held_out_days
    train = start <= split - WEEK_DAYS - OUTCOME_LAG_DAYS
    test = start >= split
    held_out: dict[str, Any] = {"split_day": split, "intervals": int(test.sum()),
                                "failures": int(outcome[test].sum()), "auc": None}
    if outcome[train].sum() >= MIN_FAILURES and 0 < outcome[test].sum() < test.sum():
        check = fit_hazard(frame[train].reset_index(drop=True), outcome[train], features)
        scores = check.predict_proba(frame[list(features)].to_numpy()[test])[:, 1]
        held_out["auc"] = round(float(roc_auc_score(outcome[test], scores)), 3)
    return HazardModel(component, features, fit_hazard(frame, outcome, features),
                       len(outcome), int(outcome.sum()), held_out)


def weeks_known(history: SignalHistory, until_day: int) -> VehicleWeeks | None:
    """The vehicle-weeks whose outcome is known by day index ``until_day``: ended
    :data:`OUTCOME_LAG_DAYS` before it (a claim reaches the store after the repair)."""
    if not history.rows:
        return None
    return VehicleWeeks.of(history, until_day - WEEK_DAYS - OUTCOME_LAG_DAYS)


def risk_over(hazard: np.ndarray, horizon_days: int) -> np.ndarray:
    """The chance of failing within ``horizon_days`` at a constant weekly hazard.

    >>> risk_over(np.array([0.0, 0.1, 1.0]), 14).round(2).tolist()
    [0.0, 0.19, 1.0]
    """
    return 1.0 - (1.0 - hazard) ** (horizon_days / WEEK_DAYS)
