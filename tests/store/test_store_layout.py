"""Compaction: one file per partition, and a crash half-way is finished on reopen."""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pytest
from sample_data import load, telemetry_row

from gigaloop.errors import StoreError
from gigaloop.schema import get_table
from gigaloop.store import Store
from gigaloop.store import layout as layout_module
from gigaloop.store.layout import MANIFEST, Layout


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "store")
    load(store)
    store.flush()
    for k in range(3):  # three more files in March
        day = dt.date(2024, 3, 2 + k)
        store.write(
            "telemetry_daily",
            [telemetry_row(i, day) for i in range(4)],
            ingested_at=dt.datetime(2024, 3, 3 + k),
        )
        store.flush("telemetry_daily")
    return store


def snapshot(store: Store) -> pd.DataFrame:
    data = store.execute(store.table("telemetry_daily"))
    return data.sort_values(["vin", "day"]).reset_index(drop=True)


def test_compact_merges_each_partition_into_one_file(store: Store) -> None:
    layout = Layout(store.root)
    before = snapshot(store)
    assert len(layout.files("telemetry_daily", ["2024-03"])) == 4

    store.compact("telemetry_daily")

    assert [len(layout.files("telemetry_daily", [p])) for p in ("2024-02", "2024-03")] == [1, 1]
    pd.testing.assert_frame_equal(snapshot(store), before)
    assert (
        store.write(
            "telemetry_daily",
            [telemetry_row(0, dt.date(2024, 3, 2))],
            ingested_at=dt.datetime(2024, 4, 1),
        ).unchanged
        == 1
    )


def test_a_crash_after_the_swap_is_finished_on_reopen(store, monkeypatch) -> None:
    before = snapshot(store)
    monkeypatch.setattr(layout_module, "_finish_compaction", _raise)
    with pytest.raises(StoreError, match="could not compact telemetry_daily/2024-03: killed"):
        store.compact("telemetry_daily")
    monkeypatch.undo()
    march = store.root / "telemetry_daily" / "2024-03"
    assert (march / MANIFEST).exists() and len(list(march.glob("part-*"))) == 5
    assert len(Layout(store.root).files("telemetry_daily", ["2024-03"])) == 1  # old ones hidden

    store._lock.close()  # the writer dies: its lock goes, the half-done swap stays
    reopened = Store(store.root)

    assert not (march / MANIFEST).exists() and len(list(march.glob("part-*"))) == 1
    pd.testing.assert_frame_equal(snapshot(reopened), before)


def test_a_crash_before_the_swap_leaves_the_old_files(store, monkeypatch) -> None:
    before = snapshot(store)
    replace = os.replace

    def crash_on_data_swap(src, dst):
        if str(dst).endswith(".parquet"):
            raise OSError("killed")
        replace(src, dst)

    monkeypatch.setattr(layout_module.os, "replace", crash_on_data_swap)
    with pytest.raises(StoreError, match="could not compact telemetry_daily/2024-03: killed"):
        store.compact("telemetry_daily")
    monkeypatch.undo()

    store._lock.close()  # the writer dies
    reopened = Store(store.root)

    assert not list(reopened.root.rglob(MANIFEST)) and not list(reopened.root.rglob("*.tmp"))
    assert len(Layout(store.root).files("telemetry_daily", ["2024-03"])) == 4
    pd.testing.assert_frame_equal(snapshot(reopened), before)


def test_settled_months_and_crowded_partitions_are_compacted_as_writes_go(tmp_path) -> None:
    store = Store(tmp_path, compact_after=3)
    load(store)
    store.flush()
    layout = Layout(store.root)
    for k in range(3):  # with the file load() wrote: 4 files
        day = dt.date(2024, 3, 2 + k)
        store.write("telemetry_daily", [telemetry_row(0, day)], ingested_at=dt.datetime(2024, 4, 1))
        store.flush("telemetry_daily")
    assert len(layout.files("telemetry_daily", ["2024-03"])) == 1  # 4 files > 3: merged
    store.write(
        "telemetry_daily",
        [telemetry_row(0, dt.date(2024, 3, 9))],
        ingested_at=dt.datetime(2024, 4, 1),
    )
    store.flush("telemetry_daily")
    assert len(layout.files("telemetry_daily", ["2024-03"])) == 2
    store.write(
        "telemetry_daily",
        [telemetry_row(0, dt.date(2024, 4, 1))],
        ingested_at=dt.datetime(2024, 4, 2),
    )
    assert len(layout.files("telemetry_daily", ["2024-04"])) == 0  # logged, not yet flushed
    store.flush("telemetry_daily")
    assert len(layout.files("telemetry_daily", ["2024-03"])) == 1  # a later month was written
    assert store.count("telemetry_daily") == 65


def _raise(folder) -> None:
    raise OSError("killed")


def test_a_background_merge_swaps_out_only_the_files_it_merged(tmp_path) -> None:
    """A file written to the partition while its merge runs stays beside the merged one."""
    store = Store(tmp_path, compact_after=None)
    load(store)
    for k in range(3):
        day = dt.date(2024, 3, 2 + k)
        store.write("telemetry_daily", [telemetry_row(0, day)], ingested_at=dt.datetime(2024, 4, 1))
        store.flush("telemetry_daily")
    layout = store._layout
    spec = get_table("telemetry_daily")
    merging = list(layout.files("telemetry_daily", ["2024-03"]))
    merged = layout.merge(spec, "2024-03", merging)  # what the worker thread does
    store.write("telemetry_daily", [telemetry_row(1, dt.date(2024, 3, 9))],
                ingested_at=dt.datetime(2024, 4, 2))
    store.flush("telemetry_daily")
    before = snapshot(store)

    layout.swap_in(spec, "2024-03", merging, merged)  # what the writer's thread does

    files = layout.files("telemetry_daily", ["2024-03"])
    assert len(files) == 2 and merged[1] in files and not any(f in files for f in merging)
    assert not any(f.exists() for f in merging)
    store._engine.written(spec, layout)
    pd.testing.assert_frame_equal(snapshot(store), before)


def test_a_store_opened_beside_a_live_writer_leaves_its_work_in_progress(store) -> None:
    """A second store on the root (a dashboard, a notebook, `gigaloop` reading a running
    job's folder) must not take the writer's files in flight for a crash's leftovers."""
    march = store.root / "telemetry_daily" / "2024-03"
    in_flight = march / ".part-being-written.parquet.tmp"
    in_flight.write_bytes(b"the writer is writing this")
    swap = march / MANIFEST
    swap.write_text('{"into": "part-new.parquet", "replaces": []}', encoding="utf-8")
    before = snapshot(store)

    reader = Store(store.root)

    assert in_flight.exists() and swap.exists()
    pd.testing.assert_frame_equal(snapshot(reader), before)  # what the writer flushed
    in_flight.unlink()
    swap.unlink()
    store.write("telemetry_daily", [telemetry_row(9, dt.date(2024, 3, 9))],
                ingested_at=dt.datetime(2024, 3, 10))
    store.close()
    assert len(snapshot(Store(store.root))) == len(before) + 1


def test_a_second_store_refuses_to_write_while_the_writer_lives(store) -> None:
    second = Store(store.root)
    before = len(snapshot(store))
    with pytest.raises(StoreError, match=r"being written by another store.*once it is closed"):
        second.write("telemetry_daily", [telemetry_row(9, dt.date(2024, 3, 9))],
                     ingested_at=dt.datetime(2024, 3, 10))
    with pytest.raises(StoreError, match="cannot compact"):
        second.compact("telemetry_daily")
    assert len(snapshot(second)) == len(snapshot(store)) == before
