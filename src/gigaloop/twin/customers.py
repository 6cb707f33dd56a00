"""Customers: who receives each unit, how they drive, what they subscribe to and say.

At delivery every unit gets a pseudonymous customer in a home region (hot / temperate /
cold; a unit's latent ``hot_climate_bias`` forces a hot one with that probability), hidden
driving-style parameters that shape its Safety Score measures, consent flags and opening
subscriptions. Afterwards :class:`Subscriptions` starts and churns FSD and connectivity,
and :func:`feedback_ratings` draws star ratings that drop after failures.

>>> rng = np.random.default_rng(0)
>>> drivers = draw_drivers(rng, np.zeros(1000))
>>> sorted(drivers)[:3], bool(0.2 < drivers["ap_share"].mean() < 0.3)
(['aggressive_turning', 'ap_share', 'climate'], True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from gigaloop.twin.climate import REGION_CLIMATE, draw_regions, mean_rain_share
from gigaloop.twin.hazards import CRASH

STYLES = ("calm", "normal", "aggressive")
#: No published split; "most drivers score 80 or above" (Tesla) suggests a minority of
#: aggressive drivers.
STYLE_SHARE = np.array([0.3, 0.5, 0.2])
STYLE_MILES = np.array([0.9, 1.0, 1.2])       # relative annual miles by style
#: Median per style of each Safety Score measure (Tesla thresholds: > 0.3 g braking, > 0.4 g
#: turning, < 1.0 s headway share, > 85 mph) and of warning rates; none is published.
STYLE_MEDIANS: dict[str, tuple[float, float, float]] = {
    "hard_braking": (0.004, 0.01, 0.03),
    "aggressive_turning": (0.015, 0.03, 0.07),
    "unsafe_following": (0.03, 0.08, 0.20),
    "speeding": (0.0002, 0.001, 0.01),
    "night_share": (0.02, 0.04, 0.08),        # miles 23:00–04:00
    "fcw_rate": (1.5e-3, 4e-3, 12e-3),        # FCW per manual mile (1.5–12 per 1,000 mi)
    "forced_rate": (5e-5, 2e-4, 1e-3),        # forced disengagements per Autopilot mile
}
DRIVER_SPREAD = 0.4            # lognormal sd of each measure across drivers of one style
MEASURE_CAP = 0.5              # bases stay below this, so base × daily mood stays below 1
ANNUAL_MILES = 13_500.0        # FHWA (2°)
ANNUAL_MILES_SPREAD = 0.55     # lognormal sd across drivers (no published figure)
DRIVE_PROBABILITY = 0.88       # share of days a car is driven (no published figure)
#: Autopilot share of miles per driver ~ Beta(2, 6): mean 0.25 (MIT AVT study).
AUTOPILOT_BETA = (2.0, 6.0)
#: DC fast-charge share of charging energy: most charge at home (≈ 5 %), a quarter rely on
#: superchargers (≈ 50 %); no published split.
DCFC_HEAVY_SHARE, DCFC_LIGHT, DCFC_HEAVY = 0.25, 0.05, 0.5
#: Consent rates (no published figure).
CONSENT = {"telemetry": 0.9, "marketing": 0.45, "insurance": 0.2}

#: Subscriptions: price (Tesla), share subscribing at delivery, monthly churn and monthly
#: start rate of non-subscribers. FSD ≈ 12 % of the fleet (Tesla Q3/Q4 2025), held there:
#: starts × (1 − 0.12) = churn × 0.12. Churn rates are not published.
PRODUCTS = {
    "fsd": {"price": 99.0, "at_delivery": 0.12, "churn": 0.04, "start": 0.0055},
    "connectivity": {"price": 9.99, "at_delivery": 0.6, "churn": 0.02, "start": 0.03},
}
#: A subscription started at an offered price bills that price, and its churn is the
#: product's × (price ÷ list price) ** this: a subscriber paying half churns half as often.
#: Not published (no maker reports churn by price); a unit exponent is the plainest choice.
CHURN_PRICE_EXPONENT = 1.0
UNHAPPY_DAYS = 45              # after a failure: churn ×3, lower ratings, for this long
UNHAPPY_CHURN = 3.0
DAYS_PER_MONTH = 30.44

#: Star-rating distributions (1–5) for a content and for a recently failed customer.
RATINGS_CONTENT = np.array([0.02, 0.04, 0.10, 0.34, 0.50])
RATINGS_UNHAPPY = np.array([0.25, 0.30, 0.25, 0.15, 0.05])
RATINGS_ROADSIDE = np.array([0.45, 0.30, 0.15, 0.07, 0.03])
DELIVERY_SURVEY_DAY, DELIVERY_SURVEY_RESPONSE = 7, 0.35
APP_FEEDBACK_PER_DAY = 1 / 200
APP_TOPICS = ("overall", "autopilot", "range", "app", "charging")
#: App complaints about a component with no failure behind them, per complaint about a
#: failure coming (a symptom, :data:`gigaloop.twin.hazards.SYMPTOM_DEFAULT`): a part owners
#: notice — one that often fails, with a symptom one feels — also draws complaints when
#: nothing is wrong with it, so each component's noise is this many times its nominal
#: symptom rate (first-year probability × symptom share). Not published: J.D. Power counts
#: ≈ 1.9 problems per vehicle in the first 90 days (IQS 2023), most never a claim; assumed
#: two in three component complaints are noise (≈ 0.06 per vehicle-year of the twin's
#: components, around ≈ 0.03 symptoms).
COMPLAINT_NOISE_PER_SYMPTOM = 2.0
SERVICE_FEEDBACK_RESPONSE = 0.5


def draw_drivers(rng: np.random.Generator, hot_bias: np.ndarray) -> dict[str, np.ndarray]:
    """Hidden per-vehicle driver parameters for ``len(hot_bias)`` new customers."""
    n = len(hot_bias)
    region = draw_regions(rng, hot_bias)
    style = rng.choice(len(STYLES), size=n, p=STYLE_SHARE).astype(np.int8)
    miles_scale = STYLE_MILES / float(np.dot(STYLE_SHARE, STYLE_MILES))
    annual = rng.lognormal(np.log(ANNUAL_MILES) - ANNUAL_MILES_SPREAD**2 / 2,
                           ANNUAL_MILES_SPREAD, n) * miles_scale[style]
    out = {"region": region, "climate": REGION_CLIMATE[region], "style": style,
           "mean_miles": annual / 365.0 / DRIVE_PROBABILITY,
           "ap_share": rng.beta(*AUTOPILOT_BETA, n)}
    for name, medians in STYLE_MEDIANS.items():
        value = np.asarray(medians)[style] * rng.lognormal(0.0, DRIVER_SPREAD, n)
        out[name] = np.minimum(value, MEASURE_CAP)
    heavy = rng.random(n) < DCFC_HEAVY_SHARE
    out["dcfc_share"] = np.where(heavy, DCFC_HEAVY, DCFC_LIGHT) * rng.uniform(0.5, 1.5, n)
    return out


def draw_consent(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Consent flags per new customer."""
    return {k: rng.random(n) < p for k, p in CONSENT.items()}


