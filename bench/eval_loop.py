"""How well the loop finds and fixes the scenario's faults: one JSON line per run.

For each scenario and seed it runs the twin with the loop and without (`--no-loop`),
scores the findings against the hidden truth and prints recall, false findings, whether
the red herring was flagged, each fault's rank / days to find, the drift window's error
(against the window the drift really had), field failures per 1000 in the last 90 days,
unplanned downtime, the units the process drifts harmed and the energy KPIs (site and
HVAC cost and CO2e, peak kW, comfort K·h), loop and no loop.

With ``--random N`` it runs N scenarios drawn by :mod:`gigaloop.twin.random_scenario`
(seeds ``--random-seed`` … + N − 1, the loop only; ``--baseline`` adds each world's
``--no-loop`` run) and prints each world's faults as it goes, then, per fault kind, one
JSON line per figure — recall at top-3 (all faults, those the rule calls detectable from
the generator's expected excess, and with ``--baseline`` those it calls detectable from
the excess the fault really caused in the no-loop world: ``*_detectable_realized``),
how many process control found first, the false discovery proportion of root cause's
findings (process alarms on faultless streams are counted apart; a retracted false finding
still counts) and the false findings still standing at the end, the days from first field
failure and from onset to the finding, the smallest hazard ratio found, and with
``--baseline`` the loop's field failures per 1000 in the last 90 days and units harmed by
drifts over the no-loop runs' — then a summary table. With ``--classic`` the worlds are
drawn by :mod:`gigaloop.twin.random_classic` instead: the packaged scenarios' kinds (a
weak cell lot, weld and trim-torque drifts, a bearing's wear, a camera revision weak in
rain, the shift red herring) with other lots, machines, revisions, windows and sizes.

    python bench/eval_loop.py --seeds 1 2 3 --scenarios default alternate --days 365
    python bench/eval_loop.py --modules rootcause,changes,impact,maintenance,energy
    python bench/eval_loop.py --random 3 --random-seed 1 [--baseline] [--classic]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from gigaloop.errors import ConfigError
from gigaloop.loop.score import FOUND_BY, score_run
from gigaloop.run import DEFAULT_MODULES, RunOptions, decision_modules, run_job
from gigaloop.twin.random_classic import random_classic_scenario
from gigaloop.twin.random_scenario import DETECTABLE_Z, expected_z, random_scenario
from gigaloop.twin.scenario import load_scenario_text

ENERGY_KPIS = ("energy_cost", "energy_co2e_kg", "hvac_energy_cost", "hvac_co2e_kg",
               "peak_power_kw", "comfort_violation_kh")


def evaluate(scenario: str, seed: int, days: int, root: Path,
             modules: tuple[str, ...] = DEFAULT_MODULES) -> dict:
    started = time.perf_counter()
    with_loop = run_job(RunOptions(days=days, seed=seed, scenario=_scenario(scenario),
                                   out=root / f"{scenario}-{seed}-loop", modules=modules))
    seconds = time.perf_counter() - started
    without = run_job(RunOptions(days=days, seed=seed, scenario=_scenario(scenario),
                                 loop=False, out=root / f"{scenario}-{seed}-base"))
    score = score_run(root / f"{scenario}-{seed}-loop")
    truth = json.loads((root / f"{scenario}-{seed}-loop" / "truth" / "truth.json").read_text())
    start = date.fromisoformat(truth["scenario"]["start_date"])
    findings = {f["id"]: f for f in with_loop["findings"]}
    faults = []
    for fault, result in zip(
            [f for f in truth["faults"]], score["faults"], strict=True):
        row = {"id": fault["id"], **{k: result.get(k) for k in
                                      ("found", "rank", "days_to_find", "flagged")}}
        window = fault["finding"]["names"].get("window")
        ended = fault["happened"].get("ended_day")
        if window and ended is not None and ended < window[1]:
            window = [window[0], ended]   # the loop stopped the drift early: its real window
        if window and result.get("finding_id"):
            found = findings[result["finding_id"]]["names"]["window"]
            row["window_error_days"] = [_day(found[0], start) - window[0],
                                        _day(found[1], start) - window[1]]
        faults.append(row)
    base90 = without["kpis"]["field_failures_per_1000_last90"]
    loop90 = with_loop["kpis"]["field_failures_per_1000_last90"]
    return {
        "bench": "loop", "scenario": scenario, "seed": seed, "days": days,
        "recall": score["recall"], "false_findings": score["n_false_findings"],
        "false_standing": len(score["false_findings_standing"]),
        "faults": faults,
        "field_failures_per_1000_last90": {"loop": loop90, "no_loop": base90,
                                           "ratio": round(loop90 / base90, 3) if base90 else None},
        "unplanned_downtime_hours": {"loop": with_loop["kpis"]["unplanned_downtime_hours"],
                                     "no_loop": without["kpis"]["unplanned_downtime_hours"]},
        "units_harmed_by_drifts": {
            "loop": sum(d["affected_units"] for d in score["drift_defects"]),
            "no_loop": sum(d["affected_units"]
                           for d in score_run(root / f"{scenario}-{seed}-base")["drift_defects"])},
        "energy": {name: _versus(with_loop["kpis"][name], without["kpis"][name])
                   for name in ENERGY_KPIS},
        "modules": list(modules),
        "loop_run_seconds": round(seconds, 1),
    }


def _run(options: RunOptions, reuse: bool) -> dict:
    """``run_job``, or with ``reuse`` the summary a finished run left in its folder."""
    summary = options.out / "summary.json"
    if reuse and summary.exists():
        return json.loads(summary.read_text())
    return run_job(options)


def evaluate_random(seed: int, days: int, root: Path,
                    modules: tuple[str, ...] = DEFAULT_MODULES,
                    baseline: bool = False, reuse: bool = False,
                    classic: bool = False) -> list[dict]:
    """Run random scenario ``seed`` with the loop (and, with ``baseline``, without); one
    row per fault, scored, then one for the run. Root cause's findings are those of no
    other module (:data:`~gigaloop.loop.score.FOUND_BY`). With ``reuse``, runs already in
    ``root`` are scored again, not rerun; with ``classic``, the world is
    :func:`~gigaloop.twin.random_classic.random_classic_scenario`'s."""
    name = f"{'classic' if classic else 'random'}-{seed}"
    draw = random_classic_scenario if classic else random_scenario
    scenario = root / f"{name}.toml"
    scenario.write_text(draw(seed, days=days), encoding="utf-8")
    # the evaluation's fields (detectable …) as the generator states them now: a kept run's
    # truth holds those of the day it ran, and the world they describe is the same
    stated = {f.id: f.finding.model_dump() for f in
              load_scenario_text(scenario.read_text(encoding="utf-8")).faults}
    out = root / name
    summary = _run(RunOptions(days=days, seed=seed, scenario=scenario, out=out,
                              modules=modules), reuse)
    score = score_run(out)
    run = {"seed": seed, "false": score["n_false_findings"],
           "false_standing": len(score["false_findings_standing"]),
           "on_plant_laws": len(score["mechanism_findings"]),
           "findings": sum(f["failure_mode"] not in FOUND_BY for f in summary["findings"]),
           "process_alarms": score["process_alarms"],
           "process_alarms_without_fault": len(score["process_alarms_without_fault"]),
           "maintenance_predictions_without_fault":
               len(score["maintenance_predictions_without_fault"])}
    if baseline:
        without = _run(RunOptions(days=days, seed=seed, scenario=scenario, loop=False,
                                  out=root / f"{name}-base"), reuse)
        run["field_failures_per_1000_last90"] = _versus(
            summary["kpis"]["field_failures_per_1000_last90"],
            without["kpis"]["field_failures_per_1000_last90"])
        run["units_harmed_by_drifts"] = _versus(
            sum(d["affected_units"] for d in score["drift_defects"]),
            sum(d["affected_units"] for d in score_run(root / f"{name}-base")
                ["drift_defects"]))
    truth = json.loads((out / "truth" / "truth.json").read_text())
    untouched = [None] * len(truth["faults"])  # the realized excess of the world left alone
    if baseline:
        base_truth = json.loads((root / f"{name}-base" / "truth" / "truth.json")
                                .read_text())
        untouched = [f["happened"].get("excess_failures") for f in base_truth["faults"]]
        # the faults' own share of the last 90 days' claims: what containment can act on
        # (a random world's claims are mostly background no finding explains)
        run["fault_failures_last90"] = _versus(*(
            sum(f["happened"].get("excess_failures_last90", 0) for f in t["faults"])
            for t in (truth, base_truth)))
    rows = []
    for fault, result, realized in zip(truth["faults"], score["faults"], untouched,
                                       strict=True):
        finding = stated.get(fault["id"], fault["finding"])
        rows.append({"seed": seed, "id": fault["id"], "kind": fault["kind"],
                     "red_herring": bool(finding.get("red_herring")),
                     "flagged": result.get("flagged"), "found": result.get("found"),
                     "hazard_ratio": finding.get("hazard_ratio"),
                     "detectable": finding.get("detectable"),
                     "expected_excess_failures": finding.get("expected_excess_failures"),
                     "excess_failures": fault["happened"].get("excess_failures"),
                     "excess_failures_no_loop": realized,
                     "detectable_realized": _realized_detectable(finding, realized),
                     "found_by": result.get("found_by"),
                     "days_to_find": result.get("days_to_find"),
                     "days_from_onset": result.get("days_from_onset")})
    rows.append(run)
    return rows


