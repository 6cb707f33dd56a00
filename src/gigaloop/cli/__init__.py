"""``gigaloop`` on the command line: run the twin and the loop, score a run, compare two,
ingest files into a store; serve the API over a store and issue its tokens.

Errors of ours are printed as one line that says what to do, with exit code 2.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from gigaloop.cli.tables import score_tables, summary_table
from gigaloop.errors import GigaloopError

app = typer.Typer(help="gigaloop: factory, fleet and customers in one learning loop.",
                  no_args_is_help=True, add_completion=False)
console = Console()
#: ``gigaloop.run.DEFAULT_MODULES`` for the help text (importing the runner would slow
#: every command's start; tests/cli/test_help.py keeps the two the same).
DEFAULT_MODULES_TEXT = ("rootcause,changes,impact,maintenance,predictive_service,energy,"
                        "process_control,driving_model,rollout,cell_rollout,offers,insurance")


class Approval(StrEnum):
    """How the loop's change requests are approved."""

    automatic = "automatic"
    reviewed = "reviewed"


class Scale(StrEnum):
    """Plant size: units built per day (small 80, medium 240, large 720)."""

    small = "small"
    medium = "medium"
    large = "large"


class Transport(StrEnum):
    """How the twin's rows reach the store."""

    inprocess = "inprocess"
    mqtt = "mqtt"


@app.command()
def run(
    days: Annotated[int, typer.Option(min=1, help="simulated days")] = 365,
    scale: Annotated[Scale, typer.Option(help="units per day: 80, 240 or 720")] = Scale.small,
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
    scenario: Annotated[str | None, typer.Option(
        help="scenario TOML file, or a packaged scenario by name (default, alternate; "
             "default: default)")] = None,
    no_loop: Annotated[bool, typer.Option("--no-loop", help="switch every decision off")] = False,
    out: Annotated[Path, typer.Option(help="run folder")] = Path("runs/latest"),
    fleet: Annotated[int, typer.Option(min=0, help="vehicles already on the road at day 0")] = 0,
    modules: Annotated[str | None, typer.Option(
        help=f"comma-separated decision modules (default: {DEFAULT_MODULES_TEXT}; add "
             "inspection for vision inspection, which needs gigaloop\\[vision] and adds "
             "about a minute to a year)")] = None,
    transport: Annotated[Transport, typer.Option(
        help="inprocess, or mqtt: the twin publishes each day through a broker and the MQTT "
             "connector writes it (needs gigaloop\\[service])")] = Transport.inprocess,
    broker: Annotated[str | None, typer.Option(
        help="HOST:PORT of the broker for --transport mqtt (default: a private mosquitto)")
    ] = None,
    no_complaints: Annotated[bool, typer.Option(
        "--no-complaints", help="root cause leaves owners' complaints out (claims and rate "
                                "measures only): the baseline feedback is measured against")
    ] = False,
) -> None:
    """Simulate the plant, fleet and customers day by day and run the loop on them."""
    from gigaloop.run import DEFAULT_MODULES, RunOptions, run_job

    chosen = tuple(m.strip() for m in modules.split(",") if m.strip()) if modules else \
        DEFAULT_MODULES
    options = RunOptions(days=days, scale=scale.value, seed=seed, scenario=scenario,
                         loop=not no_loop, out=out, fleet=fleet, modules=chosen,
                         transport=transport.value, broker=broker,
                         complaints=not no_complaints)
    started = time.perf_counter()
    with _guard(), Progress(
        TextColumn("[bold]simulating"), BarColumn(), MofNCompleteColumn(),
        TextColumn("days"), TimeElapsedColumn(), TextColumn("{task.fields[status]}"),
        console=console, transient=False,
    ) as progress:
        task = progress.add_task("days", total=days, status="")

        def on_day(day: int, results: dict[str, Any]) -> None:
            written = sum(r.written for r in results.values())
            quarantined = sum(r.quarantined for r in results.values())
            progress.update(task, advance=1,
                            status=f"{written:,} rows, {quarantined} quarantined")

        summary = run_job(options, on_day=on_day)
    for name in summary["run"].get("skipped_modules", []):
        console.print(f"[yellow]module {name} skipped: its extra is missing "
                      f"(pip install 'gigaloop\\[vision]'); the plant kept its legacy cameras")
    _print_summary(summary)
    timings = summary["run"]["timings"]
    slowest = sorted(timings.items(), key=lambda kv: -kv[1])[:3]
    console.print(f"finished in {time.perf_counter() - started:.0f} s; slowest: "
                  + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest))
    console.print(f"report: [bold]{(out / 'report.html').resolve()}[/]")


