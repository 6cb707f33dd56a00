"""Engineering change requests: from a finding to an action, with its evidence and state.

States: ``proposed`` (raised from a finding, with evidence) → ``approved`` (after the
review delay; with ``ChangeConfig.approval = "reviewed"``, as in a real plant, only by a
person's verdict in ``change_reviews``, and a rejecting one leaves it ``rejected``) →
``effective`` (the actions went out
through the actuator) → ``verified`` or ``failed`` (see :mod:`gigaloop.loop.impact`).
A target the source refuses leaves the change ``rejected`` with its reason; a finding
with no physical lever (a shift, a trim) stays ``proposed`` for people to investigate.
A campaign goes out in ``campaign_waves`` weekly waves, the cars likeliest to fail in the
next month first (:func:`campaign_priority`): service capacity is finite, and who waits
matters.

>>> plan_actions({"failure_mode": "body_seam", "names": {"station": "BW-030",
...     "machine": "BW-030-R2", "window": ["2025-02-15", "2025-03-04"]}},
...     change_id="C001", day=120, vins=("V1", "V2"))
[EngineeringChange(day=120, change_id='C001', target={'station': 'BW-030', \
'machine': 'BW-030-R2'}, ...), ServiceCampaign(day=120, campaign_id='C001', \
vins=('V1', 'V2'), component='body_seam', ...)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gigaloop.actuate import Action, EngineeringChange, ServiceCampaign
from gigaloop.errors import ModelError
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.loop.finding import component_of, names_text, namings
from gigaloop.loop.population import Population
from gigaloop.loop.state import LoopState
from gigaloop.loop.subgroups import SUBGROUP_KEYS
from gigaloop.ml.weibull import fit_weibull
from gigaloop.schema import RATE_MEASURES

#: The component a campaign services for each failure mode measured as a rate.
RATE_MODE_COMPONENT = {m.mode: m.component for m in RATE_MEASURES if m.component}


def serviced_component(mode: str) -> str:
    """The component a campaign on a finding of ``mode`` services: a rate measure's
    declared one, a complaint mode's component, else the mode (a component's claims).

    >>> serviced_component("complaint:paint_trim"), serviced_component("body_seam")
    ('paint_trim', 'body_seam')
    """
    return RATE_MODE_COMPONENT.get(mode, component_of(mode))


def same_cause(finding: dict[str, Any], other: dict[str, Any]) -> bool:
    """Whether two findings need one change: they service one component and one names a
    cause the other names too — each naming without numeric ranges, windows, or the
    climate or band of use it bites in (:func:`cause_namings`), and one's a subset of the
    other's. Findings of two modes about one component (its owners' complaints and its
    claims), a lot found among cold-climate cars and the same lot everywhere later, a
    supplier whose parts are all of one revision found by its revision and by its name:
    one cause, one change.

    >>> claim = {"failure_mode": "paint_trim", "names": {"station": "GA-010",
    ...          "window": ["2025-06-05", "2025-07-01"]}}
    >>> same_cause({"failure_mode": "complaint:paint_trim", "names": {"station": "GA-010"}},
    ...            claim)
    True
    >>> revision = {"failure_mode": "door_handle", "names": {"supplier": "SUPB", "part": "P",
    ...             "hardware_revision": "P-B"}}
    >>> same_cause(revision, {"failure_mode": "door_handle", "names": {"supplier": "SUPB",
    ...                                                                "part": "P"}})
    True
    >>> same_cause(revision, {"failure_mode": "door_handle", "names": {"lot": "P-7",
    ...                                                                "part": "P"}})
    False
    """
    if serviced_component(finding["failure_mode"]) != serviced_component(other["failure_mode"]):
        return False
    return any(a <= b or b <= a for a in cause_namings(finding) for b in cause_namings(other)
               if a and b)


def cause_namings(finding: dict[str, Any]) -> list[frozenset[tuple[str, str]]]:
    """Each naming of ``finding`` (its names, then its aliases) as the set of ``key=value``
    a change acts on; a naming of a part alone names no cause (empty).

    >>> sorted(cause_namings({"failure_mode": "m", "names": {"lot": "CELL-7", "part": "P",
    ...                       "climate": "cold"}})[0])
    [('lot', 'CELL-7'), ('part', 'P')]
    """
    out = []
    for naming in namings(finding["names"]):
        cause = frozenset((k, str(v)) for k, v in naming.items()
                          if k not in ("range", "window", *SUBGROUP_KEYS))
        out.append(cause if {k for k, _ in cause} - {"part"} else frozenset())
    return out


@dataclass(frozen=True)
class ChangeConfig:
    """When findings become changes, how long review takes, how verification decides."""

    max_rank: int = 3
    min_effect_low: float = 1.1  # lower CI bound to raise a change: the reporting floor
    review_delay_days: int = 3
    #: "automatic": a change is approved once ``review_delay_days`` have passed (the twin);
    #: "reviewed": only by a person's verdict in ``change_reviews`` (a real plant)
    approval: str = "automatic"
    max_campaign_vins: int = 20_000  # a recall covers every affected car; this guards a runaway
    verify_min_days: int = 28
    verify_max_days: int = 120
    campaign_waves: int = 6
    min_wave_vins: int = 50
    risk_horizon_days: float = 30.0


def plan_actions(finding: dict[str, Any], *, change_id: str, day: int,
                 vins: Sequence[str]) -> list[Action]:
    """The actions that address ``finding``: fix the source, service what is out there."""
    names, mode = finding["names"], finding["failure_mode"]
    component = serviced_component(mode)
    actions: list[Action] = []
    description = f"{mode}: {names_text(names)}"
    if "lot" in names:
        actions.append(EngineeringChange(day=day, change_id=change_id,
                                         target={"lot": names["lot"]},
                                         description=f"contain lot — {description}"))
    elif "hardware_revision" in names:
        actions.append(EngineeringChange(
            day=day, change_id=change_id, target={"hardware_revision": names["hardware_revision"]},
            description=f"retire revision — {description}"))
    elif "inspection" in names:  # the units it fails reach the field: rework them
        if names.get("verdict") == "failed":
            actions.append(EngineeringChange(
                day=day, change_id=change_id,
                target={"station": names["station"], "inspection": names["inspection"]},
                description=f"rework what the inspection fails — {description}"))
    elif "station" in names:
        target = {"station": names["station"]}
        if "machine" in names:
            target["machine"] = names["machine"]
        actions.append(EngineeringChange(day=day, change_id=change_id, target=target,
                                         description=f"recalibrate — {description}"))
    elif "supplier" in names:
        actions.append(EngineeringChange(day=day, change_id=change_id,
                                         target={"supplier": names["supplier"]},
                                         description=f"resource part — {description}"))
    if actions and vins:
        actions.append(ServiceCampaign(day=day, campaign_id=change_id, vins=tuple(vins),
                                       component=component, reason=description))
    return actions


def campaign_priority(pop: Population | None, vins: Sequence[str], component: str, *,
                      horizon_days: float = 30.0) -> list[str]:
    """``vins`` ordered by P(``component`` fails within ``horizon_days`` | in service now),
    from a Weibull fit (:func:`~gigaloop.ml.weibull.fit_weibull`) of its first failures among
    them: the newest cars first when failures come early in life (shape < 1), the oldest
    first when they wear out.
    Unknown VINs go last; with fewer than 10 failures the order is kept.

    >>> campaign_priority(None, ["V2", "V1"], "paint_trim")
    ['V2', 'V1']
    """
    if pop is None or not len(vins):
        return list(vins)
    position = pd.Index(pop.vin).get_indexer(list(vins))
    known = position >= 0
    duration, event = pop.survival(component)
    duration, event = duration[position[known]], event[position[known]]
    if event.sum() < 10:
        return list(vins)
    try:
        fit = fit_weibull(np.maximum(duration, 0.5), event)
    except ModelError:
        return list(vins)
    age = pop.in_service_days[position]
    alive = fit.survival(np.maximum(age, 0.0))
    later = fit.survival(np.maximum(age, 0.0) + horizon_days)
    risk = np.where(known, 1.0 - later / np.maximum(alive, 1e-300), -1.0)
    return [vins[i] for i in np.argsort(-risk, kind="stable")]


def _send_wave(ctx: DayContext, state: LoopState, config: ChangeConfig, change: dict[str, Any],
               finding: dict[str, Any]) -> list[Decision]:
    """The next wave of a campaign's backlog, riskiest first (re-ranked on today's data)."""
    backlog: list[str] = state.campaign_backlog.get(change["id"], [])
    if not backlog:
        return []
    component = serviced_component(finding["failure_mode"])
    ranked = campaign_priority(state.population, backlog, component,
                               horizon_days=config.risk_horizon_days)
    total = change["campaign_vins"]
    size = max(config.min_wave_vins, math.ceil(total / config.campaign_waves))
    wave, state.campaign_backlog[change["id"]] = ranked[:size], ranked[size:]
    state.campaigned.setdefault(change["id"], set()).update(wave)
    action = next(a for a in plan_actions(finding, change_id=change["id"], day=ctx.day,
                                          vins=wave) if isinstance(a, ServiceCampaign))
    return [Decision(ctx.day, "changes",
                     f"{change['id']} campaign wave: {len(wave)} vehicles, "
                     f"{len(ranked) - len(wave)} to follow", action=action,
                     inputs={"finding": finding["id"]})]


def propose_changes(ctx: DayContext, state: LoopState, config: ChangeConfig) -> list[Decision]:
    """Raise a change request for every strong, top-ranked finding that has none yet, nor a
    standing change on the same cause (:func:`same_cause`)."""
    changes: list[dict[str, Any]] = state.changes
    covered = {c["finding_id"] for c in changes}
    by_id = {f["id"]: f for f in [*state.findings.values(), *state.retracted]}
    acting = [by_id[c["finding_id"]] for c in changes
              if c["finding_id"] in by_id and c["state"] not in ("withdrawn", "rejected",
                                                                  "failed")]
    decisions = []
    for finding in state.findings.values():
        if finding["id"] in covered or not finding.get("active", True) \
                or any(same_cause(finding, other) for other in acting):
            continue
        latest = finding.get("latest", finding)  # the evidence of the last scan
        if latest["rank"] > config.max_rank or latest["ci"][0] < config.min_effect_low:
            continue
        vins = state.finding_vins.get(finding["id"], ())
        change_id = f"C{len(changes) + 1:03d}"
        actions = plan_actions(finding, change_id=change_id, day=ctx.day, vins=())
        change = {
            "id": change_id, "finding_id": finding["id"], "failure_mode": finding["failure_mode"],
            "action": getattr(actions[0], "description", actions[0].kind) if actions else
            f"investigate {finding['failure_mode']}: {finding['names']}",
            "campaign_vins": min(len(vins), config.max_campaign_vins) if actions else 0,
            "evidence": {k: finding[k] for k in ("effect", "effect_kind", "ci", "q",
                                                  "affected_vins")},
            "state": "proposed", "day_proposed": ctx.day, "day_effective": None,
            "day_verified": None, "verified": None,
        }
        changes.append(change)
        acting.append(finding)
        decisions.append(Decision(ctx.day, "changes", f"{change_id} proposed: {change['action']}",
                                  inputs={"finding": finding["id"]}))
    return decisions


def withdraw_changes(ctx: DayContext, state: LoopState) -> list[Decision]:
    """Withdraw the change requests of retracted findings: no more campaign waves; one
    already in effect is marked ``acted`` (a change made on a finding that did not stand)."""
    retracted = {f["id"]: f for f in state.retracted}
    decisions = []
    for change in state.changes:
        finding = retracted.get(change["finding_id"])
        if finding is None or change["state"] in ("withdrawn", "rejected", "failed"):
            continue
        acted = change["state"] in ("effective", "verified")
        change.update(state="withdrawn", day_withdrawn=ctx.day, acted=acted)
        state.campaign_backlog[change["id"]] = []
        decisions.append(Decision(
            ctx.day, "changes", f"{change['id']} withdrawn: {finding['id']} retracted "
            f"({finding['retracted']['reason']})" + ("; it had been acted on" if acted else ""),
            inputs={"finding": finding["id"]}))
    return decisions


def advance_changes(ctx: DayContext, state: LoopState, config: ChangeConfig) -> list[Decision]:
    """Approve reviewed changes and send their actions; each action is one decision."""
    decisions = []
    findings = {f["id"]: f for f in state.findings.values()}
    verdicts = _verdicts(ctx) if config.approval == "reviewed" else {}
    for change in state.changes:
        if change["state"] != "proposed" or change["action"].startswith("investigate"):
            continue  # investigations wait for people
        if config.approval == "reviewed":
            verdict = verdicts.get(change["id"])
            if verdict == "rejected":
                change.update(state="rejected", day_rejected=ctx.day)
                decisions.append(Decision(ctx.day, "changes", f"{change['id']} rejected by "
                                          "its reviewer", inputs={"change": change["id"]}))
            if verdict != "approved":
                continue
        elif ctx.day < change["day_proposed"] + config.review_delay_days:
            continue
        finding = findings[change["finding_id"]]
        vins = list(state.finding_vins.get(finding["id"], ()))
        vins = vins[: config.max_campaign_vins]
        actions = plan_actions(finding, change_id=change["id"], day=ctx.day, vins=())
        change.update(state="effective", day_approved=ctx.day, day_effective=ctx.day,
                      campaign_vins=len(vins))
        state.campaigned[change["id"]] = set()
        state.campaign_backlog[change["id"]] = vins if actions else []
        for action in actions:
            decisions.append(Decision(ctx.day, "changes", f"{change['id']} {action.kind}",
                                      action=action, inputs={"finding": finding["id"],
                                                             "evidence": change["evidence"]}))
        decisions += _send_wave(ctx, state, config, change, finding)
        change["decisions"] = len(decisions)
    return decisions


def _verdicts(ctx: DayContext) -> dict[str, str]:
    """Each reviewed change request's verdict, as the store holds them on ``ctx``'s day."""
    reviews = ctx.view.table("change_reviews")
    rows = ctx.view.execute(reviews.select("change_id", "verdict"))
    return dict(zip(rows.change_id, rows.verdict, strict=True))


#: Finding attribute kinds whose level can be looked up again in a later population.
_LEVEL_NAME = {"lot": "lot", "supplier": "supplier", "hardware_revision": "hardware_revision"}


def top_up_campaigns(ctx: DayContext, state: LoopState, config: ChangeConfig) -> list[Decision]:
    """Extend effective campaigns to vehicles of the same lot / revision delivered since,
    and to those a drift made while it lasted.

    A finding names what was in the field when it was made; units of the same level
    delivered later carry the same defect and join the campaign (weekly, with the scan).
    A drift found while it still runs ends only with the recalibration: its window, as
    the latest scan sees it in the readings, holds the units built until then.
    """
    pop = state.population
    if pop is None or pop.as_of != ctx.now.date():
        return []
    findings = {f["id"]: f for f in state.findings.values()}
    campaigned: dict[str, set[str]] = state.campaigned
    by_name = {a.name: a for a in pop.attributes}
    decisions = []
    for change in state.changes:
        if change["state"] not in ("effective", "verified") or change["id"] not in campaigned:
            continue
        finding = findings[change["finding_id"]]
        members = _members(by_name.get(finding.get("attribute", "")), finding, pop)
        backlog = state.campaign_backlog.setdefault(change["id"], [])
        known = campaigned[change["id"]] | set(backlog)
        new = [v for v in members if v not in known]
        new = new[: max(config.max_campaign_vins - len(known), 0)]
        if new:
            backlog += new
            change["campaign_vins"] = len(known) + len(new)
        decisions += _send_wave(ctx, state, config, change, finding)
    return decisions


def _members(attribute: Any, finding: dict[str, Any], pop: Population) -> np.ndarray:
    """Vehicles of the finding's level in today's population (none when it cannot say)."""
    if attribute is None:
        return pop.vin[:0]
    if attribute.kind == "drift":
        return pop.vin[attribute.codes == attribute.levels.index("inside")]
    if attribute.kind in _LEVEL_NAME:
        label = finding["names"][_LEVEL_NAME[attribute.kind]]
        if label in attribute.levels:
            return pop.vin[attribute.codes == attribute.levels.index(label)]
    return pop.vin[:0]
