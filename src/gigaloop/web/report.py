"""The run report: one self-contained HTML page of plots, read from the store.

Plotly's JavaScript is embedded once, so the page opens offline.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import plotly.graph_objects as go
from plotly.io import to_html
from plotly.subplots import make_subplots

from gigaloop.loop.kpis import Tables

#: ISO 10816-3 zone limits for medium machines on rigid foundations (mm/s rms).
ISO_ZONES = ((1.4, "A/B"), (2.8, "B/C"), (4.5, "C/D"))
LAYOUT = {"template": "plotly_white", "height": 360, "margin": {"l": 50, "r": 20, "t": 50, "b": 40}}


def _daily(expr: ibis.Table, column: str = "event_time") -> ibis.Table:
    return expr.mutate(date=expr[column].date())


def production_figure(store: Tables) -> go.Figure:
    vehicles = store.table("vehicles")
    inspections = store.table("inspection_results")
    built = vehicles.group_by("build_date").aggregate(units=vehicles.count()).order_by(
        "build_date").execute()
    failed = _daily(inspections.filter(~inspections.passed))
    failed = failed.group_by("date").aggregate(failed=failed.count()).order_by("date").execute()
    fig = go.Figure()
    fig.add_bar(x=built["build_date"], y=built["units"], name="units built")
    fig.add_scatter(x=failed["date"], y=failed["failed"], name="inspections failed",
                    mode="lines")
    return fig.update_layout(title="Production per day", **LAYOUT)


def field_failures_figure(store: Tables) -> go.Figure:
    failures = store.table("component_failures")
    weekly = failures.mutate(week=failures.event_time.truncate("W").date())
    weekly = weekly.group_by(["week", "component"]).aggregate(n=weekly.count()).execute()
    fig = go.Figure()
    for component, rows in weekly.groupby("component"):
        fig.add_bar(x=rows["week"], y=rows["n"], name=str(component))
    return fig.update_layout(title="Field failures per week, by component", barmode="stack",
                             **LAYOUT)


def battery_figure(store: Tables) -> go.Figure:
    telemetry = store.table("telemetry_daily")
    customers = store.table("customers")
    joined = telemetry.join(customers, "vin")
    age = joined.day.delta(joined.delivered_on, unit="day")
    monthly = joined.mutate(months=(age // 30), climate=joined.climate_region_right)
    monthly = monthly.group_by(["months", "climate"]).aggregate(
        soh=monthly.battery_soh.mean(), n=monthly.count()).execute()
    fig = go.Figure()
    for climate, rows in monthly.sort_values("months").groupby("climate"):
        fig.add_scatter(x=rows["months"], y=100 * rows["soh"], name=str(climate), mode="lines")
    return fig.update_layout(title="Battery state of health by months in service (mean, %)",
                             xaxis_title="months in service", yaxis_title="SoH %", **LAYOUT)


def machines_figure(store: Tables) -> go.Figure:
    readings = _daily(store.table("machine_readings"))
    daily = readings.group_by(["date", "machine_id"]).aggregate(
        rms=readings.vibration_rms.max()).execute()
    fig = go.Figure()
    worst = daily.groupby("machine_id")["rms"].max().nlargest(6).index
    for machine in worst:
        rows = daily[daily["machine_id"] == machine]
        fig.add_scatter(x=rows["date"], y=rows["rms"], name=str(machine), mode="lines")
    for limit, label in ISO_ZONES:
        fig.add_hline(y=limit, line_dash="dot", annotation_text=f"ISO 10816 {label}")
    downtime = store.table("downtime_events")
    down = downtime.filter(~downtime.planned).execute()
    if len(down):
        top = float(daily["rms"].max()) if len(daily) else 1.0
        fig.add_scatter(x=down["event_time"], y=[top * 1.05] * len(down), mode="markers",
                        marker={"symbol": "x", "color": "red", "size": 9},
                        text=down["machine_id"], name="unplanned downtime")
    return fig.update_layout(title="Machine vibration (daily max RMS, six worst) and "
                             "unplanned downtime (red ×)", yaxis_title="mm/s", **LAYOUT)


def energy_figure(store: Tables) -> go.Figure:
    energy = _daily(store.table("energy_readings"))
    kwh = energy.hvac_kwh + energy.process_kwh + energy.lighting_kwh
    daily = energy.group_by("date").aggregate(
        cost=(kwh * energy.tariff_usd_per_kwh).sum(),
        co2=(kwh * energy.carbon_g_per_kwh).sum() / 1e6,
        hvac_cost=(energy.hvac_kwh * energy.tariff_usd_per_kwh).sum(),
    ).order_by("date").execute()
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=daily["date"], y=daily["cost"], name="energy cost (USD)")
    fig.add_scatter(x=daily["date"], y=daily["hvac_cost"], name="of which HVAC (USD)")
    fig.add_scatter(x=daily["date"], y=daily["co2"], name="CO2e (t)", secondary_y=True)
    return fig.update_layout(title="Plant energy per day", **LAYOUT)


def safety_figure(summary: dict[str, Any]) -> go.Figure:
    rates = summary["kpis"]["crashes_per_million_miles"]
    cis = summary["kpis"]["crashes_per_million_miles_ci95"]
    modes = [m for m in rates if rates[m] is not None]
    fig = go.Figure(go.Bar(
        x=modes, y=[rates[m] for m in modes],
        error_y={"type": "data", "symmetric": False,
                 "array": [cis[m][1] - rates[m] for m in modes],
                 "arrayminus": [rates[m] - cis[m][0] for m in modes]},
    ))
    return fig.update_layout(title="Crashes per million miles by mode (95 % exact CI)", **LAYOUT)


#: Rows of the loop timeline, top to bottom.
TIMELINE_ROWS = ("fault onset", "first field failure", "finding", "change effective",
                 "verified")


def loop_timeline_figure(summary: dict[str, Any],
                         truth_rows: list[dict[str, Any]] | None = None) -> go.Figure:
    """Fault onset → first field failure → finding → change effective → verified, by day.

    ``truth_rows`` (from ``loop.score.truth_timeline``) are the twin's hidden truth, shown
    for evaluation only: the loop never saw them.
    """
    rows = list(truth_rows or [])
    rows += [{"day": f["day_found"], "what": "finding", "label": _describe(f)}
             for f in summary.get("findings", [])]
    for change in summary.get("changes", []):
        for key, what in (("day_effective", "change effective"), ("day_verified", "verified")):
            if change.get(key) is not None:
                rows.append({"day": change[key], "what": what, "label": change["action"]})
    fig = go.Figure()
    frame = pd.DataFrame(rows, columns=["day", "what", "label"])
    for what in TIMELINE_ROWS:
        group = frame[frame["what"] == what]
        if len(group):
            fig.add_scatter(x=group["day"], y=[what] * len(group), text=group["label"],
                            mode="markers", marker_size=12, name=what,
                            hovertemplate="day %{x}: %{text}<extra></extra>")
    fig.update_yaxes(categoryorder="array", categoryarray=list(TIMELINE_ROWS[::-1]))
    title = "The loop: fault onset (truth), first field failure (truth), finding, change, verified"
    if frame.empty:
        title += " — no decision modules ran (or nothing was found)"
    return fig.update_layout(title=title, xaxis_title="simulated day", **LAYOUT)


def quarantine_table(store: Tables) -> pd.DataFrame:
    q = store.table("quarantine")
    return q.group_by(["table_name", "reason"]).aggregate(rows=q.count()).execute()


def _describe(finding: dict[str, Any]) -> str:
    names = ", ".join(f"{k}={v}" for k, v in finding.get("names", {}).items())
    return f"{finding['failure_mode']}: {names}"


def write_report(store: Tables, summary: dict[str, Any], path: Path,
                 truth_rows: list[dict[str, Any]] | None = None) -> Path:
    """Render the report for ``summary`` and the store behind it to ``path``."""
    figures = [
        loop_timeline_figure(summary, truth_rows), production_figure(store),
        field_failures_figure(store), battery_figure(store), machines_figure(store),
        energy_figure(store), safety_figure(summary),
    ]
    parts = [to_html(fig, full_html=False, include_plotlyjs=(i == 0))
             for i, fig in enumerate(figures)]
    kpis = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>"
        for k, v in summary["kpis"].items())
    run = summary["run"]
    quarantine = quarantine_table(store)
    rejected = (quarantine.to_html(index=False) if len(quarantine)
                else "<p>No row was rejected.</p>")
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>gigaloop run — {html.escape(str(run['scenario']))}, seed {run['seed']}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:auto;padding:1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:3px 8px;text-align:left}}
.grid{{display:grid;grid-template-columns:1fr;gap:8px}}</style></head><body>
<h1>gigaloop run</h1>
<p>Scenario <b>{html.escape(str(run['scenario']))}</b>, {run['days']} days, scale {run['scale']},
seed {run['seed']}, loop <b>{'on' if run['loop'] else 'off'}</b>, gigaloop {run['version']}.
Generated {datetime.now():%Y-%m-%d %H:%M}.</p>
<h2>KPIs</h2><table>{kpis}</table>
<div class="grid">{''.join(parts)}</div>
<h2>Quarantine</h2>{rejected}
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
