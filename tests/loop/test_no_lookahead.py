"""A decision on day d sees only rows ingested by the end of day d."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from gigaloop.actuate import LoggingActuator
from gigaloop.loop.contract import Decision
from gigaloop.loop.cycle import DailyCycle
from gigaloop.loop.population import build_population
from gigaloop.loop.rootcause import find_root_causes
from gigaloop.store import Store
from gigaloop.twin import Twin

pytestmark = pytest.mark.slow
CUT, END = 40, 70


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Store, datetime]:
    """One store with 70 days, one with only the first 40, from the same world."""
    root = tmp_path_factory.mktemp("lookahead")
    twin = Twin.from_scenario(seed=3)
    full, early = Store(root / "full"), Store(root / "early")
    for day in range(END):
        batches = twin.step(day)
        full.write_many(batches, ingested_at=twin.day_end(day))
        if day < CUT:
            early.write_many(batches, ingested_at=twin.day_end(day))
    return full, early, twin.day_end(CUT - 1)


def test_the_view_at_day_d_holds_exactly_what_was_ingested_by_then(stores):
    full, early, cutoff = stores
    view = full.as_of(cutoff)
    for name in ("vehicles", "telemetry_daily", "component_failures", "process_readings"):
        assert view.count(name) == early.count(name) < full.count(name)


def test_root_cause_on_the_view_equals_root_cause_without_the_future(stores):
    full, early, cutoff = stores
    seen = build_population(full.as_of(cutoff), cutoff.date())
    alone = build_population(early, cutoff.date())
    assert np.array_equal(seen.vin, alone.vin)
    pd.testing.assert_frame_equal(seen.usage, alone.usage, rtol=1e-9)  # sums' order
    for component, days in alone.first_failure_days.items():
        np.testing.assert_array_equal(seen.first_failure_days[component], days)
    assert [f.record() for f in find_root_causes(seen)] == \
        [f.record() for f in find_root_causes(alone)]


def test_the_cycle_hands_each_module_the_store_as_of_its_day(stores):
    full, _, _ = stores

    class Peek:
        name, depends_on, every_days = "peek", (), 1

        def decide(self, ctx):
            latest = full.execute(ctx.view.table("vehicles").ingested_at.max())
            return [Decision(ctx.day, self.name, "peek", inputs={"latest": latest,
                                                                  "now": ctx.now})]

    cycle = DailyCycle([Peek()], LoggingActuator(), full)
    for day in (5, 20, 39):
        now = datetime(2025, 1, 6, 6) + timedelta(days=day)
        (decision,) = cycle.run_day(day, now)
        assert decision.inputs["latest"] <= now
