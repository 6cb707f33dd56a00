"""Fleet analytics: what the vehicles on the road say, written once in Ibis.

:mod:`~gigaloop.fleet.usage` — per-vehicle usage and battery fade as additive sums (so a
daily loop adds only new telemetry), miles by climate; :mod:`~gigaloop.fleet.safety` —
crashes per million miles with exact Poisson intervals.
"""

from gigaloop.fleet.safety import crash_rates, poisson_rate_ci
from gigaloop.fleet.usage import (
    USAGE_SUMS,
    fade_slopes,
    miles_by_climate,
    usage_sums,
    usage_sums_of_rows,
)

__all__ = ["USAGE_SUMS", "crash_rates", "fade_slopes", "miles_by_climate",
           "poisson_rate_ci", "usage_sums", "usage_sums_of_rows"]
