"""When to maintain: planned windows and the cost rule.

Maintenance is done in the weekly planned window. Ordering now means the work is done
in the next window; not ordering means the earliest is the window after it. So order
when the breakdown cost that waiting a week risks is worth more than servicing early::

    P(failure before the window after next) × breakdown cost  ≥  preventive cost

with breakdown cost = repair hours × (repair cost per hour + lost production per hour).
Costs are the plant's own figures; the defaults below are placeholders of a plausible
size for a body-shop press, not published numbers.

>>> costs = Costs()
>>> costs.breakdown, costs.break_even_probability
(330000.0, 0.0242...)
>>> should_maintain(0.05, costs), should_maintain(0.01, costs)
(True, False)
>>> days_to_next_window(date(2025, 3, 14), weekday=6)  # a Friday: Sunday is 2 days on
2
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gigaloop.errors import ConfigError


@dataclass(frozen=True)
class Costs:
    """What a breakdown and an early, planned maintenance cost (same currency)."""

    repair_hours: float = 20.0
    repair_cost_per_hour: float = 500.0
    lost_production_per_hour: float = 16_000.0
    preventive_cost: float = 8_000.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}", **{name: value})
        if self.preventive_cost == 0:
            raise ConfigError("preventive_cost must be > 0 (else always maintain)")

    @property
    def breakdown(self) -> float:
        """Expected cost of one breakdown: repair labour and parts, and lost production."""
        return self.repair_hours * (self.repair_cost_per_hour + self.lost_production_per_hour)

    @property
    def break_even_probability(self) -> float:
        """The failure probability above which early maintenance pays."""
        return self.preventive_cost / self.breakdown if self.breakdown else float("inf")


def should_maintain(p_fail_before_following_window: float, costs: Costs) -> bool:
    """The cost rule: expected breakdown cost of waiting ≥ cost of maintaining now."""
    return p_fail_before_following_window * costs.breakdown >= costs.preventive_cost


def days_to_next_window(today: date, *, weekday: int = 6) -> int:
    """Days from ``today`` to the next planned window (on ``weekday``, 0 = Monday), 1..7.

    A window on ``today`` itself is taken as past: decisions are made at the end of a day.
    """
    if not 0 <= weekday <= 6:
        raise ConfigError(f"weekday must be 0..6 (Monday..Sunday), got {weekday}")
    return (weekday - today.weekday() - 1) % 7 + 1


__all__ = ["Costs", "days_to_next_window", "should_maintain"]
