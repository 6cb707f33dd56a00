"""A run with no module simulates tomorrow while today is stored: the store must hold
exactly what the twin stepped day by day writes."""

from __future__ import annotations

import pyarrow.compute as pc

from gigaloop.ingest import ingest
from gigaloop.run import RunOptions, run_job
from gigaloop.schema import TABLES
from gigaloop.store import Store
from gigaloop.twin import Twin, TwinDay

DAYS = 12


def _digest(store: Store, name: str) -> tuple[int, list]:
    table = store.to_pyarrow(store.table(name).drop("ingested_at")
                             if "ingested_at" in TABLES[name].column_names
                             else store.table(name))
    keys = [(k, "ascending") for k in TABLES[name].key]
    table = table.take(pc.sort_indices(table, sort_keys=keys)) if keys else table
    return table.num_rows, table.to_pylist()[:: max(1, table.num_rows // 50)]


def test_no_loop_run_stores_what_the_twin_stepped_day_by_day_stores(tmp_path):
    run_job(RunOptions(days=DAYS, seed=5, loop=False, out=tmp_path / "run"))
    twin, by_day = Twin.from_scenario(seed=5), Store(tmp_path / "by_day")
    for day in range(DAYS):
        ingest(TwinDay(twin, day), by_day, twin.day_end(day))
    ahead = Store(tmp_path / "run" / "store")
    compared = 0
    for name in TABLES:
        if name == "decisions" or not by_day.count(name):
            continue
        assert _digest(ahead, name) == _digest(by_day, name), name
        compared += 1
    assert compared >= 10