def _realized_detectable(finding: dict, excess: int | None) -> bool | None:
    """The detectability rule (:data:`DETECTABLE_Z`) on the failures the fault really
    added in its world left alone (``--no-loop``), not on the generator's expectation;
    None without a no-loop run or a hazard ratio."""
    ratio = finding.get("hazard_ratio")
    if finding.get("red_herring") or excess is None or not ratio:
        return None
    # the marked units' background in proportion to the failures the fault added, as
    # expected: more miles or a longer service than the generator assumed raise both
    expected, background = (finding.get(k) for k in ("expected_excess_failures",
                                                      "expected_background_failures"))
    per_excess = background / expected if background is not None and expected else \
        1.0 / (ratio - 1.0)  # the plain fault's, for a truth that does not state it
    return bool(finding.get("identifiable", True) and expected_z(
        excess, excess * per_excess, finding.get("marked_share") or 0.0) >= DETECTABLE_Z)


def random_figures(rows: list[dict]) -> list[dict]:
    """Per fault kind (and over all): the figures of ``--random``, one dict per figure."""
    faults = [r for r in rows if "kind" in r]
    runs = [r for r in rows if "findings" in r]
    out = []
    for kind in [*sorted({r["kind"] for r in faults}), "all"]:
        mine = [r for r in faults if kind in ("all", r["kind"])]
        real = [r for r in mine if not r["red_herring"]]
        herrings = [r for r in mine if r["red_herring"]]
        found = [r for r in real if r["found"]]
        figures = {
            "faults": len(real), "recall_top3": _share(len(found), len(real)),
            "detectable": sum(bool(r["detectable"]) for r in real),
            "recall_top3_detectable": _share(sum(bool(r["found"]) for r in real
                                                 if r["detectable"]),
                                             sum(bool(r["detectable"]) for r in real)),
            "detectable_realized": sum(bool(r.get("detectable_realized")) for r in real),
            "recall_top3_detectable_realized": _share(
                sum(bool(r["found"]) for r in real if r.get("detectable_realized")),
                sum(bool(r.get("detectable_realized")) for r in real)),
            "median_days_from_first_failure": _median([r["days_to_find"] for r in found]),
            "median_days_from_onset": _median([r["days_from_onset"] for r in found]),
            "smallest_hazard_ratio_found": min((r["hazard_ratio"] for r in found
                                                if r["hazard_ratio"]), default=None),
            "red_herrings": len(herrings),
            "red_herrings_flagged": sum(bool(r["flagged"]) for r in herrings)}
        figures["found_by_process_control"] = sum(r.get("found_by") == "process control"
                                                  for r in found)
        if kind == "all":
            total = sum(r["findings"] for r in runs)
            figures["false_discovery_proportion"] = _share(sum(r["false"] for r in runs), total)
            figures["false_findings_standing"] = sum(r["false_standing"] for r in runs)
            for name in ("process_alarms_without_fault",
                         "maintenance_predictions_without_fault"):
                figures[name] = sum(r[name] for r in runs)
            for name in ("field_failures_per_1000_last90", "fault_failures_last90",
                         "units_harmed_by_drifts"):
                pairs = [r[name] for r in runs if name in r]
                loop, no_loop = (sum(p[k] for p in pairs) for k in ("loop", "no_loop"))
                if pairs:
                    figures[f"{name}_loop_to_no_loop"] = round(loop / no_loop, 3) \
                        if no_loop else None
        out += [{"bench": "loop_random", "kind": kind, "figure": name, "value": value}
                for name, value in figures.items()]
    return out


