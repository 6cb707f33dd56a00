"""p-chart: the share of defective units in each subgroup (a day's inspections).

Phase I (``learn_one(defective, n)``) estimates the in-control share p̄ unless ``p`` is
given; ``update(defective, n)`` then signals ``"p_upper"`` when a subgroup's share exceeds
p̄ + L·√(p̄(1 − p̄)/n) (Montgomery, *Introduction to Statistical Quality Control*, §7.2).
Only the upper limit is watched: fewer defects than usual is not a fault. p̄ is floored at
``p_min`` so a clean Phase I does not make one defect an alarm.

>>> chart = PChart()
>>> for _ in range(10):
...     chart.learn_one(2, 80)
>>> chart.update(3, 80), chart.alarm
(0.0375, False)
>>> chart.update(12, 80), chart.alarm, chart.rule, round(chart.limit, 4)
(0.15, True, 'p_upper', 0.0774)
"""

from __future__ import annotations

import math


class PChart:
    """Upper p-chart on ``(defective, n)`` subgroups; ``L`` sigma limits."""

    def __init__(self, L: float = 3.0, p: float | None = None, p_min: float = 0.005) -> None:
        self.L = L
        self.p = p
        self.p_min = p_min
        self._defective = 0
        self._n = 0
        self.limit = math.nan
        self.alarm = False
        self.rule: str | None = None

    @property
    def p_bar(self) -> float:
        """The in-control share: given, or Phase I's (``nan`` before any subgroup)."""
        if self.p is not None:
            return self.p
        return max(self._defective / self._n, self.p_min) if self._n else math.nan

    def learn_one(self, defective: int, n: int) -> None:
        """A Phase I subgroup."""
        self._defective += int(defective)
        self._n += int(n)

    def update(self, defective: int, n: int) -> float:
        """Chart a subgroup; returns its share (``alarm`` and ``limit`` say how it stood)."""
        p_bar = self.p_bar
        share = defective / n if n else 0.0
        self.limit = p_bar + self.L * math.sqrt(p_bar * (1 - p_bar) / max(n, 1))
        self.alarm = bool(n) and share > self.limit
        self.rule = "p_upper" if self.alarm else None
        return share
