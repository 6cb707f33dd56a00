"""The API's read latency over a real run's store: p50 and p99 of the main dashboard queries.

Point it at a run folder (e.g. ``gigaloop run --fleet 1000000 --days 30 --out DIR`` for a
million vehicles). It opens the app in-process (FastAPI's TestClient: the service's own
cost, no network), issues a token per role, and times each route ``--repeats`` times after
one warm-up call. One JSON line per route and figure; each carries its ratio to the
authenticated ``/me`` request timed in the same process (the cost of the route itself over
that of the token check). The vehicles in the store are printed first.

    .venv/bin/python bench/bench_api_queries.py --run DIR [--repeats 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from gigaloop.api import create_app, load_settings
from gigaloop.appstate import AppState, Role, store_root
from gigaloop.store import Store


def routes(store: Store) -> list[tuple[str, str, Role]]:
    """(name, path, role) of the queries a dashboard makes; a VIN and a lot from the store."""
    vehicle_lots = store.table("vehicle_lots")
    first = store.execute(vehicle_lots.limit(1)).iloc[0]
    return [
        ("me", "/me", Role.plant_engineer),
        ("findings", "/findings", Role.plant_engineer),
        ("change_requests", "/change-requests", Role.plant_engineer),
        ("spc_alarms", "/plant/spc-alarms", Role.plant_engineer),
        ("maintenance_orders", "/plant/maintenance-orders", Role.plant_engineer),
        ("fleet_safety", "/fleet/safety", Role.fleet_operations),
        ("bookings", "/fleet/predictive-service/bookings", Role.fleet_operations),
        ("trace_vehicle", f"/trace/vehicles/{first.vin}", Role.plant_engineer),
        ("trace_lot", f"/trace/vehicles?lot={first.lot_id}&limit=100", Role.plant_engineer),
        ("dashboard_loop", "/dashboard/loop", Role.plant_engineer),
        ("dashboard_fleet", "/dashboard/fleet", Role.fleet_operations),
    ]


def main() -> None:
    from fastapi.testclient import TestClient

    parser = argparse.ArgumentParser()
    parser.add_argument("--run", type=Path, required=True, help="run folder (with store/)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    root = store_root(args.run)
    store = Store(root)  # reads the queries' arguments, then lets the app own the store
    try:
        vehicles = store.count("vehicles")
        asked = routes(store)
    finally:
        store.close()
    print(json.dumps({"figure": "vehicles_in_store", "value": vehicles}))
    state = AppState.beside(root)
    tokens = {role: state.access.issue_token(f"bench-{role.value}", role, create_user=True).token
              for role in {role for _, _, role in asked}}
    state.close()
    median_me = None
    quiet = load_settings(decide_every_s=0)  # no decision cycle beside the timed calls
    with TestClient(create_app(args.run, settings=quiet)) as client:
        for name, path, role in asked:
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            if path.startswith("/dashboard"):
                headers["Accept"] = "text/html"
            answer = client.get(path, headers=headers)  # warm-up: views, caches
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                client.get(path, headers=headers)
                times.append(1000 * (time.perf_counter() - started))
            p50, p99 = statistics.median(times), float(np.percentile(times, 99))
            median_me = p50 if name == "me" else median_me
            print(json.dumps({"figure": "query_ms", "route": name, "p50": round(p50, 1),
                              "p99": round(p99, 1), "bytes": len(answer.content),
                              "p50_over_me": round(p50 / median_me, 1) if median_me else None}))


if __name__ == "__main__":
    main()
