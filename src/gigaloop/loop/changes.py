"""Engineering change requests: from a finding to an action, with its evidence and state.

States: ``proposed`` (raised from a finding, with evidence) → ``approved`` (after the
review delay; in a real plant a person approves) → ``effective`` (the actions went out
through the actuator) → ``verified`` or ``failed`` (see :mod:`gigaloop.loop.impact`).
A target the source refuses leaves the change ``rejected`` with its reason; a finding
with no physical lever (a shift, a trim) stays ``proposed`` for people to investigate.

>>> plan_actions({"failure_mode": "body_seam", "names": {"station": "BW-030",
...     "machine": "BW-030-R2", "window": ["2025-02-15", "2025-03-04"]}},
...     change_id="C001", day=120, vins=("V1", "V2"))
[EngineeringChange(day=120, change_id='C001', target={'station': 'BW-030', \
'machine': 'BW-030-R2'}, ...), ServiceCampaign(day=120, campaign_id='C001', \
vins=('V1', 'V2'), component='body_seam', ...)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gigaloop.actuate import Action, DayContext, Decision, EngineeringChange, ServiceCampaign

#: The component a campaign services for each failure mode measured as a rate.
RATE_MODE_COMPONENT = {"battery_fade": "battery_pack", "disengagement_rain": "camera"}


@dataclass(frozen=True)
class ChangeConfig:
    """When findings become changes, how long review takes, how verification decides."""

    max_rank: int = 3
    min_effect_low: float = 1.5  # lower CI bound of the effect ratio to raise a change
    review_delay_days: int = 3
    max_campaign_vins: int = 5_000
    verify_min_days: int = 28
    verify_max_days: int = 120


def plan_actions(finding: dict[str, Any], *, change_id: str, day: int,
                 vins: Sequence[str]) -> list[Action]:
    """The actions that address ``finding``: fix the source, service what is out there."""
    names, mode = finding["names"], finding["failure_mode"]
    component = RATE_MODE_COMPONENT.get(mode, mode)
    actions: list[Action] = []
    description = f"{mode}: {', '.join(f'{k}={v}' for k, v in names.items())}"
    if "lot" in names:
        actions.append(EngineeringChange(day=day, change_id=change_id,
                                         target={"lot": names["lot"]},
                                         description=f"contain lot — {description}"))
    elif "hardware_revision" in names:
        actions.append(EngineeringChange(
            day=day, change_id=change_id, target={"hardware_revision": names["hardware_revision"]},
            description=f"retire revision — {description}"))
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


def propose_changes(ctx: DayContext, config: ChangeConfig) -> list[Decision]:
    """Raise a change request for every strong, top-ranked finding that has none yet."""
    changes: list[dict[str, Any]] = ctx.board.setdefault("changes", [])
    covered = {c["finding_id"] for c in changes}
    decisions = []
    for finding in ctx.board.get("findings", {}).values():
        if finding["id"] in covered or not finding.get("active", True):
            continue
        if finding["rank"] > config.max_rank or finding["ci"][0] < config.min_effect_low:
            continue
        vins = ctx.board.get("finding_vins", {}).get(finding["id"], ())
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
        decisions.append(Decision(ctx.day, "changes", f"{change_id} proposed: {change['action']}",
                                  inputs={"finding": finding["id"]}))
    return decisions


def advance_changes(ctx: DayContext, config: ChangeConfig) -> list[Decision]:
    """Approve reviewed changes and send their actions; each action is one decision."""
    decisions = []
    findings = {f["id"]: f for f in ctx.board.get("findings", {}).values()}
    for change in ctx.board.get("changes", []):
        if change["state"] != "proposed" or change["action"].startswith("investigate"):
            continue  # investigations wait for people
        if ctx.day < change["day_proposed"] + config.review_delay_days:
            continue
        finding = findings[change["finding_id"]]
        vins = list(ctx.board.get("finding_vins", {}).get(finding["id"], ()))
        vins = vins[: config.max_campaign_vins]
        actions = plan_actions(finding, change_id=change["id"], day=ctx.day, vins=vins)
        change.update(state="effective", day_approved=ctx.day, day_effective=ctx.day,
                      campaign_vins=len(vins))
        ctx.board.setdefault("campaigned", {})[change["id"]] = set(vins)
        for action in actions:
            decisions.append(Decision(ctx.day, "changes", f"{change['id']} {action.kind}",
                                      action=action, inputs={"finding": finding["id"],
                                                             "evidence": change["evidence"]}))
        change["decisions"] = len(decisions)
    return decisions


#: Finding attribute kinds whose level can be looked up again in a later population.
_LEVEL_NAME = {"lot": "lot", "supplier": "supplier", "hardware_revision": "hardware_revision"}


def top_up_campaigns(ctx: DayContext, config: ChangeConfig) -> list[Decision]:
    """Extend effective campaigns to vehicles of the same lot / revision delivered since.

    A finding names what was in the field when it was made; units of the same level
    delivered later carry the same defect and join the campaign (weekly, with the scan).
    """
    pop = ctx.board.get("population")
    if pop is None or pop.as_of != ctx.now.date():
        return []
    findings = {f["id"]: f for f in ctx.board.get("findings", {}).values()}
    campaigned: dict[str, set[str]] = ctx.board.setdefault("campaigned", {})
    by_name = {a.name: a for a in pop.attributes}
    decisions = []
    for change in ctx.board.get("changes", []):
        if change["state"] not in ("effective", "verified") or change["id"] not in campaigned:
            continue
        finding = findings[change["finding_id"]]
        attribute = by_name.get(finding["attribute"])
        kind = attribute.kind if attribute else None
        if attribute is None or kind not in _LEVEL_NAME:
            continue
        label = finding["names"][_LEVEL_NAME[kind]]
        if label not in attribute.levels:
            continue
        members = pop.vin[attribute.codes == attribute.levels.index(label)]
        new = [v for v in members if v not in campaigned[change["id"]]]
        room = config.max_campaign_vins - len(campaigned[change["id"]])
        new = new[: max(room, 0)]
        if not new:
            continue
        campaigned[change["id"]].update(new)
        change["campaign_vins"] = len(campaigned[change["id"]])
        action = next(a for a in plan_actions(finding, change_id=change["id"], day=ctx.day,
                                              vins=new) if isinstance(a, ServiceCampaign))
        decisions.append(Decision(ctx.day, "changes",
                                  f"{change['id']} campaign extended by {len(new)} vehicles",
                                  action=action, inputs={"finding": finding["id"]}))
    return decisions
