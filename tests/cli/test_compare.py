"""`gigaloop compare A B`: the loop against the same world without it, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gigaloop.cli import app
from gigaloop.store import Store
from gigaloop.web.compare import weekly_series
from gigaloop.web.format import kpi_rows
from gigaloop.web.page import figures_of

pytestmark = pytest.mark.slow
runner = CliRunner()
DAYS = "60"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    out = {"no_loop": root / "no_loop", "loop": root / "loop"}
    for name, extra in (("no_loop", ["--no-loop"]), ("loop", [])):
        result = runner.invoke(app, ["run", "--days", DAYS, "--out", str(out[name]), *extra])
        assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory) -> tuple[str, Path]:
    page = tmp_path_factory.mktemp("page") / "compare.html"
    result = runner.invoke(app, ["compare", str(runs["no_loop"]), str(runs["loop"]),
                                 "--out", str(page)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output, page


def _kpis(path: Path) -> dict:
    return json.loads((path / "summary.json").read_text())["kpis"]


def test_the_printed_table_has_both_runs_and_their_ratio(runs, compared):
    output, _ = compared
    a, b = _kpis(runs["no_loop"]), _kpis(runs["loop"])
    line = next(row for row in output.splitlines() if "energy cost" in row and "HVAC" not in row)
    assert f"${a['energy_cost']:,.0f}" in line and f"${b['energy_cost']:,.0f}" in line
    assert f"{b['energy_cost'] / a['energy_cost']:,.3f}" in line
    assert "B/A" in output and "no loop" in output and "loop on" in output
    assert "differ in more than the loop" not in output  # same world, the loop alone


def test_the_page_has_every_kpi_side_by_side_with_b_over_a(runs, compared):
    _, page_path = compared
    page = page_path.read_text()
    assert len(page.encode()) < 2_000_000
    a, b = _kpis(runs["no_loop"]), _kpis(runs["loop"])
    for row_a, row_b in zip(kpi_rows(a), kpi_rows(b), strict=True):
        assert f"<td>{row_a.label}</td>" in page
        cells = page[page.index(f"<td>{row_a.label}</td>"):]
        cells = cells[:cells.index("</tr>")]
        assert row_a.text in cells and row_b.text in cells
        if row_a.value and row_b.value is not None:
            assert f"{row_b.value / row_a.value:,.3f}" in cells


def test_the_weekly_series_are_the_runs_own(runs, compared):
    _, page_path = compared
    figure = figures_of(page_path.read_text())[0]
    names = {t["name"] for t in figure["data"]}
    assert names == {"no_loop (no loop)", "loop (loop on)"}
    assert len(figure["data"]) == 8  # four series per run
    for name, path in (("no_loop", runs["no_loop"]), ("loop", runs["loop"])):
        store = Store(path / "store")
        frame = weekly_series(store)
        store.close()
        assert frame["failures"].sum() == _kpis(path)["field_failures"]
        assert frame["cumulative"].iloc[-1] == _kpis(path)["field_failures"]
        assert frame["cost"].sum() == pytest.approx(_kpis(path)["energy_cost"], rel=1e-6)
        assert frame["downtime"].sum() == pytest.approx(
            _kpis(path)["unplanned_downtime_hours"], abs=0.05)
        assert name in {n.split(" ")[0] for n in names}


def test_comparing_a_folder_that_is_not_a_run_says_what_to_do(runs, tmp_path):
    result = runner.invoke(app, ["compare", str(tmp_path), str(runs["loop"]),
                                 "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "gigaloop run --out" in " ".join(result.output.split())
    assert not (tmp_path / "x.html").exists()
