"""`gigaloop decide`: the loop on a store built from files alone, no twin.

The twin runs once; every table it wrote (not the modules' own: decisions, findings,
change requests, SPC alarms) goes to Parquet files with their ``ingested_at``; a fresh
store is filled from those files by ``gigaloop ingest --keep-ingested-at``; ``gigaloop
decide`` then runs the same modules over it with a recording actuator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from gigaloop import cli
from gigaloop.cli import app
from gigaloop.decide import MODULE_TABLES
from gigaloop.run import RunOptions, run_job
from gigaloop.schema import TABLES
from gigaloop.store import Store

pytestmark = pytest.mark.slow
runner = CliRunner()
DAYS = 48  # the rain camera (F4) is found on day 35, the weld drift (F2, from day 40) on 42
MODULES = ("rootcause", "changes", "impact", "process_control")


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.console, "width", 200)


@pytest.fixture(scope="module")
def twin_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("decide") / "twin"
    run_job(RunOptions(days=DAYS, seed=1, out=out, modules=MODULES))
    return out


@pytest.fixture(scope="module")
def files(twin_run: Path) -> Path:
    """Every table the twin wrote, as Parquet files named after their tables."""
    folder = twin_run.parent / "files"
    folder.mkdir()
    store = Store(twin_run / "store")
    try:
        for name in sorted(set(TABLES) - MODULE_TABLES):
            rows = store.to_pyarrow(store.table(name))
            if rows.num_rows:
                pq.write_table(rows, folder / f"{name}.parquet")
    finally:
        store.close()
    return folder


def _ingest(files: Path, store: Path, *extra: str) -> None:
    result = runner.invoke(app, ["ingest", str(files), "--store", str(store), *extra])
    assert result.exit_code == 0, result.output
    assert "quarantined" in result.output


def _decide(store: Path, *extra: str) -> dict:
    result = runner.invoke(app, ["decide", "--store", str(store), "--modules",
                                 ",".join(MODULES), *extra])
    assert result.exit_code == 0, result.output
    return json.loads((store.parent / "decide-summary.json").read_text())


def test_a_store_built_from_files_alone_gives_the_twin_runs_findings(twin_run, files):
    store = files.parent / "plant" / "store"
    _ingest(files, store, "--keep-ingested-at")
    summary = _decide(store)
    twin = json.loads((twin_run / "summary.json").read_text())
    assert summary["decide"]["days"] == [0, DAYS - 1]
    assert summary["decide"]["day0"] == "2025-01-06"  # the scenario's start, from the data
    names = [f["names"] for f in summary["findings"]]
    assert {"machine": "BW-030-R2", "parameter": "weld_current", "station": "BW-030",
            "window": [42, 42]} in names  # F2, the weld drift
    assert any(n.get("hardware_revision") == "CAM-B" for n in names)  # F4, the rain camera
    assert summary["findings"] == twin["findings"]
    assert summary["changes"] == twin["changes"]


def test_decide_resumes_after_the_last_day_it_did_as_one_long_run_would(twin_run, files):
    store = files.parent / "resumed" / "store"
    _ingest(files, store, "--keep-ingested-at")
    first = _decide(store, "--as-of", "2025-02-04")  # day 29
    assert first["decide"]["days"] == [0, 29]
    assert json.loads((store.parent / "decide-state.json").read_text())["last_day"] == 29
    public = (store.parent / "ota-signing-key.pem.pub").read_text()  # the vehicles trust it
    again = _decide(store, "--as-of", "2025-02-04")
    assert again["decide"]["days"] == [] and again["findings"] == first["findings"]
    rest = _decide(store)
    assert rest["decide"]["days"] == [30, DAYS - 1]
    assert rest["findings"] == json.loads((twin_run / "summary.json").read_text())["findings"]
    assert (store.parent / "ota-signing-key.pem.pub").read_text() == public  # the same key
    other = runner.invoke(app, ["decide", "--store", str(store), "--modules", "rootcause"])
    assert other.exit_code == 2 and "--since 2025-01-06" in other.output


def test_a_store_without_data_is_refused_with_what_to_do(tmp_path):
    Store(tmp_path / "store").close()
    result = runner.invoke(app, ["decide", "--store", str(tmp_path / "store")])
    assert result.exit_code == 2 and "gigaloop ingest" in result.output


def test_data_of_a_day_that_has_not_ended_waits_unless_asked(tmp_path):
    """Files ingested today (stamped now): today is decided after its midnight."""
    (tmp_path / "sites.csv").write_text("site_id,name,region,timezone\nFRE,Fremont,CAISO,UTC\n")
    (tmp_path / "energy_readings.csv").write_text(
        "site_id,hvac_kwh,process_kwh,lighting_kwh,outside_temp_c,indoor_temp_c,"
        "tariff_usd_per_kwh,carbon_g_per_kwh,event_time\n"
        "FRE,1.0,2.0,0.5,20.0,22.0,0.1,300.0,2025-01-02T10:00:00\n")
    store = tmp_path / "plant" / "store"
    _ingest(tmp_path, store)  # stamped now
    result = runner.invoke(app, ["decide", "--store", str(store), "--modules", "energy"])
    assert result.exit_code == 0, result.output
    summary = json.loads((store.parent / "decide-summary.json").read_text())
    today = summary["decide"]["day0"]
    assert summary["decide"]["days"] == [] and summary["decide"]["waiting"] == today
    assert "waits for that day to end" in result.output
    now = runner.invoke(app, ["decide", "--store", str(store), "--modules", "energy",
                              "--as-of", today])
    assert now.exit_code == 0, now.output
    assert json.loads((store.parent / "decide-summary.json").read_text())["decide"]["days"] \
        == [0, 0]
