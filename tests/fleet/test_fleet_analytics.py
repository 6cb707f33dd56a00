"""Fleet analytics: fade slopes against linregress, usage sums against pandas, crash rates
against the exact Poisson interval."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gigaloop.fleet import (
    crash_rates,
    fade_slopes,
    poisson_rate_ci,
    usage_sums,
    usage_sums_of_rows,
)
from gigaloop.store import Store


def test_fade_slopes_match_linregress_per_vehicle() -> None:
    rng = np.random.default_rng(0)
    vehicle = rng.integers(0, 40, 4000)
    x = np.sqrt(rng.uniform(1, 900, vehicle.size))
    soh = 100 - (0.1 + vehicle / 100) * x + rng.normal(0, 0.3, vehicle.size)
    frame = pd.DataFrame({"v": vehicle, "x": x, "y": soh})
    sums = frame.assign(xx=x * x, xy=x * soh).groupby("v").agg(
        days=("x", "size"), sx=("x", "sum"), sy=("y", "sum"), sxx=("xx", "sum"),
        sxy=("xy", "sum"))
    slopes = fade_slopes(sums)
    for v in range(40):
        mine = frame[frame.v == v]
        assert slopes[v] == pytest.approx(stats.linregress(mine.x, mine.y).slope, rel=1e-8)
    assert np.isnan(fade_slopes(sums.assign(days=13))).all()  # too few days


def test_usage_sums_add_up_and_equal_pandas(tmp_path) -> None:
    rng = np.random.default_rng(1)
    store = Store(tmp_path)
    day0 = dt.date(2025, 3, 1)
    vins = [f"V{i}" for i in range(5)]
    rows = [{"vin": v, "day": day0 + dt.timedelta(days=d), "miles": float(rng.uniform(0, 80)),
             "dc_fast_charge_kwh": 0.0, "rain_miles": 1.0, "disengagements_rain": 0,
             "disengagements_clear": 1, "autopilot_miles": 2.0, "ambient_temp_c": 20.0,
             "battery_soh": 100 - 0.2 * np.sqrt(d + 1)} for v in vins for d in range(30)]
    frame = pd.DataFrame(rows)
    customers = pd.DataFrame({"vin": vins, "delivered_on": [day0] * 5})
    got = store.execute(usage_sums(store.con.create_table("t", frame),
                                   store.con.create_table("c", customers))).set_index("vin")
    assert got.days.tolist() == [30] * 5
    assert got.loc["V0", "miles"] == pytest.approx(frame[frame.vin == "V0"].miles.sum())
    assert fade_slopes(got.sort_index()) == pytest.approx([-0.2] * 5)


def test_crash_rates_use_the_exact_poisson_interval() -> None:
    rate, low, high = poisson_rate_ci(3, 2e6, per=1e6)
    assert rate == 1.5
    assert low == pytest.approx(stats.chi2.ppf(0.025, 6) / 2 / 2)
    assert high == pytest.approx(stats.chi2.ppf(0.975, 8) / 2 / 2)
    _, low0, high0 = poisson_rate_ci(0, 1e6, per=1e6)
    assert low0 == 0 and high0 == pytest.approx(3.689, abs=1e-3)  # the rule of three, exact


def test_crash_rates_of_an_empty_store_are_none(tmp_path) -> None:
    assert crash_rates(Store(tmp_path)) == {
        "autopilot": {"crashes": 0, "miles": 0.0, "rate": None, "ci": None},
        "manual": {"crashes": 0, "miles": 0.0, "rate": None, "ci": None}}


def test_usage_sums_in_memory_equal_the_engines(tmp_path) -> None:
    rng = np.random.default_rng(2)
    store = Store(tmp_path)
    day0 = dt.date(2025, 3, 1)
    delivered = {f"V{i}": day0 + dt.timedelta(days=i) for i in range(6)}
    frame = pd.DataFrame([{
        "vin": v, "day": start + dt.timedelta(days=d), "miles": float(rng.uniform(0, 80)),
        "dc_fast_charge_kwh": float(rng.uniform(0, 5)), "rain_miles": float(rng.uniform(0, 9)),
        "disengagements_rain": int(rng.integers(0, 3)), "disengagements_clear": 1,
        "autopilot_miles": 2.0, "ambient_temp_c": float(rng.normal(15, 5)),
        "battery_soh": 100 - 0.2 * np.sqrt(d + 1) + float(rng.normal(0, 0.01)),
    } for v, start in delivered.items() for d in range(20)])
    customers = pd.DataFrame({"vin": list(delivered), "delivered_on": list(delivered.values())})
    engine = store.execute(usage_sums(store.con.create_table("t", frame),
                                      store.con.create_table("c", customers)))
    memory = usage_sums_of_rows(frame, customers.set_index("vin").delivered_on)
    pd.testing.assert_frame_equal(memory.sort_index(), engine.set_index("vin").sort_index()
                                  .astype(float)[memory.columns], rtol=1e-12)
