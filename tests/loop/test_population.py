"""The population root cause scans: built from new rows only, the same on every engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gigaloop.ingest import ingest
from gigaloop.loop.population import Population, build_population
from gigaloop.loop.vehicle_records import HISTORY_GRACE_DAYS, VehicleRecords
from gigaloop.store import Store
from gigaloop.twin import Twin, TwinDay

DAYS = 42  # six weekly scans, the last on the last day


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Twin, list[Population]]:
    """42 days of the default world; the population built weekly from new rows only."""
    root = tmp_path_factory.mktemp("population")
    twin, store = Twin.from_scenario(seed=5), Store(root)
    records, weekly = VehicleRecords(), []
    for day in range(DAYS):
        now = twin.day_end(day)
        ingest(TwinDay(twin, day), store, now)
        if day % 7 == 6:
            weekly.append(build_population(store.as_of(now), now.date(), records))
    store.close()
    return root, twin, weekly


def assert_same(got: Population, expected: Population) -> None:
    np.testing.assert_array_equal(got.vin, expected.vin)
    np.testing.assert_array_equal(got.build_date, expected.build_date)
    np.testing.assert_array_equal(got.in_service_days, expected.in_service_days)
    pd.testing.assert_frame_equal(got.usage, expected.usage, rtol=1e-9)
    assert list(got.rates) == list(expected.rates) == ["battery_fade", "disengagement_rain"]
    for mode, rates in expected.rates.items():
        # a rate near 0 is a difference of sums: Spark's summation order moves it by ~1e-15
        np.testing.assert_allclose(got.rates[mode].rate, rates.rate, rtol=1e-9, atol=1e-12,
                                   err_msg=mode)
        np.testing.assert_allclose(got.rates[mode].weight, rates.weight, rtol=1e-9)
        np.testing.assert_array_equal(got.rates[mode].usable, rates.usable)
    assert sorted(got.first_failure_days) == sorted(expected.first_failure_days)
    for component, days in expected.first_failure_days.items():
        np.testing.assert_array_equal(got.first_failure_days[component], days)
    assert [a.name for a in got.attributes] == [a.name for a in expected.attributes]
    for mine, theirs in zip(got.attributes, expected.attributes, strict=True):
        np.testing.assert_array_equal(mine.codes, theirs.codes, err_msg=mine.name)
        assert mine.levels == theirs.levels


def test_weekly_updates_equal_one_read_of_everything(world) -> None:
    root, twin, weekly = world
    last = weekly[-1]
    assert len(weekly) == DAYS // 7 and len(last) > len(weekly[0]) > 0
    assert last.first_failure_days and any(a.kind == "lot" for a in last.attributes)
    assert_same(last, build_population(Store(root).as_of(twin.day_end(DAYS - 1)), last.as_of))


def test_a_vehicle_enters_the_population_on_its_delivery_day(world) -> None:
    _, _, weekly = world
    for pop in weekly:
        assert (pop.delivered_on <= np.datetime64(pop.as_of, "D")).all()
        assert (pop.in_service_days >= 0).all()
        assert (pop.build_date <= pop.delivered_on).all()
    assert set(weekly[0].vin) <= set(weekly[-1].vin)


def test_complaint_modes_are_each_claimed_components_first_complaint(world) -> None:
    """``complaint:<component>``: days to the owner's first complaint about a component the
    claims name (through the customer's id; a repair visit's survey is no complaint), or to
    its first claim when that came first."""
    root, _, weekly = world
    last = weekly[-1]
    store = Store(root)
    owners = store.execute(store.table("customers").select("customer_id", "vin"))
    said = store.execute(store.table("feedback")).merge(owners, on="customer_id")
    said = said[(said.channel != "service")
                & (said.event_time.dt.date <= last.as_of)]
    first = said.groupby(["topic", "vin"]).event_time.min().dt.normalize()
    claimed = [m for m in last.first_failure_days if not m.startswith("complaint:")]
    complaints = [m for m in last.first_failure_days if m.startswith("complaint:")]
    assert complaints and {m.removeprefix("complaint:") for m in complaints} <= set(claimed)
    delivered = pd.Series(last.delivered_on, index=last.vin)
    for mode in complaints:
        expected = pd.Series(np.nan, index=last.vin)
        mine = first.xs(mode.removeprefix("complaint:"), level="topic")
        mine = mine[mine.index.isin(last.vin)]
        expected[mine.index] = (mine.to_numpy(dtype="datetime64[D]") - delivered[
            mine.index].to_numpy(dtype="datetime64[D]")).astype(float)
        claims = last.first_failure_days[mode.removeprefix("complaint:")]
        np.testing.assert_array_equal(last.first_failure_days[mode],
                                      np.fmin(claims, expected.to_numpy()), err_msg=mode)
    store.close()


@pytest.mark.spark
def test_spark_builds_the_same_population(world, spark) -> None:
    root, twin, weekly = world
    store = Store(root, engine="spark", spark=spark)
    now = twin.day_end(DAYS - 1)
    assert_same(build_population(store.as_of(now), now.date()), weekly[-1])


def test_empty_store_gives_an_empty_population(tmp_path: Path) -> None:
    pop = build_population(Store(tmp_path), date(2025, 1, 1))
    assert len(pop) == 0 and pop.attributes == [] and pop.first_failure_days == {}


def test_an_installed_base_whose_history_the_store_lacks_is_left_out(tmp_path: Path) -> None:
    """Vehicles on the road for years before the store's history begins are not scanned
    (their failures before it were never recorded); every vehicle delivered since is."""
    twin, store = Twin.from_scenario(seed=2, fleet=400), Store(tmp_path)
    records = VehicleRecords()
    for day in range(21):
        ingest(TwinDay(twin, day), store, twin.day_end(day))
    now = twin.day_end(20)
    pop = build_population(store.as_of(now), now.date(), records)
    assert records.history_from == np.datetime64(twin.start_date, "D")
    delivered = records.delivered_by(now.date())
    on = records.delivered_on[delivered]
    start = np.datetime64(twin.start_date, "D")
    assert (on < start).sum() == 400 and (on >= start).sum() > 0  # the base, and the new
    watched = on >= start - np.timedelta64(HISTORY_GRACE_DAYS, "D")  # the base's last days
    assert sorted(pop.vin) == sorted(records.vin[delivered[watched]])
    assert (on[watched] < start).sum() < 400 * 0.05


def test_a_part_removed_before_it_failed_and_found_degraded_failed_then(tmp_path: Path) -> None:
    """A predictive visit that took a degraded part took the claim it would have made; a
    part found serviceable (or a repair, which leaves the condition empty) is no failure."""
    twin, store = Twin.from_scenario(seed=3), Store(tmp_path)
    for day in range(28):
        ingest(TwinDay(twin, day), store, twin.day_end(day))
    now = twin.day_end(27)
    before = build_population(store.as_of(now), now.date(), VehicleRecords())
    unfailed = np.flatnonzero(np.isnan(before.first_failure_days.get(
        "hvac", np.full(len(before), np.nan))))
    degraded, serviceable = before.vin[unfailed[:2]]
    visit = now.replace(hour=10)
    store.write("service_visits", [
        {"visit_id": f"SV-T{k}", "vin": vin, "reason": "predictive", "campaign_id": None,
         "component": "hvac", "cost_usd": 800.0, "part_condition": condition,
         "event_time": visit}
        for k, (vin, condition) in enumerate([(degraded, "degraded"),
                                              (serviceable, "serviceable")])],
        ingested_at=now)
    after = build_population(store.as_of(now), now.date(), VehicleRecords())
    days = dict(zip(after.vin, after.first_failure_days["hvac"], strict=True))
    delivered = dict(zip(after.vin, after.delivered_on, strict=True))
    assert days[degraded] == (np.datetime64(visit.date()) - delivered[degraded]).astype(int)
    assert np.isnan(days[serviceable])
    store.close()


def test_a_rate_measure_ends_where_its_part_was_first_replaced(tmp_path: Path) -> None:
    """A new pack fades from new: a car's fade is its first pack's, fitted on the days
    before the visit that replaced it; its usage, and every other car, are as before."""
    twin, store = Twin.from_scenario(seed=3), Store(tmp_path)
    for day in range(70):
        ingest(TwinDay(twin, day), store, twin.day_end(day))
    now = twin.day_end(69)
    before = build_population(store.as_of(now), now.date(), VehicleRecords())
    fade = before.rates["battery_fade"]
    car = int(np.flatnonzero(fade.usable & (before.usage.telemetry_days.to_numpy() >= 45))[0])
    vin = before.vin[car]
    visit = pd.Timestamp(before.delivered_on[car]) + pd.Timedelta(days=35, hours=10)
    store.write("service_visits", [
        {"visit_id": "SV-T1", "vin": vin, "reason": "campaign", "campaign_id": "C-T",
         "component": "battery_pack", "cost_usd": 900.0, "part_condition": None,
         "event_time": visit.to_pydatetime()}], ingested_at=now)
    after = build_population(store.as_of(now), now.date(), VehicleRecords())
    assert list(after.vin) == list(before.vin)
    days = store.execute(store.table("telemetry_daily").filter(
        lambda t: t.vin == vin)[["day", "battery_soh"]])
    first_pack = days[pd.to_datetime(days.day) < visit.normalize()]
    x = np.sqrt((pd.to_datetime(first_pack.day) - pd.Timestamp(before.delivered_on[car])
                 ).dt.days.to_numpy() + 1.0)
    slope = np.polyfit(x, first_pack.battery_soh.to_numpy(), 1)[0]
    rates = after.rates["battery_fade"]
    assert len(first_pack) < len(days)
    assert rates.rate[car] == pytest.approx(-slope, rel=1e-6)
    assert rates.weight[car] == pytest.approx(np.sqrt(len(first_pack)))
    others = np.arange(len(after)) != car
    np.testing.assert_array_equal(rates.rate[others], fade.rate[others])
    pd.testing.assert_frame_equal(after.usage, before.usage)
    rain = after.rates["disengagement_rain"]  # the camera's measure: not its part
    np.testing.assert_array_equal(rain.rate, before.rates["disengagement_rain"].rate)
    store.close()
