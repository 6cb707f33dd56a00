"""What predictive service keeps of the daily telemetry: each vehicle's precursor signals
(12 V resting voltage, drive-unit noise) as one vehicle × day matrix per signal, read
incrementally, and the trend features a risk model needs at any day.

A feature at day ``t`` is a change from the vehicle's own past, so a vehicle whose healthy
level is high or low is not flagged for it: ``<signal>_change`` is the mean of its last 7
days less the mean of everything up to 30 days before; ``<signal>_trend`` that mean less
the mean of three weeks before.

>>> import pandas as pd
>>> days = pd.date_range("2025-01-01", periods=60).date
>>> rows = pd.DataFrame({"vin": ["A"] * 60 + ["B"] * 60, "day": list(days) * 2,
...     "lv_battery_rest_v": [12.6] * 60 + [12.6] * 45 + [12.6 - 0.02 * k for k in range(15)],
...     "drive_unit_noise_db": [0.0] * 120})
>>> history = SignalHistory(("lv_battery_rest_v", "drive_unit_noise_db"))
>>> history.add(rows)
>>> features = history.features(np.array([0, 1]), np.array([59, 59]))
>>> features.lv_battery_rest_v_change.round(2).tolist()
[0.0, -0.22]
>>> bool(np.allclose(history.features_today(59), features, atol=1e-4))
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

#: Telemetry columns read as precursor signals (``telemetry_daily``; null where not sent).
SIGNALS = ("lv_battery_rest_v", "drive_unit_noise_db")
RECENT_DAYS, BASELINE_GAP_DAYS, TREND_GAP_DAYS = 7, 30, 21


@dataclass
class SignalHistory:
    """Per signal a float32 matrix (day since ``first_day`` × vehicle row, NaN: no
    reading: a day's readings, and the days a window spans, lie together in memory);
    ``rows`` maps a VIN to its row; ``read_until`` is the last view cutoff read;
    ``last_day`` the latest day index with a reading, ``first_seen`` each row's first
    (as first read: a reading that comes later for an earlier day does not move it)."""

    signals: tuple[str, ...] = SIGNALS
    rows: dict[str, int] = field(default_factory=dict)
    first_day: np.datetime64 | None = None
    read_until: pd.Timestamp | None = None
    last_day: int = -1
    first_seen: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _index: pd.Index = field(default_factory=lambda: pd.Index([]), repr=False)
    _baseline: dict[str, tuple[np.ndarray, np.ndarray, int]] = field(
        default_factory=dict, repr=False)
    #: per signal, the edges of the last :meth:`features` call and each vehicle's sum and
    #: reading count over days ``0 … e − 1`` at each: a later call takes the edges no reading
    #: has reached below since (``_written_from``) and sums only the days after them
    _edge_sums: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False)
    _written_from: int = np.iinfo(np.int64).max

    def read(self, view: Any, now: datetime) -> None:
        """Add the ``telemetry_daily`` rows ingested since the last read."""
        part = view.ingested_since("telemetry_daily", self.read_until,
                                   ["vin", "day", *self.signals])
        self.read_until = pd.Timestamp(now)
        if part.num_rows:
            self.add(part.to_pandas(date_as_object=False))

    def add(self, frame: pd.DataFrame) -> None:
        """Store the readings of ``frame`` (vin, day and the signal columns)."""
        values = {name: frame[name].to_numpy(np.float32) for name in self.signals}
        sent = np.zeros(len(frame), bool)
        for column in values.values():
            sent |= ~np.isnan(column)
        if not sent.any():
            return
        vins, day = frame.vin.to_numpy(object)[sent], self._day_of(frame.day.to_numpy()[sent])
        row = self._index.get_indexer(vins)
        unseen = row < 0
        if unseen.any():  # new vehicles: rows after the known ones, in order of appearance
            new = pd.Index(pd.unique(vins[unseen]), dtype=object)
            known = len(self.rows)
            self.rows.update(zip(new, range(known, known + len(new)), strict=True))
            self._index = self._index.append(new)
            row[unseen] = known + new.get_indexer(vins[unseen])
        keep = day >= 0
        self._grow(len(self.rows), int(day.max()) + 1)
        self.last_day = max(self.last_day, int(day.max()))
        if len(self.first_seen) < len(self.rows):  # the first reading of new vehicles
            known = len(self.first_seen)
            first = np.full(len(self.rows) - known, np.iinfo(np.int64).max)
            fresh = keep & (row >= known)
            np.minimum.at(first, row[fresh] - known, day[fresh])
            self.first_seen = np.r_[self.first_seen, first]
        for name, column in values.items():
            self.values[name][day[keep], row[keep]] = column[sent][keep]
        if keep.any():
            self._written_from = min(self._written_from, int(day[keep].min()))

    @property
    def vins(self) -> np.ndarray:
        """The VIN of each row, in row order."""
        return self._index.to_numpy(object)

    def row_of(self, vins: Any) -> np.ndarray:
        """Each VIN's row (−1: never seen)."""
        return self._index.get_indexer(pd.Index(vins)).astype(np.int64)

    def day_index(self, days: Any) -> np.ndarray:
        """Days since ``first_day`` of dates or timestamps."""
        return (_days(days) - self.first_day).astype(np.int64)

    def _day_of(self, days: Any) -> np.ndarray:
        """:meth:`day_index`, fixing ``first_day`` on the first readings."""
        if self.first_day is None:
            self.first_day = _days(days).min()
        return self.day_index(days)

    @property
    def n_days(self) -> int:
        return next(iter(self.values.values())).shape[0] if self.values else 0

    def _grow(self, n_rows: int, n_days: int) -> None:
        """Room for ``n_rows`` vehicles and ``n_days`` days (a quarter more rows, 64 days
        ahead: the fleet grows a little every day)."""
        for name in self.signals:
            held = self.values.get(name, np.zeros((0, 0), np.float32))
            if held.shape[1] >= n_rows and held.shape[0] >= n_days:
                continue
            rows = held.shape[1] if held.shape[1] >= n_rows else max(
                n_rows, held.shape[1] + held.shape[1] // 4 + 1024)
            days = held.shape[0] if held.shape[0] >= n_days else n_days + 64
            grown = np.full((days, rows), np.nan, np.float32)
            grown[:held.shape[0], :held.shape[1]] = held
            self.values[name] = grown

    def features(self, rows: np.ndarray, at: np.ndarray) -> pd.DataFrame:
        """The trend features of vehicle ``rows[i]`` at day index ``at[i]`` (only readings up
        to that day); ``recent`` — readings in its last 7 days. Running sums at the window
        edges the days ``at`` need, over the whole matrix: for many (row, day) pairs at once
        (a fit)."""
        edges = np.unique(np.clip(np.concatenate([
            [0], at - RECENT_DAYS + 1, at + 1, at - BASELINE_GAP_DAYS + 1,
            at - TREND_GAP_DAYS - RECENT_DAYS + 1, at - TREND_GAP_DAYS + 1]),
            0, self.last_day + 1))

        def windows(name: str) -> Any:
            sums, counts = self._sums_at_edges(name, edges)

            def mean(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                lo, hi = (np.searchsorted(edges, np.clip(x, 0, self.last_day + 1))
                          for x in (start, end + 1))
                n = counts[hi, rows] - counts[lo, rows]
                with np.errstate(invalid="ignore", divide="ignore"):
                    return np.where(n > 0, (sums[hi, rows] - sums[lo, rows]) / n, np.nan), n
            return mean

        features = self._features(windows, at)
        self._written_from = np.iinfo(np.int64).max
        return features

    def _sums_at_edges(self, name: str, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each vehicle's sum and reading count of signal ``name`` over days ``0 … e − 1``
        for every edge ``e`` (sorted, unique, from 0): the last call's edges that no reading
        since has reached below are taken as they are, the others summed from the latest of
        those before them. A fit every four weeks sums the four weeks since the last one
        (and the days late readings reached), not the whole history."""
        used = self.values[name][:self.last_day + 1, :len(self.rows)]
        sums = np.zeros((len(edges), used.shape[1]))
        counts = np.zeros((len(edges), used.shape[1]), np.int32)
        held, held_sums, held_counts = self._edge_sums.get(name, (np.zeros(0, np.int64),) * 3)
        valid = held <= self._written_from  # edge 0 always: nothing lies below it
        held, held_sums, held_counts = held[valid], held_sums[valid], held_counts[valid]
        hit = np.isin(edges, held)
        width = held_sums.shape[1] if len(held) else 0  # vehicles read by the last call
        sums[hit, :width] = held_sums[np.searchsorted(held, edges[hit])]
        counts[hit, :width] = held_counts[np.searchsorted(held, edges[hit])]
        todo = ~hit
        if todo.any():
            before = np.searchsorted(held, edges[todo][0], side="right") - 1
            base = int(held[before]) if before >= 0 else 0  # sums from here on
            inner = np.unique(np.concatenate([[0], edges[todo] - base]))
            block = used[base:]
            at = np.searchsorted(inner, edges[todo] - base)
            sums[todo] = _sums_at(np.nan_to_num(block, nan=0.0), inner, np.float64)[at]
            counts[todo] = _sums_at(~np.isnan(block), inner, np.int32)[at]
            if before >= 0:
                sums[todo, :width] += held_sums[before]
                counts[todo, :width] += held_counts[before]
        self._edge_sums[name] = (edges, sums, counts)
        return sums, counts

    def features_today(self, at: int) -> pd.DataFrame:
        """:meth:`features` of every vehicle row at day index ``at`` — the recent windows
        sliced, the baseline a running sum advanced day by day (readings that come more
        than 30 days late miss it)."""
        rows = np.arange(len(self.rows))
        upto = at - BASELINE_GAP_DAYS

        def windows(name: str) -> Any:
            matrix = self.values[name][:, :len(rows)]
            total, count, done = self._baseline.get(name, (np.zeros(0), np.zeros(0), -1))
            grown = np.zeros(len(rows))
            total, count = (np.concatenate([x, grown[len(x):]]) for x in (total, count))
            if upto > done:
                block = matrix[done + 1:upto + 1]
                total = total + np.nansum(block, axis=0)
                count = count + np.sum(~np.isnan(block), axis=0)
                done = upto
            self._baseline[name] = (total, count, done)

            def mean(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                if int(end[0]) == upto and int(start[0]) <= 0:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        return np.where(count > 0, total / count, np.nan), count
                block = matrix[max(int(start[0]), 0):max(int(end[0]) + 1, 0)]
                n = np.sum(~np.isnan(block), axis=0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    return np.where(n > 0, np.nansum(block, axis=0) / n, np.nan), n
            return mean

        return self._features(windows, np.full(len(rows), at))

    def _features(self, windows: Any, at: np.ndarray) -> pd.DataFrame:
        out: dict[str, np.ndarray] = {}
        for name in self.signals:
            mean = windows(name)
            recent, count = mean(at - RECENT_DAYS + 1, at)
            base, _ = mean(np.zeros_like(at), at - BASELINE_GAP_DAYS)
            before, _ = mean(at - TREND_GAP_DAYS - RECENT_DAYS + 1, at - TREND_GAP_DAYS)
            out[f"{name}_change"] = np.nan_to_num(recent - base)
            out[f"{name}_trend"] = np.nan_to_num(recent - before)
            out["recent"] = np.maximum(out.get("recent", count), count)
        return pd.DataFrame(out)


def _days(values: Any) -> np.ndarray:
    """Dates or timestamps as NumPy days."""
    if isinstance(values, pd.Series):
        values = values.to_numpy()
    return np.asarray(values).astype("datetime64[D]")


def _sums_at(matrix: np.ndarray, edges: np.ndarray, dtype: Any) -> np.ndarray:
    """Each vehicle's (column's) sum of days ``0 … e − 1`` for every ``e`` in ``edges``
    (sorted, unique, starting at 0, at most the day count): one row per edge.

    >>> _sums_at(np.arange(8.0).reshape(4, 2), np.array([0, 1, 3, 4]), np.float64).tolist()
    [[0.0, 0.0], [0.0, 1.0], [6.0, 9.0], [12.0, 16.0]]
    """
    inner = edges[edges < matrix.shape[0]]
    out = np.zeros((len(edges), matrix.shape[1]), dtype)
    if len(inner):
        segments = np.add.reduceat(matrix, inner, axis=0, dtype=dtype)  # [e_k, e_k+1)
        out[1:] = np.cumsum(segments, axis=0)[:len(edges) - 1]
    return out