@app.command()
def score(run_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False)]) -> None:
    """Compare a run's findings with its scenario's hidden truth; writes RUN_DIR/score.json."""
    from gigaloop.loop.score import score_run

    with _guard():
        result = score_run(run_dir)
    for table in score_tables(result):
        console.print(table)
    console.print(f"written: {run_dir / 'score.json'}")
    report = _rerender_with_truth(run_dir, result)
    if report is not None:
        console.print(f"report with the truth timeline: [bold]{report.resolve()}[/]")


def _rerender_with_truth(run_dir: Path, result: dict[str, Any]) -> Path | None:
    """Re-render RUN_DIR/report.html with the scenario's truth and the score (the run
    itself never reads truth; only ``gigaloop score`` hands it to the report)."""
    from gigaloop.loop.score import read_truth, truth_timeline
    from gigaloop.store import Store
    from gigaloop.web.report import write_report

    truth = read_truth(run_dir)
    if truth is None or not (run_dir / "store").is_dir():
        return None
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    store = Store(run_dir / "store")
    try:
        return write_report(store, summary, run_dir / "report.html",
                            truth_rows=truth_timeline(truth), score=result)
    finally:
        store.close()


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(exists=True, file_okay=False,
                                          help="first run folder (e.g. --no-loop)")],
    run_b: Annotated[Path, typer.Argument(exists=True, file_okay=False,
                                          help="second run folder (e.g. the loop)")],
    out: Annotated[Path, typer.Option(help="comparison page")] = Path("compare.html"),
) -> None:
    """Two runs side by side: KPIs with the ratio B/A, and their weekly series (HTML)."""
    from gigaloop.cli.tables import compare_table
    from gigaloop.web.compare import write_comparison

    with _guard():
        result = write_comparison(run_a, run_b, out)
    table = compare_table(result)
    console.print(table)
    if result.differences:
        console.print("[yellow]these runs differ in more than the loop:[/] "
                      + "; ".join(result.differences))
    console.print(f"comparison: [bold]{out.resolve()}[/]")


@app.command()
def trace(
    run_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False,
                                            help="run folder (or any folder with store/)")],
    vin: Annotated[str | None, typer.Option(help="backwards: everything that built VIN")] = None,
    lot: Annotated[str | None, typer.Option(help="forwards: vehicles with this lot")] = None,
    station: Annotated[str | None, typer.Option(help="… that passed this station")] = None,
    machine: Annotated[str | None, typer.Option(help="… built on this machine")] = None,
    built_from: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                        help="… built on or after")] = None,
    built_to: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"],
                                                      help="… built on or before")] = None,
    limit: Annotated[int, typer.Option(min=1, help="rows shown")] = 20,
) -> None:
    """Trace a vehicle back to what built it, or a lot / station / machine / build window
    forward to every vehicle it touched and where that vehicle is now."""
    from gigaloop.loop.trace import page_of_vehicles_touched, vehicle_trace
    from gigaloop.store import Store

    forwards: dict[str, Any] = {"lot": lot, "station": station, "machine": machine,
                "built_from": built_from.date() if built_from else None,
                "built_to": built_to.date() if built_to else None}
    if (vin is None) == all(v is None for v in forwards.values()):
        console.print("[red]error:[/] give --vin (backwards) or at least one of --lot, "
                      "--station, --machine, --built-from, --built-to (forwards)")
        raise typer.Exit(2)
    if not (run_dir / "store").is_dir():
        console.print(f"[red]error:[/] {run_dir} has no store/; give a run folder")
        raise typer.Exit(2)
    with _guard():
        store = Store(run_dir / "store")
        try:
            if vin:
                rows = store.execute(vehicle_trace(store, vin))
                title, total = f"{vin}: what built it", len(rows)
            else:
                total, page = page_of_vehicles_touched(store, **forwards, limit=limit)
                rows, title = page.to_pandas(), f"{total:,} vehicles touched"
        finally:
            store.close()
    # a narrow terminal folds a value onto more lines rather than cutting it to "7GL…"
    table = Table(*[Column(str(c), overflow="fold") for c in rows.columns], title=title)
    for values in rows.head(limit).itertuples(index=False):
        table.add_row(*[_cell(v) for v in values])
    console.print(table)
    if total > limit:
        console.print(f"{total - limit:,} more rows (--limit)")


