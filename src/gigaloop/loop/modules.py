"""The loop's decision modules: root cause → engineering changes → verification.

Each is a :class:`~gigaloop.actuate.DecisionModule` run by the daily cycle; they share
state through ``ctx.board``: ``findings`` (key → record, updated in place as evidence
grows), ``finding_vins`` (finding id → affected VINs) and ``changes`` (records).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gigaloop.actuate import DayContext, Decision
from gigaloop.loop.changes import (
    ChangeConfig,
    advance_changes,
    propose_changes,
    top_up_campaigns,
)
from gigaloop.loop.impact import verify_changes
from gigaloop.loop.population import build_population
from gigaloop.loop.rootcause import RootCauseConfig, find_root_causes


@dataclass
class RootCauseModule:
    """Weekly scan of every failure mode; findings seen in ``confirm_scans`` scans in a
    row become decisions (a weekly re-test is many looks: one look alone is not enough)."""

    config: RootCauseConfig = field(default_factory=RootCauseConfig)
    first_day: int = 28
    confirm_scans: int = 2
    name: str = "rootcause"
    depends_on: tuple[str, ...] = ()
    every_days: int = 7

    def decide(self, ctx: DayContext) -> list[Decision]:
        if ctx.day < self.first_day:
            return []
        as_of = ctx.now.date()
        pop = build_population(ctx.view, as_of)
        ctx.board["population"] = pop
        registry: dict[str, dict[str, Any]] = ctx.board.setdefault("findings", {})
        vins: dict[str, Any] = ctx.board.setdefault("finding_vins", {})
        streak: dict[str, int] = ctx.board.setdefault("finding_streaks", {})
        seen, decisions = set(), []
        for finding in find_root_causes(pop, self.config):
            seen.add(finding.key)
            streak[finding.key] = streak.get(finding.key, 0) + 1
            record = registry.get(finding.key)
            evidence = finding.record()
            if record is None and streak[finding.key] < self.confirm_scans:
                continue
            if record is None:
                record = {"id": f"F{len(registry) + 1:03d}", **evidence, "day_found": ctx.day,
                          "date_found": as_of.isoformat()}
                registry[finding.key] = record
                decisions.append(Decision(
                    ctx.day, self.name,
                    f"{finding.failure_mode}: {_describe(finding.names)} "
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
        for key, record in registry.items():
            if key not in seen:
                record["active"] = False
        return decisions


@dataclass
class ChangeModule:
    """Daily: findings above threshold → change requests → approved → effective."""

    config: ChangeConfig = field(default_factory=ChangeConfig)
    name: str = "changes"
    depends_on: tuple[str, ...] = ("rootcause",)
    every_days: int = 1

    def decide(self, ctx: DayContext) -> list[Decision]:
        return (propose_changes(ctx, self.config) + advance_changes(ctx, self.config)
                + top_up_campaigns(ctx, self.config))


@dataclass
class ImpactModule:
    """Weekly: effective changes are verified (or failed) against before/after data."""

    config: ChangeConfig = field(default_factory=ChangeConfig)
    name: str = "impact"
    depends_on: tuple[str, ...] = ("changes",)
    every_days: int = 7

    def decide(self, ctx: DayContext) -> list[Decision]:
        return verify_changes(ctx, self.config)


def _describe(names: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in names.items())
