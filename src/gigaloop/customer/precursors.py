"""Which diagnostic codes foretell a part's failure, from the store's codes and claims.

For every code, each vehicle that raised it is followed up until its first warranty claim
on the component the code foretells (after at least ``reaction_days``, or a visit could not
have come first), a predictive visit, the day of the fit or ``horizon_days``; the
precision is the Kaplan–Meier probability of that claim within the horizon, so codes whose
follow-up is still open are censored, not misses. A fixed share of vehicles
(``holdout_percent``, by a hash of the VIN) is never booked, so the precision stays
measured once the module acts. A code is acted on when the lower Wilson bound of its
precision times the expected cost of the failure (claim cost seen in the store, tow when
stranded, the owner's lost day) exceeds the cost of a planned replacement.

>>> import pandas as pd
>>> t = pd.Timestamp("2025-03-01")
>>> days = lambda *d: [t + pd.Timedelta(days=x) for x in d]
>>> codes = pd.DataFrame({"vin": [f"V{i}" for i in range(40)],
...     "code": ["CP_latch"] * 20 + ["UI_wifi"] * 20, "event_time": days(*range(40))})
>>> failures = pd.DataFrame({"vin": [f"V{i}" for i in range(19)] + ["V30"],
...     "component": ["charge_port"] * 19 + ["hvac"], "event_time": days(*range(5, 24), 60),
...     "cost_usd": [400.0] * 20, "roadside": [False] * 20})
>>> rules = fit_precursors(codes, failures, until=t + pd.Timedelta(days=90))
>>> rule = rules.loc["CP_latch"]
>>> rule.component, int(rule.events), int(rule.hits), round(float(rule.precision_low), 2)
('charge_port', 20, 19, 0.76)
>>> bool(rules.loc["CP_latch", "act"]), bool(rules.loc["UI_wifi", "act"])
(True, False)
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gigaloop.errors import ConfigError
from gigaloop.ml.survival import kaplan_meier

RULE_COLUMNS = ("component", "events", "hits", "resolved", "precision", "precision_low",
                "lead_days_median", "failure_cost_usd", "visit_cost_usd", "act", "survival")


@dataclass(frozen=True)
class PredictiveServiceConfig:
    """Outcome window, evidence needed, and the costs of the rule (USD; not published).

    ``horizon_days`` spans the longest precursor lead a rule should learn (a bearing's P-F
    interval is 3–6 months, FIGURES.md).
    """

    horizon_days: int = 180
    reaction_days: int = 2
    min_events: int = 5
    confidence: float = 0.95
    tow_usd: float = 250.0
    owner_day_usd: float = 300.0
    planned_cost_share: float = 0.8
    holdout_percent: int = 5
    refit_days: int = 7
    #: Parts whose precursors the telemetry carries, and the days over which a visit
    #: should avert their failure (about their precursor's lead; a choice, not a figure).
    watched: tuple[tuple[str, int], ...] = (("12v_battery", 30), ("drive_unit", 90))
    #: Days between refits of the telemetry hazard models.
    signal_refit_days: int = 28

    def __post_init__(self) -> None:
        if not 0 < self.reaction_days < self.horizon_days:
            raise ConfigError("need 0 < reaction_days < horizon_days",
                              reaction_days=self.reaction_days, horizon_days=self.horizon_days)
        if not 0 <= self.holdout_percent < 100 or self.min_events < 1:
            raise ConfigError("need 0 <= holdout_percent < 100 and min_events >= 1")


def in_holdout(vins: Iterable[str], percent: int) -> np.ndarray:
    """Whether each VIN is in the never-booked control group (a stable hash of the VIN).

    >>> in_holdout(pd.Series(["5YJ0001", "5YJ0002"]), 0).tolist()
    [False, False]
    """
    return np.array([zlib.crc32(v.encode()) % 100 < percent for v in vins], dtype=bool)


def fit_precursors(codes: pd.DataFrame, failures: pd.DataFrame, *, until: pd.Timestamp,
                   serviced: pd.DataFrame | None = None,
                   config: PredictiveServiceConfig | None = None) -> pd.DataFrame:
    """One rule per code (index): the component it foretells and whether to act on it.

    ``codes``: vin, code, event_time. ``failures``: vin, component, event_time, cost_usd,
    roadside. ``serviced``: vin, event_time of predictive visits (a code's follow-up ends at
    the next one). Each code is followed until its first failure of the foretold component
    (``reaction_days`` to ``horizon_days`` after it), ``until``, the next predictive visit or
    the horizon; precision is the Kaplan–Meier probability of that failure by the horizon.
    Columns: :data:`RULE_COLUMNS`.
    """
    cfg = config or PredictiveServiceConfig()
    day = pd.Timedelta(days=1).value
    horizon, reaction = cfg.horizon_days * day, cfg.reaction_days * day
    code_time = _nanoseconds(codes.event_time)
    vins = codes.vin.to_numpy()
    end = np.minimum(code_time + horizon, pd.Timestamp(until).value)
    if serviced is not None and len(serviced):
        end = np.minimum(end, _next_visit(vins, code_time, serviced.vin.to_numpy(),
                                          _nanoseconds(serviced.event_time)))
    followed = np.flatnonzero(end > code_time)  # a visit at once: nothing to learn from it
    vins, code_time, end = vins[followed], code_time[followed], end[followed]
    code, names = pd.factorize(codes.code.to_numpy()[followed], sort=True)
    events = np.bincount(code, minlength=len(names))
    event, failure = _same_vin(vins, failures.vin.to_numpy())
    failed_at = _nanoseconds(failures.event_time)[failure]
    lead = failed_at - code_time[event]
    seen = (lead >= 0) & (failed_at <= end[event])
    event, failure, lead = event[seen], failure[seen], lead[seen]
    component, components = pd.factorize(failures.component.to_numpy()[failure], sort=True)
    hit = lead >= reaction
    foretold = np.full(len(names), None, dtype=object)
    lead_median = np.full(len(names), np.nan)
    if hit.any():  # each code's component with the most hits (one per code raised)
        pairs, first_lead = _first(event[hit], component[hit], lead[hit])
        best = _hits(code[pairs[0]], components[pairs[1]], first_lead / day).sort_values(
            "hits", ascending=False, kind="stable").drop_duplicates("code")
        foretold[best.code.to_numpy()] = best.component.to_numpy()
        lead_median[best.code.to_numpy()] = best.lead_days_median.to_numpy()
    mine = components[component] == foretold[code[event]]
    # follow-up of each code raised: to its first failure of the foretold part
    duration = (end - code_time) / day
    failed = np.zeros(len(code_time), dtype=bool)
    (which, _), first = _first(event[mine], np.zeros(int(mine.sum()), np.int64), lead[mine])
    too_soon = which[first < reaction]   # the part failed before a visit could come
    duration[too_soon], failed[too_soon] = cfg.horizon_days, False
    came = first >= reaction
    duration[which[came]], failed[which[came]] = first[came] / day, True
    hits, survival = _survival(duration, failed, code, len(names), cfg.horizon_days)
    precision = 1.0 - np.array([curve[-1] for curve in survival])
    resolved = np.where(precision > 0, hits / np.where(precision > 0, precision, 1), events)
    claims = failures.groupby("component")[["cost_usd", "roadside"]].mean()
    cost = claims.cost_usd.reindex(foretold).to_numpy(dtype=float)
    stranded = claims.roadside.reindex(foretold).to_numpy(dtype=float)
    low = wilson_low(hits, resolved, cfg.confidence)
    failure_cost = cost + stranded * cfg.tow_usd + cfg.owner_day_usd
    visit_cost = cfg.planned_cost_share * cost
    return pd.DataFrame({
        "component": foretold, "events": events, "hits": hits, "resolved": resolved,
        "precision": precision, "precision_low": low, "lead_days_median": lead_median,
        "failure_cost_usd": failure_cost, "visit_cost_usd": visit_cost,
        "act": (events >= cfg.min_events) & (foretold != None)  # noqa: E711
        & (low * failure_cost > visit_cost), "survival": survival},
        index=pd.Index(names, name="code"))


def _first(event: np.ndarray, component: np.ndarray, lead: np.ndarray
           ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The distinct (event, component) pairs, sorted, and each one's smallest lead."""
    order = np.lexsort((lead, component, event))
    event, component, lead = event[order], component[order], lead[order]
    start = np.flatnonzero(np.r_[len(event) > 0, (event[1:] != event[:-1])
                                 | (component[1:] != component[:-1])])
    return (event[start], component[start]), lead[start]


