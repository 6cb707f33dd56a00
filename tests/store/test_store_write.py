"""Writes: validation, quarantine, idempotence, crash safety, layout."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from sample_data import LOADED, VINS, load, sample_batches, telemetry_row

from gigaloop.errors import SchemaError, StoreError
from gigaloop.store import Store
from gigaloop.store.layout import Layout
from gigaloop.store.wal import TableLog

DAY = dt.date(2024, 3, 2)
LATER = dt.datetime(2024, 3, 3)


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "store")
    load(store)
    return store


def frame(store: Store, name: str) -> pd.DataFrame:
    data = store.execute(store.table(name))
    return data.sort_values(list(data.columns)).reset_index(drop=True)


def bad_batch() -> list[dict]:
    """Two good rows and one row for each way a telemetry row can be wrong."""
    good = [telemetry_row(0, DAY), telemetry_row(1, DAY)]
    return [
        *good,
        telemetry_row(2, DAY, miles="abc"),  # wrong type
        telemetry_row(3, DAY, vin=None),  # missing key
        telemetry_row(4, DAY, miles=-3.0),  # negative miles
        telemetry_row(5, DAY, vin="5YJ3E1EA0PFXXXXXX"),  # unknown VIN
        telemetry_row(0, DAY, miles=99.0),  # duplicate key in batch
        telemetry_row(6, dt.date(2024, 2, 27), miles=1.0),  # conflicts with stored row
        telemetry_row(7, DAY, climate_region="arctic", battery_soh=1.5),  # two reasons
    ]


def test_sample_batches_are_written_whole(store: Store) -> None:
    counts = {name: store.count(name) for name in sample_batches()}
    assert counts == {name: len(rows) for name, rows in sample_batches().items()}
    assert store.count("quarantine") == 0


def test_the_same_row_twice_in_a_batch_changes_nothing(store: Store) -> None:
    """A message delivered twice into one batch (a broker's redelivery) adds its rows once,
    the copies unchanged; a copy of a row that conflicts with a stored one conflicts too."""
    fresh = [telemetry_row(0, DAY), telemetry_row(1, DAY)]
    result = store.write("telemetry_daily", [*fresh, *fresh], ingested_at=LATER)
    assert (result.written, result.unchanged, result.quarantined) == (2, 2, 0)
    clash = telemetry_row(6, dt.date(2024, 2, 27), miles=1.0)  # stored with other values
    result = store.write("telemetry_daily", [clash, clash], ingested_at=LATER)
    assert result.reasons == {"conflicts with stored row": 2}


def test_every_invalid_row_is_quarantined_with_its_reason(store: Store) -> None:
    before = store.count("telemetry_daily")
    result = store.write("telemetry_daily", bad_batch(), ingested_at=LATER, source="test")

    assert (result.received, result.written, result.unchanged, result.quarantined) == (9, 2, 0, 7)
    assert result.reasons == {
        "miles: not a float64": 1,
        "vin: missing": 1,
        "miles: below min 0": 1,
        "vin: unknown vehicles.vin": 1,
        "duplicate key in batch": 1,
        "conflicts with stored row": 1,
        "climate_region: not one of hot, temperate, cold": 1,
        "battery_soh: above max 1.2": 1,
    }
    quarantine = store.execute(store.quarantine())
    assert len(quarantine) == 7
    assert set(quarantine.table_name) == {"telemetry_daily"} and set(quarantine.source) == {"test"}
    assert "climate_region: not one of hot, temperate, cold; battery_soh: above max 1.2" in set(
        quarantine.reason
    )
    as_received = [json.loads(text) for text in quarantine.row_json]
    assert {"abc", "-3.0", "99.0", "1.0"} <= {row["miles"] for row in as_received}  # mixed: text
    assert (quarantine.event_time == LATER).all()

    days = store.execute(store.table("telemetry_daily"))
    assert len(days) == before + 2
    new = days[days.day == DAY].sort_values("vin")
    assert new.vin.tolist() == VINS[:2]
    assert new.miles.tolist() == [telemetry_row(i, DAY)["miles"] for i in (0, 1)]
    assert (new.ingested_at == LATER).all()


def test_same_batch_twice_changes_nothing(store: Store) -> None:
    first = store.write("telemetry_daily", bad_batch(), ingested_at=LATER)
    tables, quarantine = frame(store, "telemetry_daily"), frame(store, "quarantine")

    again = store.write("telemetry_daily", bad_batch(), ingested_at=LATER + dt.timedelta(days=1))

    assert (again.written, again.unchanged, again.quarantined) == (0, first.written, 7)
    pd.testing.assert_frame_equal(frame(store, "telemetry_daily"), tables)
    pd.testing.assert_frame_equal(frame(store, "quarantine"), quarantine)
    whole = store.write_many(sample_batches(), ingested_at=LATER)
    assert all(r.written == 0 and r.quarantined == 0 for r in whole.values())


def test_a_failed_log_write_keeps_quarantine_and_a_resend_repairs_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    append = TableLog.append

    def crash_on_data(self: TableLog, rows, newest="", stamp=None):  # disk full after quarantine
        if "table_name" not in rows.column_names:
            raise StoreError("disk full")
        return append(self, rows, newest, stamp)

    monkeypatch.setattr(TableLog, "append", crash_on_data)
    with pytest.raises(StoreError):
        store.write("telemetry_daily", bad_batch(), ingested_at=LATER)
    assert store.count("quarantine") == 7
    monkeypatch.undo()

    resent = store.write("telemetry_daily", bad_batch(), ingested_at=LATER)

    assert (resent.written, resent.quarantined) == (2, 7)
    assert store.count("quarantine") == 7
    assert frame(store, "telemetry_daily").query("day == @DAY").vin.tolist() == VINS[:2]


CHILD = """
import datetime as dt, sys
sys.path.insert(0, sys.argv[2])
from sample_data import load, telemetry_row
from gigaloop.store import Store
store = Store(sys.argv[1])
load(store)
print("loaded", flush=True)
for k in range(10_000):
    day = dt.date(2024, 3, 1) + dt.timedelta(days=k % 28)
    row = telemetry_row(k // 28 % 10, day, miles=float(k))
    result = store.write("telemetry_daily", [row], ingested_at=dt.datetime(2024, 4, 1))
    print(k if result.written else -1, flush=True)
"""


def test_a_killed_writer_loses_no_acknowledged_row(tmp_path) -> None:
    folder = str(Path(__file__).parent)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), folder], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline() == "loaded\n"
    acknowledged = [int(child.stdout.readline()) for _ in range(40)]
    acknowledged = [k for k in acknowledged if k >= 0]  # the others conflict with load()
    assert len(acknowledged) > 20
    child.send_signal(signal.SIGKILL)  # mid-write, with nothing flushed or closed
    child.wait()

    store = Store(tmp_path)
    got = frame(store, "telemetry_daily").query("day >= @dt.date(2024, 3, 1)")
    assert not list(tmp_path.rglob("*.arrows"))  # every log replayed into Parquet
    assert set(acknowledged) <= set(got.miles.astype(int))
    assert len(got) >= len(acknowledged) and store.count("vehicles") == len(VINS)


def test_a_torn_log_tail_is_dropped_and_the_rest_replayed(tmp_path) -> None:
    store = Store(tmp_path)
    load(store)
    store.write("telemetry_daily", [telemetry_row(0, DAY)], ingested_at=LATER)
    (log,) = (tmp_path / "telemetry_daily" / "_wal").glob("*.arrows")
    whole = log.read_bytes()
    store._lock.close()  # the writer dies: its lock goes, its log stays
    with log.open("ab") as torn:  # half of a second message, as a crash mid-write leaves it
        torn.write(whole[len(whole) // 2 :])

    reopened = Store(tmp_path)

    assert reopened.count("telemetry_daily") == 61
    assert frame(reopened, "telemetry_daily").query("day == @DAY").vin.tolist() == VINS[:1]


def test_unflushed_rows_are_read_and_a_resend_after_the_flush_is_unchanged(store: Store) -> None:
    rows = [telemetry_row(i, DAY) for i in range(3)]
    store.write("telemetry_daily", rows, ingested_at=LATER)
    assert store.count("telemetry_daily") == 63
    store.flush()
    assert len(Layout(store.root).files("telemetry_daily", ["2024-03"])) >= 1
    assert store.count("telemetry_daily") == 63
    again = store.write("telemetry_daily", rows, ingested_at=LATER)
    assert (again.written, again.unchanged, again.quarantined) == (0, 3, 0)


def test_references_resolve_within_one_write_many(tmp_path) -> None:
    store = Store(tmp_path)
    batches = sample_batches()
    batches["telemetry_daily"].append(telemetry_row(0, DAY, vin="NEWVIN0000000001"))
    batches["vehicles"].append({**batches["vehicles"][0], "vin": "NEWVIN0000000001"})

    results = store.write_many(dict(reversed(batches.items())), ingested_at=LATER)

    order = list(results)
    assert order.index("vehicles") < order.index("telemetry_daily")
    assert all(r.quarantined == 0 for r in results.values())
    assert results["telemetry_daily"].written == len(batches["telemetry_daily"])


def test_text_values_are_cast_and_timestamps_made_utc(store: Store) -> None:
    row = {k: None if v is None else str(v) for k, v in telemetry_row(8, DAY).items()}
    row["event_time"] = "2024-03-02T23:00:00+02:00"
    row["fcw_count"] = "2.0"

    result = store.write("telemetry_daily", [row], ingested_at=LATER)

    assert result.written == 1, result.reasons
    stored = frame(store, "telemetry_daily").query("day == @DAY").iloc[0]
    assert stored.event_time == pd.Timestamp("2024-03-02 21:00:00")
    assert stored.fcw_count == 2 and stored.miles == telemetry_row(8, DAY)["miles"]
    fractional = store.write(
        "telemetry_daily", [{**row, "vin": VINS[9], "fcw_count": "2.5"}], ingested_at=LATER
    )
    assert fractional.reasons == {"fcw_count: not a int64": 1}


def test_arrow_and_pandas_batches_are_accepted(store: Store) -> None:
    rows = [telemetry_row(i, DAY) for i in range(3)]
    assert store.write("telemetry_daily", pd.DataFrame(rows[:2]), ingested_at=LATER).written == 2
    table = pa.Table.from_pylist(rows[2:])
    aware = dt.datetime(2024, 3, 3, 1, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert store.write("telemetry_daily", table, ingested_at=aware).written == 1
    assert frame(store, "telemetry_daily").ingested_at.max() == pd.Timestamp("2024-03-03 00:00")


@pytest.mark.parametrize(
    ("name", "rows", "message"),
    [
        ("telemetry_weekly", [{"vin": "x"}], "unknown table"),
        (
            "sites",
            [{"site_id": "S", "name": "n", "region": "r", "timezone": "t", "x": 1}],
            "unknown columns ['x']",
        ),
        ("sites", [{"site_id": "S", "name": "n", "region": "r"}], "required columns ['timezone']"),
        (
            "telemetry_daily",
            [{k: v for k, v in telemetry_row(0, DAY).items() if k != "event_time"}],
            "required columns ['event_time']",
        ),
    ],
)
def test_a_batch_that_does_not_fit_the_table_is_refused(store, name, rows, message) -> None:
    with pytest.raises(SchemaError, match=message.replace("[", r"\[").replace("]", r"\]")):
        store.write(name, rows, ingested_at=LATER)


def test_an_empty_batch_writes_nothing(store: Store) -> None:
    for rows in ([], pd.DataFrame()):
        result = store.write("crashes", rows, ingested_at=LATER)
        assert (result.received, result.written, result.quarantined) == (0, 0, 0)
    assert store.count("crashes") == 4


def test_ingested_at_must_be_a_datetime(store: Store) -> None:
    with pytest.raises(StoreError, match="expected a datetime"):
        store.write("sites", [], ingested_at=dt.date(2024, 1, 1))  # type: ignore[arg-type]


def test_files_are_laid_out_by_month_without_hive_columns(store: Store) -> None:
    store.flush()
    layout = Layout(store.root)
    assert layout.partitions("telemetry_daily") == ["2024-02", "2024-03"]
    assert layout.partitions("sites") == ["all"]
    assert all(f.name.startswith("part-") for f in layout.files("telemetry_daily"))
    assert not list(store.root.rglob("*.tmp"))


def test_as_of_hides_rows_ingested_after_the_cutoff(store: Store) -> None:
    store.write("telemetry_daily", [telemetry_row(0, DAY)], ingested_at=LATER)
    assert store.as_of(LATER - dt.timedelta(seconds=1)).count("telemetry_daily") == 60
    assert store.as_of(LATER).count("telemetry_daily") == 61
    assert store.as_of(LOADED - dt.timedelta(days=1)).count("vehicles") == 0
    assert store.as_of(LOADED - dt.timedelta(days=1)).count("sites") == 2  # a dimension


def test_a_view_answers_every_read_the_store_does_as_of_its_cutoff(store: Store) -> None:
    """Analytics take a store or a view through one protocol (``gigaloop.store.Tables``)."""
    store.write("telemetry_daily", [telemetry_row(0, DAY)], ingested_at=LATER)
    view = store.as_of(LATER - dt.timedelta(seconds=1))
    table = view.table("telemetry_daily")
    assert view.to_pyarrow(table.count()).as_py() == 60 == view.count("telemetry_daily")
    assert view.execute(table.count()) == 60
    whole = store.totals("telemetry_daily", ["miles"])["miles"]
    assert view.totals("telemetry_daily", ["miles"])["miles"] < whole
    by_vin = view.group_totals("telemetry_daily", ["miles"], "vin")
    assert by_vin.miles.sum() == pytest.approx(view.totals("telemetry_daily", ["miles"])["miles"])


def test_ranges_are_checked_in_columns_with_nulls_and_nans(store: Store) -> None:
    rows = [
        {
            "feedback_id": f"F{k}",
            "customer_id": "CU-0000",
            "channel": "app",
            "rating": rating,
            "topic": "range",
            "event_time": LATER,
        }
        for k, rating in enumerate([None, 0, 6, 3])
    ]
    miles = [telemetry_row(k, DAY, miles=m) for k, m in enumerate([float("nan"), 2000.0, 5.0])]

    feedback = store.write("feedback", rows, ingested_at=LATER)
    telemetry = store.write("telemetry_daily", miles, ingested_at=LATER)

    assert feedback.reasons == {"rating: below min 1": 1, "rating: above max 5": 1}
    assert telemetry.reasons == {"miles: not a number": 1, "miles: above max 1500": 1}
    assert (feedback.written, telemetry.written) == (2, 1)


def test_a_resent_null_is_unchanged_and_a_null_filled_in_conflicts(store: Store) -> None:
    """Re-sent rows found in the unflushed tail are compared value by value, nulls alike."""
    rows = [{"feedback_id": f"N{k}", "customer_id": "CU-0000", "channel": "app",
             "rating": rating, "topic": "range", "event_time": LATER}
            for k, rating in enumerate([None, 4, None])]
    assert store.write("feedback", rows, ingested_at=LATER).written == 3

    again = store.write("feedback", rows, ingested_at=LATER)
    filled = store.write("feedback", [{**rows[0], "rating": 4}, {**rows[1], "rating": None},
                                      rows[2]], ingested_at=LATER)

    assert (again.unchanged, again.quarantined) == (3, 0)
    assert (filled.unchanged, filled.reasons) == (1, {"conflicts with stored row": 2})


def test_a_site_whose_time_zone_is_not_an_iana_zone_is_quarantined(store: Store) -> None:
    sites = [{"site_id": s, "name": s, "region": "CAISO", "timezone": zone}
             for s, zone in (("BER", "Europe/Berlin"), ("PST", "PST8PDT-ish"), ("X", "GMT+25"))]

    result = store.write("sites", sites, ingested_at=LATER)

    assert (result.written, result.reasons) == (1, {
        "timezone: not an IANA time zone (e.g. America/Los_Angeles, Europe/Berlin)": 2})


def test_a_reading_in_another_unit_than_its_stations_parameter_is_quarantined(
        store: Store) -> None:
    def reading(k: int, unit: str, parameter: str = "weld_current") -> dict:
        return {"vin": VINS[k], "station_id": "FRE-GA1-10", "machine_id": None,
                "parameter": parameter, "value": 10.5 if unit == "kA" else 10500.0,
                "unit": unit, "setpoint": None, "event_time": dt.datetime(2024, 3, 2, 8, k)}

    first = store.write("process_readings", [reading(0, "kA"), reading(1, "A"),
                                             reading(0, "µs", "weld_time")], ingested_at=LATER)
    later = store.write("process_readings", [reading(2, "A"), reading(3, "kA"),
                                             reading(1, "ms", "weld_time")], ingested_at=LATER)

    why = "unit: not the unit first stored for its station_id, parameter"
    assert (first.written, first.reasons) == (2, {why: 1})  # the batch's first unit stands
    assert (later.written, later.reasons) == (1, {why: 2})  # then the stored one does


def test_a_row_from_more_than_a_day_ahead_is_quarantined(store: Store) -> None:
    ahead = [telemetry_row(1, DAY, event_time=LATER + dt.timedelta(hours=h)) for h in (3, 30)]

    result = store.write("telemetry_daily", ahead, ingested_at=LATER)

    assert (result.written, result.reasons) == (
        1, {"event_time: more than a day after it was received (a clock ahead?)": 1})


def test_a_reopened_store_remembers_each_parameters_unit(tmp_path) -> None:
    store = Store(tmp_path)
    load(store)
    row = {"vin": VINS[0], "station_id": "AUS-GA1-30", "machine_id": None,
           "parameter": "module_resistance", "value": 1.2, "unit": "mΩ", "setpoint": None,
           "event_time": dt.datetime(2024, 3, 2, 8)}
    assert store.write("process_readings", [row], ingested_at=LATER).written == 1
    store.close()

    reopened = Store(tmp_path)
    result = reopened.write("process_readings", [{**row, "vin": VINS[1], "unit": "Ω",
                                                  "value": 0.0012}], ingested_at=LATER)

    assert result.quarantined == 1
    reopened.close()
