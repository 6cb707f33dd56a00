"""The plant clock never puts two instants on one UTC timestamp, DST nights included."""

import itertools
from datetime import date

import numpy as np

from gigaloop.twin.clock import DAY_S, Clock


def test_hourly_readings_over_a_year_map_to_distinct_increasing_utc_instants():
    clock = Clock(date(2025, 1, 6), "America/Chicago")
    hours = np.arange(0, 365 * DAY_S, 3600.0)
    utc = clock.to_utc(hours)
    assert (np.diff(utc) == np.timedelta64(3600, "s")).all()


def test_each_day_ends_where_the_next_begins():
    clock = Clock(date(2025, 3, 1), "America/Chicago")
    ends = [clock.day_end(day) for day in range(20)]  # spans the spring-forward night
    assert all((b - a).total_seconds() == DAY_S for a, b in itertools.pairwise(ends))
    assert clock.to_utc(np.array([DAY_S]))[0] == np.datetime64(ends[0], "us")
