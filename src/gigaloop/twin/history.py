"""What actually happened in the plant, for the hidden truth and the world's own KPIs.

>>> history = History()
>>> history.breakdown("ST-010-P1", 131)
>>> history.breakdowns
[{'machine_id': 'ST-010-P1', 'day': 131, 'fault_id': None}]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gigaloop.twin.build import DayUnits


@dataclass
class History:
    """Counts and days the truth reports; nothing here reaches the store."""

    units_built: int = 0
    defects_present: int = 0
    defects_escaped: int = 0
    redesigns: int = 0  # hardware revisions retired by an engineering change
    affected_vins: Counter[str] = field(default_factory=Counter)
    pushed_units: Counter[str] = field(default_factory=Counter)  # drifts, net of control
    affected_lots: dict[str, set[str]] = field(default_factory=dict)  # supplier windows
    revision_lots: dict[str, set[str]] = field(default_factory=dict)  # hardware revisions
    onset_day: dict[str, int] = field(default_factory=dict)
    last_built_day: dict[str, int] = field(default_factory=dict)
    ended_day: dict[str, int] = field(default_factory=dict)
    defects: dict[str, str] = field(default_factory=dict)  # machine → bearing fault id
    breakdowns: list[dict[str, Any]] = field(default_factory=list)
    maintenance_resets: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    _ids: Counter[str] = field(default_factory=Counter)

    def next_id(self, prefix: str) -> int:
        self._ids[prefix] += 1
        return self._ids[prefix]

    def record_units(self, day: int, units: DayUnits) -> None:
        self.units_built += len(units.built)
        self.defects_present += units.defects_present
        self.defects_escaped += units.defects_escaped
        for fault_id, count in units.affected.items():
            self.affected_vins[fault_id] += count
            self.onset_day.setdefault(fault_id, day)
            self.last_built_day[fault_id] = day
        self.pushed_units.update(units.pushed)
        for fault_id, lots in units.affected_lots.items():
            self.affected_lots.setdefault(fault_id, set()).update(lots)
        for fault_id, lots in units.revision_lots.items():
            self.revision_lots.setdefault(fault_id, set()).update(lots)

    def breakdown(self, machine_id: str, day: int) -> None:
        fault_id = self.defects.pop(machine_id, None)
        self.breakdowns.append({"machine_id": machine_id, "day": day, "fault_id": fault_id})
        if fault_id:
            self.ended_day.setdefault(fault_id, day)

    def maintained(self, machine_id: str, day: int) -> None:
        fault_id = self.defects.pop(machine_id, None)
        self.maintenance_resets.append({"machine_id": machine_id, "day": day,
                                        "fault_id": fault_id})
        if fault_id:
            self.ended_day.setdefault(fault_id, day)

    def ended(self, fault_ids: list[str], day: int) -> None:
        for fault_id in fault_ids:
            self.ended_day.setdefault(fault_id, day)
