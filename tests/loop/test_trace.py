"""Traceability both ways, on DuckDB and Spark, checked against hand counts."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from gigaloop.loop.trace import page_of_vehicles_touched, vehicle_trace, vehicles_touched
from gigaloop.store import Store
from gigaloop.twin import Twin

DAYS = 25


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("trace")
    twin = Twin.from_scenario(seed=5)
    store = Store(root)
    for day in range(DAYS):
        store.write_many(twin.step(day), ingested_at=twin.day_end(day))
    store.close()
    return root


@pytest.fixture
def store(store_root, engine, request):
    kwargs = {"spark": request.getfixturevalue("spark")} if engine == "spark" else {}
    opened = Store(store_root, engine=engine, **kwargs)
    yield opened
    opened.close()


def test_a_vehicle_traces_back_to_its_lots_machines_and_readings(store):
    vin = store.execute(store.table("vehicles").vin.min())
    trace = store.execute(vehicle_trace(store, vin))
    kinds = set(trace["kind"])
    assert {"lot", "supplier", "machine", "shift", "reading", "hardware_revision"} <= kinds
    readings = store.execute(store.table("process_readings").filter(
        lambda t: t.vin == vin).count())
    assert (trace["kind"] == "reading").sum() == readings


def test_a_lot_and_a_drift_window_trace_forward_to_the_vehicles_and_where_they_are(store):
    lots = store.table("vehicle_lots")
    lot = store.execute(lots.lot_id.min())
    touched = store.execute(vehicles_touched(store, lot=lot))
    expected = store.execute(lots.filter(lots.lot_id == lot).vin.nunique())
    assert len(touched) == expected > 0
    assert {"region", "climate_region", "odometer_miles", "failures", "campaigns"} <= set(
        touched.columns)
    window = store.execute(vehicles_touched(
        store, station="BW-030", machine="BW-030-R2", built_from=datetime(2025, 1, 10).date(),
        built_to=datetime(2025, 1, 14).date(), parameter="weld_current",
        value_range=(0.0, 100.0)))
    assert len(window) > 0
    assert window["build_date"].between(datetime(2025, 1, 10).date(),
                                        datetime(2025, 1, 14).date()).all()


def test_a_page_of_vehicles_touched_is_that_slice_of_them_all(store):
    lots = store.table("vehicle_lots")
    lot = store.execute(lots.lot_id.min())
    everything = store.execute(vehicles_touched(store, lot=lot))
    total, page = page_of_vehicles_touched(store, lot=lot, limit=7, offset=3)
    assert total == len(everything) > 10
    expected = everything.iloc[3:10].reset_index(drop=True)
    got = page.to_pandas()[list(everything.columns)]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert page_of_vehicles_touched(store, lot=lot, limit=5, offset=10**6)[1].num_rows == 0
    window = {"station": "BW-030", "machine": "BW-030-R2", "parameter": "weld_current",
              "value_range": (0.0, 100.0)}
    for criteria in (window, {**window, "built_from": datetime(2025, 1, 10).date()}):
        whole = store.execute(vehicles_touched(store, **criteria))
        assert page_of_vehicles_touched(store, **criteria, limit=3)[0] == len(whole) > 0
