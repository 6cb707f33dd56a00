"""Predictive service: learn which diagnostic codes foretell a part's failure, and book the
owner in before it fails.

For every code, the store says how often a vehicle that raised it had a warranty claim on
some component within ``horizon_days`` — after at least ``reaction_days``, or a visit could
not have come first. Codes whose outcome window has not closed are not used; codes on
vehicles that were then serviced predictively are censored (the visit changed the outcome),
and a fixed share of vehicles (``holdout_percent``, by a hash of the VIN) is never booked, so
the precision stays measured once the module acts. A code is acted on when the lower
Wilson bound of its precision times the expected cost of the failure (claim cost seen in the
store, tow when stranded, the owner's lost day) exceeds the cost of a planned replacement.

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

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from gigaloop.actuate import PredictiveService
from gigaloop.customer.service_history import ServiceHistory
from gigaloop.errors import ConfigError
from gigaloop.loop.contract import DayContext, Decision

RULE_COLUMNS = ("component", "events", "hits", "precision", "precision_low",
                "lead_days_median", "failure_cost_usd", "visit_cost_usd", "act")


@dataclass(frozen=True)
class PredictiveServiceConfig:
    """Outcome window, evidence needed, and the costs of the rule (USD; not published)."""

    horizon_days: int = 30
    reaction_days: int = 2
    min_events: int = 20
    confidence: float = 0.95
    tow_usd: float = 250.0
    owner_day_usd: float = 300.0
    planned_cost_share: float = 0.8
    holdout_percent: int = 5
    refit_days: int = 7

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
    roadside. ``serviced``: vin, event_time of predictive visits (their codes are censored).
    Only codes raised by ``until - horizon_days`` count. Columns: :data:`RULE_COLUMNS`.
    """
    cfg = config or PredictiveServiceConfig()
    horizon = pd.Timedelta(days=cfg.horizon_days).value
    code_time = _nanoseconds(codes.event_time)
    matured = np.flatnonzero(code_time <= (until - pd.Timedelta(days=cfg.horizon_days)).value)
    vins = codes.vin.to_numpy()[matured]
    code_time = code_time[matured]
    if serviced is not None and len(serviced):
        visit = _next_visit(vins, code_time, serviced.vin.to_numpy(),
                            _nanoseconds(serviced.event_time))
        kept = ~(visit - code_time <= horizon)  # no predictive visit in the window
        matured, vins, code_time = matured[kept], vins[kept], code_time[kept]
    code, names = pd.factorize(codes.code.to_numpy()[matured], sort=True)
    events = np.bincount(code, minlength=len(names))
    event, failure = _same_vin(vins, failures.vin.to_numpy())
    lead = _nanoseconds(failures.event_time)[failure] - code_time[event]
    near = (lead >= pd.Timedelta(days=cfg.reaction_days).value) & (lead <= horizon)
    event, failure, lead = event[near], failure[near], lead[near]
    component, components = pd.factorize(failures.component.to_numpy()[failure], sort=True)
    # one hit per code raised and component: its first failure
    order = np.lexsort((lead, component, event))
    event, component, lead = event[order], component[order], lead[order]
    first = np.ones(len(event), dtype=bool)
    first[1:] = (event[1:] != event[:-1]) | (component[1:] != component[:-1])
    event, component, lead_days = event[first], component[first], lead[first] / 1e9 / 86400.0
    foretold = np.full(len(names), None, dtype=object)
    hits, lead_median = np.zeros(len(names), dtype=np.int64), np.full(len(names), np.nan)
    if len(event):  # each code's component with the most hits
        best = _hits(code[event], components[component], lead_days).sort_values(
            "hits", ascending=False).drop_duplicates("code")
        row = best.code.to_numpy()
        foretold[row] = best.component.to_numpy()
        hits[row], lead_median[row] = best.hits.to_numpy(), best.lead_days_median.to_numpy()
    claims = failures.groupby("component")[["cost_usd", "roadside"]].mean()
    cost = claims.cost_usd.reindex(foretold).to_numpy(dtype=float)
    stranded = claims.roadside.reindex(foretold).to_numpy(dtype=float)
    low = wilson_low(hits, events, cfg.confidence)
    failure_cost = cost + stranded * cfg.tow_usd + cfg.owner_day_usd
    visit_cost = cfg.planned_cost_share * cost
    return pd.DataFrame({
        "component": foretold, "events": events, "hits": hits, "precision": hits / events,
        "precision_low": low, "lead_days_median": lead_median,
        "failure_cost_usd": failure_cost, "visit_cost_usd": visit_cost,
        "act": (events >= cfg.min_events) & (foretold != None)  # noqa: E711
        & (low * failure_cost > visit_cost)}, index=pd.Index(names, name="code"))


