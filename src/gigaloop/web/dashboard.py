"""The dashboard's four pages, each built from rows the API's own queries returned (the
route module :mod:`gigaloop.api.routes.dashboard` reads them) and the store, live.

>>> page = LivePage("fleet", "Fleet", user="ana", role="fleet_operations")
>>> body = fleet_body(page, {"per": "million miles", "level": 0.95, "modes": {"manual": {
...     "crashes": 2, "miles": 1e6, "rate": 2.0, "ci": [0.24, 7.2]}}}, [], [
...     {"model_version": "2025.44.0", "stage": "rolled_back", "fleet_fraction": 0.0,
...      "status": "rolled_back", "event_time": "2025-02-05T06:00:00"}])
>>> "2.00 (0.24 to 7.20)" in body, "fig-0" in body, "2025.44.0" in body
(True, True, True)
"""

from __future__ import annotations

from html import escape
from typing import Any

import pandas as pd

from gigaloop.store import Tables
from gigaloop.web import figures, live, panels
from gigaloop.web.format import MISSING
from gigaloop.web.shell import LivePage
from gigaloop.web.tables import alarms_table, findings_table, interval, is_alarm, kpi_table

#: Findings whose weekly scans the loop page plots (best ranked first).
EVIDENCE_SHOWN = 6


def html_table(head: list[str], rows: list[list[str]], empty: str, css: str = "") -> str:
    """A table of cells already escaped (``head`` is escaped here).

    >>> html_table(["a"], [], "nothing")
    '<p class="note">nothing</p>'
    """
    if not rows:
        return f'<p class="note">{escape(empty)}</p>'
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def plant_body(page: LivePage, store: Tables, alarms: list[dict[str, Any]],
               orders: list[dict[str, Any]], alarms_total: int) -> str:
    """SPC charts with their alarms, downtime, vibration against ISO 10816 zones, energy
    and the loop's energy plans, and the maintenance orders sent."""
    days = live.span_days(store)
    charts = "".join(page.figure(panels.spc_figure(m, p, live.stream_readings(store, m, p),
                                                   alarms))
                     for m, p in live.charted_streams(store, alarms))
    recent = [[escape(str(a["event_time"])[:16]), escape(a["station_id"]),
               escape(a["machine_id"]), escape(a["parameter"]), escape(a["rule"]),
               f"{a['statistic']:.4g}", f"{a['limit']:.4g}", escape(a["first_vin"])]
              for a in alarms[:20]]
    plans = [[str(p["day"]), escape(p["site_id"]), escape(str(p["reason"])),
              escape(_hours(p["precool_hours"])), f"{p['shifted_kwh']:,}",
              escape(_accepted(p["accepted"]))] for p in live.energy_plans(store)]
    sent = [[str(o["day"]), escape(str((o.get("action") or {}).get("machine_id", MISSING))),
             escape(o["summary"]), escape(_accepted(o["accepted"]))] for o in orders]
    return f"""<p class=note>Read from the store now; {days} day(s) of plant data.</p>
<h2>Process control ({alarms_total} alarms)</h2>
<p class=note>The streams with the most alarms (of the newest {len(alarms)} read), then
others; red ×: the chart statistic when it signalled.</p>
<div class=grid>{charts or '<p class="note">No process reading yet.</p>'}</div>
{html_table(["time", "station", "machine", "parameter", "rule", "statistic", "limit",
             "first unit"], recent, "No SPC alarm yet.")}
<h2>Downtime</h2>{page.figure(panels.downtime_figure(live.downtime_by_cause(store, days)))}
<h2>Machines</h2>{page.figure(figures.machines_figure(store, days))}
{html_table(["day", "machine", "maintenance order", "accepted"], sent,
            "No maintenance order sent yet.")}
<h2>Energy</h2>{page.figure(figures.energy_figure(store, days))}
{html_table(["day", "site", "plan", "pre-cooling hours", "kWh shifted", "accepted"], plans,
            "No energy plan sent yet.")}"""


def loop_body(page: LivePage, findings: list[dict[str, Any]],
              evidence: list[dict[str, Any]], changes: list[dict[str, Any]],
              can_review: bool) -> str:
    """Findings with their intervals and evidence, change requests (with approve / reject
    for a plant engineer) and the timeline."""
    scanned = [f for f in findings if f.get("id") and f.get("day_found") is not None]
    summary = {"findings": scanned, "changes": [_with_days(c) for c in changes]}
    causes = [f for f in scanned if not is_alarm(f)]
    plots = "".join(page.figure(panels.evidence_figure(f)) for f in evidence)
    return f"""<h2>Timeline</h2>{page.figure(figures.loop_timeline_figure(summary))}
<h2>Findings ({sum(not is_alarm(f) for f in findings)})</h2>
{page.figure(panels.findings_figure(causes)) if causes else ""}
{findings_table(summary)}
<h2>Process chart alarms ({len(scanned) - len(causes)})</h2>{alarms_table(summary)}
<h2>Evidence</h2><p class=note>Each finding's weekly scans: effect with its 95 % interval
(left axis) and q (right). The {len(evidence)} best-ranked active findings.</p>
<div class=grid>{plots or '<p class="note">No finding yet.</p>'}</div>
<h2>Change requests ({len(changes)})</h2>{changes_table(changes, can_review)}"""


