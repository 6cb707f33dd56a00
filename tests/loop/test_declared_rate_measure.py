"""A rate measure declared beside the telemetry, and named by no analytics code, is kept
per vehicle and scanned by root cause like the packaged ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gigaloop.errors import SchemaError
from gigaloop.ingest import ingest
from gigaloop.loop.population import Population, build_population
from gigaloop.loop.rootcause import find_root_causes
from gigaloop.loop.vehicle_records import VehicleRecords
from gigaloop.schema import RATE_MEASURES, RateMeasure
from gigaloop.store import Store
from gigaloop.twin import Twin, TwinDay

DAYS = 42  # the default world's camera revision shows in rain disengagements by then
FADE, RAIN = RATE_MEASURES
#: Forward-collision warnings per mile: a count column no rate measure used.
WARNINGS = RateMeasure(mode="collision_warnings", value="fcw_count", per="miles",
                       min_exposure=100.0)
#: Rain disengagements again, under a mode name no code knows.
TAKEOVERS = RateMeasure(mode="rain_takeovers", value="disengagements_rain", per="rain_miles",
                        min_exposure=RAIN.min_exposure)
ANALYTICS = ("loop", "ml", "fleet", "customer", "factory")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Population, Population]:
    """The default world after :data:`DAYS`; its population with the packaged measures and
    with :data:`TAKEOVERS` and :data:`WARNINGS` declared in place of rain disengagements."""
    twin, store = Twin.from_scenario(seed=1), Store(tmp_path_factory.mktemp("declared"))
    for day in range(DAYS):
        ingest(TwinDay(twin, day), store, twin.day_end(day))
    view, as_of = store.as_of(twin.day_end(DAYS - 1)), twin.day_end(DAYS - 1).date()
    declared = VehicleRecords(measures=(FADE, TAKEOVERS, WARNINGS))
    return store, build_population(view, as_of), build_population(view, as_of, declared)


def test_no_analytics_code_names_the_declared_modes() -> None:
    source = Path(__file__).parents[2] / "src" / "gigaloop"
    for room in ANALYTICS:
        for path in (source / room).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert TAKEOVERS.mode not in text and WARNINGS.mode not in text, path


def test_a_declared_measure_is_kept_per_vehicle(world) -> None:
    store, _, pop = world
    assert list(pop.rates) == [FADE.mode, TAKEOVERS.mode, WARNINGS.mode]
    rows = store.execute(store.table("telemetry_daily").select("vin", "fcw_count", "miles"))
    totals = rows.groupby("vin")[["fcw_count", "miles"]].sum().reindex(pop.vin, fill_value=0)
    warnings = pop.rates[WARNINGS.mode]
    np.testing.assert_allclose(warnings.rate, totals.fcw_count / np.maximum(totals.miles, 1e-9),
                               rtol=1e-12)
    np.testing.assert_allclose(warnings.weight, totals.miles, rtol=1e-12)
    np.testing.assert_array_equal(warnings.usable, totals.miles >= WARNINGS.min_exposure)
    assert warnings.usable.sum() > 200  # enough to be scanned


def test_root_cause_scans_a_declared_mode_as_the_packaged_one(world) -> None:
    _, packaged, declared = world
    def records(pop: Population, mode: str) -> list[dict]:
        # q differs: each declared mode is one more FDR family (Benjamini–Bogomolov)
        return [{**f.record(), "failure_mode": "-", "q": None}
                for f in find_root_causes(pop) if f.failure_mode == mode]

    expected = records(packaged, RAIN.mode)
    assert expected, "the packaged measure finds the camera revision by now"
    assert records(declared, TAKEOVERS.mode) == expected
    assert not records(declared, RAIN.mode)
    assert all(r["effect_kind"] == "rate_ratio" for r in expected)


def test_a_measure_named_like_a_failing_component_is_refused(world) -> None:
    store, packaged, _ = world
    component = sorted(packaged.first_failure_days)[0]
    clash = RateMeasure(mode=component, value="fcw_count", per="miles", min_exposure=1.0)
    with pytest.raises(SchemaError, match=f"both a component and a rate measure.*{component}"):
        build_population(store, packaged.as_of, VehicleRecords(measures=(clash,)))