def _day(value: int | str, start: date) -> int:
    """A window end as a day number: process control names days, root cause dates."""
    return value if isinstance(value, int) else (date.fromisoformat(value) - start).days


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _median(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return float(statistics.median(known)) if known else None


def _table(figures: list[dict]) -> str:
    kinds = list(dict.fromkeys(f["kind"] for f in figures))
    names = list(dict.fromkeys(f["figure"] for f in figures))
    value = {(f["kind"], f["figure"]): f["value"] for f in figures}
    lines = [" | ".join(["figure", *kinds])]
    lines += [" | ".join([name, *(str(value.get((k, name), "")) for k in kinds)])
              for name in names]
    return "\n".join(lines)


def _versus(loop: float | None, no_loop: float | None) -> dict:
    ratio = round(loop / no_loop, 3) if loop is not None and no_loop else None
    return {"loop": loop, "no_loop": no_loop, "ratio": ratio}


def _scenario(name: str) -> Path | None:
    if name == "default":
        return None
    path = Path(name)
    if path.exists():
        return path
    from importlib.resources import files
    return Path(str(files("gigaloop.twin") / "scenarios" / f"{name}.toml"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--scenarios", nargs="+", default=["default"])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--modules", default=",".join(DEFAULT_MODULES),
                        help="comma-separated decision modules of the loop run")
    parser.add_argument("--random", type=int, default=0, metavar="N",
                        help="evaluate N random scenarios instead of --scenarios")
    parser.add_argument("--random-seed", type=int, default=1,
                        help="the first random scenario's seed")
    parser.add_argument("--classic", action="store_true",
                        help="with --random: draw the packaged scenarios' kinds of fault")
    parser.add_argument("--baseline", action="store_true",
                        help="with --random: also run each world with --no-loop")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="keep the run folders in DIR (to score them again later)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --keep: score runs already in DIR again, not rerun them")
    args = parser.parse_args()
    modules = tuple(name.strip() for name in args.modules.split(",") if name.strip())
    if args.days < 1:
        parser.error("--days must be at least 1")
    if args.reuse and args.keep is None:
        parser.error("--reuse scores the runs kept in --keep DIR: give --keep")
    if args.classic and not args.random:
        parser.error("--classic draws the worlds of --random N: give --random")
    if args.baseline and not args.random:
        parser.error("--baseline is for --random (the packaged scenarios always run both)")
    try:
        decision_modules(modules)
    except ConfigError as error:
        parser.error(str(error))
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        if args.random:
            rows = []
            for seed in range(args.random_seed, args.random_seed + args.random):
                world = evaluate_random(seed, args.days, Path(folder), modules, args.baseline,
                                        args.reuse, args.classic)
                for row in world:
                    kind = "loop_random_fault" if "kind" in row else "loop_random_run"
                    print(json.dumps({"bench": kind, **row}), flush=True)
                rows += world
            figures = random_figures(rows)
            for figure in figures:
                print(json.dumps(figure), flush=True)
            print(_table(figures))
            return
        for scenario in args.scenarios:
            for seed in args.seeds:
                line = evaluate(scenario, seed, args.days, Path(folder), modules)
                print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
