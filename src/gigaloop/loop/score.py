"""Scoring what a run found against the scenario's hidden truth (the only reader of truth).

A fault counts as *found* when a finding for its failure mode names it (a finding on
owners' complaints about a component, ``complaint:<component>``, is one for that
component's failures) — the same lot, station, machine, hardware revision … — at rank
≤ ``top`` (a bad software release: once its vehicles took the rollback,
``rolled_back_day``; and, when the fault has a time window, names a window whose ends
are within ``window_tolerance_days`` of the window that really was: a drift the loop
stopped early ended on that day; a supplier's window is also named by any lot that went
into the units it marked, and a process defect by the failed units of an inspection that
re-measures its reading). A finding names what its ``aliases`` name too (whole namings
that mark the same vehicles, such as another part's lot where every part changed lots at
the same unit, or another part's supplier where suppliers took turns in step: no data can
tell them apart). A window inside the fault's names its cause
too — the days a drift harmed before process control took it out — and is not false, but
does not find the fault.
A finding that matches no fault, or names a red herring, is a false finding; one that
names a fault in one of its ``related_modes`` (a weak lot's pack failures beside its
fade) is neither, nor is one naming a single lot of a faulty hardware revision (the truth's
``revision_lots``): part of the cause, as a window inside a drift's, but not the fault.
A false finding retracted by the end no longer stands; a true one retracted is counted
too.

Process control's alarms are findings of their own failure mode,
:data:`~gigaloop.factory.process_control.ALARM_MODE`: a chart saying that a machine's
parameter has shifted. One credits a drift fault (:func:`is_drift`) of its machine and
parameter when it was raised between the fault's start and its realised end (± the
tolerance): the drift was seen in the plant, often before any vehicle failed
(``days_to_find`` is then negative) and before it could harm many. An alarm on a stream
with no fault is no causal claim — the stream did shift (a machine's natural wander) — so
it is counted apart (``process_alarms_without_fault``), like a chart's false-alarm rate,
not as a false finding. Likewise maintenance's predictions (:data:`MACHINE_MODE`, a
machine heading for a breakdown) are credited to a machine fault they name, and one on a
machine with no injected fault — natural wear the twin also has — is counted apart
(``maintenance_predictions_without_fault``): false findings are root cause's causal
claims.
A finding that names one of the plant's own process laws (the truth's ``mechanisms``:
weld current and seams, under-torque and loose trim, and the units an inspection failed
for the defect it sees), on its failure mode, found a real
cause the scenario did not inject: it is counted apart (``mechanism_findings``), neither a
fault found nor a false finding.

>>> truth = {"scenario": {"start_date": "2025-01-06"}, "faults": [{"id": "weak-lot",
...     "finding": {"failure_mode": "battery_pack", "names": {"lot": "CELL-7"}},
...     "happened": {"first_field_failure_day": 90}}]}
>>> findings = [{"id": "F1", "failure_mode": "battery_pack", "names": {"lot": "CELL-7"},
...              "rank": 1, "day_found": 120}]
>>> score = score_findings(findings, truth)
>>> score["faults"][0]["found"], score["faults"][0]["days_to_find"], score["recall"]
(True, 30, 1.0)
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from gigaloop.errors import ConfigError
from gigaloop.factory.process_control import ALARM_MODE
from gigaloop.loop.finding import component_of
from gigaloop.loop.finding import namings as finding_namings
from gigaloop.loop.offer_scoring import offers_against_truth

#: Truth is kept here, beside (never inside) the run's store.
TRUTH_PATH = Path("truth") / "truth.json"
#: Fault kinds that drift a machine's process parameter (weld current unless ``where`` names one).
DRIFT_KINDS = ("weld_current_drift", "process_drift")
#: The failure mode of maintenance's findings: a machine heading for a breakdown.
MACHINE_MODE = "machine_breakdown"
#: Which module a finding's failure mode comes from, where it is not root cause.
FOUND_BY = {ALARM_MODE: "process control", MACHINE_MODE: "maintenance",
            "software_release": "rollout", "cell_policy": "cell rollout"}
#: Faults found only once what they name was rolled back (truth: ``rolled_back_day``).
ROLLED_BACK_KINDS = ("bad_release", "bad_cell_policy")


def names_match(
    finding_names: dict[str, Any],
    fault_names: dict[str, Any],
    *,
    start: date | None = None,
    window_tolerance_days: int = 7,
    inside: bool = False,
) -> bool:
    """True when the finding names the fault: every identifier the finding shares with the
    fault agrees, at least one does, and when the fault has a time window the finding
    names one whose ends are within tolerance (``inside``: one within the fault's, ±
    tolerance — part of it, such as the days a drift harmed before control took it out).
    Windows are day numbers from ``start`` or ISO dates (converted with ``start``).

    >>> names_match({"station": "BW-030", "window": [41, 57]},
    ...             {"station": "BW-030", "machine": "BW-030-R2", "window": [40, 58]})
    True
    >>> names_match({"station": "BW-030", "window": ["2025-02-16", "2025-03-04"]},
    ...             {"station": "BW-030", "window": [40, 58]}, start=date(2025, 1, 6))
    True
    >>> names_match({"station": "BW-030"}, {"station": "BW-030", "window": [40, 58]})
    False
    >>> names_match({"lot": "DU-SUPF-0013", "part": "DU"}, {"lot": ["DU-SUPF-0012",
    ...             "DU-SUPF-0013"], "part": "DU"})       # a fault on several lots
    True
    >>> names_match({"station": "ST-020", "window": [23, 32]},
    ...             {"station": "ST-020", "window": [20, 70]}, inside=True)
    True
    """
    shared = [k for k in fault_names if k != "window" and k in finding_names]
    if not shared or not all(_same(finding_names[k], fault_names[k]) for k in shared):
        return False
    if "window" not in fault_names:
        return True
    if "window" not in finding_names:
        return False
    found = [_as_day(v, start) for v in finding_names["window"]]
    true = [_as_day(v, start) for v in fault_names["window"]]
    if inside:
        return all(true[0] - window_tolerance_days <= f <= true[1] + window_tolerance_days
                   for f in found)
    return all(abs(f - t) <= window_tolerance_days for f, t in zip(found, true, strict=True))


def _same(found: Any, true: Any) -> bool:
    """A finding's identifier names the fault's: equal, or one of the fault's list."""
    if isinstance(true, list):
        return str(found) in {str(t) for t in true}
    return str(found) == str(true)


