"""Predictive service: book the owner in before a part fails, when a code's rule
(:mod:`gigaloop.customer.precursors`) says the part's remaining risk pays for a visit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from gigaloop.actuate import PredictiveService
from gigaloop.customer.precursors import (
    PredictiveServiceConfig,
    fit_precursors,
    held_out_precision,
    in_holdout,
)
from gigaloop.customer.service_history import ServiceHistory
from gigaloop.customer.telemetry_risk import (
    AFTER_FAILURE_DAYS,
    CODE_WINDOW_DAYS,
    Events,
    HazardModel,
    code_recent,
    fit_component,
    risk_over,
    weeks_known,
)
from gigaloop.customer.telemetry_signals import SignalHistory
from gigaloop.loop.contract import DayContext, Decision

#: The module's held-out check: rules fitted on codes until this many days ago, judged since.
HELD_OUT_DAYS = 90


@dataclass
class PredictiveServiceState:
    """What the module keeps between days.

    ``history`` — the codes, claims and predictive visits read so far; ``rules`` and
    ``held_out`` — the last weekly fit and its held-out check; ``signals`` and ``hazards`` —
    the telemetry read so far and each watched part's weekly hazard model (refitted every
    ``signal_refit_days``), ``signal_costs`` a failure's and a visit's cost at that refit,
    ``signal_holdout`` whether each of its vehicles is in the hold-out; ``booked`` —
    (vin, component) → when that owner was booked, for the last ``horizon_days``.
    """

    history: ServiceHistory = field(default_factory=ServiceHistory)
    rules: pd.DataFrame | None = None
    held_out: dict[str, Any] | None = None
    booked: dict[tuple[str, str], pd.Timestamp] = field(default_factory=dict)
    signals: SignalHistory = field(default_factory=SignalHistory)
    hazards: dict[str, HazardModel | None] = field(default_factory=dict)
    signal_holdout: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    signal_costs: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass
class PredictiveServiceModule:
    """Daily: book a mobile visit for every code whose rule says act (refitted weekly) and
    whose part's remaining chance of failing pays for a visit, unless the part has already
    failed or the owner was booked for it within the horizon.

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
        refit = ctx.day % cfg.refit_days == 0 or state.rules is None
        horizon_ago = now - timedelta(days=cfg.horizon_days)
        state.booked = {k: t for k, t in state.booked.items() if t > horizon_ago}
        decisions = self._code_bookings(ctx, state, now, refit)
        return decisions + self._signal_bookings(ctx, state, now, refit)

    def _code_bookings(self, ctx: DayContext, state: PredictiveServiceState,
                       now: pd.Timestamp, refit: bool) -> list[Decision]:
        """Owners whose code's rule says their part's remaining risk pays for a visit."""
        cfg = self.config
        if not refit and not state.rules.act.any():  # type: ignore[union-attr]
            return []  # nothing to book: codes are read at the next refit
        # between refits only codes are needed, and claims when a code may be booked
        state.history.read(ctx.view, now, ("codes", "failures", "serviced") if refit
                           else ("codes",))
        if refit:
            self._refit(state, now - timedelta(days=ctx.day % cfg.refit_days))
        rules: pd.DataFrame = state.rules
        # a refit may change any code's worth: all codes of the horizon are looked at; on
        # other days only those read today (a code's remaining risk falls as it ages)
        new = state.history.new_codes
        codes = state.history.codes if refit or new is None else new.to_pandas()
        due = self._due(state, rules[rules.act], now, codes, ctx.view)
        decisions = []
        for name, group in due.groupby("code", sort=True):
            rule = rules.loc[name]
            vins = tuple(sorted(set(group.vin)))
            for v in vins:
                state.booked[v, rule.component] = now
            decisions.append(self._booking(ctx, name, rule, vins, state.held_out,
                                           float(group.p_low.min())))
        return decisions

    def _signal_bookings(self, ctx: DayContext, state: PredictiveServiceState,
                         now: pd.Timestamp, refit: bool) -> list[Decision]:
        """Owners whose part's risk from its telemetry trends and codes
        (:mod:`gigaloop.customer.telemetry_risk`) pays for a visit, per watched part."""
        cfg = self.config
        signals = state.signals
        refit_signals = ctx.day % cfg.signal_refit_days == 0 or (refit and not state.hazards)
        if not refit_signals and all(m is None for m in state.hazards.values()):
            return []  # no model yet: the telemetry is read at the next refit
        signals.read(ctx.view, now)
        if refit_signals:
            at = now - timedelta(days=ctx.day % cfg.signal_refit_days)
            codes, failures, serviced = state.history.as_of(at)
            until = int(signals.day_index([at.normalize()])[0]) if signals.rows else 0
            weeks = weeks_known(signals, until)
            state.hazards = {part: None if weeks is None else fit_component(
                signals, weeks, part, self._foretelling(state, codes, part), failures,
                serviced, until, HELD_OUT_DAYS) for part, _ in cfg.watched}
            state.signal_costs = {part: self._costs(failures, part) for part, _ in cfg.watched}
        models = {p: m for p, m in state.hazards.items() if m is not None}
        if not models or signals.last_day < 0:
            return []
        state.history.read(ctx.view, now, ("codes",))
        rows = np.arange(len(signals.rows))
        at = np.full(len(rows), signals.last_day)
        today = signals.features_today(signals.last_day)
        vins = signals.vins
        fresh = vins[len(state.signal_holdout):]
        state.signal_holdout = np.r_[state.signal_holdout,
                                     in_holdout(fresh, cfg.holdout_percent)].astype(bool)
        open_vins = (today.recent.to_numpy() > 0) & ~state.signal_holdout
        codes = state.history.codes  # those of the last 30 days are all code_recent counts
        codes = codes[signals.day_index(codes.event_time) > signals.last_day - CODE_WINDOW_DAYS]
        decisions = []
        for part, horizon in cfg.watched:
            if part not in models:
                continue
            raised = self._foretelling(state, codes, part)
            x = today.assign(code_recent=code_recent(Events.of(
                signals, raised.vin, raised.event_time, signals.n_days + 64), rows, at))
            risk = risk_over(models[part].weekly_hazard(x), horizon)
            failure_cost, visit_cost = state.signal_costs[part]
            worth = open_vins & (risk * failure_cost > visit_cost)
            due = [k for k in np.flatnonzero(worth) if (vins[k], part) not in state.booked]
            if not due:
                continue
            state.history.read(ctx.view, now, ("failures",))  # failed, awaiting repair?
            failures = state.history.failures
            failed = set(failures.vin[(failures.component == part) & (
                failures.event_time > now - timedelta(days=AFTER_FAILURE_DAYS))])
            due = [k for k in due if vins[k] not in failed]
            if not due:
                continue
            booked = tuple(sorted(vins[due]))
            for v in booked:
                state.booked[v, part] = now
            decisions.append(self._signal_booking(ctx, part, horizon, booked, models[part],
                                                  float(risk[due].min()), failure_cost,
                                                  visit_cost))
        return decisions

    @staticmethod
    def _foretelling(state: PredictiveServiceState, codes: pd.DataFrame, part: str
                     ) -> pd.DataFrame:
        """The codes whose acting rule foretells ``part`` (a code with a hit or two on the
        part, by chance, would make ``code_recent`` noise)."""
        rules = state.rules
        if rules is None or codes.empty:
            return codes.iloc[:0]
        names = rules.index[(rules.component.to_numpy() == part) & rules.act.to_numpy()]
        return codes[codes.code.isin(names)]

    def _costs(self, failures: pd.DataFrame, part: str) -> tuple[float, float]:
        """A failure's expected cost (claim, tow when stranded, the owner's day) and a
        planned visit's, from the part's claims in the store."""
        cfg = self.config
        mine = failures[failures.component == part]
        if mine.empty:
            return 0.0, np.inf
        cost = float(mine.cost_usd.mean())
        failure = cost + float(mine.roadside.mean()) * cfg.tow_usd + cfg.owner_day_usd
        return failure, cfg.planned_cost_share * cost

    def _due(self, state: PredictiveServiceState, acting: pd.DataFrame, now: pd.Timestamp,
             codes: pd.DataFrame, view: Any) -> pd.DataFrame:
        """Codes worth a visit now (vin, code, p_low): raised within the horizon by a vehicle
        not in the hold-out, whose part has neither failed since nor been booked, and whose
        chance of failing in the rest of the horizon, given that it has not failed yet
        (the rule's Kaplan–Meier curve from the code's age on), pays for the visit."""
        cfg = self.config
        horizon = now - timedelta(days=cfg.horizon_days - cfg.reaction_days)
        recent = codes.event_time.to_numpy() > horizon.to_datetime64()
        codes = codes[recent][codes.code[recent].isin(acting.index)
                              & (codes.ingested_at[recent] <= now)]
        codes = codes[~in_holdout(codes.vin, cfg.holdout_percent)]
        rule = acting.index.get_indexer(codes.code)
        part = acting.component.to_numpy()[rule]
        booked = np.array([(v, c) in state.booked for v, c in zip(codes.vin, part, strict=True)],
                          dtype=bool)
        codes, rule = codes.assign(component=part)[~booked], rule[~booked]
        if codes.empty:
            return codes.assign(p_low=np.zeros(0))
        state.history.read(view, now, ("failures",))
        failures = state.history.failures
        mine = failures[failures.vin.isin(codes.vin)]  # a few rows: a dict beats a merge
        last: dict[tuple[str, str], pd.Timestamp] = {}
        for v, c, t in zip(mine.vin, mine.component, mine.event_time, strict=True):
            last[v, c] = max(t, last.get((v, c), t))
        failed = np.array([(v, c) in last and last[v, c] >= t for v, c, t in
                           zip(codes.vin, codes.component, codes.event_time, strict=True)],
                          dtype=bool)
        codes, rule = codes[~failed], rule[~failed]
        curves = np.stack(acting.survival.to_list()) if len(acting) else np.ones((0, 1))
        age = np.clip((now - codes.event_time).dt.days.to_numpy(), 0, curves.shape[1] - 1)
        still = curves[rule, age]
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(still > 0, (still - curves[rule, -1]) / still, 0.0)
            margin = np.nan_to_num(acting.precision_low.to_numpy() / acting.precision.to_numpy())
        p_low = p * margin[rule]
        worth = p_low * acting.failure_cost_usd.to_numpy()[rule] \
            > acting.visit_cost_usd.to_numpy()[rule]
        return codes.assign(p_low=p_low)[worth]

    def _refit(self, state: PredictiveServiceState, at: pd.Timestamp) -> None:
        """Fit the rules, and their held-out check, on the data the store held at ``at``."""
        cfg = self.config
        codes, failures, serviced = state.history.as_of(at)
        state.rules = fit_precursors(codes, failures, until=at, serviced=serviced, config=cfg)
        split = at - timedelta(days=HELD_OUT_DAYS)
        state.held_out = held_out_precision(codes, failures, split=split, until=at,
                                            serviced=serviced, config=cfg)

    def _restore(self, ctx: DayContext) -> PredictiveServiceState:
        """The state from the store: bookings of the last ``horizon_days`` from this module's
        decisions."""
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
        return state

    def _signal_booking(self, ctx: DayContext, part: str, horizon: int, vins: tuple[str, ...],
                        model: HazardModel, risk_low: float, failure_cost: float,
                        visit_cost: float) -> Decision:
        action = PredictiveService(
            day=ctx.day + 1, vins=vins, component=part,
            reason=f"telemetry: P({part} fails in {horizon} d) ≥ {risk_low:.2f}")
        return Decision(
            ctx.day, self.name, f"book {len(vins)} owners for {part} (telemetry trend)",
            action=action, inputs={
                "model": "weekly discrete-time hazard (logistic)", "horizon_days": horizon,
                "coefficients": model.coefficients(), "intervals": model.intervals,
                "failures": model.failures, "risk_low_now": round(risk_low, 3),
                "failure_cost_usd": round(failure_cost, 2),
                "visit_cost_usd": round(visit_cost, 2), "held_out": model.held_out})

    def _booking(self, ctx: DayContext, code: str, rule: pd.Series, vins: tuple[str, ...],
                 held_out: dict[str, Any] | None, p_low: float) -> Decision:
        cfg = self.config
        action = PredictiveService(
            day=ctx.day + 1, vins=vins, component=rule.component,
            reason=f"{code}: P({rule.component} fails in {cfg.horizon_days} d) "
                   f"≥ {p_low:.2f}")
        return Decision(
            ctx.day, self.name, f"book {len(vins)} owners for {rule.component} ({code})",
            action=action, inputs={
                "code": code, "events": int(rule.events), "hits": int(rule.hits),
                "precision": round(float(rule.precision), 3),
                "precision_low": round(float(rule.precision_low), 3),
                "p_low_now": round(p_low, 3),
                "lead_days_median": round(float(rule.lead_days_median), 1),
                "failure_cost_usd": round(float(rule.failure_cost_usd), 2),
                "visit_cost_usd": round(float(rule.visit_cost_usd), 2),
                "held_out": held_out})

