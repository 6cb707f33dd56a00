"""Root cause's record of campaign visits: read incrementally from the store, the same as
one read of everything."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from gigaloop.loop.state import CampaignVisits
from gigaloop.store import Store

DAY = datetime(2025, 3, 1, 6)


def visit(n: int, vin: str, campaign: str | None, day: int) -> dict:
    return {"visit_id": f"V{n}", "vin": vin, "reason": "campaign" if campaign else "repair",
            "campaign_id": campaign, "component": "camera", "cost_usd": 100.0,
            "part_condition": None, "event_time": DAY + timedelta(days=day)}


def test_visits_read_day_by_day_give_each_vehicle_s_first_campaign_visit(tmp_path: Path):
    store = Store(tmp_path / "store")
    before = DAY - timedelta(days=10)
    for table, rows in (
            ("sites", [{"site_id": "TX1", "name": "Texas", "region": "ERCOT", "timezone": "UTC"}]),
            ("lines", [{"line_id": "L1", "site_id": "TX1", "name": "line"}]),
            ("vehicles", [{"vin": vin, "build_date": before.date(), "site_id": "TX1",
                           "line_id": "L1", "shift": "A", "model": "GL-Y", "trim": "RWD",
                           "hardware_revision": "HW-1", "design_revision": "D1",
                           "event_time": before} for vin in "ABC"])):
        assert store.write(table, rows, ingested_at=before).written == len(rows)
    batches = [[visit(1, "A", "C1", 0), visit(2, "B", None, 0)],
               [visit(3, "A", "C1", -1), visit(4, "B", "C1", 1), visit(5, "C", "C2", 1)],
               [visit(1, "A", "C1", 0)]]  # re-sent: changes nothing
    daily = CampaignVisits()
    for day, rows in enumerate(batches):
        now = DAY + timedelta(days=day)
        store.write("service_visits", rows, ingested_at=now)
        daily.read(store.as_of(now), now)
    once = CampaignVisits()
    once.read(store.as_of(now), now)
    for visits in (daily, once):
        first = visits.first_by_vin({"C1": "F001"})
        assert list(first) == ["F001"]
        assert {v: str(d)[:10] for v, d in first["F001"].items()} == {
            "A": "2025-02-28", "B": "2025-03-02"}
    assert len(daily.rows) == len(once.rows) == 4
    assert daily.first_by_vin({}) == {}
