"""`gigaloop trace`: backwards from a vehicle, forwards from a lot, errors that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gigaloop.cli import app
from gigaloop.ingest import ingest
from gigaloop.store import Store
from gigaloop.twin import Twin, TwinDay

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trace-run")
    twin, store = Twin.from_scenario(seed=2), Store(root / "store")
    for day in range(12):
        ingest(TwinDay(twin, day), store, twin.day_end(day))
    store.close()
    return root


def test_backwards_from_a_vehicle(run_dir: Path) -> None:
    store = Store(run_dir / "store")
    vin, lot = store.execute(store.table("vehicle_lots").select("vin", "lot_id").limit(1)).iloc[0]
    store.close()
    result = runner.invoke(app, ["trace", str(run_dir), "--vin", vin, "--limit", "200"])
    assert result.exit_code == 0, result.output
    assert vin in result.output and lot in result.output and "reading" in result.output


def test_forwards_from_a_lot_counts_every_vehicle(run_dir: Path) -> None:
    store = Store(run_dir / "store")
    used = store.execute(store.table("vehicle_lots"))
    store.close()
    lot = used.lot_id.value_counts().index[0]
    result = runner.invoke(app, ["trace", str(run_dir), "--lot", lot, "--limit", "3"])
    assert result.exit_code == 0, result.output
    touched = used[used.lot_id == lot].vin.nunique()
    assert f"{touched:,} vehicles touched" in result.output
    assert f"{touched - 3:,} more rows" in result.output


def test_trace_says_what_to_give(run_dir: Path, tmp_path: Path) -> None:
    neither = runner.invoke(app, ["trace", str(run_dir)])
    assert neither.exit_code == 2 and "--vin" in neither.output
    empty = runner.invoke(app, ["trace", str(tmp_path), "--lot", "X"])
    assert empty.exit_code == 2 and "give a run folder" in empty.output