def wilson_low(hits: np.ndarray, events: np.ndarray, confidence: float) -> np.ndarray:
    """Lower Wilson bound of each proportion ``hits / events`` (0 without events or hits),
    as :meth:`scipy.stats.binomtest(k, n).proportion_ci(confidence, "wilson")
    <scipy.stats.BinomTestResult.proportion_ci>` computes it, element by element.

    >>> wilson_low(np.array([19, 0, 0]), np.array([20, 20, 0]), 0.95).round(4).tolist()
    [0.7639, 0.0, 0.0]
    """
    z = ndtri(0.5 + 0.5 * confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = hits / events
        denom = 2 * (events + z**2)
        delta = z / denom * np.sqrt(4 * events * p * (1 - p) + z**2)
        low = (2 * events * p + z**2) / denom - delta
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
    """Rules fitted on codes before ``split``, judged on the codes raised after it whose
    window closed by ``until``: how many the rules would book and how many of those the
    foretold component really failed on (precision), and the share of all claims on those
    components in the test period that a booked code had foretold (recall)."""
    cfg = config or PredictiveServiceConfig()
    rules = fit_precursors(codes[codes.event_time < split], failures, until=split,
                           serviced=serviced, config=cfg)
    test = fit_precursors(codes[codes.event_time >= split], failures, until=until,
                          serviced=serviced, config=cfg)
    acted = rules.index[rules.act].intersection(test.index)
    same = [c for c in acted if test.loc[c, "component"] == rules.loc[c, "component"]]
    booked = int(test.loc[acted, "events"].sum())
    hits = int(test.loc[same, "hits"].sum())
    components = set(rules.loc[acted, "component"])
    window = failures[(failures.event_time > split) & (failures.event_time <= until)]
    claims = int(window.component.isin(components).sum())
    return {"codes_booked": booked, "precision": hits / booked if booked else None,
            "claims_foretold": hits, "claims": claims,
            "recall": hits / claims if claims else None}


@dataclass
class PredictiveServiceState:
    """What the module keeps between days.

    ``history`` — the codes, claims and predictive visits read so far; ``last_run`` — the
    instant of the previous run (codes ingested after it are new; ``None``: every code young
    enough for a visit to come first is new); ``rules`` and ``held_out`` — the last weekly
    fit and its held-out check; ``booked`` — (vin, component) → when that owner was booked,
    for the last ``horizon_days``.
    """

    history: ServiceHistory = field(default_factory=ServiceHistory)
    last_run: pd.Timestamp | None = None
    rules: pd.DataFrame | None = None
    held_out: dict[str, Any] | None = None
    booked: dict[tuple[str, str], pd.Timestamp] = field(default_factory=dict)


@dataclass
class PredictiveServiceModule:
    """Daily: book a mobile visit for every new code whose rule says act (refitted weekly),
    unless the part has already failed or the owner was booked for it within the horizon.

    ``state`` is ``None`` until the first run, which builds it from the store: everything
    read once, the bookings from this module's own decisions, and — when it ran before (a
    restart) — the rules refitted as of the last weekly refit, so it decides as it would
    have without the restart. Later days read only the rows ingested since.
    """

    config: PredictiveServiceConfig = field(default_factory=PredictiveServiceConfig)
    name: str = "predictive_service"
    depends_on: tuple[str, ...] = ()
    every_days: int = 1
    state: PredictiveServiceState | None = field(default=None, repr=False)

    def decide(self, ctx: DayContext) -> list[Decision]:
        cfg = self.config
        now = pd.Timestamp(ctx.now)
        state = self.state if self.state is not None else self._restore(ctx)
        self.state = state
        since, state.last_run = state.last_run, now
        refit = ctx.day % cfg.refit_days == 0 or state.rules is None
        if not refit and not state.rules.act.any():  # type: ignore[union-attr]
            return []  # nothing to book: codes are read at the next refit
        state.history.read(ctx.view, now)
        if refit:
            self._refit(state, now - timedelta(days=ctx.day % cfg.refit_days))
        rules: pd.DataFrame = state.rules
        acting = rules[rules.act]
        young = now - timedelta(days=cfg.horizon_days - cfg.reaction_days)
        codes = state.history.new_codes  # what this read added: all that may be new
        assert codes is not None
        vin, code, raised, ingested = (codes[c].to_numpy(zero_copy_only=False)
                                       for c in ("vin", "code", "event_time", "ingested_at"))
        new = raised > young.to_datetime64()
        if since is not None:
            new &= ingested > since.to_datetime64()
        new &= np.isin(code, acting.index.to_numpy())
        new[new] = ~in_holdout(vin[new], cfg.holdout_percent)
        horizon_ago = now - timedelta(days=cfg.horizon_days)
        state.booked = {k: t for k, t in state.booked.items() if t > horizon_ago}
        if not new.any():
            return []
        vin, code, raised = vin[new], code[new], raised[new]
        failures = state.history.failures
        failed_vin, failed_part, failed_at = (failures[c].to_numpy()
                                              for c in ("vin", "component", "event_time"))
        decisions = []
        for name in np.unique(code):
            rule = acting.loc[name]
            group = code == name
            of_part = failed_part == rule.component
            failed = {v for v, t in zip(vin[group], raised[group], strict=True)
                      if (failed_at[of_part & (failed_vin == v)] >= t).any()}
            recent = {v for v in set(vin[group]) if (v, rule.component) in state.booked}
            vins = tuple(sorted(set(vin[group]) - recent - failed))
            if not vins:
                continue
            for v in vins:
                state.booked[v, rule.component] = now
            decisions.append(self._booking(ctx, name, rule, vins, state.held_out))
        return decisions

    def _refit(self, state: PredictiveServiceState, at: pd.Timestamp) -> None:
        """Fit the rules, and their held-out check, on the data the store held at ``at``."""
        cfg = self.config
        codes, failures, serviced = state.history.as_of(at)
        state.rules = fit_precursors(codes, failures, until=at, serviced=serviced, config=cfg)
        split = at - timedelta(days=cfg.horizon_days + 60)
        state.held_out = held_out_precision(codes, failures, split=split, until=at,
                                            serviced=serviced, config=cfg)

    def _restore(self, ctx: DayContext) -> PredictiveServiceState:
        """The state from the store: bookings of the last ``horizon_days`` from this module's
        decisions; if it has any, it last ran ``every_days`` ago."""
        table = ctx.view.table("decisions")
        since = pd.Timestamp(ctx.now) - timedelta(days=self.config.horizon_days)
        rows = ctx.view.execute(table.filter(
            table.module == self.name, table.action_kind == PredictiveService.kind,
            table.event_time.cast("timestamp") > since).select("action_json", "event_time"))
        state = PredictiveServiceState()
        for payload, at in zip(rows.action_json, rows.event_time, strict=True):
            action = json.loads(payload)
            for vin in action["vins"]:
                key = (vin, action["component"])
                state.booked[key] = max(pd.Timestamp(at), state.booked.get(key, pd.Timestamp(at)))
        ran = ctx.view.execute(table.filter(table.module == self.name).count())
        if ran:
            state.last_run = pd.Timestamp(ctx.now) - timedelta(days=self.every_days)
        return state

    def _booking(self, ctx: DayContext, code: str, rule: pd.Series, vins: tuple[str, ...],
                 held_out: dict[str, Any] | None) -> Decision:
        cfg = self.config
        action = PredictiveService(
            day=ctx.day + 1, vins=vins, component=rule.component,
            reason=f"{code}: P({rule.component} fails in {cfg.horizon_days} d) "
                   f"≥ {rule.precision_low:.2f}")
        return Decision(
            ctx.day, self.name, f"book {len(vins)} owners for {rule.component} ({code})",
            action=action, inputs={
                "code": code, "events": int(rule.events), "hits": int(rule.hits),
                "precision": round(float(rule.precision), 3),
                "precision_low": round(float(rule.precision_low), 3),
                "lead_days_median": round(float(rule.lead_days_median), 1),
                "failure_cost_usd": round(float(rule.failure_cost_usd), 2),
                "visit_cost_usd": round(float(rule.visit_cost_usd), 2),
                "held_out": held_out})
