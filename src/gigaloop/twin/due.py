"""Vehicles filed by the first day something may happen to them, so that a day looks at its
own few instead of comparing a column of the whole fleet with the clock.

The workshop files each vehicle's component life and precursor code under the first day
its clock can reach them: that day itself for a clock in days; for a clock in miles, the
day the odometer could get there driving :data:`~gigaloop.twin.telemetry.MAX_DAILY_MILES`
every day (the vehicle is looked at then, and filed again if it has not got there yet).
Filing a vehicle again moves it: only its latest entry counts.

>>> due = DueDays()
>>> due.file(np.array([4, 2, 9]), np.array([3, 1, 3]))
>>> due.pop(2).tolist(), due.pop(3).tolist()
([2], [4, 9])
>>> due.file(np.array([4, 5]), np.array([5, NEVER]))
>>> due.file(np.array([4]), np.array([7]))          # moved later: day 5 no longer has it
>>> due.pop(6).tolist(), due.pop(7).tolist()
([], [4])
"""

from __future__ import annotations

import heapq

import numpy as np

#: The day of a vehicle that has nothing due.
NEVER = np.iinfo(np.int64).max


class DueDays:
    """Field indices by day; :meth:`pop` takes out those filed up to a day."""

    def __init__(self) -> None:
        self._when = np.empty(0, np.int64)        # per vehicle: the day of its live entry
        self._days: dict[int, list[np.ndarray]] = {}
        self._heap: list[int] = []                # the days in ``_days``

    def file(self, idx: np.ndarray, days: np.ndarray) -> None:
        """File vehicles ``idx`` under ``days`` (:data:`NEVER`: nothing due), replacing
        their earlier entries; of repeated indices the last counts."""
        idx, days = np.asarray(idx, np.int64), np.asarray(days, np.int64)
        if not idx.size:
            return
        top = int(idx.max()) + 1
        if top > len(self._when):
            grown = np.full(max(top, 2 * len(self._when)), NEVER)
            grown[: len(self._when)] = self._when
            self._when = grown
        self._when[idx] = days
        some = days != NEVER
        if not some.any():
            return
        idx, days = idx[some], days[some]
        order = np.argsort(days, kind="stable")
        keys, starts = np.unique(days[order], return_index=True)
        for key, part in zip(keys.tolist(), np.split(idx[order], starts[1:]), strict=True):
            if key not in self._days:
                self._days[key] = []
                heapq.heappush(self._heap, key)
            self._days[key].append(part)

    def pop(self, day: int) -> np.ndarray:
        """The vehicles filed under ``day`` or earlier, ascending, each once; they leave."""
        parts = []
        while self._heap and self._heap[0] <= day:
            key = heapq.heappop(self._heap)
            parts += [part[self._when[part] == key] for part in self._days.pop(key)]
        if not parts:
            return np.empty(0, np.int64)
        idx = np.unique(np.concatenate(parts))
        self._when[idx] = NEVER
        return idx


def first_days(values: np.ndarray, day: int, odometer: np.ndarray | None,
               max_daily: float) -> np.ndarray:
    """The first day a clock can reach ``values`` from ``day``: in days (``odometer``
    None) the value rounded up; in miles, ``day`` plus the days the gap takes at
    ``max_daily`` miles a day, less one (today's miles may not be driven yet).

    >>> first_days(np.array([3.0, 3.5, np.inf]), 0, None, 900.0).tolist()[:2]
    [3, 4]
    >>> first_days(np.array([10_000.0]), 5, np.array([1_000.0]), 900.0).tolist()
    [14]
    """
    values = np.asarray(values, np.float64)
    if odometer is None:
        first = np.ceil(values)
    else:
        first = day - 1 + np.floor((values - odometer) / max_daily)
    out = np.full(len(values), NEVER)
    finite = np.isfinite(first)
    out[finite] = np.maximum(first[finite], day).astype(np.int64)
    return out