def _cell(value: Any) -> str:
    """A trace value as text: "—" for none, a measurement to four significant digits, or
    to one decimal with thousands separators from 1,000 on (an odometer, not
    18137.0552743151; a camera aim of 0.05231 stays 0.05231).

    >>> _cell(18137.0552743151), _cell(0.0523148), _cell(108.2346), _cell(None)
    ('18,137.1', '0.05231', '108.2', '—')
    >>> _cell(float("nan")), _cell(3), _cell("CAM-D")
    ('—', '3', 'CAM-D')
    """
    if value is None or value != value:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


@app.command()
def serve(
    store: Annotated[Path, typer.Option(help="store folder (or a run folder with store/)",
                                        file_okay=False)],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    database_url: Annotated[str | None, typer.Option(
        help="app-state database (default: $GIGALOOP_DATABASE_URL, else SQLite beside the "
             "store)")] = None,
    decide_every: Annotated[float | None, typer.Option(
        min=0, help="seconds between looks for ended days to decide (default: "
                    "$GIGALOOP_DECIDE_EVERY_S, else 600; 0: no decision cycle)")] = None,
) -> None:
    """Serve the API and the dashboard over a store (needs gigaloop\\[service]) and run the
    daily decision cycle on it; see docs/api.md and docs/dashboard.md."""
    with _guard():
        from gigaloop.api import create_app, load_settings
        from gigaloop.appstate import AppState, store_root

        AppState.beside(store_root(store), database_url).close()  # migrated, reachable
        settings = load_settings(**({} if decide_every is None
                                    else {"decide_every_s": decide_every}))
        application = create_app(store, database_url, settings=settings)
    import uvicorn

    console.print(f"dashboard: http://{host}:{port}/dashboard (sign in with a token)")
    uvicorn.run(application, host=host, port=port)


token_app = typer.Typer(help="API tokens (e.g. the first admin's).", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="plant_engineer, fleet_operations, "
                                           "marketing_analyst, device or admin")],
    user: Annotated[str, typer.Option(help="holder (created if new)")],
    store: Annotated[Path, typer.Option(help="store folder (or run folder) it serves",
                                        file_okay=False)],
    days: Annotated[int, typer.Option(min=1, help="days until it expires")] = 90,
    source: Annotated[str | None, typer.Option(help="a device's source id")] = None,
    database_url: Annotated[str | None, typer.Option(help="as for serve")] = None,
) -> None:
    """Issue a token and print it once (only its hash is kept)."""
    with _guard():
        from gigaloop.appstate import AppState, store_root

        state = AppState.beside(store_root(store), database_url)
        try:
            issued = state.access.issue_token(user, role, days=days, source_id=source,
                                              create_user=True)
        finally:
            state.close()
    record = issued.record
    console.print(f"token {record.token_id} for {user} ({record.role}), expires "
                  f"{record.expires_at:%Y-%m-%d}; shown once:", highlight=False)
    typer.echo(issued.token)


