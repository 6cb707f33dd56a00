"""The maintenance module against the digital twin (tests may use the twin; the module may not).

The scenario's press bearing (ST-010-P1, from day 60) breaks the press unless it is serviced.
Seed 3 was not used while the module was built. First the world without maintenance gives
the breakdown day; then the same world runs with the module in the loop: the press must be
found and serviced in time, and the other orders must be services that pay for themselves
(minor stops avoided), a few a week at most.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gigaloop.factory.maintenance import MaintenanceConfig, MaintenanceModule
from gigaloop.loop.cycle import DailyCycle
from gigaloop.store import Store
from gigaloop.twin import Twin

SEED = 3
PLANT_TABLES = ("sites", "lines", "stations", "machines", "machine_readings",
                "maintenance_events", "downtime_events")


def _breakdown_day_without_maintenance(days: int = 200) -> int:
    twin = Twin.from_scenario(seed=SEED)
    for day in range(days):
        twin.step(day)
    [breakdown] = [b for b in twin.truth()["breakdowns"] if b["machine_id"] == "ST-010-P1"]
    return int(breakdown["day"])


@pytest.mark.slow(seconds=20)
def test_module_in_the_loop_prevents_the_breakdown(tmp_path: Path) -> None:
    breakdown_day = _breakdown_day_without_maintenance()
    twin, store = Twin.from_scenario(seed=SEED), Store(tmp_path)
    cycle = DailyCycle([MaintenanceModule(MaintenanceConfig(draws=100))], twin, store)
    decisions = []
    for day in range(breakdown_day + 7):
        now = twin.day_end(day)
        tables = twin.step(day)
        store.write_many({k: v for k, v in tables.items() if k in PLANT_TABLES}, ingested_at=now)
        decisions += cycle.run_day(day, now)

    orders = [d for d in decisions if d.action is not None]
    found = [d for d in orders if d.finding is not None]
    press = [d for d in found if d.action.machine_id == "ST-010-P1"]
    assert press[0].accepted and 60 < press[0].day < breakdown_day - 7  # a week or more ahead
    assert press[0].finding["names"] == {"machine": "ST-010-P1", "station": "ST-010"}
    assert len({d.action.machine_id for d in found} - {"ST-010-P1"}) <= 2  # fast wearers only
    truth = twin.truth()
    assert truth["breakdowns"] == []
    press = [r for r in truth["maintenance_resets"] if r["machine_id"] == "ST-010-P1"]
    assert press[0]["day"] < breakdown_day and press[0]["fault_id"] == "F3-press-bearing"
    # the other orders: services the stops pay for, a few a week at most, not every machine
    services = [d for d in orders if d.action.reason.startswith("condition-based service")]
    assert all(d.inputs["stop_hours_avoided_7d"] >= 1500 / 16_000 for d in services)
    assert all(d.inputs["heldout_d2"] >= 0.02 for d in services)
    weeks = (breakdown_day + 7) / 7
    assert len(orders) <= 3 * weeks and len({d.action.machine_id for d in orders}) < 20
