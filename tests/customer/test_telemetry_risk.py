"""Telemetry trends → a weekly hazard per part: learned from the store's rows, held out by
time, and the same whatever order the rows were read in."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tests.customer.test_predictive_service import View, day_end, run_day, store_frames

from gigaloop.customer import PredictiveServiceModule
from gigaloop.customer.telemetry_risk import fit_component, risk_over, weeks_known
from gigaloop.customer.telemetry_signals import SignalHistory
from gigaloop.loop.contract import DayContext

T0 = pd.Timestamp("2025-01-06")
NO_VISITS = pd.DataFrame({"vin": pd.Series([], dtype=str),
                          "event_time": pd.Series([], dtype="datetime64[ns]")})
NO_CODES = pd.DataFrame({"vin": pd.Series([], dtype=str), "code": pd.Series([], dtype=str),
                         "event_time": pd.Series([], dtype="datetime64[ns]")})


def fleet(seed: int = 0, n: int = 1500, days: int = 240, sag_v: float = 0.5):
    """Daily 12 V resting voltages of ``n`` cars and their battery failures: a tenth fail,
    their voltage sagging by up to ``sag_v`` over the 10–40 days before; healthy cars have
    their own level, daily noise and drain dips."""
    rng = np.random.default_rng(seed)
    vins = np.array([f"V{i:05d}" for i in range(n)])
    fails = rng.random(n) < 0.1
    fail_day = np.where(fails, rng.uniform(60, days, n), np.inf)
    lead = rng.uniform(10, 40, n)
    day = np.arange(days)
    left = fail_day[:, None] - day[None, :]
    sag = np.clip(1 - left / lead[:, None], 0, 1) ** 1.5 * sag_v
    dip = (rng.random((n, days)) < 0.01) * rng.uniform(0.1, 0.3, (n, days))
    volts = (rng.normal(12.65, 0.06, n)[:, None] - sag - dip
             + rng.normal(0, 0.04, (n, days)))
    alive = day[None, :] < fail_day[:, None]
    vin_grid, day_grid = np.broadcast_to(vins[:, None], volts.shape), day[None, :] + 0 * volts
    rows = pd.DataFrame({"vin": vin_grid[alive], "day": (T0 + pd.to_timedelta(
        day_grid[alive], unit="D")).date, "lv_battery_rest_v": volts[alive],
        "drive_unit_noise_db": rng.normal(0, 1, int(alive.sum()))})
    failures = pd.DataFrame({"vin": vins[fails], "component": "12v_battery",
                             "event_time": T0 + pd.to_timedelta(fail_day[fails], unit="D"),
                             "cost_usd": 300.0, "roadside": True})
    return rows, failures


def fitted(rows: pd.DataFrame, failures: pd.DataFrame, until: int = 240):
    history = SignalHistory()
    history.add(rows)
    weeks = weeks_known(history, until)
    return history, fit_component(history, weeks, "12v_battery", NO_CODES, failures,
                                  NO_VISITS, until, 90)


def test_a_sagging_voltage_is_learned_and_discriminates_held_out_weeks():
    _, model = fitted(*fleet())
    assert model.held_out["failures"] >= 10
    assert model.held_out["auc"] > 0.85
    coefficients = model.coefficients()
    assert coefficients["lv_battery_rest_v_change"] < 0   # a lower voltage: more risk


def test_without_a_precursor_the_held_out_weeks_are_not_told_apart():
    _, model = fitted(*fleet(sag_v=0.0))
    assert model.held_out["failures"] >= 10
    assert model.held_out["auc"] < 0.7


def test_the_fit_does_not_depend_on_the_order_rows_were_read_in():
    rows, failures = fleet(seed=1, n=600)
    _, ours = fitted(rows, failures)
    _, theirs = fitted(rows.sample(frac=1.0, random_state=0), failures)
    assert ours.coefficients() == theirs.coefficients()
    assert ours.held_out == theirs.held_out


def test_no_model_before_enough_failures():
    rows, failures = fleet(n=300, days=100)
    _, model = fitted(rows, failures.iloc[:2], until=100)
    assert model is None


def test_risk_over_a_horizon_grows_with_it():
    hazard = np.array([0.05, 0.2])
    assert (risk_over(hazard, 30) > risk_over(hazard, 7)).all()
    assert np.allclose(risk_over(hazard, 7), hazard)


def test_the_module_books_sagging_batteries_and_decides_alike_after_a_restart():
    rows, failures = fleet(seed=2, n=1500, days=240)
    codes = NO_CODES.assign(event_time=pd.Series([], dtype="datetime64[ns]"))
    frames = store_frames(codes, failures)
    frames["telemetry_daily"] = rows.assign(
        ingested_at=pd.to_datetime(rows.day) + pd.Timedelta(days=1))
    running, restarted = PredictiveServiceModule(), PredictiveServiceModule()
    booked, rebuilt = [], []
    for day in range(180, 200):
        now = day_end(day)
        if day >= 190:   # mid-cycle: the last telemetry refit was on day 168
            theirs = restarted.decide(DayContext(day, now.to_pydatetime(), View(frames, now)))
        ours = run_day(running, frames, day)   # its decisions written to the store
        if day >= 190:
            assert [d.record() for d in theirs] == [d.record() for d in ours]
            rebuilt += theirs
        booked += [v for d in ours for v in d.action.vins]
    assert running.state.hazards["12v_battery"] is not None
    soon = failures.set_index("vin").event_time
    failing = [v for v in booked if v in soon.index
               and soon[v] <= day_end(199) + pd.Timedelta(days=30)]
    assert len(booked) > 10 and len(failing) > 0.5 * len(booked) and rebuilt


def test_features_taken_fit_after_fit_equal_those_of_one_read_of_everything():
    """Each fit sums only the days since the last one's edges; readings that come late (a
    car offline for days) reach below those edges and are summed again: the features are
    those of a history that read every row at once."""
    rows, _ = fleet(n=300, days=200)
    day = pd.to_datetime(rows.day)
    rng = np.random.default_rng(3)
    late = rng.random(len(rows)) < 0.05
    arrives = (day - T0).dt.days.to_numpy() + np.where(late, rng.integers(1, 40, len(rows)), 0)
    read_so_far, last_fit = SignalHistory(), -1
    for fit_day in range(60, 200, 28):
        read_so_far.add(rows[(arrives > last_fit) & (arrives <= fit_day)])
        last_fit = fit_day
        weeks = np.arange(fit_day - 21 - 25 * 7, fit_day - 21 + 1, 7)
        weeks = weeks[weeks >= 30]
        at = np.tile(weeks, 300)
        cars = np.repeat(np.arange(300), len(weeks))
        vins = read_so_far.vins[cars]
        taken = read_so_far.features(read_so_far.row_of(vins), at)
        afresh = SignalHistory()
        afresh.add(rows[arrives <= fit_day])
        expected = afresh.features(afresh.row_of(vins), at)
        pd.testing.assert_frame_equal(taken, expected, check_exact=False, rtol=1e-12)
    assert len(read_so_far._edge_sums) == 2  # both signals' edges are kept
