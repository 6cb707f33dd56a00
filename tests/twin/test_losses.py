"""The line's losses no machine causes: their rates, their record, and that no machine
carries them."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from plant_helpers import make_plant, run

from gigaloop.factory.maintenance.stops import daily_stops
from gigaloop.twin.clock import DAY_S
from gigaloop.twin.losses import (
    CAUSES,
    FULL_SPEED_DAYS,
    SLOW_DAY_LOSS,
    STOP_CAUSES,
    LineLosses,
)

DAYS = 4000


@pytest.fixture(scope="module")
def many_days() -> list[tuple[list, float]]:
    losses = LineLosses([7, 7, 7, 7])
    return [losses.day(day) for day in range(DAYS)]


def test_stops_come_at_their_rates_and_lengths(many_days) -> None:
    stops = pd.DataFrame([s.__dict__ for day, _ in many_days for s in day])
    assert set(stops.cause) == set(CAUSES)
    assert (stops.at_s.between(0, DAY_S)).all()
    for cause in STOP_CAUSES:
        mine = stops[stops.cause == cause.cause]
        sd = np.sqrt(cause.per_day / DAYS)
        assert abs(len(mine) / DAYS - cause.per_day) < 4 * sd, cause.cause
        assert mine.hours.min() >= cause.min_h
        assert mine.hours.mean() == pytest.approx(cause.min_h + cause.mean_extra_h, rel=0.15)
        assert set(mine.station_id) <= set(cause.stations)
    # ≈ 236 h a year together: with the machines' ≈ 90–110 h, near 29 h a plant-month
    assert 220 < sum(c.mean_hours_per_year for c in STOP_CAUSES) < 250


def test_the_line_runs_slow_on_some_days(many_days) -> None:
    speed = np.array([s for _, s in many_days])
    assert np.mean(speed == 1.0) == pytest.approx(FULL_SPEED_DAYS, abs=0.03)
    slow = 1.0 - speed[speed < 1.0]
    assert slow.min() >= SLOW_DAY_LOSS[0] and slow.max() <= SLOW_DAY_LOSS[1]
    assert speed.mean() == pytest.approx(0.895, abs=0.01)


def test_a_days_losses_depend_on_the_seed_and_day_alone() -> None:
    assert LineLosses([1, 2, 3, 4]).day(5) == LineLosses([1, 2, 3, 4]).day(5)
    assert LineLosses([1, 2, 3, 4]).day(5) != LineLosses([1, 2, 3, 5]).day(5)


def test_the_plant_stops_for_them_logs_them_without_a_machine_and_builds_less() -> None:
    days = 21
    plant = make_plant(seed=3)
    frames, built = run(plant, days)
    down = frames["downtime_events"]
    theirs = down[down.cause.isin(CAUSES)]
    drawn = [s for day in range(days) for s in plant.losses.day(day)[0]]
    ended = [s for day in range(days) for s in plant.losses.day(day)[0]
             if day * DAY_S + s.at_s + s.hours * 3600 < days * DAY_S]
    assert len(drawn) >= 5 and len(theirs) == len(ended)
    assert sorted(theirs.hours.round(6)) == sorted(round(s.hours, 6) for s in ended)
    assert theirs.machine_id.isna().all() and not theirs.planned.any()
    assert frames["lines"].ideal_cycle_s.tolist() == [DAY_S / 80]
    # the maintenance module's stop counts take a machine's own stops only
    counted = daily_stops(ibis.memtable(down)).execute()
    assert counted.stops.sum() == (down.cause == "minor_stop").sum()
    # slow days launch fewer units: days 2–20 (in the steady state) average below rated
    speeds = np.array([plant.losses.day(day)[1] for day in range(days)])
    per_day = np.array([len(b) for b in built])
    assert per_day[2:].mean() < 80 * speeds[2:].mean() + 1
    assert speeds.min() < 1.0
