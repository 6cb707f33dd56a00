"""The run report: one self-contained HTML page of tables and plots, read from the store.

``gigaloop run`` writes it without any truth; ``gigaloop score`` re-renders it with the
scenario's truth rows and the score, which this package only ever receives as arguments.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from gigaloop.store import Tables
from gigaloop.web import figures
from gigaloop.web.page import Page
from gigaloop.web.tables import (
    alarms_table,
    change_history,
    changes_table,
    cohort_table,
    findings_table,
    is_alarm,
    kpi_table,
    quarantine_table,
    run_line,
    score_table,
)


def render_report(store: Tables, summary: dict[str, Any],
                  truth_rows: list[dict[str, Any]] | None = None,
                  score: dict[str, Any] | None = None) -> str:
    """The report page for ``summary`` and the store behind it, as HTML text."""
    run = summary["run"]
    days = int(run.get("days") or 0)
    page = Page(f"gigaloop run — {run.get('scenario')}, seed {run.get('seed')}")
    scored = ""
    if score is not None:
        scored = ("<h2>Scored against the scenario's truth</h2><p class=note>Written by "
                  "<code>gigaloop score</code>: the loop never saw this.</p>" + score_table(score))
    findings = [f for f in summary.get("findings", []) if not is_alarm(f)]
    alarms = len(summary.get("findings", [])) - len(findings)
    changes = summary.get("changes", [])
    kpis = summary["kpis"]
    body = f"""<h1>gigaloop run</h1>
<p>{run_line(run)} Rendered {datetime.now():%Y-%m-%d %H:%M}.</p>
<h2>KPIs</h2>{kpi_table(kpis)}
<h2>Software by delivery cohort</h2>{cohort_table(summary.get("software_by_cohort", []))}
<h2>The loop</h2>{page.figure(figures.loop_timeline_figure(summary, truth_rows, score))}
{scored}
<h2>Findings ({len(findings)})</h2>
<p class=note>Effect: hazard or rate ratio of the named group against the rest, with its 95 %
interval; q: Benjamini–Hochberg. Verification: the change's difference-in-differences ratio of
rate ratios (below 1 with its whole interval: the change worked).</p>
{findings_table(summary, score)}
<h2>Process chart alarms ({alarms})</h2>
<p class=note>Process control's EWMA and CUSUM charts: each episode's first alarm, the
parameter's shift in its own σ. Its actions are setpoint changes, not change requests.</p>
{alarms_table(summary, score)}
<h2>Change requests ({len(changes)})</h2>{changes_table(summary, change_history(store))}
<h2>Plant</h2>
{page.figure(figures.production_figure(store, days))}
{page.figure(figures.machines_figure(store, days))}
{page.figure(figures.energy_figure(store, days))}
<h2>Fleet</h2>
{page.figure(figures.field_failures_figure(store))}
{page.figure(figures.battery_figure(store))}
{page.figure(figures.safety_figure(kpis))}
<h2>Quarantine</h2>{quarantine_table(store)}"""
    return page.render(body)


def write_report(store: Tables, summary: dict[str, Any], path: Path,
                 truth_rows: list[dict[str, Any]] | None = None,
                 score: dict[str, Any] | None = None) -> Path:
    """Render the report to ``path``; ``truth_rows`` and ``score`` come from
    ``gigaloop score`` only (``loop.score.truth_timeline`` and ``score_run``)."""
    path.write_text(render_report(store, summary, truth_rows, score), encoding="utf-8")
    return path