@app.command(name="ingest")
def ingest_files(
    paths: Annotated[list[Path], typer.Argument(help="CSV, Parquet or Arrow files, or folders")],
    store: Annotated[Path, typer.Option(help="store folder (created if absent)")],
    table: Annotated[str | None, typer.Option(help="table of every file (default: each "
                                                   "file's name, e.g. vehicles_0301.csv)")] = None,
    keep_ingested_at: Annotated[bool, typer.Option(
        "--keep-ingested-at", help="rows keep the ingested_at column they carry (files "
                                   "exported from a store): when each arrived")] = False,
) -> None:
    """Validate files into a store: written, unchanged and quarantined rows per table."""
    from gigaloop.ingest.files import ingest_files as write_files

    with _guard():
        results = write_files(paths, store, table=table, keep_ingested_at=keep_ingested_at)
    shown = Table("table", "received", "written", "unchanged", "quarantined", "reasons",
                  title=f"ingested into {store}")
    for name, r in results.items():
        shown.add_row(name, f"{r.received:,}", f"{r.written:,}", f"{r.unchanged:,}",
                      f"[yellow]{r.quarantined:,}[/]" if r.quarantined else "0",
                      "; ".join(f"{reason} ({n:,})" for reason, n in r.reasons.items()))
    console.print(shown)


@app.command()
def decide(
    store: Annotated[Path, typer.Option(help="store folder (no twin needed)", file_okay=False,
                                        exists=True)],
    as_of: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="last day to decide (default: the newest data's)")] = None,
    since: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="first day (default: after the last day decided, else the "
                                   "first day with data)")] = None,
    modules: Annotated[str | None, typer.Option(help="comma-separated decision modules "
                                                     "(default: as gigaloop run)")] = None,
    approval: Annotated[Approval, typer.Option(
        help="automatic: a change request takes effect after its review delay, as in the "
             "twin; reviewed: only once a person approves it (gigaloop serve)")
    ] = Approval.automatic,
    signing_key: Annotated[Path | None, typer.Option(
        help="the fleet's OTA update key, PEM (default: STORE/../ota-signing-key.pem, "
             "created on first use; vehicles trust its public key, written beside it as "
             ".pub)", dir_okay=False)] = None,
) -> None:
    """Run the decision modules day by day on a store that files or connectors filled;
    writes STORE/../decide-summary.json (see docs/batch.md)."""
    from gigaloop.decide import DecideOptions
    from gigaloop.decide import decide as run_decide
    from gigaloop.run import DEFAULT_MODULES

    chosen = tuple(m.strip() for m in modules.split(",") if m.strip()) if modules else \
        DEFAULT_MODULES
    options = DecideOptions(store, as_of=as_of.date() if as_of else None,
                            since=since.date() if since else None, modules=chosen,
                            approval=approval.value, signing_key=signing_key)
    with _guard():
        summary = run_decide(options)
    facts = summary["decide"]
    shown = Table("module", "decisions", "actions", "findings reported",
                  title=f"decided days {facts['days'] or 'none (nothing new)'} from "
                        f"{facts['day0']} ({facts['timezone']})")
    for module, counts in facts["decisions"].items():
        shown.add_row(module, *(f"{counts[k]:,}" for k in ("decisions", "actions",
                                                          "findings_reported")))
    console.print(shown)
    findings = Table("finding", "failure mode", "names", "day found", title="findings")
    for finding in summary["findings"]:
        findings.add_row(str(finding["id"]), str(finding.get("failure_mode")),
                         escape(json.dumps(finding.get("names"))), str(finding.get("day_found")))
    console.print(findings)
    if facts["waiting"]:
        console.print(f"data of {facts['waiting']} waits for that day to end (local "
                      "midnight); --as-of decides it now")
    console.print(f"change requests: {len(summary['changes']):,}; written: "
                  f"{store.parent / 'decide-summary.json'}")


def _print_summary(summary: dict[str, Any]) -> None:
    console.print(summary_table(summary))


@contextmanager
def _guard() -> Iterator[None]:
    """Turn our errors into one red line and exit code 2 (tracebacks stay for bugs)."""
    try:
        yield
    except GigaloopError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")  # e.g. 'gigaloop[spark]' is no tag
        raise typer.Exit(2) from exc


def main() -> None:  # pragma: no cover - console entry
    app()
