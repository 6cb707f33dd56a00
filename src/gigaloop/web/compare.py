"""Two runs side by side (typically the loop against ``--no-loop``): KPIs with the ratio
B/A, and the weekly series that show where they part."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gigaloop.errors import ConfigError
from gigaloop.store import Store
from gigaloop.web.format import KpiRow, kpi_rows, ratio
from gigaloop.web.page import Page
from gigaloop.web.tables import run_line

#: Weekly series compared, as (title, y-axis unit).
SERIES = (("field failures per week", ""), ("unplanned downtime per week", "h"),
          ("energy cost per week", "$"), ("field failures, cumulative", ""))
COLOURS = ("#636efa", "#ef553b")
#: Options that must agree for the comparison to isolate the loop.
SAME_WORLD = ("days", "seed", "scale", "scenario", "fleet")


@dataclass(frozen=True)
class KpiPair:
    """One KPI in both runs; ``better`` is "B", "A" or None (equal, unknown or no direction)."""

    label: str
    a: KpiRow | None
    b: KpiRow | None
    ratio: float | None
    better: str | None


@dataclass(frozen=True)
class Run:
    """A run folder's summary and its name as shown."""

    path: Path
    summary: dict[str, Any]

    @property
    def name(self) -> str:
        loop = "loop on" if self.summary["run"].get("loop") else "no loop"
        return f"{self.path.name} ({loop})"


def load_run(path: Path) -> Run:
    summary_path = path / "summary.json"
    if not summary_path.exists() or not (path / "store").is_dir():
        raise ConfigError(f"{path} is not a run folder (no summary.json or store/): "
                          "write one with `gigaloop run --out DIR`")
    return Run(path, json.loads(summary_path.read_text(encoding="utf-8")))


def kpi_pairs(a: dict[str, Any], b: dict[str, Any]) -> list[KpiPair]:
    """Every KPI of either run, in reading order, with B/A and which run did better.

    >>> [(p.label, round(p.ratio, 2), p.better) for p in kpi_pairs(
    ...     {"energy_cost": 200.0}, {"energy_cost": 150.0})]
    [('energy cost', 0.75, 'B')]
    """
    rows_a = {r.key: r for r in kpi_rows(a)}
    rows_b = {r.key: r for r in kpi_rows(b)}
    keys = list(rows_a) + [k for k in rows_b if k not in rows_a]
    pairs = []
    for key in keys:
        ra, rb = rows_a.get(key), rows_b.get(key)
        either = ra or rows_b[key]
        va, vb = (ra.value if ra else None), (rb.value if rb else None)
        better = None
        if va is not None and vb is not None and va != vb and either.lower_is_better is not None:
            better = "B" if (vb < va) == either.lower_is_better else "A"
        pairs.append(KpiPair(either.label, ra, rb, ratio(va, vb), better))
    return pairs


def weekly_series(store: Store) -> pd.DataFrame:
    """Per week: field failures, unplanned downtime hours, energy cost; and the running
    total of field failures."""
    failures = store.table("component_failures")
    failures = failures.mutate(week=failures.event_time.truncate("W").date())
    failed = failures.group_by("week").aggregate(failures=failures.count()).execute()
    downtime = store.table("downtime_events")
    downtime = downtime.filter(~downtime.planned)
    downtime = downtime.mutate(week=downtime.event_time.truncate("W").date())
    down = downtime.group_by("week").aggregate(downtime=downtime.hours.sum()).execute()
    energy = store.table("energy_readings")
    energy = energy.mutate(week=energy.event_time.truncate("W").date())
    kwh = energy.hvac_kwh + energy.process_kwh + energy.lighting_kwh
    cost = energy.group_by("week").aggregate(cost=(kwh * energy.tariff_usd_per_kwh).sum())
    frame = cost.execute().merge(failed, on="week", how="outer").merge(down, on="week",
                                                                        how="outer")
    frame = frame.sort_values("week").fillna(0.0).reset_index(drop=True)
    frame["cumulative"] = frame["failures"].cumsum()
    return frame.round(2)


