"""Vehicles filed by day: the workshop finds every life and code the clock reached."""

from datetime import date

import numpy as np

from gigaloop.actuate import PredictiveService, ServiceCampaign
from gigaloop.twin.due import NEVER, DueDays, first_days
from gigaloop.twin.fleet import Fleet
from gigaloop.twin.units import demo_units


def test_due_days_pops_the_latest_entry_of_each_vehicle_filed_up_to_the_day():
    rng = np.random.default_rng(0)
    due, latest = DueDays(), {}
    for day in range(200):
        idx = rng.integers(0, 500, rng.integers(0, 40))
        days = np.where(rng.random(len(idx)) < 0.1, NEVER, day + rng.integers(0, 30, len(idx)))
        due.file(idx, days)
        latest.update(zip(idx.tolist(), days.tolist(), strict=True))
        want = sorted(i for i, d in latest.items() if d <= day)
        assert due.pop(day).tolist() == want
        for i in want:
            latest[i] = NEVER


def test_first_days_never_late_for_a_clock_in_miles():
    rng = np.random.default_rng(1)
    odometer = rng.uniform(0, 50_000, 1000)
    life = odometer + rng.uniform(0, 20_000, 1000)
    first = first_days(life, 10, odometer, 900.0)
    # driving the most every day from today on, the clock gets there no earlier
    reached = odometer + 900.0 * (first - 10 + 1)
    assert (first >= 10).all() and (reached <= life + 900.0).all()
    assert first_days(np.array([np.inf]), 3, None, 900.0).tolist() == [NEVER]


def test_no_life_or_code_the_clock_reached_is_left_after_a_day():
    """Repairs, campaigns and mobile visits renew parts; after every day no life or code
    lies at or below its clock (the day, or the odometer for parts worn by miles) but on a
    part fitted that day."""
    fleet = Fleet(start_date=date(2025, 1, 6), rng=np.random.default_rng(2), units_per_day=400)
    shop, failures = fleet.workshop, 0
    for day in range(240):
        if day < 30:
            fleet.add_built(demo_units(400, build_day=day, seed=day))
        if day == 60:
            vins = fleet.vins.to_pylist()[:3000]
            assert fleet.apply(ServiceCampaign(day=61, campaign_id="C1", component="camera",
                                               vins=vins)).accepted
            assert fleet.apply(PredictiveService(day=61, component="12v_battery",
                                                 vins=vins[3000 - 500:])).accepted
        tables = fleet.step(day)
        failures += tables["component_failures"].num_rows
        # a part fitted today may have its code due today: the next day finds it
        fitted_today = fleet.field_index(tables["service_visits"]["vin"].to_pylist())
        odometer = fleet.vehicles.view("odometer")
        for comp in shop.components:
            clock = odometer if comp.clock == "miles" else day
            for kind in ("life", "dtc"):
                late = np.flatnonzero(fleet.info.view(f"{kind}_{comp.name}") <= clock)
                assert np.isin(late, fitted_today).all(), (day, kind, comp.name)
    assert failures > 100
