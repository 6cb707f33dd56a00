"""The report's Plotly figures, each read from the store (or the summary) alone.

Series are daily up to :data:`DAILY_UP_TO` days and weekly beyond, so a page stays small
however long the run.
"""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gigaloop.fleet.safety import AUTOPILOT_REFERENCE_PER_MILLION
from gigaloop.loop.finding import names_text
from gigaloop.store import Tables
from gigaloop.web.tables import is_alarm

#: ISO 10816-3 zone limits for medium machines on rigid foundations (mm/s rms).
ISO_ZONES = ((1.4, "A/B"), (2.8, "B/C"), (4.5, "C/D"))
LAYOUT: dict[str, Any] = {"template": "plotly_white", "height": 360,
                          "margin": {"l": 50, "r": 20, "t": 50, "b": 40}}
#: Longer runs are plotted per week.
DAILY_UP_TO = 400
#: Rows of the loop timeline, top to bottom; the first two are the scenario's truth.
TIMELINE_ROWS = ("fault onset", "first field failure", "process alarm", "finding",
                 "change effective", "verified")
TRUTH_ROWS = TIMELINE_ROWS[:2]
#: Vehicle-days (reports) a point of the battery plot needs: about ten cars for a month.
MIN_VEHICLE_DAYS = 300


def _period(expr: ibis.Table, column: str, days: int) -> ibis.Table:
    """``expr`` with a ``date`` column: the day of ``column``, or its week for long runs."""
    value = expr[column]
    return expr.mutate(date=value.truncate("W").date() if days > DAILY_UP_TO else value.date())


def _per(days: int) -> str:
    return "week" if days > DAILY_UP_TO else "day"


def production_figure(store: Tables, days: int) -> go.Figure:
    vehicles = store.table("vehicles")
    built = vehicles.mutate(date=vehicles.build_date.truncate("W")
                            if days > DAILY_UP_TO else vehicles.build_date)
    built = built.group_by("date").aggregate(units=built.count()).order_by("date").execute()
    inspections = store.table("inspection_results")
    failed = _period(inspections.filter(~inspections.passed), "event_time", days)
    failed = failed.group_by("date").aggregate(failed=failed.count()).order_by("date").execute()
    fig = go.Figure()
    fig.add_bar(x=built["date"], y=built["units"], name="units built")
    fig.add_scatter(x=failed["date"], y=failed["failed"], name="inspections failed",
                    mode="lines")
    return fig.update_layout(title=f"Production per {_per(days)}", **LAYOUT)


def field_failures_figure(store: Tables) -> go.Figure:
    failures = store.table("component_failures")
    weekly = failures.mutate(week=failures.event_time.truncate("W").date())
    weekly = weekly.group_by(["week", "component"]).aggregate(n=weekly.count()).execute()
    fig = go.Figure()
    for component, rows in weekly.sort_values("week").groupby("component"):
        fig.add_bar(x=rows["week"], y=rows["n"], name=str(component))
    return fig.update_layout(title="Field failures per week, by component", barmode="stack",
                             **LAYOUT)


