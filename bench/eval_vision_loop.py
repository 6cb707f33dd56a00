"""Inspection in the loop against the legacy cameras: one JSON line per figure.

Runs the default scenario four times — the loop with every module, the loop without the
inspection module (the legacy cameras inside the loop; it also times what the module
adds), the loop without process control (so the weld drift runs its course and only
inspection can see it in the plant), and ``--no-loop`` (the legacy cameras: drawn
verdicts that miss ≈ 11 %) — then prints, from each run's truth and store:

* ``escaped_weld`` / ``escaped_paint``: defective units that left unrepaired, loop and
  ``--no-loop`` baseline, and their ratio (issue 15's target: ≤ 0.3); with the loop's
  process control stopping the weld drift early, fewer weld defects are made at all, so
  ``escape_rate_*`` (escaped / defective) and ``vs_legacy_in_loop`` isolate the vision;
* ``false_reject_rate``: good units sent to rework, per point, loop and baseline;
* ``operating_point``: each threshold the module chose (commissioning, then retuned);
* ``weld_drift_seen``: per run, the first day the weld seam's p-chart alarmed between the
  weld drift's start and 14 days after it ended, against the day of the drift's first
  field failure (in that run and in the baseline);
* ``inspection_alarms_before_drift``: p-chart alarms before any drift (false alarms);
* ``seconds``: the run's wall time with and without the module, and its parts.

    PYTHONPATH=src python bench/eval_vision_loop.py [--days 365] [--seed 1] [--out DIR]
        [--runs loop,loop-no-inspection,baseline,loop-no-process-control]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from gigaloop.run import DEFAULT_MODULES, RunOptions, run_job
from gigaloop.store import Store

DRIFT = "F2-weld-drift"
#: The default loop with vision inspection (not a default module: it adds about 50 s a year).
WITH_INSPECTION = ("inspection", *DEFAULT_MODULES)
#: The runs: the loop, the loop's legacy cameras, the loop without process control (so the
#: weld drift runs its course), and ``--no-loop``; their modules.
RUNS: dict[str, tuple[str, ...]] = {
    "loop": WITH_INSPECTION, "loop-no-inspection": DEFAULT_MODULES, "baseline": (),
    "loop-no-process-control": tuple(m for m in WITH_INSPECTION if m != "process_control")}


def _run(out: Path, *, days: int, seed: int, loop: bool = True,
         modules: tuple[str, ...] = WITH_INSPECTION) -> dict[str, Any]:
    started = time.perf_counter()
    summary = run_job(RunOptions(days=days, seed=seed, loop=loop, out=out, modules=modules))
    truth = json.loads((out / "truth" / "truth.json").read_text())
    return {"wall_s": round(time.perf_counter() - started, 1), "summary": summary,
            "truth": truth}


def _store_figures(out: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The weld p-chart's alarms (day, share, limit) and the module's operating points."""
    store = Store(out / "store")
    try:
        alarms = store.table("spc_alarms")
        alarms = alarms.filter(alarms.parameter.startswith("defect_rate:")).to_pandas()
        decisions = store.table("decisions")
        decisions = decisions.filter(decisions.module == "inspection").to_pandas()
        start = store.table("vehicles").build_date.min().to_pyarrow().as_py()
    finally:
        store.close()
    days = [{"day": (t.date() - start).days, "parameter": p, "share": round(s, 4),
             "limit": round(lim, 4)}
            for t, p, s, lim in zip(alarms.event_time, alarms.parameter, alarms.statistic,
                                    alarms["limit"], strict=True)]
    points = [{"day": int(d), "summary": s, **json.loads(i)}
              for d, s, i in zip(decisions.day, decisions.summary, decisions.inputs_json,
                                 strict=True) if "false rejects" in s]
    return sorted(days, key=lambda a: a["day"]), points


def _fault(run: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in run["truth"]["faults"] if f["id"] == DRIFT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--runs", default=",".join(RUNS),
                        help=f"which of {', '.join(RUNS)} to run (figures needing a run "
                             "left out are left out)")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="gigaloop-vision-loop-"))
    asked = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = sorted(set(asked) - set(RUNS))
    if unknown:
        parser.error(f"unknown runs {unknown}; known: {', '.join(RUNS)}")
    runs = {name: _run(root / name, days=args.days, seed=args.seed, loop=name != "baseline",
                       modules=RUNS[name]) for name in RUNS if name in asked}
    for figure in _figures(runs, root, args.days):
        print(json.dumps(figure, default=str))


