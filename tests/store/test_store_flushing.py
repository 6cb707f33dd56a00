"""Flushes in the background: rows read once meanwhile, none lost to a crash or a failure."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sample_data import load, telemetry_row

from gigaloop.store import Store
from gigaloop.store.layout import Layout

LATER = dt.datetime(2024, 4, 3)
APRIL = dt.date(2024, 4, 2)


def test_rows_being_flushed_are_read_once_and_survive_a_crash(tmp_path, monkeypatch) -> None:
    store = Store(tmp_path)
    load(store)
    release, stage = threading.Event(), Layout.stage

    def slow_stage(self, table, rows, stem=None):
        release.wait(30)
        return stage(self, table, rows, stem)

    monkeypatch.setattr(Layout, "stage", slow_stage)
    store.write("telemetry_daily", [telemetry_row(0, APRIL)], ingested_at=LATER)  # seals March
    store.write("telemetry_daily", [telemetry_row(1, APRIL)], ingested_at=LATER)

    assert store.count("telemetry_daily") == 62
    assert store.ingested_between("telemetry_daily", None, LATER).num_rows == 62
    assert (
        store.write(
            "telemetry_daily", [telemetry_row(2, dt.date(2024, 2, 27))], ingested_at=LATER
        ).unchanged
        == 1
    )  # the sealed rows are still known
    assert len(list((tmp_path / "telemetry_daily" / "_wal").glob("*.arrows"))) == 2
    store._lock.close()  # the writer dies before its files are in place
    monkeypatch.undo()

    reopened = Store(tmp_path)
    assert reopened.count("telemetry_daily") == 62
    assert not list(tmp_path.rglob("*.arrows"))
    release.set()
    store._flusher.close()


def test_a_failed_background_flush_is_retried_and_loses_nothing(tmp_path, monkeypatch) -> None:
    store = Store(tmp_path)
    load(store)
    write_file = Layout._write_file

    def disk_full(self, final, part):
        raise OSError("disk full")

    monkeypatch.setattr(Layout, "_write_file", disk_full)
    store.write("telemetry_daily", [telemetry_row(0, APRIL)], ingested_at=LATER)
    with pytest.raises(OSError, match="disk full"):
        store.flush("telemetry_daily")
    assert store.count("telemetry_daily") == 61
    assert not Layout(tmp_path).files("telemetry_daily")

    monkeypatch.setattr(Layout, "_write_file", write_file)
    store.close()
    reopened = Store(tmp_path)
    assert reopened.count("telemetry_daily") == 61
    months = [path.parent.name for path in Layout(tmp_path).files("telemetry_daily")]
    assert months == ["2024-02", "2024-03", "2024-04"]  # one file each: nothing twice
