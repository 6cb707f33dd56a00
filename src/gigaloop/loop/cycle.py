"""The daily cycle: every decision module once per (simulated) day, in dependency order.

A module sees the store only *as of* the cycle's instant (rows ingested by then),
so a decision on day d can never use data from after d. Every decision is recorded
with its inputs; actions go out through the :class:`~gigaloop.actuate.Actuator`.

>>> from datetime import datetime
>>> from gigaloop.actuate import Decision, LoggingActuator, MaintenanceOrder
>>> class Greaser:
...     name, depends_on, every_days = "greaser", (), 7
...     def decide(self, ctx):
...         return [Decision(ctx.day, self.name, "grease the press",
...                          action=MaintenanceOrder(day=ctx.day, machine_id="P1"))]
>>> cycle = DailyCycle([Greaser()], LoggingActuator())
>>> [d.summary for d in cycle.run_day(7, datetime(2026, 1, 8), view=None)]
['grease the press']
>>> cycle.run_day(8, datetime(2026, 1, 9), view=None)
[]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from gigaloop.actuate import Actuator
from gigaloop.actuate.decisions import DayContext, Decision, DecisionModule
from gigaloop.errors import ConfigError


class DailyCycle:
    """Runs modules in dependency order, sends their actions, keeps the decision log."""

    def __init__(
        self,
        modules: Sequence[DecisionModule],
        actuator: Actuator,
        *,
        log_path: Path | None = None,
    ) -> None:
        self.modules = _dependency_order(modules)
        self.actuator = actuator
        self.board: dict[str, Any] = {}
        self.decisions: list[Decision] = []
        self._log_path = log_path

    def run_day(self, day: int, now: datetime, view: Any) -> list[Decision]:
        ctx = DayContext(day, now, view, self.board)
        made: list[Decision] = []
        for module in self.modules:
            if day % max(1, module.every_days):
                continue
            for decision in module.decide(ctx):
                if decision.action is not None:
                    decision.accepted = self.actuator.apply(decision.action).accepted
                made.append(decision)
        self.decisions.extend(made)
        if self._log_path is not None and made:
            with self._log_path.open("a", encoding="utf-8") as log:
                for decision in made:
                    log.write(json.dumps(decision.record(), default=str) + "\n")
        return made


def _dependency_order(modules: Iterable[DecisionModule]) -> list[DecisionModule]:
    by_name = {m.name: m for m in modules}
    ordered: list[DecisionModule] = []

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if any(m.name == name for m in ordered):
            return
        if name in stack:
            raise ConfigError(f"decision modules depend on each other in a cycle: {stack}")
        if name not in by_name:
            raise ConfigError(f"decision module {stack[-1]!r} depends on unknown {name!r}")
        for dep in by_name[name].depends_on:
            visit(dep, (*stack, name))
        ordered.append(by_name[name])

    for name in by_name:
        visit(name, ())
    return ordered


__all__ = ["DailyCycle", "DayContext", "Decision", "DecisionModule"]
