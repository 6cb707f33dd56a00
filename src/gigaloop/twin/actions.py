"""How the plant takes the loop's decisions: checked when given, enacted on their day.

* :class:`MaintenanceOrder` — the machine is serviced (wear and defects cleared) in the
  first planned window on or after the order's day.
* :class:`Calibration` — from its day the machine is re-zeroed (drift and natural offsets
  cleared, recipe setpoints back to nominal), a ``calibration`` maintenance event.
* :class:`SetpointChange` — from its day the setpoint moves; ``station_id`` may name a
  station (all its machines) or one machine. Values more than 30 % (or 10 process
  sigmas, whichever is wider) from nominal are refused, as an MES would.
* :class:`EngineeringChange` — from its day, on units built afterwards: ``{"lot": id}``
  contains a lot (its remaining units are not used), ``{"supplier": id}`` drops a
  supplier where another can take its share, ``{"hardware_revision": rev}`` retires a
  revision for its fixed successor (``CAM-B`` → ``CAM-B2``), ``{"station": id}`` and/or
  ``{"machine": id}`` recalibrate equipment (drift and natural offsets cleared),
  ``{"station": id, "inspection": name}`` reworks every unit that inspection fails (its
  seam or pack repaired) instead of shipping it. Every engineering change raises the
  design revision (``D1`` → ``D2`` …).

Unknown targets are refused with a reason (a :class:`Receipt` with ``accepted=False``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from gigaloop.actuate import (
    Action,
    Calibration,
    EngineeringChange,
    MaintenanceOrder,
    SetpointChange,
)
from gigaloop.twin.clock import DAY_S
from gigaloop.twin.layout import MACHINE_IDS, STATIONS, machine_station, station

if TYPE_CHECKING:
    from gigaloop.twin.plant import Plant

TARGET_KEYS = ("lot", "supplier", "hardware_revision", "station", "machine", "inspection")
#: Inspections whose failed units the line can rework, by station.
REWORKABLE = {"BW-040": "weld_seam", "EOL-010": "eol_function"}
STATION_IDS = {s.station_id for s in STATIONS}


def successor_revision(revision: str) -> str:
    """The fixed revision that replaces ``revision``.

    >>> successor_revision("CAM-B"), successor_revision("CAM-B2")
    ('CAM-B2', 'CAM-B3')
    """
    match = re.search(r"(\d+)$", revision)
    if match is None:
        return f"{revision}2"
    return f"{revision[:match.start()]}{int(match[1]) + 1}"


class PlantActions:
    """Checks, queues and enacts plant-side actions."""

    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        self._queued: list[Action] = []
        self._orders: list[MaintenanceOrder] = []

    def check(self, action: Action) -> str | None:
        """Why the plant refuses ``action`` (``None`` when it takes it)."""
        if isinstance(action, MaintenanceOrder | Calibration):
            if action.machine_id not in MACHINE_IDS:
                return f"unknown machine {action.machine_id!r}"
            return None
        if isinstance(action, SetpointChange):
            return self._check_setpoint(action)
        if isinstance(action, EngineeringChange):
            return self._check_change(action)
        return f"the plant does not take {action.kind}"

    def _check_setpoint(self, action: SetpointChange) -> str | None:
        target = action.station_id
        if target in STATION_IDS:
            st = station(target)
        elif target in MACHINE_IDS:
            st = machine_station(target)
        else:
            return f"unknown station or machine {target!r}"
        names = [p.name for p in st.parameters]
        if action.parameter not in names:
            return f"{target} has no parameter {action.parameter!r}; it has {names}"
        parameter = st.parameter(action.parameter)
        limit = max(0.3 * abs(parameter.nominal), 10 * parameter.sigma)
        if not np.isfinite(action.setpoint) or abs(action.setpoint - parameter.nominal) > limit:
            return (f"setpoint {action.setpoint} is outside the safe range "
                    f"{parameter.nominal} ± {limit:g} {parameter.unit}")
        return None

    def _check_change(self, action: EngineeringChange) -> str | None:
        target = action.target
        scenario = self.plant.scenario
        if not target or set(target) - set(TARGET_KEYS):
            return f"target must use keys from {list(TARGET_KEYS)}, got {sorted(target)}"
        if "lot" in target and scenario.part_for_lot(target["lot"]) is None:
            return f"unknown lot {target['lot']!r}"
        if "supplier" in target:
            shared = [p for p in scenario.parts if target["supplier"] in p.shares
                      and len(p.shares) > 1]
            if not shared:
                return f"supplier {target['supplier']!r} is unknown or a sole source"
        if "hardware_revision" in target:
            revisions = {rev for p in scenario.parts for rev in p.revisions.values()}
            revisions |= {successor_revision(r) for r in revisions}
            if target["hardware_revision"] not in revisions:
                return f"unknown hardware revision {target['hardware_revision']!r}"
        if "station" in target and target["station"] not in STATION_IDS:
            return f"unknown station {target['station']!r}"
        if "inspection" in target and REWORKABLE.get(target.get("station", "")) != \
                target["inspection"]:
            return (f"no reworkable inspection {target['inspection']!r} at "
                    f"{target.get('station')!r}; the line reworks "
                    f"{', '.join(f'{i} at {st}' for st, i in REWORKABLE.items())}")
        if "machine" in target:
            if target["machine"] not in MACHINE_IDS:
                return f"unknown machine {target['machine']!r}"
            if "station" in target and target["machine"] not in station(
                    target["station"]).machine_ids:
                return f"machine {target['machine']} is not at station {target['station']}"
        return None

    def queue(self, action: Action) -> None:
        if isinstance(action, MaintenanceOrder):
            self._orders.append(action)
        else:
            self._queued.append(action)

    def enact_due(self, day: int) -> None:
        """Enact every queued setpoint / engineering change whose day has come."""
        due = [a for a in self._queued if a.day <= day]
        self._queued = [a for a in self._queued if a.day > day]
        for action in due:
            detail = self._enact(action, day)
            self.plant.history.actions.append(
                {"kind": action.kind, "day_effective": day, "detail": detail})

    def due_orders(self, day: int) -> dict[str, str]:
        """Maintenance orders to carry out in a window on ``day`` (machine → reason)."""
        due = [o for o in self._orders if o.day <= day]
        self._orders = [o for o in self._orders if o.day > day]
        for order in due:
            self.plant.history.actions.append(
                {"kind": order.kind, "day_effective": day, "detail": order.machine_id})
        return {o.machine_id: o.reason or "maintenance order" for o in due}

    def _enact(self, action: Action, day: int) -> str:
        plant = self.plant
        from_s = day * DAY_S
        if isinstance(action, SetpointChange):
            target = action.station_id
            machines = station(target).machine_ids if target in STATION_IDS else (target,)
            for machine in machines:
                plant.process.set_point(machine, action.parameter, action.setpoint, from_s)
            return f"{target} {action.parameter} → {action.setpoint}"
        if isinstance(action, Calibration):
            plant.history.ended(plant.process.recalibrate(action.machine_id, from_s), day)
            plant.record_maintenance(action.machine_id, "calibration",
                                     action.reason or "calibration order", 0.0, from_s)
            return f"recalibrated {action.machine_id}"
        assert isinstance(action, EngineeringChange)
        notes = []
        change = action.target
        if "lot" in change:
            notes.append(f"lot {change['lot']}: {plant.supply.contain(change['lot'])}")
            plant.history.ended([f.id for f in plant.scenario.faults
                                 if f.where.get("lot") == change["lot"]], day)
        if "supplier" in change:
            parts = plant.supply.drop_supplier(change["supplier"])
            notes.append(f"supplier {change['supplier']} dropped for {parts}")
            plant.history.ended([f.id for f in plant.scenario.faults
                                 if str(f.where.get("lot", "")).split("-")[1:2]
                                 == [change["supplier"]]
                                 or f.where.get("supplier") == change["supplier"]], day)
        if "hardware_revision" in change:
            old = change["hardware_revision"]
            new = successor_revision(old)
            plant.supply.retire_revision(old, new)
            plant.history.redesigns += 1
            notes.append(f"{old} retired for {new} (a redesign)")
            plant.history.ended([f.id for f in plant.scenario.faults
                                 if f.where.get("hardware_revision") == old], day)
        if "inspection" in change:
            plant.builder.rework_failed.add(change["inspection"])
            notes.append(f"units failing {change['inspection']} at {change['station']} are "
                         "reworked")
        elif "station" in change or "machine" in change:
            machines = ((change["machine"],) if "machine" in change
                        else station(change["station"]).machine_ids)
            for machine in machines:
                plant.history.ended(plant.process.recalibrate(machine, from_s), day)
                why = f"recalibration: {action.change_id or 'engineering change'}"
                plant.record_maintenance(machine, "calibration", why, 0.0, from_s)
            notes.append(f"recalibrated {list(machines)}")
        number = int(plant.design_revision[1:]) + 1
        plant.design_revision = f"D{number}"
        return "; ".join(notes) + f"; design revision {plant.design_revision}"
