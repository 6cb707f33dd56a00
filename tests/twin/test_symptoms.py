"""Symptoms before failures: owners complain about a part heading for failure, and about
parts with nothing wrong (the noise around them)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd

from gigaloop.twin.fleet import Fleet
from gigaloop.twin.hazards import COMPONENT_INDEX, COMPONENTS
from gigaloop.twin.units import demo_units

TRIM = COMPONENTS[COMPONENT_INDEX["paint_trim"]]


def _world(days: int, n: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    fleet = Fleet(start_date=date(2025, 1, 6), rng=np.random.default_rng(seed),
                  units_per_day=100)
    fleet.add_built(demo_units(n, build_day=0, trim_defect=8.0))
    tables = [fleet.step(day) for day in range(days)]
    return {name: pd.concat([t[name].to_pandas() for t in tables], ignore_index=True)
            for name in ("customers", "feedback", "component_failures")}


def test_complaints_about_a_part_come_before_its_failures_and_most_are_noise():
    t = _world(150, 1500)
    owner = t["customers"].set_index("customer_id").vin
    app = t["feedback"][t["feedback"].channel == "app"]
    trim = app[app.topic == "paint_trim"].assign(vin=lambda d: d.customer_id.map(owner))
    failed = t["component_failures"].query("component == 'paint_trim'").groupby("vin")\
        .event_time.min()
    assert len(failed) > 100
    lead_max = pd.Timedelta(days=TRIM.symptom[2])
    joined = trim.join(failed.rename("failed"), on="vin").dropna(subset=["failed"])
    before = joined[(joined.event_time <= joined.failed)
                    & (joined.event_time >= joined.failed - lead_max)].vin.nunique()
    after = joined[(joined.event_time > joined.failed)
                   & (joined.event_time <= joined.failed + lead_max)].vin.nunique()
    share = before / len(failed)
    # about the symptom probability of failing units complain first; after the repair a
    # nominal part rarely fails again, so complaints then are the noise alone
    assert 0.6 * TRIM.symptom[0] < share < 1.5 * TRIM.symptom[0], share
    assert after < 0.25 * before, (before, after)
    # owners whose car never failed complain too, about several parts (the noise)
    quiet = app[~app.customer_id.map(owner).isin(t["component_failures"].vin)]
    assert len({c.name for c in COMPONENTS} & set(quiet.topic)) >= 3


def test_a_part_with_no_symptom_draws_no_complaint():
    base = dict(name="gadget", clock="days", shape=1.0, first_year=0.5, cost_usd=1500,
                roadside=0.0, failure_modes=("display_fault",))
    for comp in (replace(TRIM, **base, symptom=None), replace(TRIM, **base,
                                                              symptom=(1.0, 5, 10))):
        fleet = Fleet(start_date=date(2025, 1, 6), rng=np.random.default_rng(1),
                      units_per_day=100, components=(*COMPONENTS, comp))
        fleet.add_built(demo_units(200, build_day=0))
        for day in range(11):
            fleet.step(day)
        n = fleet.vehicles.n
        life = fleet.info.view("life_gadget")[:n]
        when = fleet.info.view("symptom_gadget")[:n]
        pending = np.isfinite(life)
        assert n == 200 and pending.sum() > 150
        if comp.symptom is None:
            assert not np.isfinite(when).any()
        else:  # each complaint within the lead before its failure, never after it
            due = pending & np.isfinite(when)
            assert due.sum() > 100
            assert (when[due] <= life[due]).all() and (life[due] - when[due] <= 10).all()
