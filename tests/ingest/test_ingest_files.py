"""Ingest from files and from memory, through the store's validation."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gigaloop.errors import IngestError
from gigaloop.ingest import FileSource, MemorySource, Source, ingest
from gigaloop.store import Store

NOW = dt.datetime(2024, 3, 1)

SITES = "site_id,name,region,timezone\nFRE,Fremont,CAISO,America/Los_Angeles\n"
LINES = "line_id,site_id,name\nFRE-GA1,FRE,General assembly 1\n"
VEHICLES = (
    "vin,build_date,site_id,line_id,shift,model,trim,hardware_revision,design_revision,"
    "event_time\n"
    "VIN001,2024-01-02,FRE,FRE-GA1,A,Model 3,LR,HW4,B,2024-01-02 14:00:00\n"
    "VIN002,2024-01-02,FRE,FRE-GA1,B,Model 3,LR,HW4,B,2024-01-02 22:00:00\n"
)
CODES = (
    "vin,code,ecu,severity,event_time\n"
    "VIN001,P0A80,BMS,warning,2024-02-10 08:00:00\n"
    "VIN002,P0A80,BMS,critical,not a time\n"  # bad timestamp
    "VIN003,U0100,VCU,info,2024-02-11 09:30:00\n"  # unknown VIN
    ",U0100,VCU,info,2024-02-11 09:30:00\n"  # missing key
)


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    # names sort the wrong way round on purpose: files are read in write order
    (folder / "diagnostic_codes_0301.csv").write_text(CODES)
    (folder / "vehicles.csv").write_text(VEHICLES)
    (folder / "lines.csv").write_text(LINES)
    (folder / "sites.csv").write_text(SITES)
    later = pa.table(
        {
            "vin": ["VIN002"],
            "code": ["C1234"],
            "ecu": ["ADAS"],
            "severity": ["info"],
            "event_time": [dt.datetime(2024, 2, 12, 7)],
        }
    )
    pq.write_table(later, folder / "diagnostic_codes_0302.parquet")
    (folder / "README.txt").write_text("not data")
    return folder


def test_files_are_read_in_write_order(folder) -> None:
    assert [(t, p.name) for t, p in FileSource(folder).files()] == [
        ("sites", "sites.csv"),
        ("lines", "lines.csv"),
        ("vehicles", "vehicles.csv"),
        ("diagnostic_codes", "diagnostic_codes_0301.csv"),
        ("diagnostic_codes", "diagnostic_codes_0302.parquet"),
    ]


def test_ingest_writes_good_rows_and_quarantines_bad_ones(folder, tmp_path) -> None:
    store = Store(tmp_path / "store")
    results = ingest(FileSource(folder), store, NOW)

    codes = results["diagnostic_codes"]
    assert (codes.received, codes.written, codes.quarantined) == (5, 2, 3)
    assert codes.reasons == {
        "event_time: not a timestamp": 1,
        "vin: unknown vehicles.vin": 1,
        "vin: missing": 1,
    }
    assert results["vehicles"].written == 2 and store.count("diagnostic_codes") == 2
    quarantine = store.execute(store.quarantine())
    assert set(quarantine.source) == {f"FileSource({str(folder)!r})"}
    assert {json.loads(t)["event_time"] for t in quarantine.row_json} >= {"not a time"}


def test_ingesting_the_same_files_again_changes_nothing(folder, tmp_path) -> None:
    store = Store(tmp_path / "store")
    ingest(FileSource(folder), store, NOW)
    again = ingest(FileSource(folder), store, NOW + dt.timedelta(days=1))
    assert all(r.written == 0 for r in again.values())
    assert again["diagnostic_codes"].unchanged == 2
    assert store.count("quarantine") == 3


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("vehicle_weights.csv", "vin\nV1\n", "does not start with a table name"),
        ("sites.csv", "site_id,name\nS1,Fremont,extra\n", "cannot read sites.csv"),
        ("sites.csv", "", "has no header row"),
    ],
)
def test_unreadable_files_raise_ingest_errors(tmp_path, name, text, message) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(IngestError, match=message):
        list(FileSource(tmp_path).batches())


def test_a_missing_folder_is_an_ingest_error(tmp_path) -> None:
    with pytest.raises(IngestError, match="no such folder"):
        FileSource(tmp_path / "absent").files()


def test_mock_source_batches_add_up_per_table(tmp_path) -> None:
    site = {"site_id": "FRE", "name": "Fremont", "region": "CAISO", "timezone": "UTC"}
    source = MemorySource(
        [
            ("sites", [site]),
            ("lines", [{"line_id": "L1", "site_id": "FRE", "name": "GA"}]),
            (
                "lines",
                [
                    {"line_id": "L2", "site_id": 7, "name": "GA"},  # mixed types: text
                    {"line_id": "L3", "site_id": "FRE", "name": "GA"},
                ],
            ),
        ]
    )
    assert isinstance(source, Source) and repr(source) == "MemorySource(3 batches)"

    results = ingest(source, Store(tmp_path), NOW)

    lines = results["lines"]
    assert (lines.received, lines.written, lines.quarantined) == (3, 2, 1)
    assert lines.reasons == {"site_id: unknown sites.site_id": 1}
