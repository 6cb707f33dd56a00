"""Whole-table sums kept per file, and files written in key order."""

from __future__ import annotations

import datetime as dt

import pyarrow.parquet as pq
import pytest
from sample_data import LOADED, fleet, load

from gigaloop.fleet.safety import crash_counts_and_miles, crash_rates
from gigaloop.schema import get_table
from gigaloop.store import Store
from gigaloop.store.layout import ROW_GROUP_ROWS

MILES = ["miles", "autopilot_miles"]


def by_query(store, name: str = "telemetry_daily") -> dict[str, float]:
    table = store.table(name)
    sums = store.execute(table.aggregate(**{c: table[c].sum() for c in MILES}))
    return {c: float(sums[c].iloc[0]) for c in MILES}


def test_totals_equal_the_query_through_flushes_compactions_and_the_tail(tmp_path) -> None:
    store = Store(tmp_path, compact_after=3)
    load(store)
    expected = by_query(store)
    assert store.totals("telemetry_daily", MILES) == pytest.approx(expected)  # tail only
    for week in range(1, 6):  # a file a week (flushed), compacted past three files
        day = dt.date(2024, 3, 1) + dt.timedelta(weeks=week)
        store.write("telemetry_daily", fleet(1, day)["telemetry_daily"],
                    ingested_at=LOADED + dt.timedelta(weeks=week))
        store.flush("telemetry_daily")
        assert store.totals("telemetry_daily", MILES) == pytest.approx(by_query(store))
    store.close()
    reopened = Store(tmp_path)
    assert reopened.totals("telemetry_daily", MILES) == pytest.approx(by_query(reopened))


def test_totals_read_each_file_once(tmp_path) -> None:
    store = Store(tmp_path)
    load(store)
    store.flush()
    store.totals("telemetry_daily", MILES)
    sums = store._file_sums["telemetry_daily"]
    first = sums.files_read
    assert first == len(store._layout.files("telemetry_daily")) >= 1
    store.totals("telemetry_daily", MILES)
    assert sums.files_read == first  # nothing new: nothing read
    store.write("telemetry_daily", fleet(1, dt.date(2024, 4, 1))["telemetry_daily"],
                ingested_at=LOADED + dt.timedelta(days=40))
    store.flush()
    store.totals("telemetry_daily", MILES)
    assert sums.files_read == first + 1  # only the new file


def test_a_view_totals_only_what_was_ingested_by_its_cutoff(tmp_path) -> None:
    store = Store(tmp_path)
    load(store)
    before = store.totals("telemetry_daily", MILES)
    store.write("telemetry_daily", fleet(1, dt.date(2024, 4, 1))["telemetry_daily"],
                ingested_at=LOADED + dt.timedelta(days=40))
    assert store.as_of(LOADED).totals("telemetry_daily", MILES) == pytest.approx(before)
    assert store.totals("telemetry_daily", MILES)["miles"] > before["miles"]


def test_crash_rates_agree_with_the_single_query(tmp_path) -> None:
    store = Store(tmp_path)
    load(store)
    rates = crash_rates(store)
    rows = store.execute(crash_counts_and_miles(store)).set_index("mode")
    for mode, rate in rates.items():
        assert rate["crashes"] == rows.crashes[mode]
        assert rate["miles"] == pytest.approx(rows.miles[mode])


def test_files_are_written_in_key_order_in_small_row_groups(tmp_path) -> None:
    store = Store(tmp_path)
    load(store)
    store.flush()
    key = get_table("telemetry_daily").key
    for path in store._layout.files("telemetry_daily"):
        rows = pq.read_table(path, columns=list(key)).to_pylist()
        keys = [tuple(r[k] for k in key) for r in rows]
        assert keys == sorted(keys)
        meta = pq.ParquetFile(path).metadata
        assert all(meta.row_group(i).num_rows <= ROW_GROUP_ROWS
                   for i in range(meta.num_row_groups))