def customer_ids(rng: np.random.Generator, n: int) -> pa.Array:
    """Pseudonymous customer ids ``CU-`` and 12 hex digits (random, not derived from the VIN).

    >>> customer_ids(np.random.default_rng(0), 2).to_pylist()
    ['CU-a30febcfd9c2', 'CU-4510bdf882d9']
    """
    x = rng.integers(0, 2**48, n).astype(np.uint64)
    nibbles = (x[:, None] >> np.arange(44, -1, -4, dtype=np.uint64)) & np.uint64(15)
    text = np.empty((n, 15), np.uint8)
    text[:, :3] = np.frombuffer(b"CU-", np.uint8)
    text[:, 3:] = np.frombuffer(b"0123456789abcdef", np.uint8)[nibbles]
    return pa.array(text.view("S15").ravel(), pa.binary()).cast(pa.string())


def feedback_ratings(rng: np.random.Generator, unhappy: np.ndarray,
                     roadside: np.ndarray | None = None) -> np.ndarray:
    """Star ratings 1–5: content, recently failed (``unhappy``) or stranded (``roadside``).

    >>> r = feedback_ratings(np.random.default_rng(0), np.array([False] * 500 + [True] * 500))
    >>> bool(r[:500].mean() > r[500:].mean() + 1)
    True
    """
    roadside = np.zeros(len(unhappy), bool) if roadside is None else roadside
    u = rng.random(len(unhappy))
    cdfs = np.stack([np.cumsum(RATINGS_CONTENT), np.cumsum(RATINGS_UNHAPPY),
                     np.cumsum(RATINGS_ROADSIDE)])
    which = np.where(roadside, 2, np.where(unhappy, 1, 0))
    return 1 + (u[:, None] > cdfs[which][:, :-1]).sum(axis=1)


