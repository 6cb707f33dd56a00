"""Whether a stream's setpoint moves its readings: the gain from up-and-back probes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass
class StepTest:
    """What a stream's setpoint moves did to its day means: the gain, by weighted least squares.

    Three consecutive days with mean readings ``y0, y1, y2`` and setpoints ``s0, s1, s2``
    give ``y1 − (y0 + y2)/2 = gain · (s1 − (s0 + s2)/2) + noise``: a level and any linear
    drift cancel, so an up-and-back probe measures the gain even while the process drifts.
    The noise variance is ``σ²(1/n1 + 1/(4 n0) + 1/(4 n2))`` for days of ``n`` readings.

    >>> test = StepTest()
    >>> drift = [10.0, 9.9, 9.8]                  # 0.1 a day, unknown to the test
    >>> setpoints = [10.0, 10.3, 10.0]            # up one day, back the next
    >>> test.add([d + s - 10.0 for d, s in zip(drift, setpoints)], setpoints, [40, 40, 40], 0.1)
    True
    >>> round(test.gain, 2), test.verdict(min_gain=0.5, max_probes=3)
    (1.0, True)
    """

    sxy: float = 0.0
    sxx: float = 0.0
    probes: int = 0

    @property
    def gain(self) -> float:
        return self.sxy / self.sxx if self.sxx > 0 else math.nan

    @property
    def standard_error(self) -> float:
        return 1.0 / math.sqrt(self.sxx) if self.sxx > 0 else math.inf

    def add(self, means: ArrayLike, setpoints: ArrayLike, counts: ArrayLike,
            sigma: float) -> bool:
        """Add three consecutive days; False (nothing added) when the setpoints are collinear."""
        y, s, n = (np.asarray(v, dtype=float) for v in (means, setpoints, counts))
        delta = float(s[1] - (s[0] + s[2]) / 2)
        if abs(delta) <= 1e-12 * max(1.0, abs(float(s[1]))):
            return False
        variance = float(sigma**2 * (1 / n[1] + 1 / (4 * n[0]) + 1 / (4 * n[2])))
        self.sxy += float(y[1] - (y[0] + y[2]) / 2) * delta / variance
        self.sxx += delta * delta / variance
        self.probes += 1
        return True

    def verdict(self, *, min_gain: float, max_probes: int) -> bool | None:
        """True: the setpoint moves the output (gain − 2 SE ≥ ``min_gain``); False: it does
        not (gain + 2 SE < ``min_gain``, or no proof after ``max_probes``); None: not yet."""
        if self.probes == 0:
            return None
        low, high = self.gain - 2 * self.standard_error, self.gain + 2 * self.standard_error
        if low >= min_gain:
            return True
        if high < min_gain or self.probes >= max_probes:
            return False
        return None

