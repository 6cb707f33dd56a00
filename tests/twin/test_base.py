"""The installed base: genealogy complete and valid, reproducible, driven every day."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from gigaloop.errors import ConfigError
from gigaloop.twin import Twin
from gigaloop.twin.base import BASE_READINGS
from gigaloop.twin.layout import STATIONS
from gigaloop.twin.scenario import DataQuality, load_scenario

N = 2000


@pytest.fixture(scope="module")
def days():
    """Three days of a base, every row sent on time (the uplink has its own tests)."""
    scenario = load_scenario().model_copy(update={"data": DataQuality(perfect=True)})
    twin = Twin(scenario, seed=5, fleet=N)
    return twin, [twin.step(d) for d in range(3)]


def test_genealogy_complete_and_referentially_valid(days):
    _, (day0, *_) = days
    vehicles = set(day0["vehicles"]["vin"].to_pylist())
    base = set(day0["customers"]["vin"].to_pylist())
    assert len(base) == N and base <= vehicles
    start = days[0].start_date
    built = day0["vehicles"].filter(pc.is_in(day0["vehicles"]["vin"], value_set=day0[
        "customers"]["vin"]))
    assert pc.max(built["build_date"]).as_py() < start
    for table, per_vehicle in (("vehicle_stations", len(STATIONS)), ("vehicle_lots", 4),
                               ("process_readings", len(BASE_READINGS))):
        counts = pc.value_counts(day0[table].filter(
            pc.is_in(day0[table]["vin"], value_set=day0["customers"]["vin"]))["vin"])
        assert len(counts) == N
        assert set(counts.field("counts").to_pylist()) == {per_vehicle}
    assert set(day0["vehicle_lots"]["lot_id"].to_pylist()) <= set(
        day0["lots"]["lot_id"].to_pylist())
    assert pc.max(day0["customers"]["delivered_on"]).as_py() < start
    subscribed = set(day0["subscriptions"]["customer_id"].to_pylist())
    assert subscribed <= set(day0["customers"]["customer_id"].to_pylist())


def test_same_seed_same_base(days):
    twin, (day0, *_) = days
    again = Twin(twin.scenario, seed=5, fleet=N).step(0)
    for name in ("vehicles", "vehicle_lots", "process_readings", "customers", "telemetry_daily"):
        assert again[name].equals(day0[name]), name
    other = Twin.from_scenario(seed=6, fleet=N).step(0)
    assert not other["customers"].equals(day0["customers"])


def test_telemetry_for_every_consenting_base_vehicle_each_day(days):
    _, (day0, *rest) = days
    customers = day0["customers"]
    consenting = set(customers.filter(customers["consent_telemetry"])["vin"].to_pylist())
    for tables in (day0, *rest):
        assert consenting <= set(tables["telemetry_daily"]["vin"].to_pylist())
    odometer = pc.min(day0["telemetry_daily"].filter(pc.is_in(
        day0["telemetry_daily"]["vin"], value_set=pa.array(sorted(consenting))))["odometer_miles"])
    assert odometer.as_py() > 0   # aged by its days on the road


def test_base_vehicles_are_driven(days):
    twin, _ = days
    assert twin.fleet.vehicles.n >= N
    assert twin.fleet.kpis()["miles"] > N * 3 * 20   # ≈ 37 mi a day each


def test_negative_fleet_refused():
    with pytest.raises(ConfigError):
        Twin.from_scenario(fleet=-1)
