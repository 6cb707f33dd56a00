"""The workshop: component lives, failures, their precursor codes, repairs and campaigns.

Each vehicle carries, per component, the clock value (day or odometer) at which it fails,
at which its precursor code fires and at which its owner, feeling the failure coming,
complains about the component in the app (``symptom``). A failure becomes a warranty
claim and a repair visit a few days later (same day when stranded); the repair renews the
component with a nominal part. A campaign brings listed vehicles in over the following
days, within a daily capacity, and renews the component there — for ``body_seam`` that
resets ``seam_defect``, for ``battery_pack`` ``pack_defect``, ``cell_fade`` and the pack's
ageing. A predictive
service booking (the loop saw a precursor code) sends a mobile technician within days, up
to a daily capacity, who replaces the component unless it has failed in the meantime.

A scenario's general faults (:mod:`gigaloop.twin.effects`) give a marked unit's component a
competing life; the per-vehicle ``cause_<component>`` column keeps which fault's life came
first (−1: the nominal one), so every failure is attributed exactly. Replacing a part that
a lot or a process made weak fits a nominal one; a design fault stays with the vehicle.
A lot's background frailty (``frailty_<component>``, :mod:`gigaloop.twin.background`)
scales the nominal life like a latent multiplier, and a replacement part has none.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from gigaloop.twin.customers import DRIVE_PROBABILITY
from gigaloop.twin.due import DueDays, first_days
from gigaloop.twin.effects import GeneralFault, extra_life
from gigaloop.twin.hazards import (
    CELL_IMBALANCE_RATE,
    COMPONENTS,
    NUISANCE_CODES,
    NUISANCE_RATE,
    Component,
    cost_draw,
    covariate_multiplier,
    draw_life,
)
from gigaloop.twin.sampling import poisson_positions
from gigaloop.twin.telemetry import MAX_DAILY_MILES, VehicleArrays

#: Kinds whose weak part a replacement removes (a design fault stays with the vehicle).
PART_KINDS = ("part_lot_hazard", "process_defect")


REPAIR_DELAY_DAYS = (1, 10)          # days from failure to repair unless stranded
#: Campaign owners: share who ever respond and mean days until they book (not published).
CAMPAIGN_RESPONSE, CAMPAIGN_BOOKING_DAYS = 0.85, 14.0
#: Campaign cost as a share of a warranty repair; a pack swap costs a whole pack
#: (GM's Bolt recall: ≈ $1.9 B for ≈ 141k vehicles ≈ $13k each).
CAMPAIGN_COST_SHARE = {"battery_pack": 1.0}
CAMPAIGN_COST_DEFAULT = 0.3
#: Predictive service: share of owners who accept an app-booked visit, mean days until the
#: mobile technician comes, and its cost as a share of a warranty repair (the part and the
#: labour, no tow or diagnosis). Not published; Tesla Mobile Service books within days.
PREDICTIVE_RESPONSE, PREDICTIVE_BOOKING_DAYS, PREDICTIVE_COST_SHARE = 0.9, 1.0, 0.8
#: What the technician finds on the part a predictive visit removes: ``degraded`` when it
#: would have failed within ``DEGRADED_DAYS`` (a bench test catches it with probability
#: ``DEGRADED_SENSITIVITY``; a healthy part is called degraded with ``DEGRADED_FALSE``),
#: else ``serviceable``. Not published: a judgement of a workshop's teardown and tests.
DEGRADED_DAYS, DEGRADED_SENSITIVITY, DEGRADED_FALSE = 90.0, 0.9, 0.05


@dataclass
class Failure:
    """Failures of one component on one day (field indices)."""

    component: Component
    idx: np.ndarray
    roadside: np.ndarray
    cost: np.ndarray
    cause: np.ndarray           # index of the general fault whose life ended, −1 for none


@dataclass
class Visit:
    """Service visits due on a day (field indices)."""

    idx: list[int] = field(default_factory=list)
    component: list[str] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    campaign_id: list[str | None] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    condition: list[str | None] = field(default_factory=list)  # of a removed part


class Workshop:
    """Lives, failures, codes and visits of the whole fleet; needs the fleet's arrays."""

    def __init__(self, rng: np.random.Generator, vehicles: VehicleArrays,
                 shop: VehicleArrays, campaign_capacity: int, mobile_capacity: int,
                 components: Sequence[Component] = COMPONENTS,
                 general: Sequence[GeneralFault] = (), frailty: Sequence[str] = ()) -> None:
        self._rng = rng
        self._symptom_rng = rng.spawn(1)[0]  # a stream of its own: the other draws stay put
        self._condition_rng = rng.spawn(1)[0]
        self._frail = set(frailty)
        self.components = tuple(components)
        self.index = {c.name: i for i, c in enumerate(self.components)}
        self.general = tuple(general)
        self._raising = {c: [(k, g) for k, g in enumerate(general) if g.component == c]
                         for c in {g.component for g in general if g.component >= 0}}
        self._v = vehicles
        self._shop = shop
        self.capacity = campaign_capacity
        self.mobile_capacity = mobile_capacity
        self._predictive: list[tuple[int, int, int, str]] = []   # (day, order, idx, comp)
        self._repairs: dict[int, Visit] = {}
        self._queue: list[tuple[int, int, int, str, str]] = []   # (day, order, idx, id, comp)
        self._order = 0
        # per component, vehicles by the first day their life / code may come (:mod:`.due`)
        self._due = {kind: [DueDays() for _ in self.components] for kind in ("life", "dtc")}

    def clock(self, component: Component, day: int) -> np.ndarray | float:
        return float(day) if component.clock == "days" else self._v.view("odometer")

    def renew(self, c: int, idx: np.ndarray, day: int, age_days: np.ndarray | None = None
              ) -> None:
        """Start component ``c`` afresh on vehicles ``idx`` (delivery, repair, campaign);
        with ``age_days``, parts that have already served that long (the installed base)."""
        comp = self.components[c]
        v = self._v
        covariates = covariate_multiplier(comp, v.view("climate")[idx],
                                          v.view("mean_miles")[idx] * DRIVE_PROBABILITY,
                                          v.view("style")[idx] == 2)
        mult = covariates * self._shop.view(comp.latent)[idx] if comp.latent else covariates
        if comp.name in self._frail:
            mult = mult * self._shop.view(f"frailty_{comp.name}")[idx]
        odometer = v.view("odometer")[idx]
        now = day if comp.clock == "days" else odometer
        # the installed base's parts have served age_days, or the miles on the odometer
        age = None if age_days is None else (age_days if comp.clock == "days" else odometer)
        life = now + draw_life(comp, mult, self._rng, age)
        if c in self._raising:
            self._compete(c, idx, life, now, covariates)
        self._shop.view(f"life_{comp.name}")[idx] = life
        dtc = np.full(len(idx), np.inf)
        if comp.dtc is not None:
            _, _, _, share, lead_min, lead_max = comp.dtc
            lead = self._rng.uniform(lead_min, lead_max, len(idx))
            if comp.clock == "miles":
                lead = lead * v.view("mean_miles")[idx] * DRIVE_PROBABILITY
            dtc = np.where(self._rng.random(len(idx)) < share, np.maximum(life - lead, now), dtc)
        self._shop.view(f"dtc_{comp.name}")[idx] = dtc
        self._file("life", c, idx, life, day)
        self._file("dtc", c, idx, dtc, day)
        self._shop.view(f"symptom_{comp.name}")[idx] = self._symptom(comp, idx, life, now)

    def _symptom(self, comp: Component, idx: np.ndarray, life: np.ndarray,
                 now: np.ndarray | float) -> np.ndarray:
        """When the owners of ``idx`` complain about ``comp`` (inf: they never do): with
        its symptom probability, a uniform lead before ``life``; a part that fails sooner
        than the lead shows its symptom at a uniform point of the life it has."""
        out = np.full(len(idx), np.inf)
        if comp.symptom is None or not len(idx):
            return out
        share, lead_min, lead_max = comp.symptom
        rng = self._symptom_rng
        lead = rng.uniform(lead_min, lead_max, len(idx))
        if comp.clock == "miles":
            lead = lead * self._v.view("mean_miles")[idx] * DRIVE_PROBABILITY
        left = np.maximum(life - now, 0.0)
        when = life - np.minimum(lead, left * rng.random(len(idx)))
        return np.where(rng.random(len(idx)) < share, when, out)

    def _file(self, kind: str, c: int, idx: np.ndarray, values: np.ndarray, day: int) -> None:
        """File vehicles ``idx`` under the first day their ``kind`` value may come."""
        miles = self.components[c].clock == "miles"
        odometer = self._v.view("odometer")[idx] if miles else None
        self._due[kind][c].file(idx, first_days(values, day, odometer, MAX_DAILY_MILES))

    def _reached(self, kind: str, c: int, day: int) -> np.ndarray:
        """Vehicles whose component ``c`` ``kind`` value the clock reached by ``day``
        (ascending); those filed that have not got there are filed again."""
        column = self._shop.view(f"{kind}_{self.components[c].name}")
        idx = self._due[kind][c].pop(day)
        clock = self.clock(self.components[c], day)
        reached = column[idx] <= (clock if isinstance(clock, float) else clock[idx])
        self._file(kind, c, idx[~reached], column[idx[~reached]], day)
        return idx[reached]

    def _compete(self, c: int, idx: np.ndarray, life: np.ndarray, now: np.ndarray | float,
                 covariates: np.ndarray) -> None:
        """Each general fault raising component ``c`` draws its competing life where its
        conditions hold; the earlier life wins (in place) and ``cause_`` records whose."""
        comp, v = self.components[c], self._v
        cause = self._shop.view(f"cause_{comp.name}")
        cause[idx] = -1
        start = np.broadcast_to(now, len(idx))
        for k, fault in self._raising[c]:
            excess = self._shop.view(f"excess_{fault.id}")[idx].astype(np.float64)
            ok = excess > 0
            if fault.climate >= 0:
                ok &= v.view("climate")[idx] == fault.climate
            if fault.min_daily_miles:
                ok &= v.view("mean_miles")[idx] * DRIVE_PROBABILITY >= fault.min_daily_miles
            hit = np.flatnonzero(ok)
            if not hit.size:
                continue
            extra = start[hit] + extra_life(comp, excess[hit], covariates[hit], fault.shape,
                                            self._rng)
            first = extra < life[hit]
            life[hit[first]] = extra[first]
            cause[idx[hit[first]]] = k

    def replace(self, c: int, idx: np.ndarray, day: int) -> None:
        """Fit a nominal part: reset the component's latent multipliers (and the excess of
        lot and process faults on it), then renew."""
        for _, fault in self._raising.get(c, ()):
            if fault.kind in PART_KINDS:
                self._shop.view(f"excess_{fault.id}")[idx] = 0.0
        name = self.components[c].name
        if name in self._frail:  # the new part comes from no lot in particular
            self._shop.view(f"frailty_{name}")[idx] = 1.0
        if name == "body_seam":
            self._shop.view("seam_defect")[idx] = 1.0
        elif name == "paint_trim":  # trim refitted at its nominal torque
            self._shop.view("trim_defect")[idx] = 1.0
        elif name == "camera":  # a fixed-revision camera: rain perception back to nominal
            self._shop.view("rain_perception")[idx] = 1.0
        elif name == "battery_pack":
            self._shop.view("pack_defect")[idx] = 1.0
            for column, value in (("cell_fade", 1.0), ("calendar_stress", 0.0),
                                  ("cycle_stress", 0.0)):
                self._v.view(column)[idx] = value
        self.renew(c, idx, day)

    def codes(self, day: int) -> list[tuple[np.ndarray, str, str, str]]:
        """Diagnostic codes raised today: (vehicle indices, code, ecu, severity) groups."""
        out = []
        for c, comp in enumerate(self.components):
            if comp.dtc is None:
                continue
            hit = self._reached("dtc", c, day)
            self._shop.view(f"dtc_{comp.name}")[hit] = np.inf
            out.append((hit, *comp.dtc[:3]))
        n = max(self._v.n, 1)
        nuisance = self._rng.integers(0, n, self._rng.poisson(NUISANCE_RATE * self._v.n))
        which = self._rng.integers(0, len(NUISANCE_CODES), len(nuisance))
        for k, (code, ecu, severity) in enumerate(NUISANCE_CODES):
            out.append((nuisance[which == k], code, ecu, severity))
        rate = self._shop.view("pack_defect").astype(np.float32) * np.float32(CELL_IMBALANCE_RATE)
        code, ecu, severity = self.components[self.index["battery_pack"]].dtc[:3]  # type: ignore[index]
        out.append((poisson_positions(rate, self._rng), code, ecu, "warning"))
        return out

    def symptoms(self, day: int) -> list[tuple[np.ndarray, str]]:
        """Owners complaining today about a component heading for failure: (vehicle
        indices, component) groups, each complaint once."""
        out = []
        for comp in self.components:
            column = self._shop.view(f"symptom_{comp.name}")
            hit = np.flatnonzero(column <= self.clock(comp, day))
            if hit.size:
                column[hit] = np.inf
                out.append((hit, comp.name))
        return out

    def failures(self, day: int) -> list[Failure]:
        """Components failing today; each waits for its repair visit (life → inf until then)."""
        out = []
        for c, comp in enumerate(self.components):
            idx = self._reached("life", c, day)
            if not idx.size:
                continue
            self._shop.view(f"life_{comp.name}")[idx] = np.inf
            self._shop.view(f"dtc_{comp.name}")[idx] = np.inf
            self._shop.view(f"symptom_{comp.name}")[idx] = np.inf
            cause = (self._shop.view(f"cause_{comp.name}")[idx].copy() if c in self._raising
                     else np.full(len(idx), -1, np.int16))
            roadside = self._rng.random(len(idx)) < comp.roadside
            cost = cost_draw(comp, len(idx), self._rng)
            delay = np.where(roadside, 0, self._rng.integers(*REPAIR_DELAY_DAYS, len(idx),
                                                               endpoint=True))
            for i, d, k in zip(idx.tolist(), delay.tolist(), cost.tolist(), strict=True):
                visit = self._repairs.setdefault(day + d, Visit())
                visit.idx.append(i)
                visit.component.append(comp.name)
                visit.reason.append("repair")
                visit.campaign_id.append(None)
                visit.condition.append(None)
                visit.cost.append(k)
            out.append(Failure(comp, idx, roadside, cost, cause))
        return out

    def book_campaign(self, campaign_id: str, component: str, idx: np.ndarray,
                      day: int) -> int:
        """Owners of ``idx`` respond (or not) and join the queue; returns how many booked."""
        respond = idx[self._rng.random(len(idx)) < CAMPAIGN_RESPONSE]
        ready = day + np.ceil(self._rng.exponential(CAMPAIGN_BOOKING_DAYS, len(respond)))
        for i, d in zip(respond.tolist(), ready.astype(int).tolist(), strict=True):
            heapq.heappush(self._queue, (d, self._order, i, campaign_id, component))
            self._order += 1
        return len(respond)

    def book_predictive(self, component: str, idx: np.ndarray, day: int) -> int:
        """Owners of ``idx`` accept (or not) a mobile visit from ``day``; how many accepted."""
        accept = idx[self._rng.random(len(idx)) < PREDICTIVE_RESPONSE]
        ready = day + self._rng.poisson(PREDICTIVE_BOOKING_DAYS, len(accept))
        for i, d in zip(accept.tolist(), ready.tolist(), strict=True):
            heapq.heappush(self._predictive, (d, self._order, i, component))
            self._order += 1
        return len(accept)

    def _mobile_visits(self, day: int, visit: Visit) -> None:
        """Predictive visits due today, up to the mobile capacity; a failed part is skipped
        (its repair is already booked)."""
        served = 0
        while self._predictive and self._predictive[0][0] <= day and served < self.mobile_capacity:
            _, _, i, name = heapq.heappop(self._predictive)
            c = self.index[name]
            if not np.isfinite(self._shop.view(f"life_{name}")[i]):
                continue
            visit.condition.append(self._condition(c, i, day))
            self.replace(c, np.array([i]), day)
            visit.idx.append(i)
            visit.component.append(name)
            visit.reason.append("predictive")
            visit.campaign_id.append(None)
            visit.cost.append(round(self.components[c].cost_usd * PREDICTIVE_COST_SHARE, 2))
            served += 1

    def _condition(self, c: int, i: int, day: int) -> str:
        """The technician's verdict on vehicle ``i``'s part ``c`` (see :data:`DEGRADED_DAYS`)."""
        comp = self.components[c]
        life = float(self._shop.view(f"life_{comp.name}")[i])
        if comp.clock == "days":
            left = life - day
        else:  # miles to go at the owner's miles a day
            daily = float(self._v.view("mean_miles")[i]) * DRIVE_PROBABILITY
            left = (life - float(self._v.view("odometer")[i])) / max(daily, 1e-9)
        odds = DEGRADED_SENSITIVITY if left <= DEGRADED_DAYS else DEGRADED_FALSE
        return "degraded" if self._condition_rng.random() < odds else "serviceable"

    def visits(self, day: int) -> Visit:
        """Today's visits: due repairs, predictive visits and campaign bookings, the last two
        up to their daily capacities.

        Repairs renew the failed component; predictive and campaign visits replace theirs.
        """
        visit = self._repairs.pop(day, Visit())
        self._replace_each(visit.idx, visit.component, day)
        self._mobile_visits(day, visit)
        served, first = 0, len(visit.idx)
        while self._queue and self._queue[0][0] <= day and served < self.capacity:
            _, _, i, campaign_id, name = heapq.heappop(self._queue)
            comp = self.components[self.index[name]]
            share = CAMPAIGN_COST_SHARE.get(name, CAMPAIGN_COST_DEFAULT)
            visit.idx.append(i)
            visit.component.append(name)
            visit.reason.append("campaign")
            visit.campaign_id.append(campaign_id)
            visit.condition.append(None)
            visit.cost.append(round(comp.cost_usd * share, 2))
            served += 1
        self._replace_each(visit.idx[first:], visit.component[first:], day)
        return visit

    def _replace_each(self, idx: list[int], names: list[str], day: int) -> None:
        """Replace component ``names[k]`` on vehicle ``idx[k]``: the vehicles of a component
        together (their lives drawn at once), components in order of first appearance."""
        groups: dict[str, list[int]] = {}
        for i, name in zip(idx, names, strict=True):
            groups.setdefault(name, []).append(i)
        for name, vehicles in groups.items():
            self.replace(self.index[name], np.array(vehicles), day)

    @property
    def queued(self) -> int:
        return len(self._queue)
