"""What the commands print: a run's summary and a score, as Rich tables.

>>> table = summary_table({"kpis": {"units_built": 12}, "changes": [{"state": "verified"}],
...     "findings": [{"failure_mode": "camera", "active": True},
...                  {"failure_mode": "process_drift"}]})
>>> table.title, table.row_count, table.columns[1]._cells[1:3]
('run summary', 4, ['1 (1 still active)', '1'])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

if TYPE_CHECKING:
    from gigaloop.web.compare import Comparison


def summary_table(summary: dict[str, Any]) -> Table:
    """The KPIs, findings and change requests of a run's ``summary.json``."""
    from gigaloop.web.format import kpi_rows
    from gigaloop.web.tables import is_alarm

    table = Table("KPI", "value", title="run summary")
    for row in kpi_rows(summary["kpis"]):
        table.add_row(row.label, row.text)
    changes = summary["changes"]
    findings = [f for f in summary["findings"] if not is_alarm(f)]
    table.add_row("findings", f"{len(findings):,} ({sum(bool(f.get('active')) for f in findings)}"
                  " still active)")
    table.add_row("process chart alarms", f"{len(summary['findings']) - len(findings):,}")
    states: dict[str, int] = {}
    for change in changes:
        states[change.get("state", "?")] = states.get(change.get("state", "?"), 0) + 1
    table.add_row("change requests", f"{len(changes):,}" + (
        " (" + ", ".join(f"{n} {s}" for s, n in sorted(states.items())) + ")" if states else ""))
    return table


def compare_table(result: Comparison) -> Table:
    """Two runs' KPIs side by side with the ratio B/A (the better one coloured), then their
    findings, process chart alarms and change requests."""
    from gigaloop.web.tables import is_alarm

    table = Table("KPI", f"A: {result.a.name}", f"B: {result.b.name}", "B/A", title="compare")
    for pair in result.pairs:
        style = {"B": "green", "A": "red"}.get(pair.better or "", "")
        shown = "—" if pair.ratio is None else f"{pair.ratio:,.3f}"
        table.add_row(pair.label, pair.a.text if pair.a else "—", pair.b.text if pair.b else "—",
                      f"[{style}]{shown}[/]" if style else shown)
    for what, count in (
            ("findings", lambda s: sum(not is_alarm(f) for f in s.get("findings", []))),
            ("process chart alarms", lambda s: sum(map(is_alarm, s.get("findings", [])))),
            ("change requests", lambda s: len(s.get("changes", [])))):
        table.add_row(what, f"{count(result.a.summary):,}", f"{count(result.b.summary):,}", "")
    return table


def score_tables(result: dict[str, Any]) -> list[Any]:
    """A score (:func:`gigaloop.loop.score.score_run`): each fault, the drifts' harm, and
    one line of recall, false findings and process alarms."""
    table = Table("fault", "found", "by", "rank", "days to find", title="score")
    for fault in result["faults"]:
        if fault.get("red_herring"):
            table.add_row(fault["id"], "red herring: " + ("FLAGGED" if fault["flagged"] else
                                                          "not flagged"), "", "", "")
        else:
            table.add_row(fault["id"], str(fault["found"]), fault["found_by"] or "",
                          str(fault["rank"]), str(fault["days_to_find"]))
    out: list[Any] = [table]
    drifts = result.get("drift_defects") or []
    if drifts:
        harmed = Table("drift fault", "units harmed", "inspection failures", title="drifts")
        for row in drifts:
            harmed.add_row(row["id"], str(row["affected_units"]),
                           str(row.get("inspection_failures", "–")))
        out.append(harmed)
    out.append(f"recall {result['recall']}, false findings {result['n_false_findings']} "
               f"({len(result['false_findings_standing'])} still standing); process "
               f"alarms {result['process_alarms']} "
               f"({len(result['process_alarms_without_fault'])} on streams with no fault)")
    return out


__all__ = ["score_tables", "summary_table"]
