"""The fleet day's fast paths give the rows the plain construction gives."""

import hashlib
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from gigaloop.fleet.ota import signed_rollout
from gigaloop.fleet.registry import Signer
from gigaloop.twin import customers as cust
from gigaloop.twin.fleet import Fleet
from gigaloop.twin.fleet_rows import numbered_ids
from gigaloop.twin.fleet_telemetry import CLIMATE_NAMES
from gigaloop.twin.tables import column
from gigaloop.twin.telemetry import COUNT_OUTPUTS, FLOAT_OUTPUTS
from gigaloop.twin.units import demo_units


def test_numbered_ids_are_the_formatted_numbers():
    numbers = np.r_[0, 9, 10, 999_999_999,
                    np.random.default_rng(0).integers(0, 10**9, 1000), 10**9, 12**10]
    want = [f"TR-{x:09d}" for x in numbers.tolist()]
    assert numbered_ids("TR", numbers).to_pylist() == want
    assert numbered_ids("SUB", np.array([], np.int64)).to_pylist() == []
    valid = np.random.default_rng(1).random(len(numbers)) < 0.9
    uri = numbered_ids("s3://clips/TR", numbers, ".mp4", valid)
    uri.validate(full=True)
    assert uri.to_pylist() == [f"s3://clips/TR-{x:09d}.mp4" if ok else None
                               for x, ok in zip(numbers.tolist(), valid.tolist(), strict=True)]


@pytest.mark.parametrize(("value", "typ"), [
    (date(2025, 3, 1), pa.date32()), (datetime(2025, 3, 1, 23, 59, 59), pa.timestamp("us")),
    (1.5, pa.float64()), (np.int16(-3), pa.int64()), (2.5, pa.float32()), (True, pa.bool_()),
    ("clear", pa.string()), (None, pa.float64())])
def test_a_scalar_column_repeats_the_value(value, typ):
    got = column(value, typ, 5)
    got.validate(full=True)
    assert got.type == typ
    assert got.to_pylist() == [None if value is None else pa.scalar(value, typ).as_py()] * 5


def _fleet_with_deliveries_and_a_rollout() -> tuple[Fleet, list[dict[str, pa.Table]]]:
    start, signer, build = date(2025, 1, 6), Signer.generate(), b"2025.9.0"
    fleet = Fleet(start_date=start, rng=np.random.default_rng(1), units_per_day=300)
    fleet.updates.provision(signer.trusted())
    fleet.updates.artefacts["2025.9.0"] = build
    release = {"model_name": "driver_assistance", "sha256": hashlib.sha256(build).hexdigest(),
               "length": len(build), "hardware": ["HW4"]}
    days = []
    for day in range(14):
        fleet.add_built(demo_units(300, build_day=day, seed=day))
        if day == 6:
            assert fleet.apply(signed_rollout(
                signer, "2025.9.0", release, version_number=1, day=7, stage="staged",
                now=datetime.combine(start, datetime.min.time()) + timedelta(days=6),
                share=0.5)).accepted
        days.append(fleet.step(day))
    return fleet, days


def test_telemetry_rows_are_the_consenting_vehicles_of_the_day():
    fleet, days = _fleet_with_deliveries_and_a_rollout()
    table = days[-1]["telemetry_daily"]
    consenting = np.flatnonzero(fleet.info.view("consent_telemetry"))
    names = pa.array(fleet.software.names, pa.string())
    assert table.column("vin").to_pylist() == fleet.vins.take(consenting).to_pylist()
    assert table.column("climate_region").to_pylist() == CLIMATE_NAMES.take(
        fleet.vehicles.view("climate")[consenting].astype(np.int64)).to_pylist()
    versions = table.column("software_version")
    assert versions.to_pylist() == names.take(
        fleet.info.view("version")[consenting]).to_pylist()
    assert len(set(versions.to_pylist())) == 2            # the rollout reached some
    out = fleet.out.view(fleet.vehicles.n)
    for name in FLOAT_OUTPUTS:
        assert table.column(name).to_numpy().tolist() == out[name][consenting].astype(
            np.float64).tolist()
    for name in COUNT_OUTPUTS:
        assert table.column(name).to_numpy().tolist() == out[name][consenting].tolist()
    assert table.column("odometer_miles").to_numpy().tolist() == fleet.vehicles.view(
        "odometer")[consenting].tolist()
    assert pc.all(pc.equal(table.column("day"), pa.scalar(date(2025, 1, 19)))).as_py()
    # an earlier day's rows keep that day's versions (the column is rebuilt, not edited)
    before = days[5]["telemetry_daily"].column("software_version")
    assert len(set(before.to_pylist())) == 1


def test_subscriptions_end_and_start_at_their_daily_chances():
    """Drawn by thinning, each subscriber still ends with its churn (×3 when unhappy) and
    each content non-subscriber starts with the start rate; unhappy ones never start."""
    n, days = 200_000, 20
    rng = np.random.default_rng(3)
    unhappy = rng.random(n) < 0.3
    for product, spec in cust.PRODUCTS.items():
        ended = started = 0
        on_days = np.zeros(2)       # subscriber-days: content, unhappy
        off_days = 0
        for day in range(days):
            subs = cust.Subscriptions()
            subs.grow(n)
            subs.deliver(np.random.default_rng(day), np.arange(n), 0)
            on = subs.active[product] >= 0
            on_days += [(on & ~unhappy).sum(), (on & unhappy).sum()]
            off_days += (~on & ~unhappy).sum()
            events = subs.step(rng, 1, unhappy)
            mine = events.product == product
            ends, starts = events.idx[mine & (events.ended >= 0)], events.idx[
                mine & (events.ended < 0)]
            assert on[ends].all() and not on[starts].any() and not unhappy[starts].any()
            ended += np.array([(~unhappy[ends]).sum(), unhappy[ends].sum()])
            started += len(starts)
        churn = spec["churn"] / cust.DAYS_PER_MONTH * np.array([1.0, cust.UNHAPPY_CHURN])
        for got, exposure, p in ((ended[0], on_days[0], churn[0]),
                                 (ended[1], on_days[1], churn[1]),
                                 (started, off_days, spec["start"] / cust.DAYS_PER_MONTH)):
            assert abs(got - exposure * p) < 4 * np.sqrt(exposure * p), (product, got)
