"""Precursor signals in the daily telemetry: failing parts warn, healthy ones drift, and
their draws leave the rest of the twin as it was."""

from datetime import date

import numpy as np

from gigaloop.twin.fleet import Fleet
from gigaloop.twin.precursor_signals import (
    LV_REST_V,
    SIGNAL_COMPONENTS,
    WARN_SHARE,
    PrecursorSignals,
)
from gigaloop.twin.telemetry import VehicleArrays, demo_vehicles
from gigaloop.twin.units import demo_units


def signals_on(day: int, life: dict[str, np.ndarray], n: int, seed: int = 0):
    vehicles = VehicleArrays(n)
    vehicles.append(demo_vehicles(n))
    signals = PrecursorSignals(np.random.default_rng(seed))
    return [signals.today(vehicles, life, d) for d in range(day + 1)][-1]


def test_about_the_warning_share_of_failing_batteries_sag_and_healthy_ones_rarely_do():
    n = 20_000
    life = {"12v_battery": np.where(np.arange(n) < n // 2, 102.0, np.inf),
            "drive_unit": np.full(n, np.inf)}
    volts = signals_on(100, life, n)["lv_battery_rest_v"]
    low = volts < LV_REST_V - 0.3
    failing = np.arange(n) < n // 2
    assert abs(low[failing].mean() - WARN_SHARE) < 0.03
    assert low[~failing].mean() < 0.02


def test_a_failing_bearing_gets_louder_over_its_p_f_interval():
    n = 4000
    vehicles = demo_vehicles(n)
    pace = vehicles["mean_miles"] * 0.88
    life = {"12v_battery": np.full(n, np.inf),
            "drive_unit": np.where(np.arange(n) < n // 2, pace * 5, np.inf)}
    noise = signals_on(0, life, n)["drive_unit_noise_db"]
    assert noise[: n // 2].mean() > noise[n // 2:].mean() + 3


def test_the_signals_draw_from_their_own_stream():
    def days(other_signals: bool) -> list:
        fleet = Fleet(start_date=date(2025, 1, 6), rng=np.random.default_rng(0),
                      units_per_day=50)
        if other_signals:
            fleet.signals = PrecursorSignals(np.random.default_rng(99), warn_share=0.0)
        fleet.add_built(demo_units(300, build_day=-10))
        return [fleet.step(d) for d in range(20)]

    ours, theirs = days(False), days(True)
    for a, b in zip(ours, theirs, strict=True):
        for name, table in a.items():
            if name == "telemetry_daily":
                assert not table.select(list(SIGNAL_COMPONENTS)).equals(
                    b[name].select(list(SIGNAL_COMPONENTS)))
                table, other = (t.drop_columns(list(SIGNAL_COMPONENTS))
                                for t in (table, b[name]))
            else:
                other = b[name]
            assert table.equals(other), name
