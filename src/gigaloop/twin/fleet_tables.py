"""The fleet's day as table rows: telemetry, triggers, crashes, insurance claims, codes,
warranty claims, visits, customers, subscriptions and feedback — plus the truth events
those rows reveal.

:class:`FleetTables` reads the :class:`~gigaloop.twin.fleet.Fleet`'s arrays; VINs and
customer ids are taken from Arrow arrays by index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.twin import customers as cust
from gigaloop.twin.climate import REGIONS
from gigaloop.twin.fleet_rows import Rows, day_times, numbered_ids, serial_ids
from gigaloop.twin.fleet_telemetry import CLIMATE_NAMES, DAY_S, TelemetryRows
from gigaloop.twin.hazards import CLAIM, CRASH
from gigaloop.twin.telemetry import TRIGGER_KINDS, BlockEvents

if TYPE_CHECKING:
    from gigaloop.twin.fleet import Fleet
    from gigaloop.twin.telemetry import DayContext

CLIP_PREFIX = "s3://gigaloop-fleet/clips/"
CLIP_UPLOADED = 0.9            # share of requested clips that arrive (no published figure)
#: Event conditions, coded 0–3 while drawn and named when the rows are built.
CONDITIONS = pa.array(["clear", "rain", "night", "snow"], pa.string())
CLEAR, RAIN, NIGHT, SNOW = range(4)
CRASH_MODES = pa.array(["manual", "autopilot"], pa.string())
COVERAGES = pa.array(["property_damage", "collision"], pa.string())
SEVERITIES = pa.array(["minor", "major"], pa.string())
NONE = np.array(None, dtype=object)  # a null where a scene has no value (np.where)
TRIGGER_NAMES = pa.array([k.split("_")[0] for k in TRIGGER_KINDS], pa.string())


class FleetTables:
    """Turns one fleet day into rows; keeps the id counters."""

    def __init__(self, fleet: Fleet, rng: np.random.Generator) -> None:
        self.f = fleet
        self._rng = rng
        self._complaint_rng = rng.spawn(1)[0]  # a stream of its own: the other draws stay put
        self._claim_rng = rng.spawn(1)[0]      # … and so are the insurance claims
        felt = [c for c in fleet.workshop.components if c.symptom is not None]
        #: components owners complain about with nothing wrong, and each one's rate per day
        self._noise = (np.array([c.name for c in felt], dtype=object), np.array(
            [cust.COMPLAINT_NOISE_PER_SYMPTOM * c.symptom[0] * c.first_year / 365
             for c in felt if c.symptom is not None]))
        self._serial = {k: 0 for k in ("TR", "CR", "CL", "SV", "FB", "OF", "TC", "IC")}
        self.telemetry = TelemetryRows()

    def _ids(self, prefix: str, n: int) -> pa.Array:
        ids = serial_ids(prefix, self._serial[prefix], n)
        self._serial[prefix] += n
        return ids

    def _times(self, day: int, n: int) -> np.ndarray:
        return day_times(self.f.start_date, day, self._rng.uniform(0, DAY_S, n))

    def _date(self, day: int) -> np.datetime64:
        return np.datetime64(self.f.start_date, "D") + np.timedelta64(day, "D")

    def delivered(self, rows: Rows, idx: np.ndarray, day: int) -> None:
        """Customers and opening subscriptions of vehicles ``idx`` delivered today."""
        self.customers_of(rows, idx, np.full(len(idx), day), self._times(day, len(idx)))
        self.subscriptions(rows, self.f.subscriptions.deliver(self._rng, idx, day), day)

    def customers_of(self, rows: Rows, idx: np.ndarray, delivered: np.ndarray,
                     event_time: np.ndarray) -> None:
        """``customers`` rows of vehicles ``idx`` delivered on days ``delivered``."""
        f = self.f
        consent = {k: f.info.view(f"consent_{k}")[idx] for k in cust.CONSENT}
        rows.add("customers", customer_id=f.customer_ids.take(idx), vin=f.vins.take(idx),
                 region=np.array(REGIONS, dtype=object)[f.vehicles.view("region")[idx]],
                 climate_region=CLIMATE_NAMES.take(f.vehicles.view("climate")[idx]),
                 delivered_on=self._date(0) + delivered.astype("timedelta64[D]"),
                 **{f"consent_{k}": v for k, v in consent.items()}, event_time=event_time)

    # ---- driving -------------------------------------------------------------------------
    def driving(self, rows: Rows, day: int, ctx: DayContext, events: BlockEvents) -> None:
        f, n = self.f, self.f.vehicles.n
        out = f.out.view(n)
        ap = float(out["autopilot_miles"].sum(dtype=np.float64))
        f.counts["miles_autopilot"] += ap
        f.counts["miles_manual"] += float(out["miles"].sum(dtype=np.float64)) - ap
        f.counts["expected_crashes_autopilot"] += events.expected_crashes_autopilot
        self.telemetry.add(rows, f, day)
        crashed, seconds = self._crashes(rows, day, ctx, events)
        self._insurance_claims(rows, day, events.crash_risk, crashed, seconds)
        self._triggers(rows, day, ctx, events)
        self._rain_truth(day)

    def scenes(self, rows: Rows, day: int, ctx: DayContext, vehicles: np.ndarray,
               up: dict[str, np.ndarray]) -> None:
        """``scenes`` rows of the day's uploads (``up``: :meth:`Scenes.day`) and a
        ``trigger_events`` row for each campaign upload."""
        idx = vehicles[up["owner"]]
        ids = numbered_ids("SC", up["number"])
        times = day_times(self.f.start_date, day,
                          self.f.scenes.rng.uniform(0, DAY_S, len(idx)))
        versions = self._versions(idx)
        shadow = up["in_shadow"]
        rows.add("scenes", scene_id=ids, vin=self.f.vins.take(idx), software_version=versions,
                 arm=up["arm"], campaign=up["campaign"], size_mb=up["size_mb"],
                 **{k: up[k].astype(bool) for k in ("rain", "night", "no_lead",
                                                    "construction", "glare", "cut_in",
                                                    "flag", "took_over", "hard_brake",
                                                    "hazard")},
                 **{k: up[k].astype(np.int64) for k in ("road", "sensor_rev")},
                 speed_mph=up["speed_mph"], lead_gap_s=up["lead_gap_s"],
                 shadow_version=np.where(shadow, up["shadow_version"], NONE),
                 shadow_flag=pa.array(up["shadow_flag"], mask=~shadow),
                 event_time=times)
        chosen = np.flatnonzero(up["arm"] == "campaign")
        if not chosen.size:
            return
        region = self.f.vehicles.view("region")[idx[chosen]]
        rain, night = up["rain"][chosen] == 1, up["night"][chosen] == 1
        condition = np.where(rain, np.where(ctx.temp_c[region] < 0, "snow", "rain"),
                             np.where(night, "night", "clear")).astype(object)
        uri = pc.binary_join_element_wise("scene://", ids.take(chosen), "")
        rows.add("trigger_events", trigger_id=self._ids("TC", chosen.size),
                 vin=self.f.vins.take(idx[chosen]), trigger=up["campaign"][chosen],
                 condition=condition, software_version=versions.take(chosen),
                 clip_uri=uri, event_time=times[chosen])

    def _versions(self, idx: np.ndarray) -> pa.Array:
        names = pa.array(self.f.software.names, pa.string())
        return names.take(self.f.info.view("version")[idx])

    def _condition(self, idx: np.ndarray, ctx: DayContext, night_w: float,
                   rain_w: np.ndarray) -> np.ndarray:
        """Condition of events on vehicles ``idx`` (codes into :data:`CONDITIONS`): clear,
        rain/snow or night, by exposure."""
        v = self.f.vehicles
        region = v.view("region")[idx]
        night = night_w * v.view("night_share")[idx]
        rain = rain_w * ctx.rain_share[region]
        clear = np.maximum(1.0 - v.view("night_share")[idx] - ctx.rain_share[region], 0.0)
        u = self._rng.random(len(idx)) * (clear + night + rain)
        cond = np.where(u < clear, CLEAR, np.where(u < clear + rain, RAIN, NIGHT))
        cond[(cond == RAIN) & (ctx.temp_c[region] < 0.0)] = SNOW
        return cond

    def _crashes(self, rows: Rows, day: int, ctx: DayContext, events: BlockEvents
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``crashes`` rows; the crashed vehicles and each crash's second of the day."""
        f = self.f
        manual, auto = events.crash_manual, events.crash_autopilot
        idx = np.concatenate([manual, auto])
        if not idx.size:
            return idx, np.empty(0)
        f.counts["crashes_manual"] += len(manual)
        f.counts["crashes_autopilot"] += len(auto)
        ap_rain = 1.0 + f.vehicles.view("ap_rain_extra")[auto]
        condition = np.concatenate([
            self._condition(manual, ctx, CRASH.night, np.full(len(manual), CRASH.rain)),
            self._condition(auto, ctx, CRASH.night, ap_rain)])
        on_autopilot = np.arange(len(idx)) >= len(manual)
        seconds = self._rng.uniform(0, DAY_S, len(idx))
        late = self._rng.uniform(23 * 3600, 28 * 3600, len(idx)) % DAY_S
        seconds = np.where(condition == NIGHT, late, seconds)
        major = self._rng.random(len(idx)) < CRASH.major_share
        rows.add("crashes", crash_id=self._ids("CR", len(idx)), vin=f.vins.take(idx),
                 mode=CRASH_MODES.take(on_autopilot.astype(np.int8)),
                 software_version=self._versions(idx), condition=CONDITIONS.take(condition),
                 severity=SEVERITIES.take(major.astype(np.int8)),
                 event_time=day_times(f.start_date, day, seconds))
        rain_crash = np.flatnonzero(on_autopilot & np.isin(condition, [RAIN, SNOW]))
        self._attribute(day, "rain_perception", "first_crash", idx[rain_crash])
        return idx, seconds

    def _insurance_claims(self, rows: Rows, day: int, risk: np.ndarray, crashed: np.ndarray,
                          seconds: np.ndarray) -> None:
        """``insurance_claims`` of the maker's policyholders (``consent_insurance``): one
        collision claim per crash, and the minor collisions and property damage no crash
        record shows, at the day's crash risk × :data:`~gigaloop.twin.hazards.CLAIM`'s
        claims per crash (:class:`~gigaloop.twin.hazards.ClaimRates`)."""
        insured = self.f.info.view("consent_insurance")
        rng = self._claim_rng
        held = np.flatnonzero(insured[: len(risk)] & (risk > 0))
        lam = risk[held].astype(np.float64)
        collision = rng.poisson(lam * (CLAIM.collision_per_crash - 1.0))
        damage = rng.poisson(lam * CLAIM.property_damage_per_crash)
        of_crash = insured[crashed]
        idx = np.concatenate([crashed[of_crash], np.repeat(held, collision),
                              np.repeat(held, damage)])
        if not idx.size:
            return
        coverage = np.arange(len(idx)) < len(idx) - int(damage.sum())
        second = np.concatenate([seconds[of_crash],
                                 rng.uniform(0, DAY_S, len(idx) - int(of_crash.sum()))])
        rows.add("insurance_claims", claim_id=self._ids("IC", len(idx)),
                 vin=self.f.vins.take(idx), coverage=COVERAGES.take(coverage.astype(np.int8)),
                 amount_usd=np.round(CLAIM.cost(coverage, rng), 2),
                 event_time=day_times(self.f.start_date, day, second))

    def _triggers(self, rows: Rows, day: int, ctx: DayContext, events: BlockEvents) -> None:
        f = self.f
        keep = f.info.view("consent_telemetry")[events.trigger_vehicle]
        idx, kind = events.trigger_vehicle[keep], events.trigger_kind[keep]
        if not idx.size:
            return
        condition = self._condition(idx, ctx, 1.0, np.ones(len(idx)))
        for k, cond in {2: CLEAR, 3: RAIN, 4: NIGHT}.items():   # disengagements' own
            condition[kind == k] = cond
        region = f.vehicles.view("region")[idx]
        condition[(condition == RAIN) & (ctx.temp_c[region] < 0)] = SNOW
        numbers = self._serial["TR"] + np.arange(len(idx))
        ids = self._ids("TR", len(idx))
        uploaded = self._rng.random(len(idx)) < CLIP_UPLOADED
        rows.add("trigger_events", trigger_id=ids, vin=f.vins.take(idx),
                 trigger=TRIGGER_NAMES.take(kind), condition=CONDITIONS.take(condition),
                 software_version=self._versions(idx),
                 clip_uri=numbered_ids(CLIP_PREFIX + "TR", numbers, ".mp4", uploaded),
                 event_time=self._times(day, len(idx)))

    def _rain_truth(self, day: int) -> None:
        """First rain disengagement caused by a camera-rain fault (per fault)."""
        f = self.f
        faults = f.info.view("fault_rain_perception")
        if not (faults >= 0).any():
            return
        count = f.out.view(f.vehicles.n)["disengagements_rain"]
        self._attribute(day, "rain_perception", "first_field_failure",
                        np.flatnonzero((faults >= 0) & (count > 0)), count)

    def _attribute(self, day: int, key: str, kind: str, idx: np.ndarray,
                   count: np.ndarray | None = None) -> None:
        """Report events on ``idx`` that the fault caused (share (m − 1) / m of m× hazard)."""
        f = self.f
        faults = f.info.view(f"fault_{key}")[idx]
        idx, faults = idx[faults >= 0], faults[faults >= 0]
        if not idx.size:
            return
        latent = {"rain_perception": f.info.view("rain_perception"),
                  "seam_defect": f.info.view("seam_defect"),
                  "trim_defect": f.info.view("trim_defect"),
                  "cell_fade": f.info.view("pack_defect")}[key][idx].astype(np.float64)
        k = 1 if count is None else count[idx]
        caused = self._rng.random(len(idx)) < 1.0 - (1.0 / np.maximum(latent, 1.0)) ** k
        # only the first event of each fault can be new truth: report those, in order
        codes, first = np.unique(faults[caused], return_index=True)
        order = np.argsort(first)
        for code, i in zip(codes[order].tolist(), idx[caused][first[order]].tolist(),
                           strict=True):
            f.report(key, code, kind, day, i)

    # ---- workshop ------------------------------------------------------------------------
    def workshop(self, rows: Rows, day: int) -> None:
        f, shop = self.f, self.f.workshop
        for idx, code, ecu, severity in shop.codes(day):
            if idx.size:
                rows.add("diagnostic_codes", vin=f.vins.take(idx), code=code, ecu=ecu,
                         severity=severity, event_time=self._times(day, len(idx)))
                if code.startswith("BMS"):
                    self._attribute(day, "cell_fade", "first_symptom", idx)
        for idx, component in shop.symptoms(day):  # the owner feels a failure coming
            self._complaints(rows, day, idx, component)
        unhappy = f.info.view("unhappy_until")
        for fail in shop.failures(day):
            idx, comp = fail.idx, fail.component
            modes = np.array(comp.failure_modes, dtype=object)
            rows.add("component_failures", claim_id=self._ids("CL", len(idx)),
                     vin=f.vins.take(idx), component=comp.name,
                     failure_mode=modes[self._rng.integers(0, len(modes), len(idx))],
                     odometer_miles=f.vehicles.view("odometer")[idx], roadside=fail.roadside,
                     cost_usd=np.round(fail.cost, 2), event_time=self._times(day, len(idx)))
            f.counts["field_failures"] += len(idx)
            f.counts["roadside_failures"] += int(fail.roadside.sum())
            f.counts["warranty_cost_usd"] += float(fail.cost.sum())
            f.failure_days += [day] * len(idx)
            unhappy[idx] = day + cust.UNHAPPY_DAYS
            key = {"body_seam": "seam_defect", "paint_trim": "trim_defect",
                   "battery_pack": "cell_fade"}.get(comp.name)
            if key:
                self._attribute(day, key, "first_field_failure", idx)
            if (fail.cause >= 0).any():
                f.report_caused(fail.cause, comp.name, day, idx)
            answer = self._rng.random(len(idx)) < cust.SERVICE_FEEDBACK_RESPONSE
            self._feedback(rows, day, idx[answer], "service", comp.name, fail.roadside[answer])
        visit = shop.visits(day)
        if visit.idx:
            idx = np.array(visit.idx)
            f.counts["campaign_visits"] += sum(r == "campaign" for r in visit.reason)
            cameras = idx[np.array(visit.component) == "camera"]
            if cameras.size:  # a new camera changes how the car drives in rain from today
                f._set_rates(cameras)
            rows.add("service_visits", visit_id=self._ids("SV", len(idx)), vin=f.vins.take(idx),
                     reason=visit.reason, campaign_id=visit.campaign_id,
                     component=visit.component, cost_usd=visit.cost,
                     part_condition=visit.condition, event_time=self._times(day, len(idx)))

    # ---- customers -----------------------------------------------------------------------
    def customers(self, rows: Rows, day: int) -> None:
        f = self.f
        n = f.vehicles.n
        if not n:
            return
        unhappy = f.info.view("unhappy_until") >= day
        self.subscriptions(rows, f.subscriptions.step(self._rng, day, unhappy), day)
        survey = np.flatnonzero(f.info.view("delivered") == day - cust.DELIVERY_SURVEY_DAY)
        survey = survey[self._rng.random(len(survey)) < cust.DELIVERY_SURVEY_RESPONSE]
        self._feedback(rows, day, survey, "survey", "delivery")
        app = self._rng.integers(0, n, self._rng.poisson(cust.APP_FEEDBACK_PER_DAY * n))
        topics = np.array(cust.APP_TOPICS, dtype=object)
        self._feedback(rows, day, app, "app", topics[self._rng.integers(0, len(topics), len(app))])
        names, rates = self._noise
        if len(names):  # complaints about a part, with no failure behind them
            rng = self._complaint_rng
            noise = rng.integers(0, n, rng.poisson(rates.sum() * n))
            self._complaints(rows, day, noise,
                             names[rng.choice(len(names), len(noise), p=rates / rates.sum())])

    def _complaints(self, rows: Rows, day: int, idx: np.ndarray, topic: object) -> None:
        """App complaints of the owners of ``idx`` about the component ``topic`` names."""
        if not len(idx):
            return
        rng = self._complaint_rng
        rows.add("feedback", feedback_id=self._ids("FB", len(idx)),
                 customer_id=self.f.customer_ids.take(idx), channel="app",
                 rating=cust.feedback_ratings(rng, np.ones(len(idx), bool)), topic=topic,
                 event_time=day_times(self.f.start_date, day, rng.uniform(0, DAY_S, len(idx))))

    def _feedback(self, rows: Rows, day: int, idx: np.ndarray, channel: str,
                  topic: object, roadside: np.ndarray | None = None) -> None:
        if not len(idx):
            return
        unhappy = self.f.info.view("unhappy_until")[idx] >= day
        rating = cust.feedback_ratings(self._rng, unhappy, roadside)
        rows.add("feedback", feedback_id=self._ids("FB", len(idx)),
                 customer_id=self.f.customer_ids.take(idx), channel=channel,
                 rating=rating, topic=topic, event_time=self._times(day, len(idx)))

    def offers(self, rows: Rows, idx: np.ndarray, accepted: np.ndarray,
               event_time: np.ndarray, *, campaign_id: str, product: str, channel: str,
               price_usd: float) -> None:
        """``offers`` rows: one per customer ``idx`` offered ``product`` at ``event_time``."""
        if len(idx):
            rows.add("offers", offer_id=self._ids("OF", len(idx)),
                     customer_id=self.f.customer_ids.take(idx), campaign_id=campaign_id,
                     product=product, channel=channel, price_usd=price_usd,
                     accepted=accepted, event_time=event_time)

    def subscriptions(self, rows: Rows, events: cust.SubscriptionEvents,
                       event_time: np.ndarray | int) -> None:
        """Rows of ``events`` at ``event_time`` (or at random times of that day)."""
        n = len(events.idx)
        if not n:
            return
        if isinstance(event_time, int):
            event_time = self._times(event_time, n)
        origin = np.datetime64(self.f.start_date, "D")
        ended = events.ended
        rows.add("subscriptions", subscription_id=numbered_ids("SUB", events.serial),
                 customer_id=self.f.customer_ids.take(events.idx), product=events.product,
                 started_on=origin + events.started.astype("timedelta64[D]"),
                 ended_on=pa.array(origin + np.maximum(ended, 0).astype("timedelta64[D]"),
                                   pa.date32(), mask=ended < 0),
                 monthly_price_usd=events.price,
                 status=np.where(ended < 0, "active", "ended").astype(object),
                 event_time=event_time)