def _survival(duration: np.ndarray, failed: np.ndarray, group: np.ndarray, n_groups: int,
              horizon_days: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per group: failures seen, and the Kaplan–Meier probability of no failure yet after
    each day 0 … ``horizon_days`` (flat past the last follow-up)."""
    hits = np.bincount(group[failed], minlength=n_groups)
    survival = [np.ones(horizon_days + 1) for _ in range(n_groups)]
    if len(duration):
        curves = kaplan_meier(duration, failed, group)
        span = min(horizon_days + 1, curves.survival.shape[1])
        for g, curve in zip(curves.groups, curves.survival, strict=True):
            survival[g][:span] = curve[:span]
            survival[g][span:] = curve[span - 1]
    return hits, survival


def wilson_low(hits: np.ndarray, events: np.ndarray, confidence: float) -> np.ndarray:
    """Lower Wilson bound of each proportion ``hits / events`` (statsmodels'
    ``proportion_confint``; 0 without events or hits).

    >>> wilson_low(np.array([19, 0, 0]), np.array([20, 20, 0]), 0.95).round(4).tolist()
    [0.7639, 0.0, 0.0]
    """
    from statsmodels.stats.proportion import proportion_confint

    events = np.asarray(events)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = proportion_confint(hits, np.maximum(events, 1), alpha=1 - confidence,
                                 method="wilson")[0]
    return np.where((events > 0) & (hits > 0), low, 0.0)


def _nanoseconds(times: pd.Series) -> np.ndarray:
    return times.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _same_vin(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, j) with ``left[i] == right[j]``, by i and then j (a merge on the VIN)."""
    ids, _ = pd.factorize(np.concatenate([left, right]))
    left_id, right_id = ids[:len(left)], ids[len(left):]
    order = np.argsort(right_id, kind="stable")
    ordered = right_id[order]
    start = np.searchsorted(ordered, left_id, side="left")
    count = np.searchsorted(ordered, left_id, side="right") - start
    i = np.repeat(np.arange(len(left)), count)
    offset = np.arange(len(i)) - np.repeat(np.cumsum(count) - count, count)
    return i, order[np.repeat(start, count) + offset]


def _next_visit(vins: np.ndarray, times: np.ndarray, visit_vins: np.ndarray,
                visit_times: np.ndarray) -> np.ndarray:
    """The first visit of each VIN at or after its time (ns; the int64 maximum: none)."""
    ids, _ = pd.factorize(np.concatenate([vins, visit_vins]))
    _, ranks = np.unique(np.concatenate([times, visit_times]), return_inverse=True)
    span = len(ranks) + 1
    keys = ids * span + ranks
    code_key, visit_key = keys[:len(vins)], keys[len(vins):]
    order = np.argsort(visit_key, kind="stable")
    at = np.searchsorted(visit_key[order], code_key, side="left")
    found = np.minimum(at, len(order) - 1)
    same = (at < len(order)) & (ids[len(vins):][order][found] == ids[:len(vins)])
    return np.where(same, visit_times[order][found], np.iinfo(np.int64).max)


def _hits(code: np.ndarray, component: np.ndarray, lead_days: np.ndarray) -> pd.DataFrame:
    """Per code (its number) and component, sorted by both as a group-by would: ``hits``
    and the median lead in days."""
    _, group = np.unique(component, return_inverse=True)
    key = code * (group.max() + 1) + group
    order = np.lexsort((lead_days, key))
    key, lead_days = key[order], lead_days[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    count = np.diff(np.r_[first, len(key)])
    middle = (lead_days[first + (count - 1) // 2] + lead_days[first + count // 2]) / 2
    return pd.DataFrame({"code": code[order][first], "component": component[order][first],
                         "hits": count, "lead_days_median": middle})


def held_out_precision(codes: pd.DataFrame, failures: pd.DataFrame, *, split: pd.Timestamp,
                       until: pd.Timestamp, serviced: pd.DataFrame | None = None,
                       config: PredictiveServiceConfig | None = None) -> dict[str, Any]:
    """Rules fitted on codes before ``split``, judged on the codes raised after it (followed
    up to ``until``): how many the rules would book, the Kaplan–Meier precision over them
    (failures of the foretold part ÷ codes whose outcome is known), and the share of all
    claims on those components in the test period that a booked code had foretold (recall)."""
    cfg = config or PredictiveServiceConfig()
    rules = fit_precursors(codes[codes.event_time < split], failures, until=split,
                           serviced=serviced, config=cfg)
    test = fit_precursors(codes[codes.event_time >= split], failures, until=until,
                          serviced=serviced, config=cfg)
    acted = rules.index[rules.act].intersection(test.index)
    same = [c for c in acted if test.loc[c, "component"] == rules.loc[c, "component"]]
    booked = int(test.loc[acted, "events"].sum())
    hits = int(test.loc[same, "hits"].sum())
    resolved = float(test.loc[acted, "resolved"].sum())
    components = set(rules.loc[acted, "component"])
    window = failures[(failures.event_time > split) & (failures.event_time <= until)]
    claims = int(window.component.isin(components).sum())
    return {"codes_booked": booked, "precision": hits / resolved if resolved else None,
            "claims_foretold": hits, "claims": claims,
            "recall": hits / claims if claims else None}
