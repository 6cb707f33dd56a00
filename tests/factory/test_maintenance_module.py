"""Health index, cost rule and the maintenance module on a small synthetic store."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from gigaloop.actuate import MaintenanceOrder
from gigaloop.errors import ConfigError
from gigaloop.factory.maintenance import (
    FEATURES,
    Costs,
    MaintenanceConfig,
    MaintenanceModule,
    assess_machines,
    daily_condition,
    days_to_next_window,
    fit_baseline,
    health_index,
    should_maintain,
)
from gigaloop.factory.maintenance.health import recent_index
from gigaloop.factory.maintenance.history import ConditionLog, MaintenanceLog
from gigaloop.loop.contract import DayContext
from gigaloop.store import Store

START = datetime(2025, 1, 6)  # a Monday
MACHINES = ("M1", "M2", "M3")


def _readings(day: int, wear: dict[str, float], rng: np.random.Generator,
              hall_c: float = 22.0) -> pd.DataFrame:
    """24 hourly snapshots of every machine; ``wear`` 0 healthy, 1 failed."""
    rows = []
    for machine in MACHINES:
        w = wear.get(machine, 0.0)
        n = rng.standard_normal((7, 24))
        rows.append(pd.DataFrame({
            "machine_id": machine,
            "event_time": [START + timedelta(days=day, hours=h) for h in range(24)],
            "vibration_rms": 1.2 * (1 + 0.06 * n[0]) + 6 * w**2,
            "kurtosis": 3 + 9 * w**1.5 + 0.25 * n[1],
            "crest_factor": 3 + 3 * w**1.5 + 0.12 * n[2],
            "band_energy_low": 0.024 + 0.4 * w**2 * np.exp(0.1 * n[3]),
            "band_energy_bearing": 0.005 + 1.5 * w**2 * np.exp(0.15 * n[4]),
            "band_energy_high": 0.01 + 0.6 * w**3 * np.exp(0.15 * n[5]),
            "temperature_c": hall_c + 18 + 25 * w**6 + 0.7 * n[6],
        }))
    return pd.concat(rows, ignore_index=True)


def _static(store: Store) -> None:
    store.write_many({
        "sites": [{"site_id": "S", "name": "s", "region": "r", "timezone": "UTC"}],
        "lines": [{"line_id": "L", "site_id": "S", "name": "l"}],
        "stations": [{"station_id": f"ST-{m}", "line_id": "L", "process": "stamping",
                      "sequence": i} for i, m in enumerate(MACHINES)],
        "machines": [{"machine_id": m, "station_id": f"ST-{m}", "kind": "press",
                      "installed_on": date(2020, 1, 1)} for m in MACHINES],
    }, ingested_at=START)


def _wear(day: int, onset: int = 30, life: float = 50.0) -> dict[str, float]:
    return {"M3": max(day - onset, 0) / life}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """60 days of three presses; M3 wears from day 30 and would fail on day 80."""
    store = Store(tmp_path_factory.mktemp("plant"))
    _static(store)
    rng = np.random.default_rng(7)
    for day in range(60):
        store.write("machine_readings", _readings(day, _wear(day), rng),
                    ingested_at=START + timedelta(days=day + 1))
    return store


def _ctx(store: Store, day: int) -> DayContext:
    now = START + timedelta(days=day + 1)
    return DayContext(day, now, store.as_of(now))


def test_health_index_is_about_one_when_healthy_and_rises_with_wear(store: Store) -> None:
    daily = store.execute(daily_condition(store.table("machine_readings")))
    index = health_index(daily, fit_baseline(daily, baseline_days=21))
    healthy = index[index.machine_id != "M3"]
    assert healthy.hi.median() < 1.5 and healthy.hi.max() < 3
    worn = index[index.machine_id == "M3"].set_index("day").hi
    assert worn.iloc[:30].max() < 3 < worn.iloc[40]
    assert set(index.columns) >= {f"z_{f}" for f in FEATURES}


def test_recent_index_is_the_index_of_the_last_days(store: Store) -> None:
    """The index of each machine's last days alone (as the daily alarms score it) equals the
    index of the whole history on those rows, with a machine that stopped reporting early."""
    daily = store.execute(daily_condition(store.table("machine_readings")))
    daily = daily[(daily.machine_id != "M2") | (daily.day < daily.day.max() - pd.Timedelta(
        days=4))].sample(frac=1.0, random_state=0)  # M2's last days are others' older ones
    baseline = fit_baseline(daily, baseline_days=21)
    recent = recent_index(daily, baseline, 3)
    whole = health_index(daily, baseline)
    days = whole.groupby("machine_id").day.tail(3).unique()
    expected = health_index(daily[daily.day.isin(days)], baseline)
    assert len(recent) == len(expected) > 9 and set(recent.day) == set(days)
    pd.testing.assert_frame_equal(recent, expected[list(recent.columns)], check_exact=True)


def test_a_hot_hall_is_not_a_fault() -> None:
    rng = np.random.default_rng(1)
    frames = [_readings(d, {}, rng, hall_c=22 + 8 * (d >= 25)) for d in range(35)]
    readings = ibis.memtable(pd.concat(frames, ignore_index=True))
    daily = ibis.duckdb.connect().execute(daily_condition(readings))
    index = health_index(daily, fit_baseline(daily))
    assert index.z_temperature_c.abs().max() < 3


def test_stopped_snapshots_are_left_out() -> None:
    frame = _readings(0, {}, np.random.default_rng(2))
    frame.loc[frame.index[:12], "vibration_rms"] = 0.02
    daily = ibis.duckdb.connect().execute(daily_condition(ibis.memtable(frame)))
    assert daily.set_index("machine_id").readings.to_dict() == {"M1": 12, "M2": 24, "M3": 24}


def test_too_short_a_history_gives_no_baseline() -> None:
    daily = pd.DataFrame({"machine_id": "M1", "day": pd.date_range("2025-01-01", periods=5),
                          **{f: 1.0 for f in FEATURES}})
    assert assess_machines(daily, now=datetime(2025, 1, 6), days_to_window=3) == []


def test_cost_rule_and_windows() -> None:
    costs = Costs(repair_hours=10, repair_cost_per_hour=100, lost_production_per_hour=900,
                  preventive_cost=1000)
    assert costs.breakdown == 10_000 and costs.break_even_probability == 0.1
    assert should_maintain(0.1, costs) and not should_maintain(0.099, costs)
    assert [days_to_next_window(date(2025, 1, 6) + timedelta(days=k)) for k in range(7)] == [
        6, 5, 4, 3, 2, 1, 7]  # Monday … Sunday; Sunday's own window has passed by evening
    with pytest.raises(ConfigError):
        Costs(preventive_cost=-1)
    with pytest.raises(ConfigError):
        days_to_next_window(date(2025, 1, 6), weekday=7)
    with pytest.raises(ConfigError):
        MaintenanceConfig(alert_mm_s=5.0)


def test_module_orders_the_worn_machine_once_and_only_it(store: Store) -> None:
    module = MaintenanceModule(MaintenanceConfig(draws=60))
    decisions = [d for day in range(21, 60) for d in module.decide(_ctx(store, day))]
    assert [d.action.machine_id for d in decisions] == ["M3"]  # no re-order while open
    order, finding = decisions[0].action, decisions[0].finding
    assert isinstance(order, MaintenanceOrder) and order.day == decisions[0].day + 1
    assert 30 < decisions[0].day < 60  # after the onset, before zone D (4.5 mm/s) on day ~67
    assert finding["failure_mode"] == "machine_breakdown" and finding["rank"] == 1
    assert finding["names"] == {"machine": "M3", "station": "ST-M3"}
    assert finding["effect"] >= Costs().break_even_probability
    low, high = finding["ci"]
    assert 0 <= low <= high
    assert set(decisions[0].inputs) >= {"p_fail_7d", "p_fail_14d", "hi", "vibration_rms"}


def test_an_order_is_open_until_the_work_is_done(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _static(store)
    rng = np.random.default_rng(3)
    module = MaintenanceModule(MaintenanceConfig(draws=60))
    ordered, serviced = [], None
    for day in range(75):
        wear = {} if serviced is not None and day > serviced else _wear(day, onset=20)
        now = START + timedelta(days=day + 1)
        store.write("machine_readings", _readings(day, wear, rng), ingested_at=now)
        if ordered and serviced is None and (START + timedelta(days=day)).weekday() == 6:
            serviced = day  # the window: the work is done and recorded
            store.write("maintenance_events", [{
                "maintenance_id": "WO-1", "machine_id": "M3", "kind": "planned",
                "reason": ordered[0].action.reason, "duration_h": 4.0,
                "event_time": START + timedelta(days=day, hours=2)}], ingested_at=now)
        if day >= 21:
            ordered += module.decide(_ctx(store, day))
    assert serviced is not None and len(ordered) == 1
    assert module.open_orders == {}


def test_stops_that_follow_condition_are_learnt_and_the_machine_serviced(tmp_path: Path) -> None:
    """M3 alternates 10 worn days (w = 0.15) and 10 restored ones and stops when worn;
    the module learns it from the store and services M3, and only M3, before Sunday."""
    store = Store(tmp_path)
    _static(store)
    rng = np.random.default_rng(11)
    config = MaintenanceConfig(alarm_level=1e9, alert_mm_s=4.4, min_stops=5)  # stops only
    worn = [day >= 21 and (day // 10) % 2 == 0 for day in range(83)]
    for day in range(83):
        now = START + timedelta(days=day + 1)
        store.write("machine_readings", _readings(day, {"M3": 0.15 * worn[day]}, rng),
                    ingested_at=now)
        stops = [(m, k) for m, rate in (("M1", 0.01), ("M2", 0.01), ("M3", 0.01 + 0.6 * worn[day]))
                 for k in range(rng.poisson(rate)) if day > 0]
        if stops:
            store.write("downtime_events", [{
                "downtime_id": f"DT-{day}-{m}-{k}", "station_id": f"ST-{m}", "machine_id": m,
                "planned": False, "cause": "minor_stop", "hours": 0.4,
                "event_time": START + timedelta(days=day, hours=8 + k)} for m, k in stops],
                ingested_at=now)
    assert (START + timedelta(days=82)).weekday() == 5  # Saturday: the window is next
    module = MaintenanceModule(config)
    decisions = module.decide(_ctx(store, 82))
    assert worn[82] and [d.action.machine_id for d in decisions] == ["M3"]
    assert decisions[0].action.reason.startswith("condition-based service")
    assert decisions[0].inputs["stop_hours_avoided_7d"] > Costs().service_cost / 16_000
    assert module.stop_model is not None
    assert module.stop_model["heldout_d2"] > 0.2  # on held-out days, by time
    assert decisions[0].finding is None  # not in health alarm: a service, not a fault finding
    assert MaintenanceModule(config).decide(_ctx(store, 81)) == []  # Friday: not yet


def test_logs_read_by_increment_equal_one_read_of_everything(tmp_path: Path) -> None:
    """Days split across two ingests and a late reading of an old day: the log updated
    each half day holds what one read of the whole store gives."""
    store = Store(tmp_path)
    _static(store)
    rng = np.random.default_rng(5)
    log, maintenance = ConditionLog(), MaintenanceLog(prefixes=("predictive maintenance",))
    for day in range(6):
        frame = _readings(day, _wear(day, onset=0, life=10), rng)
        for half, rows in enumerate((frame[frame.event_time.dt.hour < 8],
                                     frame[frame.event_time.dt.hour >= 8])):
            now = START + timedelta(days=day, hours=8 + 16 * half)
            store.write("machine_readings", rows, ingested_at=now)
            if day == 4 and half:
                late = _readings(1, {"M2": 1.0}, rng)
                late = late[late.machine_id == "M2"].head(12)  # 12 more snapshots of day 1
                late["event_time"] += timedelta(minutes=30)
                store.write("machine_readings", late, ingested_at=now)
                store.write("maintenance_events", [{
                    "maintenance_id": f"WO-{k}", "machine_id": "M3", "kind": kind,
                    "reason": reason, "duration_h": 1.0,
                    "event_time": START + timedelta(days=k)} for k, kind, reason in (
                        (1, "planned", "predictive maintenance: due"),
                        (3, "planned", "routine planned maintenance"),
                        (4, "calibration", "scheduled calibration"))], ingested_at=now)
            fresh = log.update(store.as_of(now), now)
            maintenance.update(store.as_of(now), now)
            assert len(fresh) <= len(MACHINES) * (2 + (day == 4 and half))
    whole = store.execute(daily_condition(store.table("machine_readings")))
    whole["day"] = pd.to_datetime(whole["day"])
    pd.testing.assert_frame_equal(log.daily, whole.astype({f: float for f in FEATURES}),
                                  check_dtype=False)
    day_one = log.daily.set_index(["machine_id", "day"]).loc[("M2", pd.Timestamp(START
                                                              + timedelta(days=1)))]
    assert day_one.readings == 36  # the late snapshots joined their day
    assert maintenance.last_reset == {"M3": START + timedelta(days=3)}  # not the calibration
    assert maintenance.last_ours == {"M3": START + timedelta(days=1)}