class Subscriptions:
    """Active subscriptions per vehicle (by field index) and their daily starts and ends.

    ``active[product]`` holds the subscription serial (−1 when none), ``started`` its day and
    ``price`` its monthly price (the list price unless it started at an offered price).
    """

    def __init__(self) -> None:
        self.active = {p: np.empty(0, np.int64) for p in PRODUCTS}
        self.started = {p: np.empty(0, np.int64) for p in PRODUCTS}
        self.price = {p: np.empty(0) for p in PRODUCTS}
        self._serial = 0
        self.revenue_usd = 0.0

    def grow(self, n: int) -> None:
        for p in PRODUCTS:
            extra = n - len(self.active[p])
            self.active[p] = np.concatenate([self.active[p], np.full(extra, -1)])
            self.started[p] = np.concatenate([self.started[p], np.full(extra, -1)])
            self.price[p] = np.concatenate([self.price[p],
                                            np.full(extra, PRODUCTS[p]["price"])])

    def _start(self, product: str, idx: np.ndarray, day: int | np.ndarray,
               price: float | None = None) -> SubscriptionEvents:
        serials = np.arange(self._serial, self._serial + len(idx))
        self._serial += len(idx)
        self.active[product][idx] = serials
        self.started[product][idx] = day
        self.price[product][idx] = PRODUCTS[product]["price"] if price is None else price
        return SubscriptionEvents.of(product, idx, serials,
                                     np.broadcast_to(day, len(idx)).copy(), -1,
                                     self.price[product][idx])

    def end(self, product: str, idx: np.ndarray, day: int) -> SubscriptionEvents:
        """End the active ``product`` subscriptions of ``idx`` on ``day``."""
        idx = idx[self.active[product][idx] >= 0]
        events = SubscriptionEvents.of(product, idx, self.active[product][idx],
                                       self.started[product][idx], day,
                                       self.price[product][idx])
        self.active[product][idx] = -1
        self.price[product][idx] = PRODUCTS[product]["price"]
        return events

    def start(self, product: str, idx: np.ndarray, day: int,
              price: float | None = None) -> SubscriptionEvents:
        """Start ``product`` for ``idx`` (none of whom holds it) on ``day``, billed at
        ``price`` a month (default: the list price)."""
        return self._start(product, idx, day, price)

    def churn_multiplier(self, product: str) -> np.ndarray | None:
        """Each vehicle's churn × for its ``product`` price (:data:`CHURN_PRICE_EXPONENT`);
        ``None`` while every subscription is at list price (then nothing changes)."""
        ratio = self.price[product] / PRODUCTS[product]["price"]
        if not (ratio != 1.0).any():
            return None
        return ratio**CHURN_PRICE_EXPONENT

    def deliver(self, rng: np.random.Generator, idx: np.ndarray,
                day: int | np.ndarray) -> SubscriptionEvents:
        """Opening subscriptions of new customers at field indices ``idx`` delivered on
        ``day`` (one day, or one per customer)."""
        events = []
        for p, spec in PRODUCTS.items():
            take = rng.random(len(idx)) < spec["at_delivery"]
            on = day[take] if isinstance(day, np.ndarray) else day
            events.append(self._start(p, idx[take], on))
        return SubscriptionEvents.concat(events)

    def step(self, rng: np.random.Generator, day: int,
             unhappy: np.ndarray) -> SubscriptionEvents:
        """One day of churn and new starts (an end repeats the subscription, with its end)."""
        events = []
        n = len(unhappy)
        for product, spec in PRODUCTS.items():
            active = self.active[product]
            self.revenue_usd += spec["price"] / DAYS_PER_MONTH * np.count_nonzero(active >= 0)
            churn, start = spec["churn"] / DAYS_PER_MONTH, spec["start"] / DAYS_PER_MONTH
            repriced = self.churn_multiplier(product)  # None at list price: as before
            most = 1.0
            if repriced is not None:
                on_all = active >= 0
                self.revenue_usd += float((self.price[product][on_all] - spec["price"]).sum()
                                          ) / DAYS_PER_MONTH
                most = max(1.0, float(repriced[on_all].max(initial=1.0)))
            # a subscriber ends, or a content non-subscriber starts, with their own daily
            # chance; drawn by thinning: candidates at the highest chance, each kept with
            # its own share of it (the same chances, from a few thousand draws, not n)
            top = max(churn * max(UNHAPPY_CHURN, 1.0) * most, start)
            cand = np.sort(rng.choice(n, rng.binomial(n, top), replace=False))
            on, sad = active[cand] >= 0, unhappy[cand]
            quit_chance = churn * np.where(sad, UNHAPPY_CHURN, 1.0)
            if repriced is not None:
                quit_chance = quit_chance * repriced[cand]
            chance = np.where(on, quit_chance, np.where(sad, 0.0, start))
            hit = rng.random(len(cand)) * top < chance
            ends, starts = cand[hit & on], cand[hit & ~on]
            events.append(SubscriptionEvents.of(product, ends, active[ends],
                                                self.started[product][ends], day,
                                                self.price[product][ends]))
            active[ends] = -1
            self.price[product][ends] = spec["price"]
            events.append(self._start(product, starts, day))
        return SubscriptionEvents.concat(events)


