"""`gigaloop ingest`: files into a store, counts per table, errors that say what to do."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from gigaloop import cli
from gigaloop.cli import app
from gigaloop.store import Store

runner = CliRunner()
SITES = "site_id,name,region,timezone\nFRE,Fremont,CAISO,UTC\n"
LINES = "line_id,site_id,name\nFRE-GA1,FRE,GA 1\nAUS-GA1,AUS,GA 1\n"  # AUS: unknown site


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows of the table on one line each, whatever the terminal."""
    monkeypatch.setattr(cli.console, "width", 200)


def test_files_of_every_kind_go_to_their_tables(tmp_path: Path) -> None:
    (tmp_path / "lines.csv").write_text(LINES)  # named first, written after sites
    (tmp_path / "sites.csv").write_text(SITES)
    stations = pa.table({"station_id": ["FRE-GA1-10", "FRE-GA1-20"], "line_id": ["FRE-GA1"] * 2,
                         "process": ["body_weld", "welding"], "sequence": [10, 20]})
    pq.write_table(stations, tmp_path / "stations_day1.parquet")
    machines = pa.table({"machine_id": ["M1"], "station_id": ["FRE-GA1-10"],
                         "kind": ["weld_robot"], "installed_on": [dt.date(2021, 5, 1)]})
    feather.write_feather(machines, tmp_path / "robots.arrow")
    store = tmp_path / "store"
    args = ["ingest", *(str(tmp_path / n) for n in ("lines.csv", "sites.csv",
                                                    "stations_day1.parquet"))]
    result = runner.invoke(app, [*args, "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "site_id: unknown sites.site_id (1)" in result.output
    assert "process: not one of" in result.output
    result = runner.invoke(app, ["ingest", str(tmp_path / "robots.arrow"), "--table", "machines",
                                 "--store", str(store)])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, [*args, "--store", str(store)])
    assert again.exit_code == 0
    opened = Store(store)
    try:
        assert [opened.count(t) for t in ("sites", "lines", "stations", "machines")] == [1, 1, 1, 1]
        assert opened.count("quarantine") == 2  # sent twice, kept once
    finally:
        opened.close()
    rows = [line for line in again.output.splitlines() if "lines" in line]
    assert rows and "│ 2 " in rows[0] and "│ 0 " in rows[0]  # received 2, written 0


def test_a_folder_is_read_whole(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "sites.csv").write_text(SITES)
    result = runner.invoke(app, ["ingest", str(drop), "--store", str(tmp_path / "store")])
    assert result.exit_code == 0 and "sites" in result.output


def test_unreadable_input_exits_2_and_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text("site_id,name\nS1,Fremont,extra\n")
    (tmp_path / "weights.csv").write_text("vin\nV1\n")
    store = str(tmp_path / "store")
    broken = runner.invoke(app, ["ingest", str(tmp_path / "sites.csv"), "--store", store])
    assert broken.exit_code == 2 and "fix or remove the file" in broken.output
    unnamed = runner.invoke(app, ["ingest", str(tmp_path / "weights.csv"), "--store", store])
    assert unnamed.exit_code == 2 and "does not start with a table name" in unnamed.output
    unknown = runner.invoke(app, ["ingest", str(tmp_path / "weights.csv"), "--table", "weights",
                                  "--store", store])
    assert unknown.exit_code == 2 and "unknown table 'weights'" in unknown.output
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*.parquet"))
