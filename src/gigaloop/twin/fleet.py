"""The fleet side of the twin: deliveries, daily driving, failures, service and customers.

Units built by the plant enter a delivery pipeline (3–10 days), reach a customer, and from
then on drive every day (:mod:`gigaloop.twin.telemetry`, vectorised over the whole fleet).
Each :meth:`Fleet.step` returns that day's rows of every fleet and customer table;
:meth:`Fleet.apply` takes service campaigns and software rollouts.

Only customers who consent to telemetry send ``telemetry_daily`` rows and trigger clips;
crashes (mandatory reporting), diagnostic codes, warranty claims and service visits come
from every vehicle.

>>> from datetime import date
>>> from gigaloop.twin.units import demo_units
>>> fleet = Fleet(start_date=date(2025, 1, 6), rng=np.random.default_rng(0), units_per_day=20)
>>> fleet.add_built(demo_units(20, build_day=0))
>>> tables = [fleet.step(day) for day in range(12)]
>>> sum(t["customers"].num_rows for t in tables), tables[-1]["telemetry_daily"].num_rows > 10
(20, True)
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from gigaloop.actuate import (
    Action,
    KeyRotation,
    Receipt,
    SoftwareRollout,
    TriggerCampaigns,
)
from gigaloop.twin import customers as cust
from gigaloop.twin import fleet_actions, offers
from gigaloop.twin.base import Base, admit_base
from gigaloop.twin.battery import calendar_stress
from gigaloop.twin.climate import Weather
from gigaloop.twin.effects import GeneralFault, place_customers
from gigaloop.twin.fleet_rows import Rows
from gigaloop.twin.fleet_tables import FleetTables
from gigaloop.twin.hazards import COMPONENTS, CRASH, Component
from gigaloop.twin.precursor_signals import SIGNAL_COMPONENTS, PrecursorSignals
from gigaloop.twin.scenes import Scenes, drive_scenes
from gigaloop.twin.service import Workshop
from gigaloop.twin.software import SoftwareFleet, SoftwareQuality
from gigaloop.twin.telemetry import (
    BLOCK,
    BlockEvents,
    DayContext,
    DayOutput,
    VehicleArrays,
    drive_day,
)
from gigaloop.twin.units import BuiltUnits
from gigaloop.twin.updates import Updates
from gigaloop.twin.workshop_columns import new_workshop_values, workshop_columns

DELIVERY_DAYS = (3, 10)
WEEKEND_FACTOR = 0.9                       # weekend miles relative to the weekly mean
#: Driver disengagements per Autopilot mile by condition (no published figure; see docs).
DISENGAGEMENT_PER_MILE = {"clear": 0.02, "rain": 0.05, "night": 0.03}
THREADS = 2
#: Latent keys whose fault ids the fleet follows, and the failure they lead to.
FAULT_MECHANISMS = {"seam_defect": "body_seam", "trim_defect": "paint_trim",
                    "cell_fade": "battery_pack", "rain_perception": "disengagement_rain"}

INFO_COLUMNS: dict[str, type] = {
    "build_day": np.int32, "delivered": np.int32, "consent_telemetry": np.bool_,
    "consent_marketing": np.bool_, "consent_insurance": np.bool_,
    "rain_perception": np.float32, "cohort": np.float32, "version": np.int16,
    "unhappy_until": np.int32, "sensor_rev": np.int8,
    **{f"fault_{k}": np.int16 for k in FAULT_MECHANISMS},
}




class Fleet:
    """Every delivered vehicle, its customer, and the pipeline of units not yet delivered."""

    def __init__(self, *, start_date: date, rng: np.random.Generator, units_per_day: int,
                 software: dict[str, SoftwareQuality] | None = None,
                 threads: int = THREADS, components: tuple[Component, ...] = COMPONENTS,
                 general: list[GeneralFault] | None = None,
                 frailty: tuple[str, ...] = ()) -> None:
        self.start_date = start_date
        self.threads = threads
        streams = rng.spawn(7)
        self._rng, self._blocks_parent = streams[0], streams[1]
        self._weather = Weather(streams[2])
        self.software = SoftwareFleet(streams[3], software)
        self.scenes = Scenes(streams[6], software=self.software.quality)
        self.revisions: list[str] = []             # camera revisions, in the order seen
        capacity = max(units_per_day, 1) * 64
        self.vehicles = VehicleArrays(capacity)
        self.general = general or []
        self._shop_columns = workshop_columns(components, self.general, frailty)
        self.info = VehicleArrays(capacity, INFO_COLUMNS | self._shop_columns)
        self.workshop = Workshop(streams[4], self.vehicles, self.info,
                                 campaign_capacity=max(4, units_per_day // 2),
                                 mobile_capacity=max(4, units_per_day // 4),
                                 components=components, general=self.general,
                                 frailty=frailty)
        self.subscriptions = cust.Subscriptions()
        self.offer_response = offers.OfferResponse(rng.spawn(1)[0])  # a stream of its own
        self.signals = PrecursorSignals(rng.spawn(1)[0])             # … and so are these
        self.signal_values: dict[str, np.ndarray] = {}
        self.out = DayOutput()
        self.tables = FleetTables(self, streams[5])
        self._blocks: list[np.random.Generator] = []
        self._pool: ThreadPoolExecutor | None = None
        self._pending = BuiltUnits.empty()       # built, not yet delivered
        self._due = np.empty(0, np.int64)          # … and the day each is delivered
        self._base: tuple[Base, np.random.Generator] | None = None
        self._pending_actions: list[SoftwareRollout | TriggerCampaigns | KeyRotation] = []
        self.updates = Updates()  # the vehicles' OTA verifiers: keys come by provision()
        self._stop_sale: dict[str, tuple[str, str]] = {}
        self.vins = pa.array([], pa.string())
        self._field_of: dict[str, int] = {}  # VIN → its first field index, of vins[:_field_read]
        self._field_read = 0
        self.customer_ids = pa.array([], pa.string())
        self.fault_names: list[str] = []
        self._truth: list[dict[str, Any]] = []
        self._reported: set[tuple[str, str]] = set()
        #: general fault id → {day: failures it caused that day}
        self.excess_failure_days: dict[str, dict[int, int]] = {}
        self.next_day = 0
        self.counts: dict[str, float] = {k: 0.0 for k in (
            "miles_manual", "miles_autopilot", "crashes_manual", "crashes_autopilot",
            "field_failures", "roadside_failures", "campaign_visits", "warranty_cost_usd",
            "expected_crashes_autopilot")}
        self.failure_days: list[int] = []

    # ---- deliveries --------------------------------------------------------------------
    def add_built(self, units: BuiltUnits) -> None:
        """Units leave end of line; each is delivered 3–10 days after its build day."""
        if len(units):
            delay = self._rng.integers(DELIVERY_DAYS[0], DELIVERY_DAYS[1] + 1, len(units))
            due = np.maximum(np.asarray(units.build_day) + delay, self.next_day)
            self._pending = BuiltUnits.concat([self._pending, units])
            self._due = np.concatenate([self._due, due])

    def repair_pending(self, vins: list[str], latent: str) -> None:
        """Units not delivered yet, repaired at the plant: ``latent`` back to nominal."""
        hit = np.isin(self._pending.vin, vins)
        self._pending.latent[latent][hit] = 1.0
        if latent in self._pending.fault_id:
            self._pending.fault_id[latent][hit] = ""

    def add_base(self, base: Base, rng: np.random.Generator) -> None:
        """Vehicles on the road before day 0 (see :mod:`gigaloop.twin.base`); they join the
        field on day 0, aged by their days on the road."""
        self._base = (base, rng)

    def _deliver_due(self, day: int, rows: Rows) -> None:
        now = self._due <= day
        if now.any():
            self._deliver(self._pending.take(now), day, rows)
            later = ~now
            self._pending, self._due = self._pending.take(later), self._due[later]

    def _deliver(self, units: BuiltUnits, day: int, rows: Rows) -> None:
        """Deliver ``units`` today: drivers, consent, customers and component lives are
        drawn for the whole day's deliveries at once, in build order."""
        n = len(units)
        drivers = cust.draw_drivers(self._rng, np.asarray(units.latent["hot_climate_bias"]))
        place_customers(self.general, units.excess, drivers, self._rng)
        consent = cust.draw_consent(self._rng, n)
        idx = self.admit(units, drivers, consent, self._rng.random(n),
                         cust.customer_ids(self._rng, n), np.full(n, day))
        for c in range(len(self.workshop.components)):
            self.workshop.renew(c, idx, day)
        self.tables.delivered(rows, idx, day)
        if self._stop_sale:
            first = int(idx[0])
            for i in np.flatnonzero(np.isin(units.vin, list(self._stop_sale))).tolist():
                campaign_id, component = self._stop_sale.pop(str(units.vin[i]))
                self.workshop.book_campaign(campaign_id, component, np.array([first + i]), day)

    def admit(self, units: BuiltUnits, drivers: dict[str, np.ndarray],
              consent: dict[str, np.ndarray], cohort: np.ndarray, customer_ids: pa.Array,
              delivered: np.ndarray) -> np.ndarray:
        """Put ``units`` on the road with their drivers and customers; their field indices.

        Component lives are left to the caller (:meth:`Workshop.renew`)."""
        n, first = len(units), self.vehicles.n
        idx = np.arange(first, first + n)
        zeros = np.zeros(n)
        self.vehicles.append({**drivers, **{k: zeros for k in (
            "crash_manual", "crash_ap", "ap_rain_extra", "dis_clear", "dis_rain", "dis_night",
            "odometer", "calendar_stress", "cycle_stress")},
            "cell_fade": units.latent["cell_fade"]})
        info = {f"consent_{k}": v for k, v in consent.items()}
        info.update(build_day=units.build_day, delivered=delivered, version=zeros,
                    rain_perception=units.latent["rain_perception"], unhappy_until=zeros - 1,
                    cohort=cohort, seam_defect=units.latent["seam_defect"],
                    sensor_rev=self._revision_codes(np.asarray(units.hardware_revision)),
                    trim_defect=units.latent["trim_defect"],
                    pack_defect=units.latent["pack_defect"])
        for key in FAULT_MECHANISMS:
            info[f"fault_{key}"] = self._fault_codes(np.asarray(units.fault_id[key]))
        info.update(new_workshop_values(self._shop_columns, units.excess, units.frailty, n))
        self.info.append(info)
        self.subscriptions.grow(self.vehicles.n)
        self.vins = pa.concat_arrays([self.vins, pa.array(units.vin, pa.string())])
        self.customer_ids = pa.concat_arrays([self.customer_ids, customer_ids])
        self._set_rates(idx)
        return idx

    def _revision_codes(self, revisions: np.ndarray) -> np.ndarray:
        """Index of each hardware revision in :attr:`revisions` (new ones appended)."""
        for name in revisions.astype(str).tolist():
            if name not in self.revisions:
                self.revisions.append(name)
        return np.array([self.revisions.index(str(r)) for r in revisions], np.int8)

    def _fault_codes(self, fault_ids: np.ndarray) -> np.ndarray:
        """Index of each fault id in :attr:`fault_names` (−1 for none), registering new ones
        in the order they first appear."""
        codes = np.full(len(fault_ids), -1, np.int16)
        named = np.flatnonzero(fault_ids != "")
        if named.size:
            names, first, inverse = np.unique(fault_ids[named].astype(str), return_index=True,
                                              return_inverse=True)
            for k in np.argsort(first):
                if names[k] not in self.fault_names:
                    self.fault_names.append(str(names[k]))
            lookup = np.array([self.fault_names.index(str(x)) for x in names], np.int16)
            codes[named] = lookup[inverse]
        return codes

    def _set_rates(self, idx: np.ndarray) -> None:
        """Per-vehicle crash and disengagement rates from style, latent and software."""
        v, info = self.vehicles, self.info
        cohort = info.view("cohort")[idx]
        version = self.software.assign(cohort, info.view("sensor_rev")[idx])
        info.view("version")[idx] = version
        q = self.software.multipliers(version)
        style = v.view("style")[idx]
        rain = info.view("rain_perception")[idx] * q["rain"]
        v.view("crash_manual")[idx] = CRASH.manual_per_mile * cust.STYLE_CRASH_MANUAL[style]
        v.view("crash_ap")[idx] = (CRASH.autopilot_per_mile * cust.STYLE_CRASH_AUTOPILOT[style]
                                   * q["crash"])
        v.view("ap_rain_extra")[idx] = CRASH.rain * rain - 1.0
        v.view("dis_clear")[idx] = DISENGAGEMENT_PER_MILE["clear"] * q["disengagement"]
        v.view("dis_rain")[idx] = DISENGAGEMENT_PER_MILE["rain"] * q["disengagement"] * rain
        v.view("dis_night")[idx] = DISENGAGEMENT_PER_MILE["night"] * q["disengagement"]

    # ---- the day -------------------------------------------------------------------------
    def day_context(self, day: int) -> DayContext:
        """Weather and calendar of ``day`` (advances the weather: call once per day)."""
        when = self.start_date + timedelta(days=day)
        weather = self._weather.day(when)
        weekday = (7 - 2 * WEEKEND_FACTOR) / 5
        return DayContext(WEEKEND_FACTOR if when.weekday() >= 5 else weekday,
                          cust.DRIVE_PROBABILITY, weather.temp_c, weather.rain_share,
                          calendar_stress(weather.temp_c), CRASH.night, CRASH.rain)

    def drive(self, ctx: DayContext, then: Callable[[int, int], None] | None = None
              ) -> BlockEvents:
        """Run the vectorised day over every vehicle in the field (threads over blocks);
        ``then(lo, hi)`` after each block, in its thread (:func:`drive_day`)."""
        blocks = -(-self.vehicles.n // BLOCK)
        if len(self._blocks) < blocks:
            self._blocks += self._blocks_parent.spawn(blocks - len(self._blocks))
        if blocks > 1 and self.threads > 1 and self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="gigaloop-fleet")
        return drive_day(self.vehicles, ctx, self.out, self._blocks, self._pool, then)

    def step(self, day: int) -> dict[str, pa.Table]:
        """Simulate ``day``; rows of every fleet and customer table (some may be empty)."""
        rows = Rows()
        fleet_actions.apply_due(self, day, rows)
        if self._base is not None:
            (base, rng), self._base = self._base, None
            admit_base(self, base, rng, rows)
        self._deliver_due(day, rows)
        ctx = self.day_context(day)
        if self.scenes.advance(day) and self.vehicles.n:  # a new hazard: quality moves
            self._set_rates(np.arange(self.vehicles.n))
        if self.vehicles.n:
            self.signal_values = self.signals.today(self.vehicles, {
                part: self._life(part) for part in SIGNAL_COMPONENTS.values()}, day)
            events = self.drive(ctx, then=self.tables.telemetry.start(self))
            self.tables.driving(rows, day, ctx, events)
            drive_scenes(self, rows, day, ctx)
        self.tables.workshop(rows, day)
        offers.enact_due(self, day, rows)
        self.tables.customers(rows, day)
        self.next_day = day + 1
        return rows.tables()

    def _life(self, component: str) -> np.ndarray:
        """Each vehicle's clock value at which ``component`` fails (inf: not modelled)."""
        column = f"life_{component}"
        if column in self._shop_columns:
            return self.info.view(column)
        return np.full(self.vehicles.n, np.inf)

    # ---- actions -------------------------------------------------------------------------
    def apply(self, action: Action) -> Receipt:
        """Take a :class:`ServiceCampaign`, :class:`PredictiveService`,
        :class:`SoftwareRollout` or :class:`KeyRotation` from ``action.day`` (the last two
        once the vehicles verified them: :mod:`.updates`), and :class:`Offer`
        (:mod:`.fleet_actions`)."""
        return fleet_actions.apply(self, action)

    def field_index(self, vins: list[str] | tuple[str, ...]) -> np.ndarray:
        """Field indices of the delivered ``vins`` (in their order; unknown ones left out).
        The VINs delivered since the last call join the lookup first (the field only grows),
        so a booking costs its own VINs, not a pass over the fleet."""
        for k, vin in enumerate(self.vins[self._field_read:].to_pylist(),
                                start=self._field_read):
            self._field_of.setdefault(vin, k)
        self._field_read = len(self.vins)
        found = [self._field_of.get(vin) for vin in vins]
        return np.array([k for k in found if k is not None], np.int64)

    # ---- truth and world counts ----------------------------------------------------------
    def report(self, key: str, fault: int, kind: str, day: int, vin_index: int) -> None:
        """Record a truth event the first time (fault, kind) happens."""
        name = self.fault_names[fault]
        if (name, kind) in self._reported:
            return
        self._reported.add((name, kind))
        self._truth.append({"fault_id": name, "kind": kind, "day": day,
                            "vin": self.vins[vin_index].as_py(),
                            "failure_mode": FAULT_MECHANISMS[key]})

    def report_caused(self, cause: np.ndarray, mode: str, day: int, idx: np.ndarray) -> None:
        """Count failures of ``mode`` on ``idx`` that general faults caused (``cause``: the
        fault's index, −1 for none); the first of each fault is a truth event."""
        for k in np.unique(cause[cause >= 0]).tolist():
            fault_id = self.general[k].id
            mine = cause == k
            days = self.excess_failure_days.setdefault(fault_id, {})
            days[day] = days.get(day, 0) + int(mine.sum())
            if (fault_id, "first_field_failure") not in self._reported:
                self._reported.add((fault_id, "first_field_failure"))
                self._truth.append({"fault_id": fault_id, "kind": "first_field_failure",
                                    "day": day, "vin": self.vins[int(idx[mine][0])].as_py(),
                                    "failure_mode": mode})

    def truth_events(self) -> list[dict[str, Any]]:
        """First field failure / symptom / crash caused by each fault's mechanism."""
        return list(self._truth)

    def kpis(self) -> dict[str, Any]:
        """World-only counts (exact miles and crashes, every vehicle, consent or not)."""
        c = self.counts
        last90 = sum(1 for d in self.failure_days if d > self.next_day - 91)
        field_n = max(self.vehicles.n, 1)
        return {
            "vehicles_in_field": self.vehicles.n,
            "units_in_pipeline": len(self._pending),
            "miles": c["miles_manual"] + c["miles_autopilot"],
            "crashes_per_million_miles": {
                "autopilot": _per_million(c["crashes_autopilot"], c["miles_autopilot"]),
                "manual": _per_million(c["crashes_manual"], c["miles_manual"])},
            "field_failures": int(c["field_failures"]),
            "field_failures_per_1000": 1000 * c["field_failures"] / field_n,
            "field_failures_last90": last90,
            "field_failures_per_1000_last90": 1000 * last90 / field_n,
            "roadside_failures": int(c["roadside_failures"]),
            "warranty_cost_usd": round(c["warranty_cost_usd"], 2),
            "campaign_visits": int(c["campaign_visits"]),
            "campaign_queue": self.workshop.queued,
            "software_revenue": round(self.subscriptions.revenue_usd
                                      + self.offer_response.revenue_usd, 2),
            "software_shares": self.software.shares(self.info.view("version")),
        }


def _per_million(events: float, miles: float) -> float | None:
    return None if miles <= 0 else 1e6 * events / miles
