"""Impact: did an effective change work? Difference in differences on the store's data.

Treated vehicles are those the change's campaign actually serviced (``service_visits``
rows with its campaign id), each split at its own visit; controls are the vehicles the
finding did not name, split at the change's effective day. Failure modes compare
failures per day at risk from the finding's date on (before it the named vehicles were
chosen for their failures: from delivery, regression to the mean passes for a fix); a
rate measure (:data:`gigaloop.schema.RATE_MEASURES`) compares its events per exposure, or
its trend's fall per √day times the days (:func:`gigaloop.fleet.trend_slopes`).
A change is *verified* when the upper bound of the ratio of rate ratios is below 1,
*failed* when that has not happened ``verify_max_days`` after it took effect.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from gigaloop.errors import ModelError
from gigaloop.fleet.usage import MIN_FADE_DAYS, trend_slopes, usage_sums
from gigaloop.loop.changes import ChangeConfig
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.loop.population import Population
from gigaloop.loop.precursors import population_with_codes
from gigaloop.loop.state import LoopState
from gigaloop.ml.did import rate_ratio_did
from gigaloop.schema import RateMeasure


def verify_changes(ctx: DayContext, state: LoopState, config: ChangeConfig) -> list[Decision]:
    """Check every effective change old enough to judge; record the effect on the change."""
    pending = [c for c in state.changes
               if c["state"] == "effective" and c.get("campaign_vins")
               and ctx.day - c["day_effective"] >= config.verify_min_days]
    if not pending:
        return []
    as_of = ctx.now.date()
    pop = state.population
    if pop is None or pop.as_of != as_of:
        pop = population_with_codes(ctx.view, as_of, state.records, state.service)
    visits = ctx.view.table("service_visits")
    visits = ctx.view.execute(visits.filter(visits.campaign_id.notnull()).select(
        "vin", "campaign_id", day=visits.event_time.date()))
    decisions = []
    for change in pending:
        named = set(state.finding_vins.get(change["finding_id"], ()))
        served = visits[visits.campaign_id == change["id"]]
        try:
            effect = _campaign_effect(ctx, pop, change, served, named,
                                      _found_on(state, change["finding_id"]))
        except ModelError as exc:
            change["impact"] = {"note": str(exc)}
            effect = None
        if effect is not None:
            change["impact"] = {"ratio": round(effect.ratio, 3),
                                "ci": [round(effect.low, 3), round(effect.high, 3)],
                                "treated": effect.n_treated, "controls": effect.n_control,
                                "treated_rates": [effect.treated_before, effect.treated_after],
                                "control_rates": [effect.control_before, effect.control_after]}
        days_on = ctx.day - change["day_effective"]
        if effect is not None and effect.high < 1:
            change.update(state="verified", verified=True, day_verified=ctx.day)
        elif days_on >= config.verify_max_days:
            change.update(state="failed", verified=False, day_verified=ctx.day)
        else:
            continue
        decisions.append(Decision(ctx.day, "impact", f"{change['id']} {change['state']}: "
                                  f"{change.get('impact')}", inputs={"change": change["id"]}))
    return decisions


def _found_on(state: LoopState, finding_id: str) -> np.datetime64 | None:
    """The day the finding was made: the comparison starts there, after the data that chose
    it (a group chosen for its failures fails less afterwards by chance alone: regression to
    the mean would pass for a fix)."""
    for record in state.findings.values():
        if record["id"] == finding_id and record.get("date_found"):
            return np.datetime64(record["date_found"], "D")
    return None


def _campaign_effect(ctx: DayContext, pop: Population, change: dict[str, Any],
                     served: pd.DataFrame, named: set[str],
                     since: np.datetime64 | None = None) -> Any:
    """The change's ratio of rate ratios; a failure mode's periods start at ``since`` (the
    finding's date)."""
    if served.empty:
        raise ModelError("no vehicle of the campaign has been serviced yet")
    origin = np.datetime64(pop.as_of, "D")
    effective = origin - np.timedelta64(ctx.day - change["day_effective"], "D")
    visit = pd.Series(served.groupby("vin").day.min().to_numpy(dtype="datetime64[D]"),
                      index=served.groupby("vin").day.min().index)
    treated = pd.Index(pop.vin).isin(visit.index)
    control = ~pd.Index(pop.vin).isin(list(named))
    keep = treated | control
    split = np.where(treated, pd.Series(pop.vin).map(visit).to_numpy(dtype="datetime64[D]"),
                     effective)
    mode = change["failure_mode"]
    if mode in pop.rates:
        parts = _telemetry_periods(ctx, pop, split, pop.rates[mode].measure)
    else:
        parts = _failure_periods(pop, mode, split, origin, since)
    before_n, before_d, after_n, after_d = (p[keep] for p in parts)
    return rate_ratio_did(before_n, before_d, after_n, after_d, treated[keep])


def _failure_periods(pop: Population, mode: str, split: np.ndarray, as_of: np.datetime64,
                     since: np.datetime64 | None = None) -> tuple[np.ndarray, ...]:
    """Failures and days at risk before and after each vehicle's split; the time before
    counts from ``since`` on (vehicles that failed earlier are out)."""
    delivered = pop.delivered_on
    failed_after = pop.first_failure_days.get(mode, np.full(len(pop), np.nan))
    fail = np.where(np.isnan(failed_after), np.inf,
                    (delivered - delivered.min()).astype(float) + failed_after)
    def to_day(d):
        return ((d - delivered.min()).astype(float))
    start, cut, end = to_day(delivered), to_day(split), float((as_of - delivered.min())
                                                               .astype(float))
    if since is not None:
        start = np.maximum(start, float((since - delivered.min()).astype(float)))
    gone = fail < start  # failed before the comparison starts: not at risk in it
    before_days = np.where(gone, 0.0,
                           np.clip(np.minimum(np.minimum(fail, cut), end) - start, 0, None))
    before_event = ~gone & (fail < cut) & (fail <= end)
    after_start = np.maximum(cut, start)
    after_days = np.where(before_event | gone, 0.0,
                          np.clip(np.minimum(fail, end) - after_start, 0, None))
    after_event = ~before_event & ~gone & (fail >= cut) & (fail <= end)
    return (before_event.astype(float), before_days, after_event.astype(float), after_days)


def _telemetry_periods(ctx: DayContext, pop: Population, split: np.ndarray,
                       measure: RateMeasure) -> tuple[np.ndarray, ...]:
    """(numerator, denominator) before and after each vehicle's split of ``measure``."""
    splits = ibis.memtable(pd.DataFrame({"vin": pop.vin, "split": split.astype("datetime64[s]")
                                         .astype(object)}))
    t = ctx.view.table("telemetry_daily")
    t = t.join(splits, "vin").mutate(after=t.day >= splits.split.date())
    if not measure.is_trend:
        agg = t.group_by(["vin", "after"]).aggregate(
            numer=t[measure.value].sum().cast("float64"),
            denom=t[measure.per].sum().cast("float64"))
        frame = ctx.view.execute(agg)
    else:  # the fall per √day over the days of each period, times the days
        sums = ctx.view.execute(usage_sums(t, ctx.view.table("customers"), by=("after",),
                                           measures=(measure,)))
        sums = sums[sums.days >= MIN_FADE_DAYS]
        frame = sums.assign(numer=-trend_slopes(sums, measure) * sums.days,
                            denom=sums.days.astype(float))
    out = []
    for after in (False, True):
        rows = frame[frame["after"] == after].set_index("vin").reindex(pop.vin)
        out += [rows["numer"].fillna(0.0).to_numpy(), rows["denom"].fillna(0.0).to_numpy()]
    return tuple(out)
