"""The shared queries (store and fleet): right on the sample data, identical on every engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import ibis
import pandas as pd
import pytest
from sample_data import LOADED, VINS, fleet, load, open_store

from gigaloop.fleet.safety import crash_counts_and_miles
from gigaloop.fleet.usage import miles_by_climate
from gigaloop.store import Store, Tables, queries


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("queries")
    store = Store(root)
    load(store)
    extra = [
        {**row, "miles": row["miles"] + 1}
        for row in fleet(1, dt.date(2024, 3, 5))["telemetry_daily"]
    ]
    store.write("telemetry_daily", extra, ingested_at=LOADED + dt.timedelta(days=5))
    store.close()
    return root


def _hw4_soh_by_software(store: Tables) -> ibis.Table:
    days, vehicles = store.table("telemetry_daily"), store.table("vehicles")
    joined = days.join(vehicles, days.vin == vehicles.vin).filter(
        vehicles.hardware_revision == "HW4"
    )
    return joined.group_by(days.software_version).aggregate(
        mean_soh=joined.battery_soh.mean(), max_odometer=joined.odometer_miles.max()
    )


def _daily_rank(store: Tables) -> ibis.Table:
    days = store.table("telemetry_daily")
    window = ibis.window(group_by=days.vin, order_by=days.day)
    return days.select(
        "vin",
        "day",
        rank=ibis.row_number().over(window),
        miles_to_date=days.miles.sum().over(window),
        month=days.day.month(),
        hour=days.event_time.hour(),
    )


def _failures_by_day(store: Tables) -> ibis.Table:
    claims = store.table("component_failures")
    return claims.group_by(day=claims.event_time.date()).aggregate(
        claims=claims.count(), cost=claims.cost_usd.sum(), roadside=claims.roadside.sum()
    )


QUERIES: dict[str, Callable[[Store], ibis.Table]] = {
    "failures_per_1000": queries.failures_per_1000_by_build_week,
    "battery_failures_per_1000": lambda s: queries.failures_per_1000_by_build_week(
        s, component="battery_pack"
    ),
    "fleet_miles_by_climate": miles_by_climate,
    "fleet_miles_as_of": lambda s: miles_by_climate(s.as_of(LOADED)),
    "crashes_per_million_miles": crash_counts_and_miles,
    "genealogy": queries.vehicle_genealogy,
    "genealogy_of_one": lambda s: queries.vehicle_genealogy(s, VINS[5]),
    "vins_touched_by_lot": lambda s: queries.vins_touched_by_lot(s, "LOT-CELL-2"),
    "hw4_soh_by_software": _hw4_soh_by_software,
    "daily_rank": _daily_rank,
    "failures_by_day": _failures_by_day,
}


def run(store: Store, expr: ibis.Table) -> pd.DataFrame:
    data = store.execute(expr)
    return data.sort_values(list(data.columns)).reset_index(drop=True)


@pytest.mark.parametrize("query", QUERIES)
def test_queries_agree_across_engines(root, engine, request, query) -> None:
    reference = Store(root)
    expected = run(reference, QUERIES[query](reference))
    store = open_store(root, engine, request)
    got = run(store, QUERIES[query](store))
    assert not expected.empty
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_fleet_miles_match_a_hand_count(root) -> None:
    store = Store(root)
    days = pd.DataFrame(
        fleet()["telemetry_daily"]
        + [{**r, "miles": r["miles"] + 1} for r in fleet(1, dt.date(2024, 3, 5))["telemetry_daily"]]
    )
    expected = days.groupby("climate_region").agg(miles=("miles", "sum"), vins=("vin", "nunique"))
    got = run(store, miles_by_climate(store)).set_index("climate_region")
    assert got.miles.to_dict() == pytest.approx(expected.miles.to_dict())
    assert got.vehicles.to_dict() == expected.vins.to_dict()
    assert got.vehicle_days.sum() == len(days)
    as_of = run(store, miles_by_climate(store.as_of(LOADED)))
    assert as_of.vehicle_days.sum() == len(fleet()["telemetry_daily"])


def test_failures_per_1000_count_every_vehicle_once(root) -> None:
    store = Store(root)
    weekly = run(store, queries.failures_per_1000_by_build_week(store))
    assert weekly.vehicles.sum() == len(VINS) and weekly.failures.sum() == 4
    assert (weekly.failures_per_1000 == weekly.failures * 1000 / weekly.vehicles).all()
    assert {d.weekday() for d in weekly.build_week} == {0}  # weeks start on Monday
    battery = run(store, queries.failures_per_1000_by_build_week(store, "battery_pack"))
    assert battery.failures.sum() == 2


def test_genealogy_and_lot_trace(root) -> None:
    store = Store(root)
    links = run(store, queries.vehicle_genealogy(store, VINS[5]))
    assert links.kind.value_counts().to_dict() == {
        "lot": 2,
        "supplier": 2,
        "shift": 3,
        "machine": 2,  # one station logged no machine
        "line": 1,
        "build_shift": 1,
        "hardware_revision": 1,
        "design_revision": 1,
    }
    assert links.query("kind == 'lot' and name == '1104-CELL'").value.tolist() == ["LOT-CELL-2"]
    touched = run(store, queries.vins_touched_by_lot(store, "LOT-CELL-2"))
    assert touched.vin.tolist() == VINS[1::2]
    crashes = run(store, crash_counts_and_miles(store)).set_index("mode")
    assert crashes.crashes.to_dict() == {"autopilot": 1, "manual": 2}
