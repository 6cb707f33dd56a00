"""The dashboard's own Plotly figures, each from rows already read (the report's figures in
:mod:`gigaloop.web.figures` are reused where they fit).

>>> fig = findings_figure([{"id": "F1", "failure_mode": "pack", "effect": 3.0,
...                         "ci": [2.0, 4.5], "effect_kind": "hazard_ratio"}])
>>> fig.data[0].error_x.array, fig.data[0].error_x.arrayminus
((1.5,), (1.0,))
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from gigaloop.fleet.safety import AUTOPILOT_REFERENCE_PER_MILLION
from gigaloop.loop.finding import names_text
from gigaloop.web.figures import LAYOUT


def spc_figure(machine: str, parameter: str, readings: pd.DataFrame,
               alarms: list[dict[str, Any]]) -> go.Figure:
    """One process stream (with its range when aggregated) and setpoint, and its alarms:
    the chart statistic when it signalled, against the limit it crossed."""
    fig = go.Figure()
    if len(readings) and (readings["high"] != readings["low"]).any():
        fig.add_scatter(x=readings["time"], y=readings["high"], mode="lines",
                        line={"width": 0}, showlegend=False, hoverinfo="skip")
        fig.add_scatter(x=readings["time"], y=readings["low"], mode="lines", fill="tonexty",
                        line={"width": 0}, fillcolor="rgba(31,119,180,.15)", name="range")
    fig.add_scatter(x=readings["time"], y=readings["value"], mode="lines", name=parameter)
    if len(readings) and readings["setpoint"].notna().any():
        fig.add_scatter(x=readings["time"], y=readings["setpoint"], mode="lines",
                        line={"dash": "dot", "color": "#555"}, name="setpoint")
    mine = [a for a in alarms if a["machine_id"] == machine and a["parameter"] == parameter]
    if mine:
        fig.add_scatter(x=[a["event_time"] for a in mine], y=[a["statistic"] for a in mine],
                        mode="markers", name="alarm",
                        marker={"symbol": "x", "color": "red", "size": 10},
                        text=[f"{a['rule']}: {a['statistic']:.3g} beyond {a['limit']:.3g} "
                              f"(first unit {a['first_vin']})" for a in mine],
                        hovertemplate="%{x}: %{text}<extra></extra>")
    title = f"{machine} {parameter}: {len(mine)} alarm{'s' if len(mine) != 1 else ''}"
    return fig.update_layout(title=title, **LAYOUT)


def downtime_figure(downtime: pd.DataFrame) -> go.Figure:
    """Downtime hours by cause, stacked; unplanned causes solid, planned hatched."""
    fig = go.Figure()
    for (cause, planned), rows in downtime.groupby(["cause", "planned"], sort=True):
        fig.add_bar(x=rows["date"], y=rows["hours"].round(2),
                    name=f"{cause} ({'planned' if planned else 'unplanned'})",
                    marker_pattern_shape="/" if planned else "")
    return fig.update_layout(title="Downtime hours by cause", barmode="stack",
                             yaxis_title="hours", **LAYOUT)


def findings_figure(findings: list[dict[str, Any]]) -> go.Figure:
    """Each finding's effect with its 95 % interval (log scale: ratios)."""
    shown = [f for f in findings if f.get("effect") is not None and f.get("ci")]
    fig = go.Figure(go.Scatter(
        x=[f["effect"] for f in shown], y=[f"{f['id']} {f.get('failure_mode', '')}"
                                           for f in shown],
        mode="markers", marker={"size": 10},
        error_x={"type": "data", "symmetric": False,
                 "array": [f["ci"][1] - f["effect"] for f in shown],
                 "arrayminus": [f["effect"] - f["ci"][0] for f in shown]},
        hovertemplate="%{y}: %{x:.3g}<extra></extra>"))
    fig.add_vline(x=1, line_dash="dot", annotation_text="no effect")
    layout = {**LAYOUT, "height": max(240, 60 + 28 * len(shown))}
    return fig.update_layout(title="Findings: effect with 95 % interval", xaxis_type="log",
                             xaxis_title="hazard / rate ratio", **layout)


def evidence_figure(finding: dict[str, Any]) -> go.Figure:
    """One finding's weekly scans: its effect and 95 % interval as the evidence grew, and
    its q value."""
    scans = pd.DataFrame(finding.get("scans") or [])
    fig = go.Figure()
    if len(scans):
        fig.add_scatter(x=scans["day"], y=scans["effect"], mode="lines+markers",
                        name="effect", error_y={"type": "data", "symmetric": False,
                                                "array": scans["ci_high"] - scans["effect"],
                                                "arrayminus": scans["effect"] - scans["ci_low"]})
        fig.add_scatter(x=scans["day"], y=scans["q"], mode="lines", yaxis="y2", name="q",
                        line={"dash": "dot"})
    fig.add_hline(y=1, line_dash="dot")
    names = names_text(finding.get("names") or {})
    return fig.update_layout(
        title=f"{finding['id']} {finding.get('failure_mode', '')}: {names}",
        xaxis_title="day scanned", yaxis_title=str(finding.get("effect_kind", "effect")),
        yaxis2={"overlaying": "y", "side": "right", "type": "log", "title": "q",
                "tickformat": ".0e"},
        **{**LAYOUT, "height": 300})


def safety_rates_figure(modes: dict[str, dict[str, Any]]) -> go.Figure:
    """Crashes per million miles per mode with exact 95 % intervals (``/fleet/safety``)."""
    shown = [m for m, r in modes.items() if r.get("rate") is not None and r.get("ci")]
    fig = go.Figure(go.Bar(
        x=shown, y=[modes[m]["rate"] for m in shown],
        text=[f"{modes[m]['crashes']:,} crashes / {modes[m]['miles']:,.0f} mi" for m in shown],
        error_y={"type": "data", "symmetric": False,
                 "array": [modes[m]["ci"][1] - modes[m]["rate"] for m in shown],
                 "arrayminus": [modes[m]["rate"] - modes[m]["ci"][0] for m in shown]}))
    fig.add_hline(y=AUTOPILOT_REFERENCE_PER_MILLION, line_dash="dot",
                  annotation_text="published Autopilot: 1 per 6.69 M mi")
    return fig.update_layout(title="Crashes per million miles (95 % exact interval)",
                             yaxis_title="per million miles", **LAYOUT)


def revenue_figure(revenue: pd.DataFrame) -> go.Figure:
    """Subscription revenue per month, stacked by product."""
    fig = go.Figure()
    for product, rows in revenue.groupby("product", sort=True):
        fig.add_bar(x=rows["month"], y=rows["revenue"], name=str(product))
    fig.update_yaxes(tickprefix="$")
    fig.update_xaxes(tickformat="%b %Y", dtick="M1")
    return fig.update_layout(title="Subscription revenue per month", barmode="stack", **LAYOUT)


def bookings_figure(bookings: list[dict[str, Any]]) -> go.Figure:
    """Owners booked before a part fails, per day and component."""
    fig = go.Figure()
    by_component: dict[str, dict[int, int]] = {}
    for booking in bookings:
        action = booking.get("action") or {}
        days = by_component.setdefault(str(action.get("component", "?")), {})
        days[booking["day"]] = days.get(booking["day"], 0) + len(action.get("vins") or [])
    for component, days in sorted(by_component.items()):
        fig.add_bar(x=sorted(days), y=[days[d] for d in sorted(days)], name=component)
    return fig.update_layout(title="Owners booked for predictive service", barmode="stack",
                             xaxis_title="day", yaxis_title="vehicles", **LAYOUT)
