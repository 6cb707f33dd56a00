"""The uplink: fleet rows arrive late in bursts, twice, or never; clocks drift; truth holds."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tests.twin.test_scenario import DEFAULT_TEXT

from gigaloop.errors import ScenarioError
from gigaloop.ingest import ingest
from gigaloop.store import Store
from gigaloop.twin import Twin
from gigaloop.twin.scenario import DataQuality, load_scenario, load_scenario_text
from gigaloop.twin.source import TwinDay
from gigaloop.twin.uplink import Uplink

VINS = pa.array([f"V{i}" for i in range(40)])
START = datetime(2025, 1, 6)
ZERO = {k: 0.0 for k in ("offline_per_day", "claim_late_share", "duplicate_share", "gap_share",
                         "silent_per_year", "skewed_car_share")}


def fleet_day(day: int) -> dict[str, pa.Table]:
    """A day of every car: one telemetry row and one trigger each; one claim; no codes or
    visits (the fleet always hands over every table, empty or not)."""
    noon = START + timedelta(days=day, hours=12)
    n = len(VINS)
    return {"telemetry_daily": pa.table({"vin": VINS, "day": [day] * n,
                                         "event_time": pa.array([noon] * n, pa.timestamp("us"))}),
            "trigger_events": pa.table({"vin": VINS, "day": [day] * n,
                                        "event_time": pa.array([noon] * n, pa.timestamp("us"))}),
            "component_failures": pa.table({"vin": VINS[:1], "day": [day],
                                            "event_time": pa.array([noon], pa.timestamp("us"))}),
            "diagnostic_codes": pa.table({"vin": pa.array([], pa.string())}),
            "service_visits": pa.table({"vin": pa.array([], pa.string())}),
            "feedback": pa.table({"x": [day]})}


def send_days(days: int, seed: int = 0, **levels: float) -> tuple[Uplink, list[dict]]:
    uplink = Uplink(DataQuality(**{**ZERO, **levels}), np.random.default_rng(seed))
    return uplink, [uplink.send(d, fleet_day(d), VINS) for d in range(days)]


def arrivals(out: list[dict], table: str) -> list[tuple[int, str, int]]:
    """(day it arrived, vin, day of the row) of every row of ``table`` that arrived."""
    return [(d, vin, row_day) for d, tables in enumerate(out)
            for vin, row_day in zip(tables[table]["vin"].to_pylist(),
                                    tables[table]["day"].to_pylist(), strict=True)]


def test_an_offline_car_sends_its_held_days_in_one_burst_when_it_reconnects() -> None:
    uplink, out = send_days(30, offline_per_day=0.2, max_offline_days=5)
    rows = arrivals(out, "telemetry_daily")
    assert len(rows) == len(set(rows))                       # each row at most once
    late = [(d, vin, day) for d, vin, day in rows if d > day]
    assert late and all(1 <= d - day <= 5 for d, _, day in late)
    held = sum(t.num_rows for by_day in uplink._held.values()      # telemetry and triggers
               for parts in by_day.values() for t in parts)
    assert uplink.counts["late"] == 2 * len(late) + held
    by_car = {}
    for d, vin, day in rows:
        by_car.setdefault(vin, []).append((d, day))
    for days in by_car.values():   # a car's rows arrive in the order of their days
        assert [day for _, day in sorted(days)] == sorted(day for _, day in days)
    # telemetry and triggers of a car travel together: same arrival day for the same day
    assert set(rows) == set(arrivals(out, "trigger_events"))
    assert Counter(d for d, _, _ in rows)[29] <= len(VINS) * 6


def test_dealer_claims_arrive_late_and_nothing_else_changes() -> None:
    _, out = send_days(20, claim_late_share=1.0, claim_max_late_days=2)
    claims = arrivals(out, "component_failures")
    assert claims and all(1 <= d - day <= 2 for d, _, day in claims)
    assert len(arrivals(out, "telemetry_daily")) == 20 * len(VINS)
    assert [t["feedback"]["x"].to_pylist() for t in out] == [[d] for d in range(20)]


def test_resent_rows_are_identical_and_arrive_on_a_later_day() -> None:
    _, out = send_days(12, duplicate_share=0.3, duplicate_max_days=2)
    rows = arrivals(out, "telemetry_daily")
    copies = Counter((vin, day) for _, vin, day in rows)
    assert set(copies.values()) == {1, 2}
    for (vin, day), n in copies.items():
        if n == 2:
            first, second = sorted(d for d, v, r in rows if (v, r) == (vin, day))
            assert 1 <= second - first <= 2
    batches = [t["telemetry_daily"] for t in out]
    assert all(len(set(zip(t["vin"].to_pylist(), t["day"].to_pylist(), strict=True)))
               == t.num_rows for t in batches)                # never twice in one batch


def test_gaps_lose_daily_rows_and_silent_cars_stop_for_good() -> None:
    uplink, out = send_days(10, gap_share=0.5)
    assert 0.4 < len(arrivals(out, "telemetry_daily")) / (10 * len(VINS)) < 0.6
    assert len(arrivals(out, "trigger_events")) == 10 * len(VINS)   # gaps: daily rows only
    assert uplink.counts["lost_gap"] == 10 * len(VINS) - len(arrivals(out, "telemetry_daily"))
    uplink, out = send_days(30, silent_per_year=0.99)
    days = {}
    for _, vin, day in arrivals(out, "trigger_events"):
        days.setdefault(vin, []).append(day)
    assert len(days) < len(VINS) or any(len(d) < 30 for d in days.values())
    assert all(sorted(d) == list(range(len(d))) for d in days.values())  # a prefix, then none
    assert uplink.counts["lost_silent"] == 2 * (30 * len(VINS) - sum(map(len, days.values())))


def test_a_skewed_car_shifts_its_own_event_times_only() -> None:
    _, out = send_days(2, skewed_car_share=1.0, skew_min_minutes=30, skew_max_minutes=30)
    shift = [(t - (START + timedelta(days=d, hours=12))).total_seconds() / 60
             for d, tables in enumerate(out)
             for t in tables["trigger_events"]["event_time"].to_pylist()]
    assert set(shift) == {-30.0, 30.0}
    claim = out[0]["component_failures"]["event_time"][0].as_py()
    assert claim == START + timedelta(hours=12)


@pytest.mark.parametrize("data", [{"perfect": True}, ZERO])
def test_perfect_or_zero_levels_pass_every_row_through(data: dict) -> None:
    uplink = Uplink(DataQuality(**data), np.random.default_rng(0))
    today = fleet_day(0)
    assert uplink.send(0, today, VINS) is today


def test_the_world_is_the_same_and_the_store_takes_every_arrival(tmp_path: Path) -> None:
    """Imperfect data changes what the store holds, never the fleet's truth; re-sent and
    late rows are written or counted unchanged, none quarantined."""
    rough = DataQuality(offline_per_day=0.05, duplicate_share=0.05, claim_late_share=0.5,
                        skewed_car_share=0.2, gap_share=0.02, silent_per_year=0.5)
    twins = [Twin(load_scenario().model_copy(update={"data": d}), seed=3)
             for d in (DataQuality(perfect=True), rough)]
    store = Store(tmp_path)
    results: dict[str, list] = {}
    for day in range(40):
        twins[0].step(day)
        for name, r in ingest(TwinDay(twins[1], day), store, twins[1].day_end(day)).items():
            results.setdefault(name, []).append(r)
    assert twins[0].fleet.kpis() == twins[1].fleet.kpis()
    assert twins[0].truth() == twins[1].truth()
    total = {name: sum(rs[1:], rs[0]) for name, rs in results.items()}
    assert all(r.quarantined == 0 for r in total.values()), {
        n: r.reasons for n, r in total.items() if r.quarantined}
    telemetry = total["telemetry_daily"]
    assert telemetry.unchanged > 0
    assert store.count("telemetry_daily") == telemetry.written
    store.close()


@pytest.mark.parametrize(("table", "hint"), [
    ("perfect = true\ngap_share = 0.1", "perfect = true takes no levels; remove ['gap_share']"),
    ("gap_share = 1.5", "data.gap_share"),
    ("skew_min_minutes = 90\nskew_max_minutes = 30", "skew_min_minutes (90.0) must be <="),
    ("late_share = 0.1", "data.late_share: Extra inputs are not permitted"),
])
def test_data_table_mistakes_name_the_field(table: str, hint: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(DEFAULT_TEXT + f"\n[data]\n{table}\n")
    assert hint in str(info.value)
    assert load_scenario_text(DEFAULT_TEXT + "\n[data]\nperfect = true\n").data.off
    assert not load_scenario().data.off