@dataclass
class SubscriptionEvents:
    """Subscription starts and ends: field index, serial, start day, end day (−1 if open),
    monthly price."""

    product: np.ndarray
    idx: np.ndarray
    serial: np.ndarray
    started: np.ndarray
    ended: np.ndarray
    price: np.ndarray

    @classmethod
    def of(cls, product: str, idx: np.ndarray, serial: np.ndarray, started: np.ndarray,
           ended: int, price: np.ndarray | None = None) -> SubscriptionEvents:
        price = (np.full(len(idx), float(PRODUCTS[product]["price"])) if price is None
                 else np.asarray(price, float))
        return cls(np.full(len(idx), product, dtype=object), idx, serial, started,
                   np.full(len(idx), ended), price)

    @classmethod
    def concat(cls, parts: list[SubscriptionEvents]) -> SubscriptionEvents:
        return cls(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("product", "idx", "serial", "started", "ended", "price")))


def _crash_normalisers() -> tuple[np.ndarray, np.ndarray]:
    """Per-style crash multipliers (manual, Autopilot) scaled so that the fleet's mileage
    mix of styles, night and rain reproduces the published per-mile rates."""
    weight = STYLE_SHARE * STYLE_MILES
    night = np.asarray(STYLE_MEDIANS["night_share"]) * np.exp(DRIVER_SPREAD**2 / 2)
    condition = 1 + (CRASH.night - 1) * night + (CRASH.rain - 1) * mean_rain_share()
    manual = np.asarray(CRASH.style)
    autopilot = manual**CRASH.autopilot_style_exponent
    scale = [np.dot(weight, m * condition) / weight.sum() for m in (manual, autopilot)]
    return manual / scale[0], autopilot / scale[1]


STYLE_CRASH_MANUAL, STYLE_CRASH_AUTOPILOT = _crash_normalisers()
