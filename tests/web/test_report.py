"""The run report: what a reader sees without opening JSON, its size, and the truth only
after ``gigaloop score``."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gigaloop.cli import app
from gigaloop.run import RunOptions, run_job
from gigaloop.store import Store
from gigaloop.web.figures import TRUTH_ROWS, production_figure
from gigaloop.web.page import figures_of, json_blob, unpack
from gigaloop.web.report import render_report

pytestmark = pytest.mark.slow
DAYS = 60
#: Plotly's JavaScript packed is about 1.84 MB; the rest of a page must stay small.
MAX_BYTES = 2_000_000
WEB = Path(__file__).resolve().parents[2] / "src" / "gigaloop" / "web"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    run_job(RunOptions(days=DAYS, out=out, modules=("rootcause", "changes", "impact")))
    return out


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _section(page: str, title: str) -> str:
    """The HTML from the heading that starts with ``title`` to the next heading."""
    start = page.index(f"<h2>{title}")
    return page[start:page.index("<h2>", start + 4)]


def test_the_findings_table_lists_each_finding_and_the_change_it_caused(run_dir):
    summary = _summary(run_dir)
    assert summary["findings"] and summary["changes"], "a 60-day run finds the rain camera"
    table = _section((run_dir / "report.html").read_text(), "Findings")
    for finding in summary["findings"]:
        assert f"<td>{finding['id']}</td>" in table
        low, high = finding["ci"]
        assert f"{finding['effect']:.2f} ({low:.2f} to {high:.2f})" in table
        assert f"{finding['affected_vins']:,}" in table
    for change in summary["changes"]:
        assert f"<td>{change['id']}</td>" in table and change["state"] in table


def test_change_requests_show_their_state_history(run_dir):
    page = (run_dir / "report.html").read_text()
    table = _section(page, "Change requests")
    store = Store(run_dir / "store")
    revisions = store.table("change_requests").execute()
    store.close()
    for change_id, rows in revisions.groupby("change_id"):
        row = table[table.index(f"<td>{change_id}</td>"):]
        row = row[:row.index("</tr>")]
        first = rows.sort_values("revision").iloc[0]
        assert f"{first.state}</span> day {first.day}" in row
        assert re.findall(r'class="tag (\w+)"', row)[-1] == rows.sort_values(
            "revision").iloc[-1].state


def test_kpis_have_units_and_thousands_separators(run_dir):
    kpis = _summary(run_dir)["kpis"]
    table = _section((run_dir / "report.html").read_text(), "KPIs")
    assert f"${kpis['energy_cost']:,.0f}" in table and re.search(r"\$\d{1,3}(,\d{3})+<", table)
    assert f"field failures per 1,000 vehicles</td><td class=\"num\">" \
           f"{kpis['field_failures_per_1000']:,.1f}<" in table
    assert f"{kpis['units_built']:,}" in table and "unplanned downtime" in table
    low, high = kpis["crashes_per_million_miles_ci95"]["manual"]
    assert f"per million miles (95 % CI {low:,.2f}–{high:,.2f})" in table


def test_the_page_is_small_and_its_series_do_not_grow_with_the_run(run_dir):
    page = (run_dir / "report.html").read_text()
    assert len(page.encode()) < MAX_BYTES
    assert page.count('id="plotly-gz"') == 1 and '<script src="http' not in page
    without_plotly = len(page) - len(json_blob(page, "plotly-gz"))
    assert without_plotly < 150_000
    store = Store(run_dir / "store")
    daily = production_figure(store, DAYS)
    weekly = production_figure(store, 800)  # long runs are plotted per week
    store.close()
    assert len(weekly.data[0].x) <= len(daily.data[0].x) // 6


def test_the_timeline_shows_truth_only_after_score(tmp_path, run_dir):
    scored = tmp_path / "scored"
    shutil.copytree(run_dir, scored)
    before = (scored / "report.html").read_text()
    names = {t.get("name") for t in figures_of(before)[0]["data"]}
    assert "finding" in names and not names & set(TRUTH_ROWS)
    assert "Scored against" not in before

    result = CliRunner().invoke(app, ["score", str(scored)])
    assert result.exit_code == 0, result.output
    after = (scored / "report.html").read_text()
    timeline = figures_of(after)[0]
    assert set(TRUTH_ROWS) <= {t.get("name") for t in timeline["data"]}
    assert "truth" in timeline["layout"]["title"]["text"]
    score = json.loads((scored / "score.json").read_text())
    section = _section(after, "Scored against")
    for fault in score["faults"]:
        assert f"<td>{fault['id']}</td>" in section
    found = [f for f in score["faults"] if f.get("found")]
    for fault in found:
        assert f"finds {fault['id']}" in _section(after, "Findings")


def test_a_summary_with_nothing_found_says_so(run_dir):
    summary = {**_summary(run_dir), "findings": [], "changes": []}
    store = Store(run_dir / "store")
    page = render_report(store, summary)
    store.close()
    assert "No finding was reported." in page and "No change request was raised." in page
    assert "nothing was found" in figures_of(page)[0]["layout"]["title"]["text"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js 18+")
def test_the_page_inflates_its_plots_in_javascript(run_dir, tmp_path):
    page = (run_dir / "report.html").read_text()
    decoder = page[page.rindex("<script>") + 8:page.index("\n(async()")]
    script = tmp_path / "inflate.mjs"
    script.write_text(decoder + """
import fs from "fs";
const page = fs.readFileSync(process.argv[2], "utf8");
const blob = id => { const s = page.indexOf(`id="${id}">`) + id.length + 6;
  return page.slice(s, page.indexOf("</script>", s)); };
const js = await gigaloopInflate(blob("plotly-gz"));
const figs = JSON.parse(await gigaloopInflate(blob("figs-gz")));
console.log(JSON.stringify({head: js.slice(0, 20), length: js.length, figs: figs.length}));
""")
    out = subprocess.run(["node", str(script), str(run_dir / "report.html")],
                         capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(out.stdout)
    assert result["head"].startswith("/**\n* plotly.js v")
    assert result["length"] == len(unpack(json_blob(page, "plotly-gz")).decode())
    assert result["figs"] == page.count('class="plotly-graph-div"') == len(figures_of(page))


def test_the_web_package_never_reads_truth_itself():
    for path in WEB.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in ("gigaloop.loop.score", "gigaloop.twin"), path
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not re.search(r"truth[./\\]", node.value), (path, node.value)
            if isinstance(node, ast.Name | ast.Attribute):
                name = node.id if isinstance(node, ast.Name) else node.attr
                assert name not in ("read_truth", "TRUTH_PATH", "truth_timeline"), path