def _figures(runs: dict[str, dict[str, Any]], root: Path, days: int) -> list[dict[str, Any]]:
    loop, plain = runs.get("loop"), runs.get("loop-no-inspection")
    base, alone = runs.get("baseline"), runs.get("loop-no-process-control")
    figures: list[dict[str, Any]] = []
    if loop and base:
        ours, legacy = loop["truth"]["inspection"], base["truth"]["inspection"]
        for point, name in (("weld_seam", "escaped_weld"), ("paint_panel", "escaped_paint")):
            escaped, before = ours[point]["escaped"], legacy[point]["escaped"]
            inside = plain["truth"]["inspection"][point] if plain else None
            figures.append({"figure": name, "loop": escaped, "baseline": before,
                            "ratio": round(escaped / before, 3) if before else None,
                            "defective_loop": ours[point]["defective"],
                            "defective_baseline": legacy[point]["defective"],
                            "escape_rate_loop": ours[point]["escape_rate"],
                            "escape_rate_baseline": legacy[point]["escape_rate"],
                            "vs_legacy_in_loop": inside and {
                                "escaped": inside["escaped"], "defective": inside["defective"],
                                "escape_rate": inside["escape_rate"]}})
        for point in ("weld_seam", "paint_panel"):
            figures.append({"figure": "false_reject_rate", "point": point,
                            "loop": ours[point]["false_reject_rate"],
                            "baseline": legacy[point]["false_reject_rate"]})
    if loop:
        figures += [{"figure": "operating_point", **p} for p in _store_figures(root / "loop")[1]]
    claim = _fault(base)["happened"]["first_field_failure_day"] if base else None
    for name, run in (("loop", loop), ("loop-no-process-control", alone)):
        if run is None:
            continue
        fault = _fault(run)
        found, _ = _store_figures(root / name)
        weld = [a for a in found if a["parameter"] == "defect_rate:weld_seam"]
        until = (fault["happened"]["ended_day"] or days) + 14  # the drift's own alarms
        seen = next((a for a in weld if fault["starts"] <= a["day"] <= until), None)
        figures.append({"figure": "weld_drift_seen", "run": name, "drift_start": fault["starts"],
                        "first_inspection_alarm_day": seen["day"] if seen else None,
                        "first_field_failure_day": fault["happened"]["first_field_failure_day"],
                        "first_field_failure_day_baseline": claim, "alarm": seen,
                        "drift_ended_day": fault["happened"]["ended_day"],
                        "calibrations": _calibrations(root / name)})
        figures.append({"figure": "inspection_alarms", "run": name,
                        "weld_seam": len(weld), "paint_panel": len(found) - len(weld),
                        "before_drift": [a for a in found if a["day"] < fault["starts"]]})
    if loop:
        timings = loop["summary"]["run"]["timings"]
        figures.append({"figure": "seconds", "days": days, "loop_wall_s": loop["wall_s"],
                        "loop_without_inspection_wall_s": plain and plain["wall_s"],
                        "added_s": plain and round(loop["wall_s"] - plain["wall_s"], 1),
                        "inspection_module_s": timings.get("inspection"),
                        "twin_s_with_images": timings.get("twin"),
                        "twin_s_without": plain and plain["summary"]["run"]["timings"].get(
                            "twin"),
                        "baseline_wall_s": base and base["wall_s"]})
    return figures


def _calibrations(out: Path) -> list[dict[str, Any]]:
    """The calibrations the inspection module ordered (day, machine, accepted)."""
    store = Store(out / "store")
    try:
        decisions = store.table("decisions")
        chosen = decisions.filter((decisions.module == "inspection")
                                  & (decisions.action_kind == "calibration")).to_pandas()
    finally:
        store.close()
    return [{"day": int(d), "machine": json.loads(a)["machine_id"], "accepted": bool(ok)}
            for d, a, ok in zip(chosen.day, chosen.action_json, chosen.accepted, strict=True)]


if __name__ == "__main__":
    main()
