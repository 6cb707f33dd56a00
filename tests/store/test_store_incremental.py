"""Reading what is new: ``ingested_between`` equals the same filter through Ibis, whether the
rows are in the in-memory tail, in Parquet, or both, after a restart, on every engine."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from sample_data import open_store

from gigaloop.store import Store

DAY0 = dt.datetime(2025, 1, 1)
SITE = [{"site_id": "S1", "name": "Fremont", "region": "CAISO", "timezone": "UTC"}]


def hour_rows(day: int) -> list[dict]:
    start = DAY0 + dt.timedelta(days=day)
    return [{"site_id": "S1", "hvac_kwh": float(day + h), "process_kwh": 1.0,
             "lighting_kwh": 0.1, "outside_temp_c": 20.0, "indoor_temp_c": 22.0,
             "tariff_usd_per_kwh": 0.1, "carbon_g_per_kwh": 300.0,
             "event_time": start + dt.timedelta(hours=h)} for h in range(24)]


def write_days(store: Store, days: range) -> None:
    for day in days:
        store.write("energy_readings", hour_rows(day),
                    ingested_at=DAY0 + dt.timedelta(days=day + 1))


def through_ibis(store: Store, after: dt.datetime | None, until: dt.datetime) -> pa.Table:
    table = store.table("energy_readings")
    keep = table.ingested_at <= until
    if after is not None:
        keep &= table.ingested_at > after
    return store.to_pyarrow(table.filter(keep).select("event_time", "hvac_kwh"))


def same(a: pa.Table, b: pa.Table) -> bool:
    key = [("event_time", "ascending")]
    return a.sort_by(key).to_pylist() == b.sort_by(key).to_pylist()


@pytest.mark.parametrize("flush_rows", [10_000, 30])  # all in the tail / mostly in Parquet
def test_new_rows_are_the_ibis_filter_wherever_they_are(tmp_path, flush_rows) -> None:
    store = Store(tmp_path, flush_rows=flush_rows)
    store.write("sites", SITE, ingested_at=DAY0)
    write_days(store, range(40))  # crosses a month: January goes to Parquet
    for after_day, until_day in [(None, 40), (5, 12), (33, 40), (39, 40), (40, 40), (10, 35)]:
        after = None if after_day is None else DAY0 + dt.timedelta(days=after_day)
        until = DAY0 + dt.timedelta(days=until_day)
        got = store.ingested_between("energy_readings", after, until, ["event_time", "hvac_kwh"])
        assert same(got, through_ibis(store, after, until)), (after_day, until_day)
    assert store.as_of(DAY0 + dt.timedelta(days=40)).ingested_since(
        "energy_readings", DAY0 + dt.timedelta(days=39)).num_rows == 24
    store.close()


def test_after_a_restart_the_files_found_are_read(tmp_path) -> None:
    store = Store(tmp_path)
    store.write("sites", SITE, ingested_at=DAY0)
    write_days(store, range(10))
    store.close()
    again = Store(tmp_path)
    write_days(again, range(10, 12))
    day = DAY0 + dt.timedelta(days=8)
    got = again.ingested_between("energy_readings", day, DAY0 + dt.timedelta(days=12))
    assert got.num_rows == 4 * 24  # days 8–11: two from the files, two from the tail
    again.close()


def test_tables_without_ingested_at_are_refused(tmp_path) -> None:
    with pytest.raises(Exception, match="read it whole"):
        Store(tmp_path).ingested_between("sites", None, DAY0)


def test_every_engine_reads_the_same_new_rows(tmp_path, engine, request) -> None:
    store = Store(tmp_path)
    store.write("sites", SITE, ingested_at=DAY0)
    write_days(store, range(12))
    store.close()
    opened = open_store(tmp_path, engine, request)
    after, until = DAY0 + dt.timedelta(days=3), DAY0 + dt.timedelta(days=9)
    got = opened.ingested_between("energy_readings", after, until, ["event_time", "hvac_kwh"])
    assert got.num_rows == 6 * 24 and same(got, through_ibis(opened, after, until))


def test_a_new_store_serves_new_rows_from_memory(tmp_path, monkeypatch) -> None:
    store = Store(tmp_path)
    store.write("sites", SITE, ingested_at=DAY0)
    write_days(store, range(3))

    def no_engine(*args, **kwargs):
        raise AssertionError("the engine was asked for rows the tail holds")

    monkeypatch.setattr(store._engine, "ingested_between", no_engine)
    got = store.ingested_between("energy_readings", DAY0 + dt.timedelta(days=2),
                                 DAY0 + dt.timedelta(days=3))
    assert got.num_rows == 24 and got.schema.names[0] == "site_id"
