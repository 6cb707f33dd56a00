"""Battery SoH forecast: features from telemetry, the conformal interval's coverage."""

from __future__ import annotations

from types import SimpleNamespace

import ibis
import numpy as np
import pandas as pd
import pytest

from gigaloop.customer.battery_forecast import (
    SohForecaster,
    held_out_vehicles,
    soh_at,
    soh_features,
)
from gigaloop.errors import ConfigError

DAY0 = pd.Timestamp("2025-01-01")


def telemetry(n: int, days: int, seed: int = 0) -> pd.DataFrame:
    """``n`` vehicles delivered on days 0–59: SoH fades as √days at a rate that grows with
    miles and heat, measured with noise."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 60, n)
    miles = rng.uniform(10, 60, n)
    climate = rng.integers(0, 3, n)
    rate = 0.0008 + 0.00002 * miles + 0.0003 * (climate == 1)
    rows = []
    for i in range(n):
        d = np.arange(start[i], days)
        age = d - start[i] + 1
        rows.append(
            pd.DataFrame(
                {
                    "vin": f"V{i:04d}",
                    "day": (DAY0 + pd.to_timedelta(d, unit="D")).date,
                    "miles": miles[i],
                    "dc_fast_charge_kwh": 0.0,
                    "ambient_temp_c": 15.0,
                    "climate_region": ("temperate", "hot", "cold")[climate[i]],
                    "battery_soh": 1 - rate[i] * np.sqrt(age) + rng.normal(0, 0.004, len(d)),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def store_of(frame: pd.DataFrame) -> SimpleNamespace:
    table = ibis.memtable(frame)
    return SimpleNamespace(table=lambda name: table, execute=lambda e: e.execute())


def test_features_are_the_vehicle_history_up_to_the_cutoff():
    frame = telemetry(5, 120)
    store = store_of(frame)
    cutoff = DAY0 + pd.Timedelta(days=99)
    features = soh_features(store, cutoff, 20, smooth_days=10, min_days=30).set_index("vin")
    one = frame[(frame.vin == "V0000") & (frame.day <= cutoff.date())]
    row = features.loc["V0000"]
    assert row.age_days == len(one)
    assert row.soh_now == pytest.approx(one.battery_soh.tail(10).mean())
    assert row.soh_first == pytest.approx(one.battery_soh.head(10).mean())
    assert row.miles_per_day == pytest.approx(one.miles.sum() / len(one))
    assert row.heat_days == pytest.approx(len(one)) and row.heat_ahead == pytest.approx(20)
    later = soh_at(store, DAY0 + pd.Timedelta(days=119), smooth_days=10)
    assert later["V0000"] == pytest.approx(frame[frame.vin == "V0000"].battery_soh.tail(10).mean())


def test_interval_covers_held_out_vehicles_at_its_nominal_rate():
    frame = telemetry(900, 240, seed=1)
    store = store_of(frame)
    first, middle, last = (DAY0 + pd.Timedelta(days=d) for d in (119, 179, 239))
    early, now = soh_features(store, first, 60), soh_features(store, middle, 60)
    test = held_out_vehicles(now.vin, 0.3, seed=7)
    train = early[~early.vin.isin(now.vin[test])]
    model = SohForecaster(horizon_days=60, coverage=0.8, seed=3).fit(train, soh_at(store, middle))
    out = model.predict(now[test])
    truth = soh_at(store, last).reindex(out.vin).to_numpy()
    covered = ((out.low <= truth) & (truth <= out.high)).mean()
    assert 0.72 < covered < 0.9
    assert np.abs(out.soh - truth).mean() < np.abs(now[test].soh_now - truth).mean()


def test_bad_input_is_refused():
    with pytest.raises(ConfigError):
        SohForecaster(coverage=1.0)
    with pytest.raises(ConfigError):
        SohForecaster().predict(pd.DataFrame())
    with pytest.raises(ConfigError, match="20 vehicles"):
        SohForecaster().fit(
            pd.DataFrame({"vin": ["A"], "soh_now": [1.0]}), pd.Series([0.99], index=["A"])
        )
    with pytest.raises(ConfigError):
        held_out_vehicles(pd.Series(["A"]), 1.0)


def test_an_interval_sized_one_window_later_carries_the_drift_between_windows():
    rng = np.random.default_rng(4)
    n = 3000

    def window(per_mile: float) -> tuple[pd.DataFrame, pd.Series]:
        x = pd.DataFrame({"vin": [f"V{i}" for i in range(n)], "age_days": 200.0,
                          "soh_now": 0.99 - rng.uniform(0, 0.02, n), "soh_first": 1.0,
                          "miles_per_day": rng.uniform(10, 60, n),
                          "dcfc_per_day": rng.uniform(0, 5, n), "temp_mean": 15.0,
                          "climate": 0, "heat_days": 200.0, "heat_ahead": 90.0})
        later = x.soh_now - per_mile * x.miles_per_day + rng.normal(0, 0.0005, n)
        return x, pd.Series(later.to_numpy(), x.vin)

    # fade per mile grows from window to window (a season, an older pack)
    older, recent, (ahead, truth) = window(1e-4), window(1.3e-4), window(1.6e-4)

    def covered(model: SohForecaster) -> float:
        out = model.predict(ahead)
        return float(((out.low <= truth.to_numpy()) & (truth.to_numpy() <= out.high)).mean())

    within = SohForecaster(horizon_days=90, coverage=0.8, seed=1).fit(*recent)
    across = SohForecaster(horizon_days=90, coverage=0.8, seed=1).fit_out_of_time(older, recent)
    assert covered(within) < 0.6
    assert covered(across) > 0.75
