"""What a decision module is: it reads the store as of a day, returns decisions, emits rows.

This is the one part of ``gigaloop.loop`` that ``factory``, ``fleet`` and ``customer``
may import (DESIGN.md). The daily cycle (:mod:`gigaloop.loop.cycle`) runs modules in
dependency order. A module keeps its own state on itself (typed attributes, documented
where they are defined); state several modules share is one typed object handed to each
of them when they are built (e.g. :class:`gigaloop.loop.modules.LoopState`). Data a
module produces — SPC alarms, findings, change requests — it hands to :meth:`DayContext.emit`;
the cycle writes those rows through the same ingest path a plant's data takes, validated
and idempotent, once the module's turn is over.

>>> from datetime import datetime
>>> ctx = DayContext(3, datetime(2025, 1, 9), view=None)
>>> ctx.emit("spc_alarms", [{"alarm_id": "A1"}])
>>> ctx.emitted
{'spc_alarms': [{'alarm_id': 'A1'}]}
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
    """What a module gets: the day, the instant, the store as of then, and where rows go.

    ``view`` is a :class:`gigaloop.store.StoreView`: ``.table(name)`` holds only the rows
    ingested by ``now``. Rows passed to :meth:`emit` are written with ``ingested_at=now``,
    so later modules of the same day see them.
    """

    day: int
    now: datetime
    view: Any
    emitted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def emit(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Hand rows of a store table to the cycle (validated when written)."""
        self.emitted.setdefault(table, []).extend(rows)


class DecisionModule(Protocol):
    """A decision module; ``every_days`` = 1 runs daily, 7 weekly (on days divisible by it).

    A module may also have ``setup() -> list[Decision]``: what it asks of the source
    before its first day (e.g. vision stations' images); the cycle sends those actions
    when it is built.
    """

    name: str
    depends_on: tuple[str, ...]
    every_days: int

    def decide(self, ctx: DayContext) -> list[Decision]: ...
