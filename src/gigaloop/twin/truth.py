"""The scenario's hidden truth: the faults injected and what actually happened.

Only the twin writes it and only ``gigaloop.loop.score`` reads it; it never enters the
store. Everything in it is JSON-able.

>>> from gigaloop.twin.history import History
>>> from gigaloop.twin.scenario import load_scenario
>>> truth = assemble_truth(load_scenario(), History(), [], days=0, seed=0, scale="small")
>>> [f["id"] for f in truth["faults"]][:2], truth["faults"][0]["happened"]["affected_vins"]
(['F1-weak-cell-lot', 'F2-weld-drift'], 0)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gigaloop.errors import GigaloopError
from gigaloop.twin.build import INSPECTED_READINGS, MECHANISMS
from gigaloop.twin.fault_rules import HAZARD_KINDS
from gigaloop.twin.history import History
from gigaloop.twin.scenario import Fault, Release, Scenario

#: The field-failure KPI's span (``field_failures_per_1000_last90``), in days.
LAST_DAYS = 90


def assemble_truth(scenario: Scenario, history: History, fleet_events: list[dict[str, Any]],
                   *, days: int, seed: int, scale: str,
                   excess_failure_days: dict[str, dict[int, int]] | None = None,
                   background: dict[str, Any] | None = None,
                   offers: list[dict[str, Any]] | None = None,
                   reach: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The truth dict: scenario, faults with what happened to each, and world events;
    ``excess_failure_days``: the failures each general fault caused (:mod:`twin.effects`),
    by day (``{day: failures}``; the truth keeps their total and those of the last
    :data:`LAST_DAYS` days, the span of the field-failure KPI);
    ``background``: the real but harmless differences between machines, shifts and lots
    (:mod:`twin.background`), kept apart from the faults — no finding should name them;
    ``offers``: each campaign's hidden expected uplift (:mod:`twin.offers`); ``reach``:
    each software version's peak fleet share and rollback day (:class:`SoftwareFleet`)."""
    by_days = excess_failure_days or {}
    excess = {fault: sum(by_day.values()) for fault, by_day in by_days.items()}
    recent = {fault: sum(n for day, n in by_day.items() if day >= days - LAST_DAYS)
              for fault, by_day in by_days.items()}
    return {
        "scenario": {
            "name": scenario.scenario.name,
            "description": scenario.scenario.description,
            "start_date": scenario.scenario.start_date.isoformat(),
        },
        "seed": seed,
        "scale": scale,
        "days_simulated": days,
        "faults": [*(_fault(fault, history, fleet_events, days, excess, recent)
                     for fault in scenario.faults),
                   *(_bad_release(r, (reach or {}).get(r.version, {}))
                     for r in scenario.releases
                     if r.day < days and max(r.crash, r.disengagement, r.rain) > 1.0)],
        "breakdowns": list(history.breakdowns),
        "maintenance_resets": list(history.maintenance_resets),
        "actions": list(history.actions),
        "fleet_events": fleet_events,
        "mechanisms": [dict(m) for m in MECHANISMS],
        "background": {"levels": scenario.background.model_dump(),
                       **(background or {"machines": [], "shifts": [], "lots": []})},
        "offers": list(offers or []),
        "world_kpis": {"units_built": history.units_built,
                       "defects_present": history.defects_present,
                       "defects_escaped": history.defects_escaped},
    }


def _fault(fault: Fault, history: History, fleet_events: list[dict[str, Any]],
           days: int, excess: dict[str, int], recent: dict[str, int]) -> dict[str, Any]:
    fleet_first: dict[str, int] = {}
    for event in fleet_events:
        if event.get("fault_id") == fault.id:
            kind = str(event.get("kind"))
            fleet_first[kind] = min(int(event["day"]), fleet_first.get(kind, int(event["day"])))
    breakdowns = [b["day"] for b in history.breakdowns if b["fault_id"] == fault.id]
    onset = history.onset_day.get(fault.id)
    if fault.kind == "bearing_wear" and fault.starts < days:
        onset = fault.starts
    ended = history.ended_day.get(fault.id)
    if fault.stops is not None and fault.stops < days:
        ended = min(ended, fault.stops) if ended is not None else fault.stops
    general = {k: getattr(fault, k) for k in ("mode", "climate", "side")
               if getattr(fault, k) is not None}
    return {
        "id": fault.id,
        "kind": fault.kind,
        "where": dict(fault.where),
        "starts": fault.starts,
        "stops": fault.stops,
        "effect": dict(fault.effect),
        **general,
        "finding": {**fault.finding.model_dump(exclude_none=True), **_inspected(fault)},
        "happened": {
            "affected_vins": int(history.affected_vins.get(fault.id, 0)),
            "pushed_units": int(history.pushed_units.get(fault.id, 0)),
            "onset_day": onset,
            "last_built_day": history.last_built_day.get(fault.id),
            "ended_day": ended,
            "first_field_failure_day": fleet_first.get("first_field_failure"),
            "fleet_first": fleet_first,
            "breakdown_days": breakdowns,
            **({"lots": sorted(history.affected_lots[fault.id])}
               if fault.id in history.affected_lots else {}),
            **({"revision_lots": sorted(history.revision_lots[fault.id])}
               if fault.id in history.revision_lots else {}),
            **({"excess_failures": int(excess.get(fault.id, 0)),
                "excess_failures_last90": int(recent.get(fault.id, 0))}
               if fault.kind in HAZARD_KINDS else {}),
        },
    }


def _inspected(fault: Fault) -> dict[str, Any]:
    """``also_names``: the inspection that re-measures a process defect's reading names it
    too (its failed units are the defect's units), when there is one."""
    where = (fault.where.get("station"), fault.where.get("parameter"))
    if fault.kind != "process_defect" or where not in INSPECTED_READINGS:
        return {}
    return {"also_names": [dict(INSPECTED_READINGS[where])]}


def _bad_release(release: Release, reach: dict[str, Any]) -> dict[str, Any]:
    """A release worse than the starting version on some rate: a fault of its own, found
    when a rollout module rolls it back (a finding naming its version, and its vehicles
    took the rollback: ``rolled_back_day``); its days count from the day it was handed
    over. ``peak_share``: the largest share of the fleet that ran it."""
    return {
        "id": f"release-{release.version}", "kind": "bad_release",
        "where": {"software_version": release.version}, "starts": release.day, "stops": None,
        "effect": {"crash": release.crash, "disengagement": release.disengagement,
                   "rain": release.rain},
        "finding": {"failure_mode": "software_release",
                    "names": {"software_version": release.version}},
        "happened": {"onset_day": release.day, "first_field_failure_day": release.day,
                     "peak_share": reach.get("peak_share", 0.0),
                     "rolled_back_day": reach.get("rolled_back_day")},
    }


def write_truth(path: Path | str, truth: dict[str, Any]) -> None:
    """Write ``truth`` as JSON at ``path`` (folders created)."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(truth, indent=2, sort_keys=False), encoding="utf-8")
    except OSError as exc:
        raise GigaloopError(f"cannot write the truth to {target}: {exc.strerror}",
                            path=str(target)) from exc
