"""When to maintain: planned windows and the cost rule.

Maintenance is done in the weekly planned window. Ordering now means the work is done
in the next window; not ordering means the earliest is the window after it. So order
when the breakdown cost that waiting a week risks is worth more than servicing early::

    P(failure before the window after next) × breakdown cost  ≥  preventive cost

with breakdown cost = repair hours × (repair cost per hour + lost production per hour).
A condition-based service (clean, lubricate, adjust: ``service_cost``) pays in the same
way when the minor stops it avoids in the week between the two windows are worth more:
``stop hours avoided × lost production per hour ≥ service cost``. Costs are the plant's
own figures; the defaults below are placeholders of a plausible size for a body-shop
press, not published numbers.

>>> costs = Costs()
>>> costs.breakdown, costs.break_even_probability
(330000.0, 0.0242...)
>>> should_maintain(0.05, costs), should_maintain(0.01, costs)
(True, False)
>>> should_service(0.1, costs), should_service(0.09, costs)  # break-even ≈ 0.094 h
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
    service_cost: float = 1_500.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}", **{name: value})
        if self.preventive_cost == 0 or self.service_cost == 0:
            raise ConfigError("preventive_cost and service_cost must be > 0 (else always "
                              "maintain)")

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


def should_service(stop_hours_avoided: float, costs: Costs) -> bool:
    """Service now when the stop hours it avoids before the following window pay for it."""
    return stop_hours_avoided * costs.lost_production_per_hour >= costs.service_cost


def days_to_next_window(today: date, *, weekday: int = 6) -> int:
    """Days from ``today`` to the next planned window (on ``weekday``, 0 = Monday), 1..7.

    A window on ``today`` itself is taken as past: decisions are made at the end of a day.
    """
    if not 0 <= weekday <= 6:
        raise ConfigError(f"weekday must be 0..6 (Monday..Sunday), got {weekday}")
    return (weekday - today.weekday() - 1) % 7 + 1


__all__ = ["Costs", "days_to_next_window", "should_maintain", "should_service"]