def changes_table(changes: list[dict[str, Any]], can_review: bool) -> str:
    """Change requests in their latest state with their approval; pending ones get approve
    and reject buttons when the viewer may review."""
    rows = []
    for change in changes:
        review = change.get("review") or {}
        approval = change.get("approval", "pending")
        shown = f"{approval} by {review['user']}" if review else approval
        buttons = ""
        if can_review and approval == "pending":
            buttons = "".join(
                f'<button class="{css}" data-change="{escape(change["id"])}" '
                f'data-verdict="{verdict}">{label}</button> '
                for css, verdict, label in (("approve", "approved", "Approve"),
                                            ("reject", "rejected", "Reject")))
        history = " → ".join(f"{h['state']} (day {h['day']})"
                             for h in change.get("history") or [])
        rows.append([escape(change["id"]), escape(str(change.get("finding_id", MISSING))),
                     escape(str(change.get("action", ""))),
                     f'<span class="tag {escape(str(change.get("state")))}">'
                     f'{escape(str(change.get("state")))}</span>', escape(history),
                     f'<span class="approval tag {escape(approval)}">{escape(shown)}</span>',
                     buttons])
    return html_table(["change", "finding", "action", "state", "history", "approval",
                       "review"], rows, "No change request yet.", css="changes")


def fleet_body(page: LivePage, safety: dict[str, Any], by_version: list[dict[str, Any]],
               stages: list[dict[str, Any]]) -> str:
    """Crash rates per million miles with their exact intervals, per software version,
    and the rollout stages."""
    modes = safety["modes"]
    rows = [[escape(mode), f"{r['crashes']:,}", f"{r['miles']:,.0f}",
             escape(interval(r.get("rate"), r.get("ci")))] for mode, r in modes.items()]
    return f"""<h2>Safety</h2><p class=note>Crashes per {escape(safety['per'])} with exact
(Garwood) {safety['level']:.0%} Poisson intervals; only vehicles whose owners share
telemetry count. Dotted line: the published reference, one crash per 6.69 M miles on
Autopilot.</p>{page.figure(panels.safety_rates_figure(modes))}
{html_table(["mode", "crashes", "miles", "per million miles (95 % CI)"], rows,
            "No telemetry yet.")}{_by_version(by_version)}{_rollouts(stages)}"""


def _by_version(rows: list[dict[str, Any]]) -> str:
    cells = [[escape(str(r["software_version"])), escape(str(r["mode"])), f"{r['crashes']:,}",
              f"{r['miles']:,.0f}", escape(interval(
                  r.get("rate"), None if r.get("low") is None else [r["low"], r["high"]]))]
             for r in rows]
    return "<h2>By software version</h2>" + html_table(
        ["version", "mode", "crashes", "miles", "per million miles (95 % CI)"], cells,
        "No telemetry yet.")


def _rollouts(stages: list[dict[str, Any]]) -> str:
    cells = [[escape(str(r["model_version"])), escape(str(r["stage"])),
              f"{float(r['fleet_fraction']):.0%}", escape(str(r["status"])),
              escape(str(r["event_time"])[:10])] for r in stages]
    return ("<h2>Rollouts</h2><p class=note>Each stage of a release: canary, staged waves, "
            "the whole fleet, or rolled back when a sequential test found it worse.</p>"
            + html_table(["release", "stage", "fleet share", "status", "day"], cells,
                         "No release rolled out yet."))


def customers_body(page: LivePage, revenue: pd.DataFrame, customers_total: int,
                   bookings: list[dict[str, Any]] | None,
                   software: dict[str, Any] | None = None) -> str:
    """Subscription revenue, the software KPIs (revenue per vehicle, churn, offers and their
    measured uplift) and, for fleet operations, predictive-service bookings."""
    total = float(revenue["revenue"].sum()) if len(revenue) else 0.0
    if bookings is None:
        booked = "<p class=note>Bookings name vehicles: fleet operations only.</p>"
    else:
        rows = [[str(b["day"]), escape(str((b.get("action") or {}).get("component", ""))),
                 escape(str((b.get("inputs") or {}).get("code", ""))),
                 escape(_precision(b.get("inputs") or {})),
                 f"{len((b.get('action') or {}).get('vins') or [])}",
                 escape(_accepted(b.get("accepted")))] for b in bookings]
        plot = page.figure(panels.bookings_figure(bookings)) if bookings else ""
        booked = (plot + html_table(
            ["day", "component", "precursor", "precision (lower bound)", "vehicles",
             "accepted"], rows, "No owner booked yet."))
    return f"""<p class=note>{customers_total:,} customers you may see.</p>
<h2>Revenue</h2><p>Subscription revenue earned: <b>${total:,.0f}</b></p>
{kpi_table(software) if software else ""}
{page.figure(panels.revenue_figure(revenue)) if len(revenue) else ""}
<h2>Service bookings</h2>{booked}"""


def _with_days(change: dict[str, Any]) -> dict[str, Any]:
    """A change with ``day_effective`` from its state history when its record has none.

    >>> _with_days({"history": [{"state": "proposed", "day": 3},
    ...                         {"state": "effective", "day": 5}]})["day_effective"]
    5
    """
    if change.get("day_effective") is not None:
        return change
    effective = [h["day"] for h in change.get("history") or [] if h["state"] == "effective"]
    return {**change, "day_effective": effective[0]} if effective else change


def _hours(hours: list[int]) -> str:
    return ", ".join(str(h) for h in hours) or "none"


def _accepted(value: Any) -> str:
    return MISSING if value is None or value != value else ("yes" if value else "no")


def _precision(inputs: dict[str, Any]) -> str:
    low = inputs.get("precision_low")
    return f"{low:.0%}" if isinstance(low, int | float) else MISSING


def evidence_of(findings: list[dict[str, Any]]) -> list[str]:
    """Ids of the findings whose scans are plotted: active ones, best rank first."""
    ranked = sorted((f for f in findings if f.get("active") and f.get("rank") is not None),
                    key=lambda f: f["rank"])
    return [f["id"] for f in ranked[:EVIDENCE_SHOWN]]

