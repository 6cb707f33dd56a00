"""What a decision module is: it reads the store as of a day and returns decisions.

Modules live in ``factory``, ``fleet``, ``customer`` and ``loop``; the daily cycle
(``gigaloop.loop.cycle``) runs them in dependency order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gigaloop.actuate import Action, action_record


@dataclass
class Decision:
    """What a module decided on a day: a finding, an action, or both, and why."""

    day: int
    module: str
    summary: str
    action: Action | None = None
    finding: dict[str, Any] | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    accepted: bool | None = None

    def record(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "module": self.module,
            "summary": self.summary,
            "action": action_record(self.action) if self.action else None,
            "finding": self.finding,
            "inputs": self.inputs,
            "accepted": self.accepted,
        }


@dataclass
class DayContext:
    """What a module gets: the day, the instant, the store as of then, the shared board."""

    day: int
    now: datetime
    view: Any  # a StoreView: .table(name) limited to rows ingested by ``now``
    board: dict[str, Any]


class DecisionModule(Protocol):
    """A decision module; ``every_days`` = 1 runs daily, 7 weekly (on days divisible by it)."""

    name: str
    depends_on: tuple[str, ...]
    every_days: int

    def decide(self, ctx: DayContext) -> list[Decision]: ...