def _as_day(value: Any, start: date | None) -> int:
    if isinstance(value, int | float):
        return int(value)
    if start is None:
        raise ValueError("a window given as dates needs the scenario start date")
    return (date.fromisoformat(str(value)[:10]) - start).days


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
    start = date.fromisoformat(truth["scenario"]["start_date"])
    alarms = [f for f in findings if f["failure_mode"] == ALARM_MODE]
    findings = [f for f in findings if f["failure_mode"] != ALARM_MODE]
    about = {f["id"]: component_of(f["failure_mode"]) for f in findings}
    said = {f["id"]: finding_namings(f["names"]) for f in findings}  # aliases name it too
    alarms_used: set[str] = set()
    for fault in truth["faults"]:
        wanted = _realised(fault)
        related = {wanted["failure_mode"], *wanted.get("related_modes", [])}
        namings = _namings(fault, wanted)
        # part of the fault's window, or one lot of its revision, names its cause (no false
        # finding); found needs all
        naming = [f for f in findings if about[f["id"]] in related and any(
            names_match(alias, n, start=start, inside=True,
                        window_tolerance_days=window_tolerance_days)
            for alias in said[f["id"]] for n in [*namings, *_parts(fault)])]
        hits = [f for f in naming if about[f["id"]] == wanted["failure_mode"] and any(
            names_match(alias, n, start=start, window_tolerance_days=window_tolerance_days)
            for alias in said[f["id"]] for n in namings)]
        seen_in_plant = _alarms_on(alarms, fault, wanted, start, window_tolerance_days)
        alarms_used.update(f["id"] for f in seen_in_plant)
        if wanted.get("red_herring"):
            false_ids.update(f["id"] for f in naming)
            faults_out.append({"id": fault["id"], "red_herring": True, "flagged": bool(hits)})
            continue
        real_faults += 1
        matched_finding_ids.update(f["id"] for f in naming)  # a related mode is no false alarm
        ranked = sorted((f for f in [*hits, *seen_in_plant] if f.get("rank", top + 1) <= top),
                        key=lambda f: (f["day_found"], f["rank"]))
        first = ranked[0] if ranked else None
        if first is not None and not _rolled_back(fault, first):
            first = None  # a rollback decided, but the vehicles never went back
        onset = _first_failure_day(fault["happened"])
        began = fault["happened"].get("onset_day")
        faults_out.append({
            "id": fault["id"],
            "kind": fault.get("kind"),
            "failure_mode": wanted["failure_mode"],
            "found": first is not None,
            "rank": first["rank"] if first else None,
            "day_found": first["day_found"] if first else None,
            "first_field_failure_day": onset,
            "days_to_find": (first["day_found"] - onset) if first and onset is not None else None,
            "days_from_onset": (first["day_found"] - began) if first and began is not None
            else None,
            "finding_id": first["id"] if first else None,
            "found_by": None if first is None else FOUND_BY.get(
                first["failure_mode"], "root cause" if about.get(first["id"]) == first[
                    "failure_mode"] else "root cause, from complaints"),
            **({k: fault["happened"].get(k) for k in ("peak_share", "rolled_back_day")}
               if fault.get("kind") in ROLLED_BACK_KINDS else {}),
        })
    unmatched = [f for f in findings if f["id"] not in matched_finding_ids]
    predictions = {f["id"] for f in unmatched if f["failure_mode"] == MACHINE_MODE}
    mechanism = {f["id"] for f in unmatched if any(
        about[f["id"]] == m["failure_mode"] and names_match(alias, m["names"], start=start)
        for m in truth.get("mechanisms", []) for alias in said[f["id"]])}
    false_ids.update(f["id"] for f in unmatched if f["id"] not in predictions | mechanism)
    found = sum(1 for f in faults_out if f.get("found"))
    retracted = {f["id"] for f in findings if f.get("retracted")}
    return {
        "faults": faults_out,
        "mechanism_findings": sorted(mechanism),
        "false_findings": sorted(false_ids),
        "n_false_findings": len(false_ids),
        "false_findings_standing": sorted(false_ids - retracted),
        "true_findings_retracted": sorted(matched_finding_ids & retracted),
        "recall": round(found / real_faults, 3) if real_faults else None,
        "process_alarms": len(alarms),
        "process_alarms_without_fault": sorted({f["id"] for f in alarms} - alarms_used),
        "maintenance_predictions_without_fault": sorted(predictions),
        # per vision point: defective units, flagged, false rejects and escapes (the truth)
        "inspection": truth.get("inspection"),
    }


