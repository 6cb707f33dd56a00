"""Queries read through the store: traceability both ways, findings with their evidence,
SPC alarms, maintenance orders, safety rates, predictive bookings; marketing sees
pseudonyms only."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

from api_store import CUSTOMERS, MACHINE, VINS
from fastapi.testclient import TestClient

from gigaloop.api.main import PSEUDONYM_SECRET
from gigaloop.appstate import AppState, Role


def get(client: TestClient, auth: Any, role: Role, path: str, **params: Any) -> Any:
    answer = client.get(path, headers=auth(role), params=params)
    assert answer.status_code == 200, (path, answer.text)
    return answer.json()


def test_trace_a_vehicle_back_to_what_built_it(client: TestClient, auth: Any) -> None:
    page = get(client, auth, Role.plant_engineer, f"/trace/vehicles/{VINS[0]}")
    links = {(r["kind"], r["name"]): r["value"] for r in page["rows"]}
    assert links["lot", "P-CELL"] == "LOT-1" and links["supplier", "P-CELL"] == "SUP-A"
    assert links["machine", "ST-010"] == MACHINE
    assert links["reading", "ST-010/weld_current"] == "11.0"
    assert page["total"] == len(page["rows"])
    missing = client.get("/trace/vehicles/NOPE", headers=auth(Role.plant_engineer))
    assert missing.status_code == 404 and "no vehicle 'NOPE'" in missing.json()["detail"]


def test_trace_a_lot_forward_to_every_vehicle_and_page_through(client: TestClient,
                                                               auth: Any) -> None:
    page = get(client, auth, Role.fleet_operations, "/trace/vehicles", lot="LOT-1", limit=2)
    assert page["total"] == 3 and [r["vin"] for r in page["rows"]] == VINS[:2]
    assert page["rows"][0]["customer_id"] == CUSTOMERS[0]
    assert page["rows"][0]["failures"] == 0 and page["rows"][0]["odometer_miles"] == 1000.0
    rest = get(client, auth, Role.fleet_operations, "/trace/vehicles", lot="LOT-1", offset=2)
    assert [r["vin"] for r in rest["rows"]] == VINS[2:]
    ranged = get(client, auth, Role.plant_engineer, "/trace/vehicles",
                 parameter="weld_current", value_min=11.05, value_max=11.5)
    assert [r["vin"] for r in ranged["rows"]] == VINS[1:]
    nothing = client.get("/trace/vehicles", headers=auth(Role.plant_engineer))
    assert nothing.status_code == 400 and "at least one of lot" in nothing.json()["detail"]


def test_findings_come_with_their_evidence(client: TestClient, auth: Any) -> None:
    page = get(client, auth, Role.plant_engineer, "/findings", active=True)
    (finding,) = page["rows"]
    assert finding["id"] == "F001" and finding["names"] == {"lot": "LOT-1"}
    assert finding["effect"] == 3.2 and finding["ci"] == [2.1, 4.9] and finding["q"] == 0.001
    detail = get(client, auth, Role.plant_engineer, "/findings/F001")
    assert [s["day"] for s in detail["scans"]] == [7, 14]
    assert detail["decisions"][0]["inputs"] == {"finding": "F001"}
    assert {c["id"] for c in detail["change_requests"]} == {"C001", "C002"}
    assert get(client, auth, Role.plant_engineer, "/findings", active=False)["total"] == 0
    assert client.get("/findings/F999", headers=auth(Role.plant_engineer)).status_code == 404


def test_spc_alarms_newest_first_and_filtered(client: TestClient, auth: Any) -> None:
    page = get(client, auth, Role.plant_engineer, "/plant/spc-alarms")
    assert [r["rule"] for r in page["rows"]] == ["cusum_upper", "ewma_upper"]
    since = get(client, auth, Role.plant_engineer, "/plant/spc-alarms",
                since="2025-03-01T03:00:00+00:00")
    assert [r["rule"] for r in since["rows"]] == ["cusum_upper"]
    assert get(client, auth, Role.plant_engineer, "/plant/spc-alarms",
               station="ST-020")["total"] == 0


def test_maintenance_orders_and_predictive_bookings(client: TestClient, auth: Any) -> None:
    orders = get(client, auth, Role.plant_engineer, "/plant/maintenance-orders",
                 machine=MACHINE)
    (order,) = orders["rows"]
    assert order["action"]["machine_id"] == MACHINE and order["inputs"] == {"rul_days": 4.2}
    assert get(client, auth, Role.plant_engineer, "/plant/maintenance-orders",
               machine="ST-020-M1")["total"] == 0
    bookings = get(client, auth, Role.fleet_operations, "/fleet/predictive-service/bookings",
                   component="charge_port")
    (booking,) = bookings["rows"]
    assert booking["action"]["vins"] == VINS[:2]
    assert booking["inputs"]["precision_low"] == 0.76


def test_safety_rates_have_exact_intervals(client: TestClient, auth: Any) -> None:
    answer = get(client, auth, Role.marketing_analyst, "/fleet/safety")
    assert abs(answer["reference"]["autopilot"] - 1 / 6.69) < 1e-12
    rates = answer["modes"]
    manual = rates["manual"]
    assert manual["crashes"] == 1 and manual["miles"] == 60.0
    assert manual["ci"][0] < manual["rate"] < manual["ci"][1]
    assert rates["autopilot"]["crashes"] == 0


def test_safety_by_version_and_the_rollout_stages(client: TestClient, auth: Any) -> None:
    by = get(client, auth, Role.fleet_operations, "/fleet/safety/by/week")
    manual = [r for r in by["rows"] if r["mode"] == "manual"]
    assert sum(r["crashes"] for r in manual) == 1 and sum(r["miles"] for r in manual) == 60.0
    unknown = client.get("/fleet/safety/by/colour", headers=auth(Role.fleet_operations))
    assert unknown.status_code == 422
    stages = get(client, auth, Role.plant_engineer, "/fleet/deployments")
    assert stages["total"] == 0 and stages["rows"] == []
    refused = client.get("/fleet/deployments", headers=auth(Role.marketing_analyst))
    assert refused.status_code == 403


def test_marketing_sees_pseudonyms_of_consenting_customers_only(
        client: TestClient, auth: Any, served: Path) -> None:
    answer = client.get("/customers", headers=auth(Role.marketing_analyst))
    assert answer.status_code == 200
    for raw in [*CUSTOMERS, *VINS]:
        assert raw not in answer.text
    rows = answer.json()["rows"]
    assert len(rows) == 2  # the third customer did not agree to offers
    state = AppState.beside(served / "store")
    key = state.access.secret(PSEUDONYM_SECRET).encode()
    state.close()
    expected = {"cu_" + hmac.new(key, f"cu_{c}".encode(), hashlib.sha256).hexdigest()[:20]
                for c in CUSTOMERS[:2]}
    assert {r["customer_id"] for r in rows} == expected
    assert all(r["vin"].startswith("veh_") for r in rows)
    fsd = next(r for r in rows if r["active_subscriptions"])
    assert fsd["active_subscriptions"] == ["fsd"]
    again = get(client, auth, Role.marketing_analyst, "/customers")["rows"]
    assert {r["customer_id"] for r in again} == expected  # stable pseudonyms
    ops = get(client, auth, Role.fleet_operations, "/customers")["rows"]
    assert [r["customer_id"] for r in ops] == CUSTOMERS
