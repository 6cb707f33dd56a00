"""The daily cycle: every decision module once per (simulated) day, in dependency order.

A module sees the store only *as of* the cycle's instant (rows ingested by then),
so a decision on day d can never use data from after d. Actions go out through the
:class:`~gigaloop.actuate.Actuator`; every decision, and every row a module emits, is
written through the ingest path into the store (table ``decisions`` and the module's
own tables), stamped with the cycle's instant. The time each module took is kept in
:attr:`DailyCycle.seconds`.

>>> import tempfile
>>> from datetime import datetime
>>> from gigaloop.actuate import LoggingActuator, MaintenanceOrder
>>> from gigaloop.store import Store
>>> class Greaser:
...     name, depends_on, every_days = "greaser", (), 7
...     def decide(self, ctx):
...         return [Decision(ctx.day, self.name, "grease the press",
...                          action=MaintenanceOrder(day=ctx.day, machine_id="P1"))]
>>> store = Store(tempfile.mkdtemp())
>>> cycle = DailyCycle([Greaser()], LoggingActuator(), store)
>>> [d.summary for d in cycle.run_day(7, datetime(2026, 1, 8))]
['grease the press']
>>> cycle.run_day(8, datetime(2026, 1, 9)), store.count("decisions")
([], 1)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from gigaloop.actuate import Actuator, action_record
from gigaloop.errors import ConfigError
from gigaloop.ingest import MemorySource, ingest
from gigaloop.loop import worker
from gigaloop.loop.contract import DayContext, Decision, DecisionModule


class DailyCycle:
    """Runs modules in dependency order, sends their actions, writes what they produce.

    ``sink`` is the store the modules read (as of each day) and their rows go to.
    """

    def __init__(self, modules: Sequence[DecisionModule], actuator: Actuator,
                 sink: Any) -> None:
        self.modules = _dependency_order(modules)
        self.actuator = actuator
        self.sink = sink
        self.seconds: dict[str, float] = {m.name: 0.0 for m in self.modules}
        if any(hasattr(m, "start") for m in self.modules):
            worker.warm()  # up by the first day a module hands it work
        #: what modules ask of the source before their first day (``setup()``, optional):
        #: sent now, recorded with the module's first day's decisions
        self._setup: dict[str, list[Decision]] = {}
        for module in self.modules:
            setup = getattr(module, "setup", None)
            for decision in setup() if setup is not None else []:
                if decision.action is not None:
                    decision.accepted = self.actuator.apply(decision.action).accepted
                self._setup.setdefault(module.name, []).append(decision)

    def run_day(self, day: int, now: datetime) -> list[Decision]:
        """Run the modules due on ``day``; returns their decisions.

        A module with ``start(ctx)`` (its heavy part in the worker process:
        :mod:`gigaloop.loop.worker`) is started in its turn and finished once the modules
        that do not depend on it, directly or through another, have run; those that do
        run after it, in their order. Without such modules the order is the dependency
        order, one module after the other.
        """
        view = self.sink.as_of(now)
        made: list[Decision] = []
        started: list[tuple[DecisionModule, DayContext, Callable[[], list[Decision]]]] = []
        later: list[DecisionModule] = []
        for module in self.modules:
            if day % max(1, module.every_days):
                continue
            waiting = {m.name for m, _, _ in started} | {m.name for m in later}
            if waiting.intersection(module.depends_on):
                later.append(module)
                continue
            ctx = DayContext(day, now, view)
            begin = getattr(module, "start", None)
            if begin is not None:
                clock = time.perf_counter()
                started.append((module, ctx, begin(ctx)))
                self.seconds[module.name] += time.perf_counter() - clock
            else:
                made += self._conclude(module, ctx, partial(module.decide, ctx), now)
        for module, ctx, finish in started:
            made += self._conclude(module, ctx, finish, now)
        for module in later:
            ctx = DayContext(day, now, view)
            made += self._conclude(module, ctx, partial(module.decide, ctx), now)
        return made

    def _conclude(self, module: DecisionModule, ctx: DayContext,
                  decide: Callable[[], list[Decision]], now: datetime) -> list[Decision]:
        """``decide()``'s decisions: actions sent, decisions and emitted rows written."""
        clock = time.perf_counter()
        decisions = decide()
        for decision in decisions:
            if decision.action is not None:
                decision.accepted = self.actuator.apply(decision.action).accepted
        decisions = self._setup.pop(module.name, []) + decisions
        if decisions:
            ctx.emit("decisions", [decision_row(d, seq, now)
                                   for seq, d in enumerate(decisions)])
        if ctx.emitted:
            ingest(MemorySource(list(ctx.emitted.items()), name=module.name), self.sink, now)
        self.seconds[module.name] += time.perf_counter() - clock
        return decisions


def decision_row(decision: Decision, seq: int, now: datetime) -> dict[str, Any]:
    """A decision as a row of the ``decisions`` table."""
    record = decision.record()
    return {
        "module": decision.module, "day": decision.day, "seq": seq,
        "summary": decision.summary,
        "action_kind": decision.action.kind if decision.action is not None else None,
        "action_json": json.dumps(action_record(decision.action), default=str)
        if decision.action is not None else None,
        "accepted": decision.accepted,
        "finding_id": (decision.finding or {}).get("id"),
        "finding_json": json.dumps(decision.finding, default=str, sort_keys=True)
        if decision.finding is not None else None,
        "inputs_json": json.dumps(record["inputs"], default=str, sort_keys=True),
        "event_time": now,
    }


def _dependency_order(modules: Iterable[DecisionModule]) -> list[DecisionModule]:
    by_name = {m.name: m for m in modules}
    ordered: list[DecisionModule] = []

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if any(m.name == name for m in ordered):
            return
        if name in stack:
            raise ConfigError(f"decision modules depend on each other in a cycle: {stack}")
        if name not in by_name:
            raise ConfigError(f"decision module {stack[-1]!r} needs {name!r}, which is not "
                              f"among the modules asked for: add {name!r} (e.g. to --modules)")
        for dep in by_name[name].depends_on:
            visit(dep, (*stack, name))
        ordered.append(by_name[name])

    for name in by_name:
        visit(name, ())
    return ordered


__all__ = ["DailyCycle", "decision_row"]
