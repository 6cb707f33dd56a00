"""What the fleet is asked to do: service campaigns and predictive service (booked at once),
software rollouts, trigger campaigns and key rotations (queued until their day, then enacted
once the vehicles verified them: :mod:`.updates`), and offers (:mod:`.offers`).

:meth:`Fleet.apply <gigaloop.twin.fleet.Fleet.apply>` and :meth:`Fleet.step
<gigaloop.twin.fleet.Fleet.step>` call these with the fleet.

>>> from datetime import date
>>> import numpy as np
>>> from gigaloop.twin.fleet import Fleet
>>> fleet = Fleet(start_date=date(2025, 1, 6), rng=np.random.default_rng(0), units_per_day=10)
>>> apply(fleet, ServiceCampaign(day=3, campaign_id="C1", component="warp_core", vins=[]))
Receipt(accepted=False, detail="unknown component 'warp_core'; known: ...")
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

import numpy as np

from gigaloop.actuate import (
    Action,
    KeyRotation,
    Offer,
    PredictiveService,
    Receipt,
    ServiceCampaign,
    SoftwareRollout,
    TriggerCampaigns,
)
from gigaloop.actuate.driving_model import campaign_problem
from gigaloop.actuate.ota import epoch
from gigaloop.errors import ActuationError
from gigaloop.twin import offers
from gigaloop.twin.updates import enact

if TYPE_CHECKING:
    from gigaloop.twin.fleet import Fleet
    from gigaloop.twin.fleet_rows import Rows


def apply(fleet: Fleet, action: Action) -> Receipt:
    """Take a :class:`ServiceCampaign`, :class:`PredictiveService`,
    :class:`SoftwareRollout` or :class:`KeyRotation` from ``action.day`` (the last two
    once the vehicles verified them: :mod:`.updates`), and :class:`Offer`."""
    if isinstance(action, Offer):
        return offers.apply(fleet, action)
    if isinstance(action, ServiceCampaign):
        return _campaign(fleet, action)
    if isinstance(action, PredictiveService):
        return _predictive(fleet, action)
    if isinstance(action, TriggerCampaigns):
        problems = [p for c in action.campaigns if (p := campaign_problem(c))]
        if problems or not (action.budget_mb >= 0 and action.random_budget_mb >= 0):
            return Receipt(False, "; ".join(problems) or "upload budgets must be >= 0")
        fleet._pending_actions.append(action)
        return Receipt(True, f"{len(action.campaigns)} campaigns from day "
                             f"{max(action.day, fleet.next_day)}")
    if isinstance(action, KeyRotation):
        fleet._pending_actions.append(action)
        return Receipt(True, f"key rotation from day {max(action.day, fleet.next_day)}")
    if isinstance(action, SoftwareRollout):
        if not action.software_version or not 0.0 <= action.fleet_fraction <= 1.0:
            return Receipt(False, "a rollout needs a version and a fraction in [0, 1]")
        fleet._pending_actions.append(action)
        return Receipt(True, f"{action.software_version} to {action.fleet_fraction:.1%} "
                             f"from day {max(action.day, fleet.next_day)}")
    raise ActuationError(f"the fleet cannot apply {type(action).__name__}", kind=action.kind)


def _campaign(fleet: Fleet, action: ServiceCampaign) -> Receipt:
    """Book the listed owners into the campaign; units not delivered yet are held."""
    if action.component not in fleet.workshop.index:
        return Receipt(False, f"unknown component {action.component!r}; known: "
                              f"{', '.join(fleet.workshop.index)}")
    start = max(action.day, fleet.next_day)
    field = fleet.field_index(action.vins)
    held = set(action.vins) & set(fleet._pending.vin.tolist())
    for vin in held:
        fleet._stop_sale[vin] = (action.campaign_id, action.component)
    booked = fleet.workshop.book_campaign(action.campaign_id, action.component, field, start)
    unknown = len(set(action.vins)) - len(np.unique(field)) - len(held)
    return Receipt(True, f"{booked} of {len(field)} owners booked; "
                         f"{len(held)} held before delivery; "
                         f"{unknown} unknown VINs")


def _predictive(fleet: Fleet, action: PredictiveService) -> Receipt:
    """Offer the listed owners a mobile visit."""
    if action.component not in fleet.workshop.index:
        return Receipt(False, f"unknown component {action.component!r}; known: "
                              f"{', '.join(fleet.workshop.index)}")
    field = fleet.field_index(action.vins)
    booked = fleet.workshop.book_predictive(action.component, field,
                                            max(action.day, fleet.next_day))
    return Receipt(True, f"{booked} of {len(field)} owners booked a mobile visit; "
                         f"{len(action.vins) - len(field)} VINs not in the field")


def apply_due(fleet: Fleet, day: int, rows: Rows) -> None:
    """Due actions; OTA ones only where the vehicles verified them (``ota_reports``)."""
    due = [a for a in fleet._pending_actions if a.day <= day]
    fleet._pending_actions = [a for a in fleet._pending_actions if a.day > day]
    if not due:
        return
    midnight = datetime.combine(fleet.start_date + timedelta(days=day), time())
    verified, reports = enact(fleet, due, now=epoch(midnight))
    if reports:
        rows.add("ota_reports", **{k: [r[k] for r in reports] for k in reports[0]},
                 event_time=np.full(len(reports), np.datetime64(midnight, "us")))
    rolled = [(a, took) for a, took in verified if not fleet.scenes.take(a)]
    for action, took in rolled:  # campaigns, shadows: the scenes'
        assert isinstance(action, SoftwareRollout)
        fleet.software.rollout(action.software_version, action.fleet_fraction, took,
                               len(fleet.revisions))
    if rolled and fleet.vehicles.n:
        fleet._set_rates(np.arange(fleet.vehicles.n))
        fleet.software.note(day, fleet.info.view("version")[:fleet.vehicles.n], [
            a.software_version for a, _ in rolled if a.fleet_fraction == 0.0])
