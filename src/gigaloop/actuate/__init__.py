"""Decisions going back to the source: the actions and the one-method :class:`Actuator`.

The twin implements :class:`Actuator` and changes its world from each action's
effective day; a real plant implements it with webhooks (CMMS work order, MES
setpoint, OTA campaign). :class:`LoggingActuator` records what it is given.

>>> act = LoggingActuator()
>>> receipt = act.apply(MaintenanceOrder(machine_id="ST-010-P1", day=12, reason="RUL < 5 d"))
>>> receipt.accepted, act.log[0].kind
(True, 'maintenance_order')
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class Action:
    """Something the loop decided. ``day`` is the simulated day (or day index) it takes effect."""

    kind: ClassVar[str] = "action"
    day: int

    def to_json(self) -> str:
        """The payload a webhook would carry.

        >>> SetpointChange(day=3, station_id="BW-030", parameter="weld_current",
        ...                setpoint=11.0).to_json()
        '{"kind": "setpoint_change", "day": 3, "station_id": "BW-030", ...}'
        """
        return json.dumps(action_record(self), default=str)


@dataclass(frozen=True)
class MaintenanceOrder(Action):
    """Service a machine (resets its wear) in the next planned window from ``day``."""

    kind: ClassVar[str] = "maintenance_order"
    machine_id: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Calibration(Action):
    """Re-zero a machine from ``day`` (offsets and drifts of its process parameters
    cleared, recipe setpoints back to nominal): what process control orders when a chart
    alarms on a parameter its setpoint cannot correct."""

    kind: ClassVar[str] = "calibration"
    machine_id: str = ""
    reason: str = ""


@dataclass(frozen=True)
class SetpointChange(Action):
    """Move a station's process setpoint (run-to-run control, process fix)."""

    kind: ClassVar[str] = "setpoint_change"
    station_id: str = ""
    parameter: str = ""
    setpoint: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class EngineeringChange(Action):
    """A process / supplier / design change; applies to units built from ``day`` on.

    ``target`` says what changes: ``{"lot": …}`` contains a lot, ``{"supplier": …}``
    drops a supplier, ``{"hardware_revision": …}`` retires a revision for the next,
    ``{"station": …, "machine": …}`` recalibrates equipment, ``{"station": …,
    "inspection": …}`` reworks the units that inspection fails.
    """

    kind: ClassVar[str] = "engineering_change"
    change_id: str = ""
    target: dict[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Rework(Action):
    """Send units to the repair bay from an inspection: ``flagged`` ones it failed, or an
    ``audit`` sample it passed; the bay repairs what it finds and reports it (the label)."""

    kind: ClassVar[str] = "rework"
    station_id: str = ""
    inspection: str = ""
    vins: tuple[str, ...] = ()
    reason: str = "flagged"


@dataclass(frozen=True)
class PublishImages(Action):
    """From ``day`` the vision stations publish each unit's image (``inspection_images``,
    with a labelled commissioning set first) and leave verdicts and rework to the loop:
    what an image-based inspection module asks of the plant when it starts."""

    kind: ClassVar[str] = "publish_images"
    reason: str = ""


@dataclass(frozen=True)
class ServiceCampaign(Action):
    """Bring listed vehicles in to inspect / replace ``component`` (a recall when safety)."""

    kind: ClassVar[str] = "service_campaign"
    campaign_id: str = ""
    vins: tuple[str, ...] = ()
    component: str = ""
    reason: str = ""


@dataclass(frozen=True)
class PredictiveService(Action):
    """Invite the owners of ``vins`` to a service visit that replaces ``component`` before
    it fails (a precursor code said it will); the twin sends a mobile technician."""

    kind: ClassVar[str] = "predictive_service"
    vins: tuple[str, ...] = ()
    component: str = ""
    reason: str = ""


@dataclass(frozen=True)
class SoftwareRollout(Action):
    """Deploy ``software_version`` to ``fleet_fraction`` of the fleet (0 rolls it back).

    ``stage="shadow"`` runs it beside the production software on that share of the
    vehicles, logged and never acted on. ``artefact``: the model's bytes
    (:mod:`gigaloop.actuate.driving_model`) when the version is a learned model; records
    and payloads carry its digest, not the bytes. ``manifest``: the signed instruction
    (:mod:`gigaloop.actuate.ota`) the vehicles verify before they act; without one, or
    when it names another version, stage or share, they refuse."""

    kind: ClassVar[str] = "software_rollout"
    software_version: str = ""
    fleet_fraction: float = 1.0
    stage: Literal["shadow", "canary", "staged", "full", "rollback"] = "staged"
    artefact: bytes = field(default=b"", repr=False)
    manifest: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CellPolicyRollout(Action):
    """Run robot-cell control policy ``policy_version`` on ``fraction`` of the plant's cells
    of its kind (the first of them in :func:`policy_cells` order), 0 with ``stage =
    "rollback"`` returning them to what they ran before. ``manifest``: the signed
    instruction (:mod:`gigaloop.actuate.ota`, ``hardware`` = the cells' kind) the cell
    controllers verify before they act."""

    kind: ClassVar[str] = "cell_policy_rollout"
    policy_version: str = ""
    fraction: float = 0.0
    stage: Literal["canary", "staged", "full", "rollback"] = "staged"
    manifest: dict[str, Any] | None = field(default=None, repr=False)


def policy_cells(cells: list[str], fraction: float) -> list[str]:
    """The cells a policy at ``fraction`` runs on: the first ``fraction × n`` of them
    (rounded, at least one) sorted by id: each cell's fixed place in the waves, as a
    vehicle's cohort is its place.

    >>> policy_cells(["BW-020-R1", "BW-010-R2", "BW-010-R1"], 0.34)
    ['BW-010-R1']
    >>> policy_cells(["BW-020-R1", "BW-010-R2", "BW-010-R1"], 0.0)
    []
    """
    return sorted(cells)[:max(1, round(fraction * len(cells)))] if fraction > 0 else []


@dataclass(frozen=True)
class KeyRotation(Action):
    """New update keys for the vehicles, in root metadata signed by the offline root key
    (:meth:`gigaloop.actuate.ota.Vehicle.rotate`): how a compromised key is revoked."""

    kind: ClassVar[str] = "key_rotation"
    root: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class TriggerCampaigns(Action):
    """Which scenes vehicles upload from ``day``: each campaign is ``{"name", "where",
    "mb_per_scene"}``, ``where`` a mapping of scene column to the value it must have
    (features of :mod:`gigaloop.actuate.driving_model`, ``flag``, ``took_over``,
    ``hard_brake``, ``disagree``); a scene goes to the first campaign it matches, within
    ``budget_mb`` per vehicle and day. ``random_budget_mb`` per vehicle and day goes to
    scenes drawn at random: the baseline and the unbiased evaluation stream."""

    kind: ClassVar[str] = "trigger_campaigns"
    campaigns: tuple[dict[str, Any], ...] = ()
    budget_mb: float = 10.0
    random_budget_mb: float = 10.0
    reason: str = ""


@dataclass(frozen=True)
class EnergySchedule(Action):
    """A site's plan for ``day``: hourly HVAC setpoints, fan airflow and process load moved.

    Per local hour ``h``: the HVAC cools the hall down to ``cooling_setpoint_c[h]`` and heats
    it up to ``heating_setpoint_c[h]`` (no higher than the cooling one) and lets it float in
    between, as a building management system's two setpoints do (BOPTEST's ``TSetCoo`` /
    ``TSetHea``); a cooling setpoint below the usual one before a price peak is pre-cooling.
    ``shift_kwh[h]`` is shiftable process energy moved into (+) or out of (−) hour ``h``,
    summing to zero; ``airflow[h]`` is the share of design airflow the hall's fans run at
    (the coils then deliver at most that share of their capacity).
    """

    kind: ClassVar[str] = "energy_schedule"
    site_id: str = ""
    cooling_setpoint_c: tuple[float, ...] = ()
    heating_setpoint_c: tuple[float, ...] = ()
    shift_kwh: tuple[float, ...] = ()
    airflow: tuple[float, ...] = ()  # share of design airflow per hour; () = design all day
    reason: str = ""


@dataclass(frozen=True)
class Offer(Action):
    """Offer ``product`` at ``price_usd`` to the customers ``customer_ids`` (pseudonymous ids,
    never VINs) through ``channel``. ``not_offered`` names the campaign's control group or
    holdout — a random share of the same audience, kept to measure the campaign, as a
    campaign tool keeps one; nobody in it is contacted."""

    kind: ClassVar[str] = "offer"
    campaign_id: str = ""
    product: str = ""
    price_usd: float = 0.0
    channel: str = "app"
    customer_ids: tuple[str, ...] = ()
    not_offered: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class Receipt:
    """What the target said: accepted or not, and why."""

    accepted: bool
    detail: str = ""


@runtime_checkable
class Actuator(Protocol):
    """Anything that carries an action to where it takes effect."""

    def apply(self, action: Action) -> Receipt:
        """Deliver ``action``; raise :class:`~gigaloop.errors.ActuationError` if it cannot be."""
        ...


class LoggingActuator:
    """Accepts every action and keeps it in ``log`` (the shipped mock, and a dry run)."""

    def __init__(self) -> None:
        self.log: list[Action] = []

    def apply(self, action: Action) -> Receipt:
        self.log.append(action)
        return Receipt(True, "logged")


def action_record(action: Action) -> dict[str, Any]:
    """A plain dict of the action, for summaries and the decision log (bytes as their
    sha256 and length)."""
    record = {"kind": action.kind, **asdict(action)}
    return {k: {"sha256": hashlib.sha256(v).hexdigest(), "length": len(v)}
            if isinstance(v, bytes) else v for k, v in record.items()}


__all__ = [
    "Action",
    "Actuator",
    "Calibration",
    "CellPolicyRollout",
    "EnergySchedule",
    "EngineeringChange",
    "KeyRotation",
    "LoggingActuator",
    "MaintenanceOrder",
    "Offer",
    "PredictiveService",
    "PublishImages",
    "Receipt",
    "Rework",
    "ServiceCampaign",
    "SetpointChange",
    "SoftwareRollout",
    "TriggerCampaigns",
    "action_record",
    "policy_cells",
]