def series_figure(runs: list[Run], frames: list[pd.DataFrame]) -> go.Figure:
    fig = make_subplots(rows=2, cols=2, subplot_titles=[t for t, _ in SERIES],
                        vertical_spacing=0.14)
    columns = ("failures", "downtime", "cost", "cumulative")
    for i, (run, frame) in enumerate(zip(runs, frames, strict=True)):
        for j, column in enumerate(columns):
            fig.add_scatter(x=frame["week"], y=frame[column], name=run.name, mode="lines",
                            line={"color": COLOURS[i], "shape": "hv" if j < 3 else "linear"},
                            legendgroup=run.name, showlegend=j == 0,
                            row=j // 2 + 1, col=j % 2 + 1)
    for j, (_, unit) in enumerate(SERIES):
        fig.update_yaxes(ticksuffix=f" {unit}" if unit not in ("", "$") else "",
                         tickprefix="$" if unit == "$" else "", row=j // 2 + 1, col=j % 2 + 1)
    return fig.update_layout(template="plotly_white", height=640,
                             margin={"l": 60, "r": 20, "t": 60, "b": 40},
                             legend={"orientation": "h", "y": -0.08})


def world_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The options that differ between the runs besides the loop (a fair comparison has none)."""
    defaults = {"fleet": 0}  # runs from before the option existed
    a, b = {**defaults, **a}, {**defaults, **b}
    return [f"{k}: {a.get(k)} vs {b.get(k)}" for k in SAME_WORLD if a.get(k) != b.get(k)]


def _pair_row(pair: KpiPair) -> str:
    cls = {"B": "good", "A": "bad"}.get(pair.better or "", "")
    shown = "—" if pair.ratio is None else f"{pair.ratio:,.3f}"
    cells = [escape(pair.label), escape(pair.a.text if pair.a else "—"),
             escape(pair.b.text if pair.b else "—")]
    return ("<tr>" + "".join(f"<td>{c}</td>" for c in cells[:1])
            + "".join(f'<td class="num">{c}</td>' for c in cells[1:])
            + f'<td class="num {cls}">{shown}</td></tr>')


def render_comparison(a: Run, b: Run) -> tuple[str, list[KpiPair]]:
    """The comparison page and its KPI pairs."""
    pairs = kpi_pairs(a.summary["kpis"], b.summary["kpis"])
    page = Page(f"gigaloop compare — {a.name} vs {b.name}")
    frames = []
    for run in (a, b):
        store = Store(run.path / "store")
        try:
            frames.append(weekly_series(store))
        finally:
            store.close()
    differ = world_differences(a.summary["run"], b.summary["run"])
    warning = ("<p class=bad>These runs differ in more than the loop: "
               + escape("; ".join(differ)) + ".</p>") if differ else ""
    counts = "".join(
        f"<tr><td>{escape(what)}</td><td class=num>{len(a.summary.get(key, [])):,}</td>"
        f"<td class=num>{len(b.summary.get(key, [])):,}</td><td></td></tr>"
        for what, key in (("findings", "findings"), ("change requests", "changes")))
    body = f"""<h1>gigaloop compare</h1>
<p><b>A</b>: {escape(str(a.path))} — {run_line(a.summary['run'])}<br>
<b>B</b>: {escape(str(b.path))} — {run_line(b.summary['run'])}</p>{warning}
<p class=note>B/A below 1 means B has less of it; green: B did better, red: worse.
Rendered {datetime.now():%Y-%m-%d %H:%M}.</p>
<h2>KPIs</h2><table><thead><tr><th>KPI</th><th>A: {escape(a.name)}</th>
<th>B: {escape(b.name)}</th><th>B/A</th></tr></thead>
<tbody>{''.join(_pair_row(p) for p in pairs)}{counts}</tbody></table>
<h2>Week by week</h2>{page.figure(series_figure([a, b], frames))}"""
    return page.render(body), pairs


@dataclass(frozen=True)
class Comparison:
    """What ``gigaloop compare`` prints: the KPI pairs, and how the runs' worlds differ."""

    a: Run
    b: Run
    pairs: list[KpiPair]
    differences: list[str]


def write_comparison(a: Path, b: Path, out: Path) -> Comparison:
    """Compare run folders ``a`` and ``b`` and write the page to ``out``."""
    run_a, run_b = load_run(a), load_run(b)
    html_page, pairs = render_comparison(run_a, run_b)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html_page, encoding="utf-8")
    return Comparison(run_a, run_b, pairs,
                      world_differences(run_a.summary["run"], run_b.summary["run"]))
