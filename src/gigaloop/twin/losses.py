"""Losses of the line that no machine causes: stops for other reasons, and running slow.

A real line stops for more than its machines: parts run out (``material_shortage``), a
suspect batch is held until it is contained (``quality_hold``), power, compressed air or
the line's IT go down (``utility_outage``). And it does not always run at its rated speed
(a short crew, a station nursed along after a repair, a new part being run in): the
line's launch interval is longer on those days. Every day's stops and speed are drawn
from the day alone, never from the plant's state, so a run with the loop and one without
it see the same ones, and no maintenance removes them. Figures and reasoning:
docs/twin-plant.md, "Losses no machine causes".

>>> losses = LineLosses([1, 2, 3, 4])
>>> stops, speed = losses.day(0)
>>> all(s.cause in CAUSES for s in stops), 0.0 < speed <= 1.0
(True, True)
>>> losses.day(0) == (stops, speed)   # a day's losses depend on the seed and the day alone
True
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from gigaloop.twin.clock import DAY_S
from gigaloop.twin.layout import STATIONS


@dataclass(frozen=True)
class StopCause:
    """Stops of one cause: ``per_day`` of them on average (Poisson), each lasting
    ``min_h`` + exponential(``mean_extra_h``), logged at one of ``stations``."""

    cause: str
    per_day: float
    min_h: float
    mean_extra_h: float
    stations: tuple[str, ...]

    @property
    def mean_hours_per_year(self) -> float:
        """Expected stop hours a year (before stops overlap)."""
        return 365.0 * self.per_day * (self.min_h + self.mean_extra_h)


#: Together ≈ 236 h a year; with the machines' minor stops (≈ 90 h) and breakdowns the
#: line's unplanned downtime lands near the published ≈ 29 h per plant-month.
STOP_CAUSES: tuple[StopCause, ...] = (
    # parts missing where they are fitted: castings' alloy, coil, cells, trim, cameras
    StopCause("material_shortage", 0.25, 0.25, 1.5, ("CA-010", "ST-010", "BP-010", "GA-010",
                                                      "GA-020")),
    # a batch held at an inspection until the suspect units are found and contained
    StopCause("quality_hold", 0.05, 0.5, 2.0, ("BW-040", "PT-030", "EOL-010")),
    # power dip, compressed air, MES / network: the whole line, logged where it was seen
    StopCause("utility_outage", 0.02, 1.0, 3.0, tuple(s.station_id for s in STATIONS)),
)
CAUSES = tuple(c.cause for c in STOP_CAUSES)
#: Share of days the line runs at its rated speed; on the others it is slowed by a share
#: drawn uniformly from ``SLOW_DAY_LOSS`` (mean performance ≈ 0.6 × 17.5 % → 89.5 %).
FULL_SPEED_DAYS = 0.4
SLOW_DAY_LOSS = (0.05, 0.30)


@dataclass(frozen=True)
class LineStop:
    """One stop of the whole line: ``at_s`` seconds into its day, ``hours`` long."""

    cause: str
    station_id: str
    at_s: float
    hours: float


class LineLosses:
    """Each day's line stops no machine causes and the line's speed (share of rated)."""

    def __init__(self, entropy: list[int]) -> None:
        self._entropy = [*entropy, zlib.crc32(b"line losses")]

    def day(self, day: int) -> tuple[list[LineStop], float]:
        """The stops of ``day`` (by start) and its speed, a share of the rated rate."""
        rng = np.random.default_rng([*self._entropy, day])
        stops = []
        for cause in STOP_CAUSES:
            for _ in range(int(rng.poisson(cause.per_day))):
                stops.append(LineStop(
                    cause.cause, str(rng.choice(cause.stations)), float(rng.uniform(0, DAY_S)),
                    cause.min_h + float(rng.exponential(cause.mean_extra_h))))
        slow = rng.random() >= FULL_SPEED_DAYS
        loss = float(rng.uniform(*SLOW_DAY_LOSS))
        return sorted(stops, key=lambda s: s.at_s), 1.0 - loss if slow else 1.0
