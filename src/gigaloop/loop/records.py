"""The loop's findings and change requests read back from the store (any Ibis engine).

The modules emit one ``findings`` row per scan and one ``change_requests`` row per state;
these functions fold them into one record each, as ``summary.json`` and the report show
them: a finding with the evidence it was reported on and its ``latest`` scan; a change
request in its latest state.
"""

from __future__ import annotations

import json
from typing import Any

from gigaloop.store import Tables


def findings_from_store(store: Tables) -> list[dict[str, Any]]:
    """Every finding once: root cause's with the evidence it was first reported on, its
    ``latest`` scan, whether it is ``active`` and, once retracted, when and why
    (``retracted``); then those other modules reported with a
    decision (e.g. maintenance: a machine heading for a breakdown), as reported."""
    rows = store.execute(store.table("findings").order_by(["finding_id", "day"]))
    decisions = store.table("decisions")
    reported = store.execute(decisions.filter(decisions.finding_json.notnull()).order_by(
        ["day", "module", "seq"]).select("finding_id", "finding_json"))
    scanned = set(rows.finding_id)
    out = []
    for finding_id, scans in rows.groupby("finding_id", sort=True):
        first = scans[scans.day >= scans.day_found].iloc[0]
        last = scans.iloc[-1]
        out.append({
            "id": finding_id, "failure_mode": first.failure_mode, "attribute": first.attribute,
            "names": json.loads(first.names_json), "effect_kind": first.effect_kind,
            **_evidence(first), "day_found": int(first.day_found),
            "latest": _evidence(last), "last_seen_day": int(scans[scans.active].day.max())
            if scans.active.any() else None, "active": bool(last.active),
            **({"retracted": {"day": int(last.day), "reason": last.retracted_reason}}
               if last.retracted else {}),
        })
    others = reported[~reported.finding_id.isin(scanned)].drop_duplicates("finding_id")
    return out + [json.loads(text) for text in others.finding_json]


def changes_from_store(store: Tables) -> list[dict[str, Any]]:
    """Every change request in its latest state (the record as the module kept it)."""
    rows = store.execute(store.table("change_requests").order_by(["change_id", "revision"]))
    return [json.loads(states.iloc[-1].record_json)
            for _, states in rows.groupby("change_id", sort=True)]


def _evidence(row: Any) -> dict[str, Any]:
    return {"effect": float(row.effect), "ci": [float(row.ci_low), float(row.ci_high)],
            "q": float(row.q), "rank": int(row["rank"]),
            "affected_vins": int(row.affected_vehicles)}
