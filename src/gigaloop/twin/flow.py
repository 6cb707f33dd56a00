"""Units flowing down the line, computed from the line's stops instead of simulated.

A unit enters a station when its cycle at the previous one is over, unless the line is
stopped then: it waits for the restart. So its passage times follow from its launch time
and the line's stop intervals ``[start, end)`` alone — what a SimPy process per unit
computed event by event, here a few array operations per station and day. Launches follow
the same rule: with ``every_s``, a batch of ``batch`` serials is launched every ``every_s``
seconds from time 0 while the line runs, and at the restart when one falls in a stop.

>>> flow = LineFlow([10.0, 10.0])
>>> flow.launch(0, 0.0); flow.launch(1, 5.0)
>>> serials, times = flow.advance(until=100.0, stops=[(12.0, 30.0)])
>>> serials.tolist(), times.tolist()
([0, 1], [[0.0, 10.0, 20.0], [5.0, 30.0, 40.0]])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def settle(t: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The first moment at or after each ``t`` the line runs (``inf`` inside an open stop).

    ``starts`` are sorted; stops may touch (one ends when the next begins)."""
    t = t.copy()
    while len(starts):
        j = np.searchsorted(starts, t, side="right") - 1
        inside = (j >= 0) & (t < ends[np.maximum(j, 0)])
        if not inside.any():
            break
        t[inside] = ends[j[inside]]
    return t


class LineFlow:
    """Units in flight: launch times in, finished units (serial, passage times) out."""

    def __init__(self, cycle_s: Sequence[float], every_s: float | None = None,
                 batch: int = 1) -> None:
        self.cycle_s = np.asarray(cycle_s, dtype=np.float64)
        self.every_s, self.batch = every_s, batch
        self._launch_due: float | None = None if every_s is None else 0.0
        self._next_serial = 0
        stations = len(self.cycle_s)
        self._serial = np.empty(0, np.int64)
        self._times = np.empty((0, stations + 1))   # entry at each station, then done
        self._next = np.empty(0, np.int64)           # index of the next time to fix
        self._due = np.empty(0)                      # when that station's wait starts
        self._launched: list[tuple[int, float]] = []

    def launch(self, serial: int, at: float) -> None:
        """Unit ``serial`` enters the first station at ``at``."""
        self._launched.append((serial, at))

    def _launch_until(self, until: float, starts: np.ndarray, ends: np.ndarray) -> None:
        """Scheduled launches before ``until``: runs of ``every_s`` between the stops (the
        times add up one interval at a time, as a clock stepping by ``every_s`` would)."""
        due = self._launch_due
        if due is None or self.every_s is None:
            return
        if not self._next_serial and due == 0.0 < until:   # the first launch opens the line
            self._launched.append((0, 0.0))
            self._next_serial, due = self.batch, self.every_s
        while True:
            t = float(settle(np.array([due]), starts, ends)[0])
            if t >= until:
                break
            j = np.searchsorted(starts, t, side="right")
            limit = min(until, float(starts[j])) if j < len(starts) else until
            count = int((limit - t) // self.every_s) + 2
            times = np.add.accumulate(np.r_[t, np.full(count, self.every_s)])
            run = times[times < limit]
            for at in run.tolist():
                self._launched.append((self._next_serial, at))
                self._next_serial += self.batch
            due = float(times[len(run)])
        self._launch_due = due

    def advance(self, until: float, stops: Sequence[tuple[float, float]]
                ) -> tuple[np.ndarray, np.ndarray]:
        """Fix every passage before ``until`` given the ``stops`` so far (an open one ends at
        ``inf``); the units finished before ``until``, by finishing time then serial."""
        starts = np.array([a for a, _ in stops], dtype=np.float64)
        ends = np.array([b for _, b in stops], dtype=np.float64)
        self._launch_until(until, starts, ends)
        self._take_launches()
        last = len(self.cycle_s)
        for k in range(1, last + 1):
            sel = np.flatnonzero((self._next == k) & (self._due < until))
            if not sel.size:
                continue
            # the last cycle ends the unit whether or not the line runs then
            t = self._due[sel] if k == last else settle(self._due[sel], starts, ends)
            later = (t >= until) & np.isfinite(t)   # after a stop that ended at ``until``
            self._due[sel[later]] = t[later]
            ok = sel[t < until]
            t = t[t < until]
            self._times[ok, k] = t
            self._next[ok] = k + 1
            if k < last:
                self._due[ok] = t + self.cycle_s[k]
        done = np.flatnonzero(self._next > last)
        order = done[np.lexsort((self._serial[done], self._times[done, last]))]
        out = self._serial[order], self._times[order]
        keep = self._next <= last
        self._serial, self._times = self._serial[keep], self._times[keep]
        self._next, self._due = self._next[keep], self._due[keep]
        return out

    def _take_launches(self) -> None:
        if not self._launched:
            return
        serial = np.array([s for s, _ in self._launched], np.int64)
        at = np.array([t for _, t in self._launched])
        self._launched = []
        times = np.full((len(at), self._times.shape[1]), np.nan)
        times[:, 0] = at
        self._serial = np.concatenate([self._serial, serial])
        self._times = np.concatenate([self._times, times])
        self._next = np.concatenate([self._next, np.ones(len(at), np.int64)])
        self._due = np.concatenate([self._due, at + self.cycle_s[0]])
