"""Fleet analytics: what the vehicles on the road say, written once in Ibis.

:mod:`~gigaloop.fleet.usage` — per-vehicle usage and the declared rate measures as
additive sums (so a daily loop adds only new telemetry), miles by climate;
:mod:`~gigaloop.fleet.safety` — crashes per million miles with exact Poisson intervals.
"""

from gigaloop.fleet.safety import crash_rates, poisson_rate_ci
from gigaloop.fleet.usage import (
    BASE_SUMS,
    MeasuredRates,
    measured_rates,
    miles_by_climate,
    trend_slopes,
    usage_sum_names,
    usage_sums,
    usage_sums_of_rows,
)

__all__ = ["BASE_SUMS", "MeasuredRates", "crash_rates", "measured_rates", "miles_by_climate",
           "poisson_rate_ci", "trend_slopes", "usage_sum_names", "usage_sums",
           "usage_sums_of_rows"]
