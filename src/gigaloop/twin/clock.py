"""The plant's clock: SimPy seconds of local time since the scenario's first midnight.

Shifts, tariffs and weather follow local *standard* time all year — the plant's clock
does not jump at daylight-saving changes, so simulated seconds map one-to-one onto UTC
and no two readings of a machine can share a timestamp (a per-day offset put the last
hour before spring-forward and the first hour after it on the same UTC instant). Every
stored timestamp is naive UTC.

>>> from datetime import date
>>> clock = Clock(date(2025, 1, 6), "America/Chicago")
>>> clock.day_end(0)
datetime.datetime(2025, 1, 7, 6, 0)
>>> clock.to_utc(np.array([3600.0]))[0]
np.datetime64('2025-01-06T07:00:00.000000')
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

DAY_S = 86_400.0
#: Shift that starts at each local hour: A 06–14, B 14–22, C 22–06.
SHIFT_OF_HOUR = np.array(["C"] * 6 + ["A"] * 8 + ["B"] * 8 + ["C"] * 2, dtype=object)


class Clock:
    """Converts between simulated local seconds, days and UTC timestamps."""

    def __init__(self, start: date, timezone: str) -> None:
        self.start = start
        self._zone = ZoneInfo(timezone)
        noon = datetime.combine(start, time(12), self._zone)
        standard = (noon.utcoffset() or timedelta()) - (noon.dst() or timedelta())
        self._standard_offset = int(standard.total_seconds())
        self._epoch = np.datetime64(datetime.combine(start, time()), "us")

    def offset_s(self, day: int = 0) -> int:
        """Local standard time minus UTC, in seconds (the same on every ``day``)."""
        return self._standard_offset

    def to_utc(self, local_s: np.ndarray) -> np.ndarray:
        """Naive-UTC ``datetime64[us]`` of local simulated seconds."""
        micros = np.round((np.asarray(local_s) - self._standard_offset) * 1e6).astype(np.int64)
        return self._epoch + micros.astype("timedelta64[us]")

    def day_end(self, day: int) -> datetime:
        """Naive UTC of the local midnight that ends ``day``."""
        return datetime.combine(self.start + timedelta(days=day + 1), time()) - timedelta(
            seconds=self.offset_s(day))

    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=day)


def shift_of(local_s: np.ndarray) -> np.ndarray:
    """Shift letter of each local time."""
    hours = (np.asarray(local_s) % DAY_S // 3600).astype(np.int64)
    return SHIFT_OF_HOUR[hours]
