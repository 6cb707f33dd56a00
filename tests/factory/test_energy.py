"""Energy scheduling: the LP on a hand-made day, then the module against the twin.

The twin tests run the same seeded world twice from the same day, once held at 22 °C
(the baseline) and once with :class:`EnergyModule` in the loop, and compare the KPIs the
loop reports (cost, CO2e, comfort) over the energy readings both worlds wrote.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import nnls

from gigaloop.actuate import EnergySchedule
from gigaloop.factory.energy import (
    EnergyConfig,
    EnergyModule,
    Forecast,
    HallModel,
    baseline_day,
    fit_hall,
    forecast_outside,
    plan_day,
)
from gigaloop.factory.energy.hall import COOL_OFFSETS, HEAT_OFFSETS, fit_law
from gigaloop.loop.contract import DayContext
from gigaloop.loop.cycle import DailyCycle
from gigaloop.store import Store
from gigaloop.twin import Twin

HOURS = np.arange(24)
PEAK = (HOURS >= 16) & (HOURS < 21)
HALL = HallModel(fan_kwh=100, cool_per_k=40, heat_per_k=25, cool_offset_c=2.5,
                 heat_offset_c=8.5, capacity_kwh=600)


def hot_day(**changes: object) -> Forecast:
    values: dict[str, object] = dict(
        outside_c=30 + 5 * np.cos(2 * np.pi * (HOURS - 15) / 24),
        tariff_usd_per_kwh=np.where(PEAK, 0.2, 0.07), carbon_g_per_kwh=np.full(24, 336.0),
        process_kwh=np.full(24, 1000.0), other_kwh=np.full(24, 100.0), hall=HALL,
        start_indoor_c=22.5, peak_to_date_kw=1700.0)  # the month so far: below this day
    values.update(changes)
    return Forecast(**values)  # type: ignore[arg-type]


def test_peak_price_precools_before_the_peak_and_moves_load_out_of_it() -> None:
    config = EnergyConfig()
    plan = plan_day(hot_day(), config)
    low, high = config.comfort_c
    assert plan.comfort_slack_kh == pytest.approx(0.0, abs=1e-9)
    assert (plan.setpoint_c >= low + config.margin_c - 1e-6).all()
    assert (plan.setpoint_c <= high - config.margin_c + 1e-6).all()
    # pre-cooling: colder at the start of the peak than the plan lets it be at its end (by
    # 1.4 K: hours before 16:00 are near capacity and may not raise the day's peak either)
    assert plan.setpoint_c[15] < plan.setpoint_c[20] - 1.0
    assert plan.hvac_kwh[:16].sum() > 0 and plan.hvac_kwh[PEAK].max() < HALL.fan_kwh + 600
    # shiftable load leaves every peak hour (as much as allowed) and the day's total holds
    assert plan.shift_kwh[PEAK] == pytest.approx(np.full(5, -100.0))
    assert plan.shift_kwh.sum() == pytest.approx(0.0, abs=1e-6)
    assert (plan.shift_kwh >= -100 - 1e-6).all() and (plan.shift_kwh <= 100 + 1e-6).all()
    base = baseline_day(hot_day(), config)
    assert plan.cost_usd < 0.9 * base.cost_usd and plan.co2e_kg < base.co2e_kg
    assert plan.peak_kw < base.peak_kw  # the day's largest hour, wherever it falls


def test_a_flat_tariff_moves_nothing_and_an_impossible_day_is_reported_not_refused() -> None:
    flat = plan_day(hot_day(tariff_usd_per_kwh=np.full(24, 0.1)),
                    EnergyConfig(carbon_usd_per_t=0.0, demand_usd_per_kw_month=0.0))
    assert np.abs(flat.shift_kwh).sum() == pytest.approx(0.0, abs=1e-6)
    weak = plan_day(hot_day(hall=HallModel(100, 40, 25, 2.5, 8.5, capacity_kwh=50)))
    assert weak.comfort_slack_kh > 1.0  # too little capacity: the slack says by how much


def test_an_uncertain_forecast_keeps_the_hall_cooler_and_airflow_follows_the_load() -> None:
    sure = plan_day(hot_day(outside_c=np.full(24, 34.0)))
    unsure = plan_day(hot_day(outside_c=np.full(24, 34.0), outside_sd_c=2.0))
    # hedges for a 4 °C hotter day: full airflow (coil capacity in hand), never warmer
    assert unsure.airflow.mean() > sure.airflow.mean() + 0.05
    assert unsure.setpoint_c.max() <= sure.setpoint_c.max() + 1e-6
    assert unsure.comfort_slack_kh == pytest.approx(0.0, abs=1e-6)
    mild = plan_day(hot_day(outside_c=np.full(24, 21.0)))
    assert mild.airflow == pytest.approx(np.full(24, EnergyConfig().min_airflow))
    # fans at 60 % airflow draw 0.6^2.5 of their design power
    assert mild.hvac_kwh.min() == pytest.approx(HALL.fan_kwh * 0.6**2.5, rel=1e-3)


def test_the_weather_forecast_is_as_good_as_persistence_and_knows_its_error() -> None:
    rng = np.random.default_rng(3)
    days, anomaly, series = 400, 0.0, []
    for d in range(days):
        anomaly = 0.7 * anomaly + 2.5 * np.sqrt(1 - 0.49) * rng.standard_normal()
        series.append(20 - 9.5 * np.cos(2 * np.pi * (d - 15) / 365) + anomaly
                      + 5.5 * np.cos(2 * np.pi * (HOURS - 15) / 24) + 0.4 * rng.standard_normal(24))
    hourly = np.array(series)
    model, persistence, inside = [], [], 0
    for d in range(28, days):  # each day forecast from the 28 before it only
        mean, sd = forecast_outside(hourly[d - 28:d].ravel())
        model.append(np.mean((mean - hourly[d]) ** 2))
        persistence.append(np.mean((hourly[d - 1] - hourly[d]) ** 2))
        inside += abs(hourly[d].mean() - mean.mean()) < 2 * sd
    # AR(1) weather with φ = 0.7 leaves little to gain over persistence (measured: 4.34 vs
    # 4.20 °C², seed 3); what the plan needs is the calibrated error band
    assert np.mean(model) < 1.1 * np.mean(persistence)
    # the ±2σ band covers 89.5 % (not 95 %: the trend's own error is not in σ)
    assert 0.85 < inside / (days - 28) < 0.99


def test_the_hall_is_fitted_from_readings_alone() -> None:
    rng = np.random.default_rng(0)
    out = rng.uniform(0, 38, 24 * 10)
    indoor = 22.5 + 0.3 * rng.standard_normal(out.size)
    hvac = 100 + 40 * np.maximum(out - indoor + 2.5, 0) + 25 * np.maximum(indoor - 8.5 - out, 0)
    hall = fit_hall(pd.DataFrame({"hvac_kwh": hvac, "outside_temp_c": out,
                                  "indoor_temp_c": indoor}))
    assert hall.cool_per_k == pytest.approx(40, rel=0.05)
    assert hall.heat_per_k == pytest.approx(25, rel=0.05)
    assert (hall.cool_offset_c, hall.heat_offset_c) == (2.5, 8.5)


def test_the_fit_learns_what_readings_add_and_leaves_out_recoveries() -> None:
    rng = np.random.default_rng(1)
    out = rng.uniform(0, 38, 24 * 14)
    setpoint = np.repeat(rng.choice([21.0, 22.0, 24.0], size=out.size // 6), 6)
    hall = setpoint.copy()  # held: the hall sits at the setpoint, its reading does not
    indoor = hall + 0.5 + 0.3 * rng.standard_normal(out.size)
    hvac = 100 + 40 * np.maximum(out - hall + 2.0, 0) + 25 * np.maximum(hall - 8.0 - out, 0)
    recovering = rng.choice(out.size, size=out.size // 25, replace=False)
    hvac[recovering] += 1500  # full-capacity pull-downs the steady-state law does not know
    fitted = fit_hall(pd.DataFrame({
        "hvac_kwh": hvac, "outside_temp_c": out, "indoor_temp_c": indoor,
        "cooling_setpoint_c": setpoint, "heating_setpoint_c": setpoint}))
    assert fitted.reading_offset_c == pytest.approx(0.5, abs=0.05)
    assert fitted.reading_sd_c == pytest.approx(0.3, abs=0.05)
    assert fitted.cool_per_k == pytest.approx(40, rel=0.1)
    assert fitted.cool_offset_c == pytest.approx(2.0, abs=0.3)  # the hall's, not the reading's
    assert fitted.fit_error < 0.1


def test_a_winter_hall_that_never_cooled_still_has_a_thermal_mass() -> None:
    winter = HallModel(fan_kwh=100, cool_per_k=1e-6, heat_per_k=25, cool_offset_c=2.0,
                       heat_offset_c=8.0, capacity_kwh=600, envelope_per_k=25)
    plan = plan_day(hot_day(outside_c=np.full(24, 2.0), hall=winter, start_indoor_c=21.0))
    assert plan.comfort_slack_kh < 0.05  # solved (a mass of ≈ 0 made the LP infeasible)
    assert plan.setpoint_c.min() > 19.5 - 1e-6 and plan.hvac_kwh.sum() > 24 * 100


def test_the_hall_floats_between_its_two_setpoints() -> None:
    from gigaloop.twin.energy import thermostat
    mild = np.full(6, 17.0)  # no gains at 22 °C: the hall stays where it is
    cool, heat = np.full(6, 25.0), np.full(6, 20.0)
    hall, kwh = thermostat(mild, cool, heat, start_c=23.0, cool_per_k=1.0, heat_per_k=1.0)
    assert np.allclose(hall, 23.0) and np.allclose(kwh, 0.0)  # no heating up to a setpoint
    hall, kwh = thermostat(mild, cool, heat, start_c=18.0, cool_per_k=1.0, heat_per_k=1.0)
    assert kwh[0] > 0 and hall[-1] == pytest.approx(20.0)  # below the band: heated up to it
    schedule = EnergySchedule(day=1, site_id="TX1", cooling_setpoint_c=(20.0,) * 24,
                              heating_setpoint_c=(21.0,) * 24, shift_kwh=(0.0,) * 24)
    twin = Twin.from_scenario(seed=SEED)
    assert "heating setpoint" in str(twin.plant.energy.check(schedule))


# -- the fit and the reads the module's speed rests on -------------------------------------


def test_the_vectorised_fit_is_scipy_nnls_cell_by_cell() -> None:
    rng = np.random.default_rng(4)
    out, indoor = rng.uniform(-5, 38, 24 * 28), 22 + rng.standard_normal(24 * 28)
    air = rng.uniform(0.6, 1.0, out.size)
    kwh = np.maximum(80 * air**2.5 + 35 * np.maximum(out - indoor + 2, 0)
                     + 20 * np.maximum(indoor - 9 - out, 0) + rng.normal(0, 20, out.size), 0)
    use = rng.random(out.size) > 0.2
    fitted = fit_law(kwh, air, out - indoor, use, 2.5)
    best = None  # the loop the vectorised pass replaces, first strict minimum kept
    for cool in COOL_OFFSETS:
        for heat in HEAT_OFFSETS:
            drive = out[use] - indoor[use]
            X = np.column_stack([air[use] ** 2.5, np.maximum(drive + cool, 0),
                                 np.maximum(-heat - drive, 0)])
            coef, residual = nnls(X, kwh[use])
            if best is None or residual < best[0]:
                best = residual, coef, cool, heat
    assert best is not None
    residual, coef, cool, heat = best
    assert (fitted.cool_offset_c, fitted.heat_offset_c) == (cool, heat)
    assert [fitted.fan_kwh, fitted.cool_per_k, fitted.heat_per_k] == pytest.approx(coef, rel=1e-9)
    expected = residual / np.sqrt(use.sum()) / kwh[use].mean()
    assert fitted.fit_error == pytest.approx(expected, rel=1e-9)


def test_the_window_read_day_by_day_is_the_window_read_at_once(tmp_path: Path) -> None:
    twin, store = Twin.from_scenario(seed=SEED), Store(tmp_path)
    module = EnergyModule(EnergyConfig(history_days=3))  # short: rows leave the window too
    sites = None
    for day in range(6):
        tables = twin.step(day)
        sites = tables.get("sites", sites)
        now = twin.day_end(day)
        store.write_many({"sites": sites, "energy_readings": tables["energy_readings"]},
                         ingested_at=now)
        ctx = DayContext(day, now, store.as_of(now))
        kept = {site: {c: v.copy() for c, v in rows.items()}
                for site, rows in module.readings(ctx).items()}
        fresh = EnergyModule(EnergyConfig(history_days=3)).readings(ctx)  # after a restart
        assert kept.keys() == fresh.keys() and kept
        for site, rows in fresh.items():
            _assert_same_columns(kept[site], rows)
            assert len(rows["event_time"]) == 24 * min(day + 1, 3)
    again = module.readings(ctx)  # the same day again (a replay) reads it all again
    _assert_same_columns(again[site], fresh[site])


def _assert_same_columns(left: dict[str, np.ndarray], right: dict[str, np.ndarray]) -> None:
    assert left.keys() == right.keys()
    for column, values in left.items():
        np.testing.assert_array_equal(values, right[column], err_msg=column)


# -- against the twin ---------------------------------------------------------------------

SEED = 5
HISTORY_DAYS = 14
GOAL = 0.85  # the target: HVAC cost and CO2e at most 0.85 × the baseline's, no discomfort


def _kpis(frames: list[pd.DataFrame]) -> dict[str, float]:
    energy = pd.concat(frames)
    kwh = energy[["hvac_kwh", "process_kwh", "lighting_kwh"]].sum(axis=1)
    low, high = EnergyConfig().comfort_c
    return {"cost": float((kwh * energy["tariff_usd_per_kwh"]).sum()),
            "co2e": float((kwh * energy["carbon_g_per_kwh"]).sum() / 1000),
            "hvac_cost": float((energy["hvac_kwh"] * energy["tariff_usd_per_kwh"]).sum()),
            "hvac_co2e": float((energy["hvac_kwh"] * energy["carbon_g_per_kwh"]).sum() / 1000),
            "comfort": float(np.maximum.reduce([low - energy["indoor_temp_c"],
                                                energy["indoor_temp_c"] - high,
                                                np.zeros(len(energy))]).sum())}


def run_month(seed: int, first: int, days: int, tmp: Path | None) -> dict[str, float]:
    """KPIs of days ``first`` … ``first + days − 1``; with the module when ``tmp`` is given."""
    twin = Twin.from_scenario(seed=seed)
    store = Store(tmp) if tmp is not None else None
    cycle = DailyCycle([EnergyModule()], twin, store) if store is not None else None
    frames, decisions = [], []
    sites = None
    for day in range(first + days):
        tables = twin.step(day)
        sites = tables.get("sites", sites)
        energy = tables["energy_readings"]
        if day < first - HISTORY_DAYS:
            continue
        if store is not None and cycle is not None:
            now = twin.day_end(day)
            store.write_many({"sites": sites, "energy_readings": energy}, ingested_at=now)
            decisions += cycle.run_day(day, now)
        if day >= first:
            frames.append(energy.to_pandas())
    if cycle is not None:
        schedules = [d for d in decisions if isinstance(d.action, EnergySchedule)]
        assert len(schedules) >= days and all(d.accepted for d in schedules)
    return _kpis(frames)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "first"), [(5, 180), (6, 5), (7, 90)])  # Jul, Jan, Apr
def test_a_month_with_the_module_meets_the_goal_and_stays_comfortable(
        tmp_path: Path, seed: int, first: int) -> None:
    base = run_month(seed, first, 30, None)
    loop = run_month(seed, first, 30, tmp_path)
    ratios = {k: round(loop[k] / base[k], 3) for k in ("hvac_cost", "hvac_co2e", "cost", "co2e")}
    print(f"\nseed {seed}, days {first}–{first + 29}: {ratios}, comfort K·h loop "
          f"{loop['comfort']:.2f} (baseline {base['comfort']:.2f})")
    # the goal, in BOPTEST's scope (the HVAC the module commands), not a measured figure
    assert loop["hvac_cost"] <= GOAL * base["hvac_cost"]
    assert loop["hvac_co2e"] <= GOAL * base["hvac_co2e"]
    # the site as a whole pays nothing for it (moved load and pre-cooling are net savings)
    assert loop["cost"] < base["cost"] and loop["co2e"] < base["co2e"]
    assert loop["comfort"] == 0.0  # no K·h outside 18–27 °C, whatever the baseline did