def _rolled_back(fault: dict[str, Any], finding: dict[str, Any]) -> bool:
    """A bad release (or robot-cell policy) counts as found only once its vehicles (cells)
    took the rollback the finding announced (truth: ``rolled_back_day``, at most a week
    after); other faults, always.

    >>> fault = {"kind": "bad_release", "happened": {"rolled_back_day": None}}
    >>> _rolled_back(fault, {"day_found": 13})
    False
    >>> _rolled_back({"kind": "bad_release", "happened": {"rolled_back_day": 14}},
    ...              {"day_found": 13})
    True
    """
    if fault.get("kind") not in ROLLED_BACK_KINDS or "rolled_back_day" not in fault["happened"]:
        return True
    day = fault["happened"]["rolled_back_day"]
    return day is not None and finding["day_found"] <= day <= finding["day_found"] + 7


def is_drift(fault: dict[str, Any]) -> bool:
    """A fault that shifts a machine's process parameter: a drift kind, or a process defect
    whose parameter shifts on a named machine (the defect comes from the shifted values).

    >>> is_drift({"kind": "process_defect", "where": {"machine": "ST-010-P1"},
    ...           "effect": {"shift": -131.6, "threshold": 57.2, "slope": 2.7e-4}})
    True
    >>> is_drift({"kind": "process_defect", "where": {"station": "ST-010"},
    ...           "effect": {"threshold": 57.2, "slope": 2.7e-4}})
    False
    """
    if fault.get("kind") in DRIFT_KINDS:
        return True
    return (fault.get("kind") == "process_defect" and "machine" in fault.get("where", {})
            and bool(fault.get("effect", {}).get("shift")))


def _alarms_on(alarms: list[dict[str, Any]], fault: dict[str, Any], wanted: dict[str, Any],
               start: date, tolerance: int) -> list[dict[str, Any]]:
    """Process-control findings on ``fault``'s machine and parameter, raised while it ran.

    >>> fault = {"kind": "process_drift", "where": {"machine": "GA-010-T1",
    ...          "parameter": "torque"}}
    >>> wanted = {"names": {"machine": "GA-010-T1", "window": [150, 200]}}
    >>> alarm = {"id": "SPC", "names": {"machine": "GA-010-T1", "parameter": "torque",
    ...          "window": [161, 161]}}
    >>> [a["id"] for a in _alarms_on([alarm], fault, wanted, date(2025, 1, 6), 7)]
    ['SPC']
    """
    if not is_drift(fault) or "window" not in wanted["names"]:
        return []
    machine = fault["where"].get("machine")
    parameter = fault["where"].get("parameter", "weld_current")
    first, last = (_as_day(v, start) for v in wanted["names"]["window"])
    return [a for a in alarms
            if a["names"].get("machine") == machine and a["names"].get("parameter") == parameter
            and first - tolerance <= _as_day(a["names"]["window"][0], start) <= last + tolerance]


