"""Scoring what a run found against the scenario's hidden truth (the only reader of truth).

A fault counts as *found* when a finding for its failure mode names it — the same
lot, station, machine, hardware revision … — at rank ≤ ``top`` (and, when the fault
has a time window, names a window whose ends are within ``window_tolerance_days``).
A finding that matches no fault, or names a red herring, is a false finding.

>>> truth = {"faults": [{"id": "weak-lot", "failure_mode": "battery_pack",
...     "names": {"lot": "CELL-7"}, "red_herring": False, "first_field_failure_day": 90}]}
>>> findings = [{"id": "F1", "failure_mode": "battery_pack", "names": {"lot": "CELL-7"},
...              "rank": 1, "day_found": 120}]
>>> score = score_findings(findings, truth)
>>> score["faults"][0]["found"], score["faults"][0]["days_to_find"], score["recall"]
(True, 30, 1.0)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Truth is kept here, beside (never inside) the run's store.
TRUTH_PATH = Path("truth") / "truth.json"


def names_match(
    finding_names: dict[str, Any], fault_names: dict[str, Any], *, window_tolerance_days: int = 7
) -> bool:
    """True when the finding names the fault: every identifier the finding shares with the
    fault agrees, at least one does, and a window (if both have one) agrees within tolerance.

    >>> names_match({"station": "BW-030", "window": [41, 57]},
    ...             {"station": "BW-030", "machine": "BW-030-R2", "window": [40, 58]})
    True
    >>> names_match({"station": "BW-030", "window": [20, 30]}, {"station": "BW-030",
    ...             "window": [40, 58]})
    False
    """
    shared = [k for k in fault_names if k != "window" and k in finding_names]
    if not shared or any(str(finding_names[k]) != str(fault_names[k]) for k in shared):
        return False
    if "window" in fault_names and "window" in finding_names:
        (f0, f1), (t0, t1) = finding_names["window"], fault_names["window"]
        return abs(f0 - t0) <= window_tolerance_days and abs(f1 - t1) <= window_tolerance_days
    return True


def score_findings(
    findings: list[dict[str, Any]],
    truth: dict[str, Any],
    *,
    top: int = 3,
    window_tolerance_days: int = 7,
) -> dict[str, Any]:
    """Compare findings with truth; see the module docstring for the rules."""
    faults_out: list[dict[str, Any]] = []
    matched_finding_ids: set[str] = set()
    false_ids: set[str] = set()
    real_faults = 0
    for fault in truth["faults"]:
        hits = [
            f for f in findings
            if f["failure_mode"] == fault["failure_mode"]
            and names_match(f["names"], fault["names"], window_tolerance_days=window_tolerance_days)
        ]
        if fault.get("red_herring"):
            false_ids.update(f["id"] for f in hits)
            faults_out.append({"id": fault["id"], "red_herring": True, "flagged": bool(hits)})
            continue
        real_faults += 1
        matched_finding_ids.update(f["id"] for f in hits)
        ranked = sorted((f for f in hits if f.get("rank", top + 1) <= top),
                        key=lambda f: (f["day_found"], f["rank"]))
        first = ranked[0] if ranked else None
        onset = fault.get("first_field_failure_day")
        faults_out.append({
            "id": fault["id"],
            "failure_mode": fault["failure_mode"],
            "found": first is not None,
            "rank": first["rank"] if first else None,
            "day_found": first["day_found"] if first else None,
            "first_field_failure_day": onset,
            "days_to_find": (first["day_found"] - onset) if first and onset is not None else None,
            "finding_id": first["id"] if first else None,
        })
    false_ids.update(f["id"] for f in findings if f["id"] not in matched_finding_ids)
    found = sum(1 for f in faults_out if f.get("found"))
    return {
        "faults": faults_out,
        "false_findings": sorted(false_ids),
        "n_false_findings": len(false_ids),
        "recall": round(found / real_faults, 3) if real_faults else None,
    }


def score_run(run_dir: Path | str, **options: Any) -> dict[str, Any]:
    """Read ``run_dir``'s summary and truth, write and return ``run_dir/score.json``."""
    run_dir = Path(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    truth = json.loads((run_dir / TRUTH_PATH).read_text(encoding="utf-8"))
    score = score_findings(summary.get("findings", []), truth, **options)
    (run_dir / "score.json").write_text(json.dumps(score, indent=2) + "\n", encoding="utf-8")
    return score
