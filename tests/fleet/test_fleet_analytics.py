"""Fleet analytics: trend slopes against linregress, usage sums against pandas, rate
measures from the sums, crash rates against the exact Poisson interval."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gigaloop.fleet import (
    crash_rates,
    measured_rates,
    poisson_rate_ci,
    trend_slopes,
    usage_sum_names,
    usage_sums,
    usage_sums_of_rows,
)
from gigaloop.fleet.usage import measure_sum_names
from gigaloop.schema import RATE_MEASURES, RateMeasure
from gigaloop.store import Store

FADE, RAIN = RATE_MEASURES


def test_trend_slopes_match_linregress_per_vehicle() -> None:
    rng = np.random.default_rng(0)
    vehicle = rng.integers(0, 40, 4000)
    x = np.sqrt(rng.uniform(1, 900, vehicle.size))
    soh = 100 - (0.1 + vehicle / 100) * x + rng.normal(0, 0.3, vehicle.size)
    frame = pd.DataFrame({"v": vehicle, "x": x, "y": soh})
    n, sx, sxx, y, xy = measure_sum_names(FADE)
    sums = frame.assign(xx=x * x, xy=x * soh).groupby("v").agg(
        **{n: ("x", "size"), sx: ("x", "sum"), sxx: ("xx", "sum"), y: ("y", "sum"),
           xy: ("xy", "sum")})
    slopes = trend_slopes(sums, FADE)
    for v in range(40):
        mine = frame[frame.v == v]
        assert slopes[v] == pytest.approx(stats.linregress(mine.x, mine.y).slope, rel=1e-8)
    assert np.isnan(trend_slopes(sums.assign(**{n: 13}), FADE)).all()  # too few days


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
    assert trend_slopes(got.sort_index(), FADE) == pytest.approx([-0.2] * 5)
    assert set(got.columns) == set(usage_sum_names())


def test_each_measure_gives_rate_weight_and_usable_from_the_sums() -> None:
    n, sx, sxx, y, xy = measure_sum_names(FADE)
    events, exposure = measure_sum_names(RAIN)
    x = np.sqrt(np.arange(1, 41.0))
    soh = 1.0 - 0.002 * x
    sums = pd.DataFrame({"days": [40, 20], n: [40, 20], sx: [x.sum(), x[:20].sum()],
                         sxx: [(x * x).sum(), (x[:20] ** 2).sum()],
                         y: [soh.sum(), soh[:20].sum()],
                         xy: [(x * soh).sum(), (x[:20] * soh[:20]).sum()],
                         events: [3.0, 1.0], exposure: [60.0, 10.0]})
    fade = measured_rates(sums, FADE)
    assert fade.rate == pytest.approx([0.002, 0.002])  # a fall is a positive rate
    assert fade.weight == pytest.approx(np.sqrt([40, 20]))
    assert fade.usable.tolist() == [True, False]  # 20 days < 30
    rain = measured_rates(sums, RAIN)
    assert rain.rate == pytest.approx([0.05, 0.1])
    assert rain.weight.tolist() == [60.0, 10.0] and rain.usable.tolist() == [True, False]


def test_a_declared_measure_gets_its_own_sums(tmp_path) -> None:
    fcw = RateMeasure(mode="fcw_rate", value="fcw_count", per="miles", min_exposure=50)
    measures = (*RATE_MEASURES, fcw)
    store = Store(tmp_path)
    day0 = dt.date(2025, 3, 1)
    frame = pd.DataFrame([{
        "vin": "V1", "day": day0 + dt.timedelta(days=d), "miles": 10.0,
        "dc_fast_charge_kwh": 0.0, "rain_miles": 0.0, "disengagements_rain": 0,
        "disengagements_clear": 0, "autopilot_miles": 0.0, "ambient_temp_c": 15.0,
        "battery_soh": 1.0, "fcw_count": d % 2} for d in range(10)])
    customers = pd.DataFrame({"vin": ["V1"], "delivered_on": [day0]})
    got = store.execute(usage_sums(store.con.create_table("t", frame),
                                   store.con.create_table("c", customers), measures=measures))
    memory = usage_sums_of_rows(frame, customers.set_index("vin").delivered_on, measures)
    for sums in (got, memory):
        rates = measured_rates(sums, fcw)
        assert rates.rate.tolist() == [0.05] and rates.usable.tolist() == [True]


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
