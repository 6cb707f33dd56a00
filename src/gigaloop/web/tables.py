"""The report's HTML tables: KPIs, software by delivery cohort, findings with the change
each caused, change requests with their state history and verification, and (after
``gigaloop score``) the faults."""

from __future__ import annotations

from html import escape
from typing import Any

from gigaloop.factory.process_control import ALARM_MODE
from gigaloop.loop.finding import names_text
from gigaloop.store import Tables
from gigaloop.web.format import MISSING, kpi_rows


def _table(head: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="note">{escape(empty)}</p>'
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(rows_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def rows_cell(cell: str) -> str:
    """A cell already escaped; numbers (``<td class=num>``) are marked by a leading tab."""
    if cell.startswith("\t"):
        return f'<td class="num">{cell[1:]}</td>'
    return f"<td>{cell}</td>"


def _num(text: str) -> str:
    return "\t" + escape(text)


def _tag(state: str | None) -> str:
    return f'<span class="tag {escape(state or "")}">{escape(state or MISSING)}</span>'


def interval(value: float | None, ci: list[float] | None, digits: int = 2) -> str:
    """``1.83 (1.74 to 1.91)``, or a dash when there is no value.

    >>> interval(1.826, [1.736, 1.914]), interval(0.16, [-0.02, 0.35]), interval(None, None)
    ('1.83 (1.74 to 1.91)', '0.16 (−0.02 to 0.35)', '—')
    """
    if value is None:
        return MISSING

    def fmt(x: float) -> str:
        return f"{x:,.{digits}f}".replace("-", "−")

    return fmt(value) + (f" ({fmt(ci[0])} to {fmt(ci[1])})" if ci else "")


def verification(change: dict[str, Any] | None) -> str:
    """The impact check in words: ratio of rate ratios with its 95 % interval."""
    impact = (change or {}).get("impact") or {}
    if "ratio" in impact:
        text = f"ratio {interval(impact['ratio'], impact.get('ci'))}"
        if "treated" in impact:
            text += f", {impact['treated']:,} treated / {impact['controls']:,} controls"
        return text
    return impact.get("note") or ("not yet checked" if change else MISSING)


def kpi_table(kpis: dict[str, Any]) -> str:
    rows = [[escape(r.label), _num(r.text)] for r in kpi_rows(kpis)]
    return _table(["KPI", "value"], rows, "No KPI was computed.")


def cohort_table(cohorts: list[dict[str, Any]]) -> str:
    """Software revenue per vehicle and monthly churn by delivery quarter."""
    rows = [[escape(c["cohort"]), _num(f"{c['vehicles']:,}"),
             _num(f"${c['revenue_per_vehicle']:,.2f}"),
             _num(MISSING if c["churn_monthly"] is None else f"{100 * c['churn_monthly']:.2f} %")]
            for c in cohorts]
    return _table(["delivered", "vehicles", "software revenue per vehicle",
                   "churn per month"], rows, "No customers yet.")


def is_alarm(finding: dict[str, Any]) -> bool:
    """Whether ``finding`` is a process chart's alarm (tabled apart from the findings:
    its effect is a shift in σ, not a ratio, and it raises no change request)."""
    return finding["failure_mode"] == ALARM_MODE


def alarms_table(summary: dict[str, Any], score: dict[str, Any] | None = None) -> str:
    """One row per process chart alarm episode: where, when and how far the parameter
    shifted; after scoring, the fault it names (else nothing: a chart alarms by chance too).
    """
    truth = _fault_of_finding(score) if score else None
    head = ["alarm", "station", "machine", "parameter", "day", "shift, σ (95 % CI)"]
    if truth is not None:
        head.append("scored against truth")
    rows = []
    for f in filter(is_alarm, summary.get("findings", [])):
        names = f.get("names", {})
        row = [escape(f["id"]), *(escape(str(names.get(k, MISSING)))
                                   for k in ("station", "machine", "parameter")),
               _num(str(f["day_found"])), _num(interval(f.get("effect"), f.get("ci")))]
        if truth is not None:
            row.append(escape(truth.get(f["id"], "no injected fault")))
        rows.append(row)
    return _table(head, rows, "No process chart alarmed.")


def findings_table(summary: dict[str, Any], score: dict[str, Any] | None = None) -> str:
    """One row per finding (not the process charts' alarms: :func:`alarms_table`), with the
    change it caused; after scoring, the fault it names."""
    changes: dict[str, list[dict[str, Any]]] = {}
    for change in summary.get("changes", []):
        changes.setdefault(change["finding_id"], []).append(change)
    truth = _fault_of_finding(score) if score else None
    head = ["finding", "failure mode", "points at", "effect (95 % CI)", "q", "rank",
            "affected vehicles", "day found", "active", "change", "action", "state",
            "verification"]
    if truth is not None:
        head.append("scored against truth")
    rows = []
    for f in summary.get("findings", []):
        if is_alarm(f):
            continue
        caused: list[dict[str, Any] | None] = [*changes.get(f["id"], [])] or [None]
        for change in caused:
            active = "yes" if f.get("active") else (
                f"no (last seen day {f['last_seen_day']})" if f.get("last_seen_day") is not None
                else "no")
            if f.get("retracted"):
                active = f"retracted day {f['retracted']['day']}: {f['retracted']['reason']}"
            kind = str(f.get("effect_kind", "")).replace("_", " ")
            row = [escape(f["id"]), escape(str(f["failure_mode"])),
                   escape(names_text(f.get("names", {}))),
                   _num(f"{kind} {interval(f.get('effect'), f.get('ci'))}".strip()
                        if kind or f.get("ci") else MISSING),  # a prediction has no ratio
                   _num(f"{f['q']:.2g}" if f.get("q") is not None else MISSING),
                   _num(str(f.get("rank", MISSING))),
                   _num(f"{f['affected_vins']:,}" if f.get("affected_vins") is not None
                        else MISSING),
                   _num(str(f["day_found"])), escape(active)]
            if change is None:
                row += [MISSING, "no change raised", "", ""]
            else:
                row += [escape(change["id"]), escape(str(change["action"]).split(" — ")[0]),
                        _tag(change.get("state")), escape(verification(change))]
            if truth is not None:
                row.append(escape(truth.get(f["id"], "false finding")))
            rows.append(row)
    return _table(head, rows, "No finding was reported.")


def _fault_of_finding(score: dict[str, Any]) -> dict[str, str]:
    out = {}
    for fault in score.get("faults", []):
        if fault.get("finding_id"):
            out[fault["finding_id"]] = f"finds {fault['id']}"
    return out


def change_history(store: Tables) -> dict[str, list[tuple[str, int]]]:
    """Each change request's states in order, as (state, day), repeats folded."""
    requests = store.table("change_requests")
    rows = requests.select("change_id", "revision", "state", "day").order_by(
        ["change_id", "revision"]).execute()
    history: dict[str, list[tuple[str, int]]] = {}
    for change_id, state, day in zip(rows["change_id"], rows["state"], rows["day"],
                                     strict=True):
        states = history.setdefault(str(change_id), [])
        if not states or states[-1][0] != state:
            states.append((str(state), int(day)))
    return history


def changes_table(summary: dict[str, Any], history: dict[str, list[tuple[str, int]]]) -> str:
    """One row per change request: what it does, its states by day, its verification."""
    rows = []
    for change in summary.get("changes", []):
        states = history.get(change["id"]) or [(change.get("state", MISSING), -1)]
        path = " → ".join(f"{_tag(s)} day {d}" if d >= 0 else _tag(s) for s, d in states)
        evidence = change.get("evidence") or {}
        rows.append([
            escape(change["id"]), escape(change["finding_id"]),
            escape(str(change.get("failure_mode", MISSING))), escape(str(change["action"])),
            _num(f"{change['campaign_vins']:,}" if change.get("campaign_vins") is not None
                 else MISSING),
            _num(interval(evidence.get("effect"), evidence.get("ci"))), path,
            escape(verification(change)),
        ])
    return _table(["change", "finding", "failure mode", "action", "campaign vehicles",
                   "evidence (95 % CI)", "state history", "verification"], rows,
                  "No change request was raised.")


def score_table(score: dict[str, Any]) -> str:
    """Each injected fault: found or not, by which finding, how fast."""
    rows = []
    for fault in score.get("faults", []):
        if fault.get("red_herring"):
            rows.append([escape(fault["id"]), "red herring", "",
                         "flagged (a false finding)" if fault.get("flagged") else
                         "rightly not flagged", "", "", ""])
            continue
        rows.append([
            escape(fault["id"]), escape(str(fault.get("failure_mode", ""))),
            escape(fault.get("finding_id") or MISSING),
            '<span class="good">found</span>' if fault.get("found")
            else '<span class="bad">missed</span>',
            _num(str(fault["first_field_failure_day"])
                 if fault.get("first_field_failure_day") is not None else MISSING),
            _num(str(fault["day_found"]) if fault.get("day_found") is not None else MISSING),
            _num(str(fault["days_to_find"]) if fault.get("days_to_find") is not None
                 else MISSING),
        ])
    table = _table(["fault", "failure mode", "finding", "result", "first field failure day",
                    "day found", "days to find"], rows, "The scenario injects no fault.")
    recall = score.get("recall")
    false = score.get("false_findings") or []
    return (f'<p>Recall <b>{escape(str(recall if recall is not None else MISSING))}</b>; '
            f"false findings: <b>{len(false)}</b>"
            f"{' (' + escape(', '.join(false)) + ')' if false else ''}.</p>{table}")


def quarantine_table(store: Tables) -> str:
    q = store.table("quarantine")
    rows = q.group_by(["table_name", "reason"]).aggregate(rows=q.count()).execute()
    return _table(["table", "reason", "rows"],
                  [[escape(str(t)), escape(str(r)), _num(f"{n:,}")]
                   for t, r, n in rows.itertuples(index=False, name=None)],
                  "No row was rejected.")


def run_line(run: dict[str, Any]) -> str:
    """The run's options in one sentence."""
    modules = ", ".join(run.get("modules") or []) or "none"
    return (f"Scenario <b>{escape(str(run.get('scenario')))}</b>, {run.get('days')} days, "
            f"scale {escape(str(run.get('scale')))}, seed {run.get('seed')}, loop "
            f"<b>{'on' if run.get('loop') else 'off'}</b> (modules: {escape(modules)}), "
            f"gigaloop {escape(str(run.get('version')))}.")