def _namings(fault: dict[str, Any], wanted: dict[str, Any]) -> list[dict[str, Any]]:
    """The names a correct finding may give: the fault's; those the truth lists as naming
    it too (``also_names``: the inspection that re-measures a process defect's reading);
    and for a supplier's window the lots that went into its marked units (a lot is a window
    of one supplier's parts).

    >>> fault = {"happened": {"lots": ["DU-SUPF-0012", "DU-SUPF-0013"]}}
    >>> wanted = {"names": {"part": "DU", "supplier": "SUPF", "window": [30, 90]}}
    >>> _namings(fault, wanted)[1]
    {'part': 'DU', 'supplier': 'SUPF', 'lot': ['DU-SUPF-0012', 'DU-SUPF-0013']}
    >>> _namings({}, {"names": {"station": "PT-010"}, "also_names": [{"station": "PT-030"}]})
    [{'station': 'PT-010'}, {'station': 'PT-030'}]
    """
    names = wanted["names"]
    namings = [names, *wanted.get("also_names", [])]
    lots = fault.get("happened", {}).get("lots")
    if lots and "supplier" in names and "lot" not in names:
        namings.append({**{k: v for k, v in names.items() if k != "window"}, "lot": lots})
    return namings


def _parts(fault: dict[str, Any]) -> list[dict[str, Any]]:
    """Names of part of a fault's cause that do not find it: one lot of the part whose
    faulty revision it is (a lot reported before the revision could be told from it).

    >>> _parts({"happened": {"revision_lots": ["CAM-SUPD-0001", "CAM-SUPD-0002"]}})
    [{'lot': ['CAM-SUPD-0001', 'CAM-SUPD-0002']}]
    >>> _parts({"happened": {}})
    []
    """
    lots = fault.get("happened", {}).get("revision_lots")
    return [{"lot": lots}] if lots else []


def _realised(fault: dict[str, Any]) -> dict[str, Any]:
    """The fault's expected finding, its window cut where the fault really ended.

    >>> _realised({"finding": {"names": {"window": [40, 150]}},
    ...            "happened": {"ended_day": 62}})["names"]["window"]
    [40, 62]
    """
    wanted = fault["finding"]
    ended = fault.get("happened", {}).get("ended_day")
    window = wanted.get("names", {}).get("window")
    if window is None or ended is None or not isinstance(window[1], int) or ended >= window[1]:
        return wanted
    return {**wanted, "names": {**wanted["names"], "window": [window[0], ended]}}


def _first_failure_day(happened: dict[str, Any]) -> int | None:
    """The first field failure, or for plant faults the first breakdown."""
    if happened.get("first_field_failure_day") is not None:
        return int(happened["first_field_failure_day"])
    breakdowns = happened.get("breakdown_days") or []
    return int(min(breakdowns)) if breakdowns else None


def truth_timeline(truth: dict[str, Any]) -> list[dict[str, Any]]:
    """Fault onsets and first field failures, for the report's loop timeline.

    >>> truth_timeline({"faults": [{"id": "F2", "finding": {"red_herring": False},
    ...     "happened": {"onset_day": 40, "first_field_failure_day": 105}}]})
    [{'day': 40, 'what': 'fault onset', 'label': 'F2'},
     {'day': 105, 'what': 'first field failure', 'label': 'F2'}]
    """
    rows = []
    for fault in truth["faults"]:
        if fault["finding"].get("red_herring"):
            continue
        happened = fault["happened"]
        for key, what in (("onset_day", "fault onset"),
                          ("first_field_failure_day", "first field failure")):
            if happened.get(key) is not None:
                rows.append({"day": int(happened[key]), "what": what, "label": fault["id"]})
    return rows


def read_truth(run_dir: Path | str) -> dict[str, Any] | None:
    """The truth of a simulated run, or None for a run on real data."""
    path = Path(run_dir) / TRUTH_PATH
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def score_run(run_dir: Path | str, **options: Any) -> dict[str, Any]:
    """Read ``run_dir``'s summary and truth, write and return ``run_dir/score.json``."""
    run_dir = Path(run_dir)
    for needed in (run_dir / "summary.json", run_dir / TRUTH_PATH):
        if not needed.exists():
            raise ConfigError(f"{needed} is missing: score a folder written by "
                              "`gigaloop run --out DIR` (real data has no truth to score)")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    truth = json.loads((run_dir / TRUTH_PATH).read_text(encoding="utf-8"))
    score = score_findings(summary.get("findings", []), truth, **options)
    from gigaloop.loop.drift_harm import drift_defects  # it reads the truth through here

    score["drift_defects"] = drift_defects(run_dir)
    score["offers"] = offers_against_truth(truth)
    (run_dir / "score.json").write_text(json.dumps(score, indent=2) + "\n", encoding="utf-8")
    return score


def score_offers(run_dir: Path | str) -> dict[str, Any]:
    """:func:`~gigaloop.loop.offer_scoring.offers_against_truth` of a run folder's truth."""
    truth = read_truth(run_dir)
    if truth is None:
        raise ConfigError(f"{run_dir} has no truth: offers are scored on simulated runs")
    return offers_against_truth(truth)