def battery_figure(store: Tables) -> go.Figure:
    """Mean state of health by months in service and climate; a month a climate's cars have
    reported on fewer than :data:`MIN_VEHICLE_DAYS` days is left out (a year's twelfth
    month holds only the cars of its first days: a few packs' noise, not a trend)."""
    telemetry = store.table("telemetry_daily")
    customers = store.table("customers")
    joined = telemetry.join(customers, "vin")
    age = joined.day.delta(joined.delivered_on, unit="day")
    monthly = joined.mutate(months=(age // 30), climate=joined.climate_region_right)
    monthly = monthly.group_by(["months", "climate"]).aggregate(
        soh=monthly.battery_soh.mean(), n=monthly.count()).execute()
    monthly = monthly[monthly.n >= MIN_VEHICLE_DAYS]
    fig = go.Figure()
    for climate, rows in monthly.sort_values("months").groupby("climate"):
        fig.add_scatter(x=rows["months"], y=(100 * rows["soh"]).round(2), name=str(climate),
                        mode="lines")
    return fig.update_layout(title="Battery state of health by months in service (mean, %)",
                             xaxis_title="months in service", yaxis_title="SoH %", **LAYOUT)


def machines_figure(store: Tables, days: int) -> go.Figure:
    readings = _period(store.table("machine_readings"), "event_time", days)
    daily = readings.group_by(["date", "machine_id"]).aggregate(
        rms=readings.vibration_rms.max()).execute()
    fig = go.Figure()
    worst = daily.groupby("machine_id")["rms"].max().nlargest(6).index
    for machine in worst:
        rows = daily[daily["machine_id"] == machine].sort_values("date")
        fig.add_scatter(x=rows["date"], y=rows["rms"].round(3), name=str(machine), mode="lines")
    for limit, label in ISO_ZONES:
        fig.add_hline(y=limit, line_dash="dot", annotation_text=f"ISO 10816 {label}")
    downtime = store.table("downtime_events")
    down = downtime.filter(~downtime.planned).execute()
    if len(down):
        top = float(daily["rms"].max()) if len(daily) else 1.0
        fig.add_scatter(x=down["event_time"], y=[round(top * 1.05, 3)] * len(down),
                        mode="markers", marker={"symbol": "x", "color": "red", "size": 9},
                        text=[f"{m or c}: {h:,.1f} h" for m, c, h in zip(
                            down["machine_id"], down["cause"], down["hours"], strict=True)],
                        name="unplanned downtime")
    every = "weekly" if days > DAILY_UP_TO else "daily"
    return fig.update_layout(title=f"Machine vibration ({every} max RMS, six worst) and "
                             "unplanned downtime (red ×)", yaxis_title="mm/s", **LAYOUT)


def energy_series(store: Tables, days: int) -> pd.DataFrame:
    """Energy cost, its HVAC share (USD) and CO₂e (t) per day (per week for long runs); a
    period with under half the readings of a typical one (the run's last, cut short) is
    left out rather than drawn as a fall."""
    energy = _period(store.table("energy_readings"), "event_time", days)
    kwh = energy.hvac_kwh + energy.process_kwh + energy.lighting_kwh
    series = energy.group_by("date").aggregate(
        cost=(kwh * energy.tariff_usd_per_kwh).sum(),
        co2=(kwh * energy.carbon_g_per_kwh).sum() / 1e6,
        hvac_cost=(energy.hvac_kwh * energy.tariff_usd_per_kwh).sum(),
        readings=energy.count(),
    ).order_by("date").execute().round(2)
    whole = series.readings >= 0.5 * series.readings.median()
    return series.loc[whole].drop(columns="readings").reset_index(drop=True)


def energy_figure(store: Tables, days: int) -> go.Figure:
    series = energy_series(store, days)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=series["date"], y=series["cost"], name="energy cost (USD)")
    fig.add_scatter(x=series["date"], y=series["hvac_cost"], name="of which HVAC (USD)")
    fig.add_scatter(x=series["date"], y=series["co2"], name="CO₂e (t)", secondary_y=True)
    fig.update_yaxes(tickprefix="$", secondary_y=False)
    return fig.update_layout(title=f"Plant energy per {_per(days)}", **LAYOUT)


def safety_figure(kpis: dict[str, Any]) -> go.Figure:
    rates = kpis.get("crashes_per_million_miles") or {}
    cis = kpis.get("crashes_per_million_miles_ci95") or {}
    modes = [m for m in rates if rates[m] is not None and cis.get(m)]
    fig = go.Figure(go.Bar(
        x=modes, y=[rates[m] for m in modes],
        error_y={"type": "data", "symmetric": False,
                 "array": [cis[m][1] - rates[m] for m in modes],
                 "arrayminus": [rates[m] - cis[m][0] for m in modes]},
    ))
    fig.add_hline(y=AUTOPILOT_REFERENCE_PER_MILLION, line_dash="dot",
                  annotation_text="published Autopilot: 1 per 6.69 M mi")
    return fig.update_layout(title="Crashes per million miles by mode (95 % exact CI)",
                             **LAYOUT)


def loop_timeline_figure(summary: dict[str, Any], truth_rows: list[dict[str, Any]] | None = None,
                         score: dict[str, Any] | None = None) -> go.Figure:
    """Finding → change effective → verified, by day (process chart alarms on a row of
    their own); with ``truth_rows`` (what
    ``gigaloop score`` passes) also each fault's onset and first field failure, and with
    ``score`` a grey line joining each found fault to its finding and change."""
    rows = [dict(r) for r in truth_rows or []]
    findings = summary.get("findings", [])
    rows += [{"day": f["day_found"], "what": _row_of(f), "label": f"{f['id']} {_describe(f)}"}
             for f in findings]
    for change in summary.get("changes", []):
        for key, what in (("day_effective", "change effective"), ("day_verified", "verified")):
            if change.get(key) is not None:
                label = f"{change['id']} {change['action']}"
                if what == "verified":
                    label = f"{change['id']} {change['state']}"
                rows.append({"day": change[key], "what": what, "label": label})
    fig = go.Figure()
    for chain in _chains(summary, truth_rows or [], score):
        fig.add_scatter(x=[d for d, _ in chain], y=[w for _, w in chain], mode="lines",
                        line={"color": "#bbb", "width": 1}, showlegend=False,
                        hoverinfo="skip")
    frame = pd.DataFrame(rows, columns=["day", "what", "label"])
    for what in TIMELINE_ROWS:
        group = frame[frame["what"] == what]
        if len(group):
            fig.add_scatter(x=group["day"], y=[what] * len(group), text=group["label"],
                            mode="markers", marker_size=12, name=what,
                            marker_symbol="diamond" if what in TRUTH_ROWS else "circle",
                            hovertemplate="day %{x}: %{text}<extra></extra>")
    fig.update_yaxes(categoryorder="array", categoryarray=list(TIMELINE_ROWS[::-1]))
    if truth_rows:
        title = "The loop against the scenario's truth (diamonds: injected faults)"
    else:
        title = "The loop: finding → change effective → verified (run `gigaloop score` for truth)"
    if frame.empty:
        title += " — nothing was found"
    return fig.update_layout(title=title, xaxis_title="simulated day", **LAYOUT)


def _chains(summary: dict[str, Any], truth_rows: list[dict[str, Any]],
            score: dict[str, Any] | None) -> list[list[tuple[int, str]]]:
    """Per found fault: (day, row) from its onset to its change's verification."""
    if not score:
        return []
    findings = {f["id"]: f for f in summary.get("findings", [])}
    chains = []
    for fault in score.get("faults", []):
        finding = findings.get(fault.get("finding_id") or "")
        if finding is None:
            continue
        chain = [(r["day"], r["what"]) for r in truth_rows if r["label"] == fault["id"]]
        chain.append((finding["day_found"], _row_of(finding)))
        for change in summary.get("changes", []):
            if change["finding_id"] == finding["id"]:
                chain += [(change[k], w) for k, w in (("day_effective", "change effective"),
                                                      ("day_verified", "verified"))
                          if change.get(k) is not None]
                break
        chains.append(sorted(chain, key=lambda p: TIMELINE_ROWS.index(p[1])))
    return chains


def _row_of(finding: dict[str, Any]) -> str:
    """The timeline row of a finding: a process chart's alarm has its own (it raises no
    change, and most name no fault)."""
    return "process alarm" if is_alarm(finding) else "finding"


def _describe(finding: dict[str, Any]) -> str:
    names = names_text(finding.get("names", {}))
    return f"{finding['failure_mode']}: {names}"
