"""The loop's decision modules: root cause → engineering changes → verification.

Each is a :class:`~gigaloop.loop.contract.DecisionModule` run by the daily cycle; they
share one :class:`~gigaloop.loop.self.state.LoopState`, given when they are built
(:func:`loop_modules`). Findings and change requests are also emitted as rows of the
``findings`` and ``change_requests`` tables, one row per scan or state change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.loop import worker
from gigaloop.loop.changes import (
    ChangeConfig,
    advance_changes,
    propose_changes,
    same_cause,
    top_up_campaigns,
    withdraw_changes,
)
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.loop.finding import Finding, names_text
from gigaloop.loop.impact import verify_changes
from gigaloop.loop.population import Population
from gigaloop.loop.precursors import population_with_codes
from gigaloop.loop.retract import fading_reason, post_finding_reason
from gigaloop.loop.rootcause import (
    RootCauseConfig,
    combine_scans,
    prepare_scan,
    scan_mode,
)
from gigaloop.loop.signals import alarm_attributes
from gigaloop.loop.state import LoopState


@dataclass
class RootCauseModule:
    """Weekly scan of every failure mode, with the plant's alarms as hypotheses of their own
    (:mod:`gigaloop.loop.signals`); findings seen in ``confirm_scans`` scans in a row become
    decisions (a weekly re-test is many looks: one look alone is not enough). A cause found
    in one mode and then in another about the same component (its owners' complaints, its
    claims: :func:`~gigaloop.loop.changes.same_cause`), in one climate and then
    everywhere, or by one of its names and later by another (a supplier's parts, all of one
    revision, by the revision and then by the supplier) stays the one finding it was."""

    state: LoopState = field(default_factory=LoopState)
    config: RootCauseConfig = field(default_factory=RootCauseConfig)
    first_day: int = 7
    confirm_scans: int = 2
    name: str = "rootcause"
    depends_on: tuple[str, ...] = ()
    every_days: int = 7

    def decide(self, ctx: DayContext) -> list[Decision]:
        return self.start(ctx)()

    def start(self, ctx: DayContext) -> Callable[[], list[Decision]]:
        """Read the store (the population, the plant's alarms) now; the worker process
        starts scanning the modes (:mod:`gigaloop.loop.worker`) while the cycle runs the
        modules that do not wait for root cause; the returned call scans the modes the
        worker has not taken yet, then decides from all of them."""
        if ctx.day < self.first_day:
            return list
        pop = population_with_codes(ctx.view, ctx.now.date(), self.state.records,
                                    self.state.service)
        self.state.population = pop
        self.state.alarms.update(ctx.view)
        signals = alarm_attributes(pop, self.state.alarms.episodes())
        setup = prepare_scan(pop, self.config, signals)
        scans = worker.share(prepare_scan, scan_mode, len(setup.modes), pop, self.config,
                             signals)
        return lambda: self._conclude(ctx, pop, combine_scans(setup, scans.result(setup)))

    def _conclude(self, ctx: DayContext, pop: Population,
                  found: list[Finding]) -> list[Decision]:
        """Findings seen often enough become decisions; those that faded are retracted."""
        as_of = ctx.now.date()
        registry: dict[str, dict[str, Any]] = self.state.findings
        vins: dict[str, Any] = self.state.finding_vins
        streak: dict[str, int] = self.state.streaks
        seen, decisions = set(), []
        visits = _campaign_visits(ctx, self.state)
        for finding in found:
            if self._still_refuted(pop, finding, visits):
                continue  # retracted on what came after it: the data that chose it again
            evidence = finding.record()
            first = None if finding.key in registry else next(
                (key for key, r in registry.items() if same_cause(evidence, r)), None)
            if first is not None:
                seen.add(first)  # the same cause, found in another mode or naming first
                registry[first].update(last_seen_day=ctx.day, active=True)
                continue
            seen.add(finding.key)
            streak[finding.key] = streak.get(finding.key, 0) + 1
            record = registry.get(finding.key)
            if record is None and streak[finding.key] < self.confirm_scans:
                continue
            if record is None:
                number = len(registry) + len(self.state.retracted) + 1
                record = {"id": f"F{number:03d}", **evidence, "day_found": ctx.day,
                          "date_found": as_of.isoformat()}
                registry[finding.key] = record
                decisions.append(Decision(
                    ctx.day, self.name,
                    f"{finding.failure_mode}: {names_text(finding.names)} "
                    f"({finding.effect_kind} {finding.effect:.2f}, q={finding.q:.2g})",
                    finding=record,
                    inputs={"as_of": as_of.isoformat(), "vehicles": len(pop),
                            "attribute": finding.attribute},
                ))
            record.update(latest={k: evidence[k] for k in ("effect", "ci", "q", "rank",
                                                             "affected_vins")},
                          last_seen_day=ctx.day, active=True)
            vins[record["id"]] = pop.vin[finding.members]
        for key in set(streak) - seen:
            streak[key] = 0
        acted_on = {c["finding_id"] for c in self.state.changes
                    if c["state"] in ("effective", "verified", "failed")}
        standing = None
        for key, record in list(registry.items()):
            members = vins_mask(pop, vins[record["id"]])
            reason = None
            if key not in seen:
                record["active"] = False
                if record["id"] not in acted_on:  # a fix fades its own evidence: impact
                    if standing is None:          # judges it
                        standing = [(registry[k], vins_mask(pop, vins[registry[k]["id"]]))
                                    for k in seen if k in registry]
                    reason = fading_reason(pop, record["failure_mode"], members, standing,
                                           self.config)
            if reason is None:  # seen again or not: what came after it was made
                reason = _post_finding(pop, record, members, visits)
                if reason is not None:
                    self.state.refuted[key] = record
            if reason is None:
                continue
            record["retracted"] = {"day": ctx.day, "reason": reason}
            self.state.retracted.append(registry.pop(key))
            streak.pop(key, None)
            decisions.append(Decision(ctx.day, self.name,
                                      f"{record['id']} retracted: {reason}", finding=record,
                                      inputs={"as_of": as_of.isoformat(), "vehicles": len(pop)}))
        just_dropped = ctx.day - self.every_days  # seen last scan, not this one: a row says so
        ctx.emit("findings", [finding_row(r, ctx.day, ctx.now) for r in
                              [*registry.values(), *self.state.retracted]
                              if r["active"] or r.get("last_seen_day") == just_dropped
                              or r.get("retracted", {}).get("day") == ctx.day])
        return decisions

    def _still_refuted(self, pop: Population, finding: Finding,
                       visits: dict[str, pd.Series]) -> bool:
        """Whether ``finding`` is one retracted on the evidence after it was made and that
        evidence (from the first finding's date, on the vehicles it names now) still
        refutes it: the data that selected it says nothing new; found again once the
        evidence since no longer refutes it, it is a new finding."""
        record = self.state.refuted.get(finding.key)
        if record is None:
            return False
        if _post_finding(pop, record, finding.members, visits) is not None:
            return True
        del self.state.refuted[finding.key]
        return False


def _post_finding(pop: Population, record: dict[str, Any], members: np.ndarray,
                  visits: dict[str, pd.Series]) -> str | None:
    """:func:`~gigaloop.loop.retract.post_finding_reason` for a finding ``record``: from the
    day it was made, against its own lower bound, its vehicles censored at its campaigns'
    visits (``visits``: finding id → VIN → day)."""
    return post_finding_reason(pop, record["failure_mode"], members,
                               date.fromisoformat(record["date_found"]),
                               float(record["ci"][0]), visits.get(record["id"]))


def _campaign_visits(ctx: DayContext, state: LoopState) -> dict[str, pd.Series]:
    """Finding id → VIN → first day (datetime64) a campaign of one of its changes that took
    effect serviced that vehicle."""
    finding_of = {c["id"]: c["finding_id"] for c in state.changes
                  if c.get("day_effective") is not None}
    if not finding_of:
        return {}
    state.campaign_visits.read(ctx.view, ctx.now)
    return state.campaign_visits.first_by_vin(finding_of)


@dataclass
class ChangeModule:
    """Daily: findings above threshold → change requests → approved → effective; the
    changes of retracted findings are withdrawn."""

    state: LoopState = field(default_factory=LoopState)
    config: ChangeConfig = field(default_factory=ChangeConfig)
    name: str = "changes"
    depends_on: tuple[str, ...] = ("rootcause",)
    every_days: int = 1

    def decide(self, ctx: DayContext) -> list[Decision]:
        decisions = (withdraw_changes(ctx, self.state)
                     + propose_changes(ctx, self.state, self.config)
                     + advance_changes(ctx, self.state, self.config)
                     + top_up_campaigns(ctx, self.state, self.config))
        emit_changes(ctx, self.state)
        return decisions


@dataclass
class ImpactModule:
    """Weekly: effective changes are verified (or failed) against before/after data."""

    state: LoopState = field(default_factory=LoopState)
    config: ChangeConfig = field(default_factory=ChangeConfig)
    name: str = "impact"
    depends_on: tuple[str, ...] = ("changes",)
    every_days: int = 7

    def decide(self, ctx: DayContext) -> list[Decision]:
        decisions = verify_changes(ctx, self.state, self.config)
        emit_changes(ctx, self.state)
        return decisions


def loop_modules(config: RootCauseConfig | None = None
                 ) -> list[RootCauseModule | ChangeModule | ImpactModule]:
    """Root cause (tuned by ``config``), changes and impact, sharing one fresh
    :class:`LoopState`."""
    state = LoopState()
    return [RootCauseModule(state, config or RootCauseConfig()), ChangeModule(state),
            ImpactModule(state)]


def finding_row(record: dict[str, Any], day: int, now: datetime) -> dict[str, Any]:
    """A finding as a row of ``findings``, as the scan of ``day`` saw it."""
    latest = record.get("latest", record)
    return {
        "finding_id": record["id"], "day": day, "failure_mode": record["failure_mode"],
        "attribute": record["attribute"], "names_json": json.dumps(record["names"], default=str),
        "effect_kind": record["effect_kind"], "effect": latest["effect"],
        "ci_low": latest["ci"][0], "ci_high": latest["ci"][1], "q": latest["q"],
        "rank": latest["rank"], "affected_vehicles": latest["affected_vins"],
        "day_found": record["day_found"], "active": bool(record.get("active", True)),
        "retracted": "retracted" in record,
        "retracted_reason": record.get("retracted", {}).get("reason"), "event_time": now,
    }


def emit_changes(ctx: DayContext, state: LoopState) -> None:
    """A ``change_requests`` row (a new revision) for every change whose record changed."""
    rows = []
    for change in state.changes:
        text = json.dumps(change, default=str, sort_keys=True)
        revision, last = state.emitted_changes.get(change["id"], (0, None))
        if text == last:
            continue
        state.emitted_changes[change["id"]] = (revision + 1, text)
        rows.append({
            "change_id": change["id"], "revision": revision + 1, "state": change["state"],
            "day": ctx.day, "finding_id": change["finding_id"],
            "failure_mode": change["failure_mode"], "action": change["action"],
            "campaign_vehicles": int(change.get("campaign_vins") or 0),
            "record_json": text, "event_time": ctx.now,
        })
    if rows:
        ctx.emit("change_requests", rows)


def vins_mask(pop: Any, vins: Any) -> np.ndarray:
    """Which vehicles of ``pop`` are among ``vins`` (hashed by Arrow)."""
    value_set = pa.array(np.asarray(vins, dtype=object), pa.string())
    return pc.is_in(pa.array(pop.vin, pa.string()), value_set=value_set).to_numpy(
        zero_copy_only=False)


