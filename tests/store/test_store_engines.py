"""Every engine: same schemas, fresh views after writes, foreign errors translated."""

from __future__ import annotations

import datetime as dt
import sys

import pyarrow as pa
import pytest
from sample_data import LOADED, load, open_store, sample_batches, telemetry_row

from gigaloop.errors import ConfigError, EngineError, MissingExtraError
from gigaloop.schema import TABLES, get_table
from gigaloop.store import Store, ibis_schema
from gigaloop.store.layout import Layout

LATER = dt.datetime(2024, 3, 3)


@pytest.fixture
def store(tmp_path, engine, request) -> Store:
    store = open_store(tmp_path, engine, request)
    load(store)
    return store


def test_every_table_has_the_declared_types_empty_or_not(tmp_path, engine, request) -> None:
    store = open_store(tmp_path, engine, request)
    for name, spec in TABLES.items():
        assert store.table(name).schema() == ibis_schema(spec), name
    load(store)
    for name in sample_batches():
        assert store.table(name).schema() == ibis_schema(get_table(name)), name
    arrow = store.to_pyarrow(store.table("telemetry_daily")).schema
    expected = get_table("telemetry_daily").arrow_schema()
    assert arrow == pa.schema([f.with_nullable(True) for f in expected])


def test_views_follow_writes_and_compaction(store: Store) -> None:
    days = store.table("telemetry_daily")
    assert store.execute(days.count()) == 60
    store.write("telemetry_daily", [telemetry_row(0, dt.date(2024, 3, 2))], ingested_at=LATER)
    store.write("telemetry_daily", [telemetry_row(1, dt.date(2024, 3, 2))], ingested_at=LATER)
    assert store.execute(days.count()) == 62
    store.compact()
    assert len(Layout(store.root).files("telemetry_daily", ["2024-03"])) == 1
    assert store.execute(days.count()) == 62
    assert store.as_of(LOADED).count("telemetry_daily") == 60


def test_query_errors_become_engine_errors(store: Store) -> None:
    vins = store.table("vehicles").vin.cast("int64").sum()  # VINs are not numbers
    with pytest.raises(EngineError) as raised:
        store.execute(vins)
    assert isinstance(raised.value.__cause__, store._engine.errors)
    assert raised.value.context == {"engine": store.engine}


def test_a_corrupt_file_is_an_engine_error(store: Store) -> None:
    store.flush()
    Layout(store.root).files("vehicles")[0].write_bytes(b"PAR1 not really parquet")
    with pytest.raises(EngineError) as raised:
        store.count("vehicles")
    assert isinstance(raised.value.__cause__, store._engine.errors)


def test_the_internal_key_lookups_translate_duckdb_errors(tmp_path) -> None:
    import duckdb

    store = Store(tmp_path)
    load(store)
    store.flush()
    Layout(store.root).files("lines")[0].write_bytes(b"PAR1 not really parquet")
    resent = sample_batches()["lines"][:1]  # a stored key: its row is compared with the file
    new = [{"line_id": "X", "site_id": "FRE", "name": "x"}]  # a reopened store reads the keys
    with pytest.raises(EngineError) as raised:
        store.write("lines", resent, ingested_at=LATER)
    assert isinstance(raised.value.__cause__, duckdb.Error)
    store._lock.close()  # the first store is gone: the next one takes the lock
    with pytest.raises(EngineError) as raised:
        Store(tmp_path).write("lines", new, ingested_at=LATER)
    assert isinstance(raised.value.__cause__, duckdb.Error)


def test_spark_without_the_extra_names_the_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'gigaloop\[spark\]'"):
        Store(tmp_path, engine="spark")


def test_an_unknown_engine_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown engine"):
        Store(tmp_path, engine="sqlite")  # type: ignore[arg-type]
