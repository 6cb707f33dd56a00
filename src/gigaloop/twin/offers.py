"""Offers: how each customer answers an offer, by hidden rules (the twin's side).

Every customer has hidden traits — ``tech`` (enthusiasm for software, standard normal)
and ``averse`` (dislikes being sold to) — drawn from their own random stream, so sending
offers changes nothing else that day. The chance to accept product *p* is a logistic function
of those traits and of what the store can see: miles per day, Autopilot share, driving
style (visible as hard braking and turning), climate, vehicle age, the subscriptions held
and a recent failure (:data:`ACCEPT`). An averse customer never accepts, and a pushy offer
makes them cancel each subscription they hold with probability :data:`AVERSE_CANCEL`.

Prices: an offer may be priced within :data:`PRICE_BAND` of list. A third hidden trait,
price sensitivity (its own stream, so worlds offered list prices only are as they were),
shifts the log-odds by −ε ln(price ÷ list) (:data:`ELASTICITY`); a subscription started at
an offered price bills it and churns at the product's rate × (price ÷ list)
(:data:`~gigaloop.twin.customers.CHURN_PRICE_EXPONENT`).

:meth:`OfferResponse.respond` gives the hidden expected incremental revenue of an offer
(``uplift``: first month of a subscription, or the one-off price, net of organic starts it
replaces and of cancellations it causes; ``value``: the same over :data:`HORIZON_MONTHS`
at the churn of each price, and ``value_at_list`` had it been at list price); only the
truth keeps them.

>>> drivers = {"mean_miles": np.array([20.0, 80.0]), "ap_share": np.array([0.1, 0.6]),
...            "style": np.array([0, 2]), "climate": np.array([1, 0])}
>>> book = OfferResponse(np.random.default_rng(0))
>>> p = book.accept_probability("fsd", drivers, np.array([False, True]), age_years=np.zeros(2),
...                             tech=np.zeros(2), unhappy=np.zeros(2, bool))
>>> bool(p[1] > 5 * p[0])
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import expit, ndtri

from gigaloop.actuate import Offer, Receipt
from gigaloop.twin.climate import CLIMATE_INDEX
from gigaloop.twin.clock import DAY_S
from gigaloop.twin.customers import (
    ANNUAL_MILES,
    CHURN_PRICE_EXPONENT,
    DAYS_PER_MONTH,
    DRIVE_PROBABILITY,
    PRODUCTS,
    SubscriptionEvents,
)
from gigaloop.twin.fleet_rows import day_times

if TYPE_CHECKING:
    from gigaloop.twin.fleet import Fleet
    from gigaloop.twin.fleet_rows import Rows

#: One-off purchases: Tesla's Acceleration Boost for Model 3 / Model Y sells for $2,000.
ONE_OFF = {"performance_upgrade": 2000.0}
OFFERABLE = (*PRODUCTS, *ONE_OFF)
#: Logit of accepting, per product: intercept and weights on (z miles per day, z Autopilot
#: share, aggressive style, calm style, hot-or-cold climate, has connectivity, vehicle age
#: in years, tech, recent failure). None is published: sized so that a list-price offer is
#: taken by a few per cent on average (FSD's fleet take rate is about 12 %, Tesla Q4 2025)
#: and by ten times more among the customers it fits.
ACCEPT: dict[str, tuple[float, ...]] = {
    "fsd": (-3.3, 0.9, 1.1, 0.0, 0.0, 0.0, 0.6, -0.4, 0.8, -1.5),
    "connectivity": (-2.6, 0.7, 0.0, 0.0, 0.0, 0.7, 0.0, -0.3, 0.8, -1.5),
    "performance_upgrade": (-4.3, 0.5, 0.0, 1.8, -0.8, 0.0, 0.0, 0.0, 0.8, -1.5),
}
#: Prices the twin's customers answer, as shares of the list price; outside it an offer is
#: refused with a reason.
PRICE_BAND = (0.5, 1.5)
#: Price sensitivity: the log-odds of accepting fall by ε × ln(price ÷ list), ε = ELASTICITY ×
#: exp(SPREAD · z − SPREAD² / 2 + MILES · z miles per day + AGE · vehicle age in years), z a
#: hidden standard normal per customer. For a rare acceptance ε is the price elasticity of
#: take-up. No elasticity of car software is published; the size follows the
#: meta-analyses of consumer-goods price elasticities: mean −1.76 (Tellis, JMR 1988, 367
#: estimates) and −2.62 (Bijmolt, van Heerde & Pieters, JMR 2005, 1,851 estimates). Those
#: are brand elasticities (they include switching brands); an add-on with no rival should be
#: no more elastic, so ε is 1.1 for a median-mileage owner of a new car and, over an
#: installed base of 20,000 (mean age 2 years), has mean 1.7 and median 1.4 (28 % below 1:
#: a discount loses money on them). Low-mileage and older-car owners (who get less from it)
#: are more price sensitive (sizes not published).
ELASTICITY, ELASTICITY_SPREAD, ELASTICITY_MILES, ELASTICITY_AGE = 1.1, 0.5, -0.3, 0.15
#: Months over which the truth values a subscription started (or lost): expected billed
#: months in the next HORIZON_MONTHS at the churn of its price (geometric, as the twin's).
HORIZON_MONTHS = 12
#: Share of averse customers: 6 %, and 20 % among calm drivers (no published figure).
AVERSE_SHARE, AVERSE_CALM = 0.06, 0.20
AVERSE_CANCEL = 0.5            # chance an averse customer cancels each subscription held
MILES_MEDIAN = ANNUAL_MILES / 365.0 / DRIVE_PROBABILITY
MILES_SD, AP_MEAN, AP_SD = 0.55, 0.25, 0.15


def price(product: str) -> float:
    """List price: monthly for a subscription, once for a one-off.

    >>> price("fsd"), price("performance_upgrade")
    (99.0, 2000.0)
    """
    return float(PRODUCTS[product]["price"]) if product in PRODUCTS else ONE_OFF[product]


def months(product: str, usd: np.ndarray | float) -> np.ndarray:
    """Expected billed months in the next :data:`HORIZON_MONTHS` of a subscription at ``usd``
    a month: Σ (1 − c)^m, m < H, with the churn c of that price
    (:data:`~gigaloop.twin.customers.CHURN_PRICE_EXPONENT`); 1 for a one-off.

    >>> float(months("fsd", 99.0).round(2)), float(months("fsd", 49.5).round(2))
    (9.69, 10.77)
    """
    usd = np.asarray(usd, float)
    if product not in PRODUCTS:
        return np.ones_like(usd)
    churn = PRODUCTS[product]["churn"] * (usd / price(product)) ** CHURN_PRICE_EXPONENT
    return (1 - (1 - churn) ** HORIZON_MONTHS) / churn


class OfferResponse:
    """Hidden traits per customer (by field index), the one-off products each owns, the
    offers queued (``pending``), each campaign's truth and the one-off revenue."""

    def __init__(self, rng: np.random.Generator) -> None:
        # the price trait has a stream of its own (the third child: the first two are
        # what they were before prices were modelled)
        self._rng, self._answers, self._price_rng = rng.spawn(3)
        self.pending: list[Offer] = []
        self.truth: list[dict[str, Any]] = []
        self.revenue_usd = 0.0
        self.tech = np.empty(0)
        self.price_z = np.empty(0)
        self._u_averse = np.empty(0)
        self.owned = {p: np.zeros(0, bool) for p in ONE_OFF}

    def grow(self, n: int) -> None:
        """Traits for customers up to field index ``n`` (one draw per customer, in order:
        the same traits whenever they are drawn)."""
        extra = n - len(self.tech)
        if extra <= 0:
            return
        u = self._rng.random((extra, 2))
        self.tech = np.concatenate([self.tech, ndtri(u[:, 0])])
        self._u_averse = np.concatenate([self._u_averse, u[:, 1]])
        self.price_z = np.concatenate([self.price_z, ndtri(self._price_rng.random(extra))])
        for p in ONE_OFF:
            self.owned[p] = np.concatenate([self.owned[p], np.zeros(extra, bool)])

    def draw(self, n: int) -> np.ndarray:
        """``n`` uniform numbers for the answers (the traits' stream is apart)."""
        return self._answers.random(n)

    def averse(self, idx: np.ndarray, style: np.ndarray) -> np.ndarray:
        share = np.where(style == 0, AVERSE_CALM, AVERSE_SHARE)
        return self._u_averse[idx] < share

    @staticmethod
    def elasticity(drivers: dict[str, np.ndarray], *, age_years: np.ndarray,
                   price_z: np.ndarray) -> np.ndarray:
        """Each customer's price sensitivity ε (see :data:`ELASTICITY`)."""
        z_miles = np.log(drivers["mean_miles"] / MILES_MEDIAN) / MILES_SD
        return ELASTICITY * np.exp(ELASTICITY_SPREAD * price_z - ELASTICITY_SPREAD**2 / 2
                                   + ELASTICITY_MILES * z_miles
                                   + ELASTICITY_AGE * np.asarray(age_years, float))

    @staticmethod
    def accept_probability(product: str, drivers: dict[str, np.ndarray], has_connectivity:
                           np.ndarray, *, age_years: np.ndarray, tech: np.ndarray,
                           unhappy: np.ndarray, price_ratio: float = 1.0,
                           elasticity: np.ndarray | None = None) -> np.ndarray:
        """Chance that a customer who neither owns ``product`` nor is averse takes it at
        ``price_ratio`` × the list price (``elasticity``: ε per customer, needed off list)."""
        w = ACCEPT[product]
        climate = drivers["climate"]
        x = (np.log(drivers["mean_miles"] / MILES_MEDIAN) / MILES_SD,
             (drivers["ap_share"] - AP_MEAN) / AP_SD, drivers["style"] == 2,
             drivers["style"] == 0, climate != CLIMATE_INDEX["temperate"], has_connectivity,
             age_years, tech, unhappy)
        logit = w[0] + sum(wi * np.asarray(xi, float) for wi, xi in zip(w[1:], x, strict=True))
        if price_ratio != 1.0:  # at list price the logit is exactly what it was
            assert elasticity is not None, "a price off list needs each customer's ε"
            logit = logit - elasticity * np.log(price_ratio)
        return expit(logit)

    def respond(self, product: str, idx: np.ndarray, drivers: dict[str, np.ndarray],
                held: dict[str, np.ndarray], *, age_years: np.ndarray, unhappy: np.ndarray,
                style: np.ndarray, price_usd: float | None = None,
                held_usd: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Hidden answer of customers ``idx`` to ``product`` at ``price_usd`` (default: list):
        ``p`` (chance to accept), ``averse``, ``uplift`` (expected incremental first-month
        revenue, USD), ``value`` (expected incremental revenue over
        :data:`HORIZON_MONTHS` at that price's churn) and ``value_at_list`` (the same
        customers' ``value`` had the offer been at list price). ``held[q]``: whether each
        holds subscription ``q`` and ``held_usd[q]`` its monthly price (default: list);
        ``drivers`` are their columns."""
        self.grow(int(idx.max()) + 1 if len(idx) else 0)
        listed = price(product)
        offered = listed if price_usd is None else float(price_usd)
        has = held[product] if product in held else self.owned[product][idx]
        averse = self.averse(idx, style)
        held_usd = held_usd or {q: price(q) * held[q] for q in PRODUCTS}
        eps = self.elasticity(drivers, age_years=age_years, price_z=self.price_z[idx])

        def chance(ratio: float) -> np.ndarray:
            p = self.accept_probability(product, drivers, held["connectivity"],
                                        age_years=age_years, tech=self.tech[idx],
                                        unhappy=unhappy, price_ratio=ratio, elasticity=eps)
            return np.where(has | averse, 0.0, p)

        p = chance(offered / listed)
        organic = 0.0
        if product in PRODUCTS:  # the organic start this offer may replace, in a month
            organic = 1 - (1 - PRODUCTS[product]["start"] / DAYS_PER_MONTH) ** DAYS_PER_MONTH
            organic *= ~unhappy
        loss = sum(held_usd[q] for q in PRODUCTS) * AVERSE_CANCEL * averse
        uplift = (p * listed * (1 - organic) if offered == listed
                  else p * (offered - organic * listed)) - loss
        loss_h = sum(held_usd[q] * months(q, np.where(held[q], held_usd[q], price(q)))
                     for q in PRODUCTS) * AVERSE_CANCEL * averse
        organic_h = organic * listed * months(product, listed)

        def value(at: float, p_at: np.ndarray) -> np.ndarray:
            return p_at * (at * months(product, at) - organic_h) - loss_h

        at_list = value(offered, p)
        if offered != listed:
            at_list = value(listed, chance(1.0))
        return {"p": p, "averse": averse, "uplift": uplift, "value": value(offered, p),
                "value_at_list": at_list}


def campaign_truth(campaign_id: str, product: str, day: int, offered_ids: list[str],
                   offered_uplift: np.ndarray, held_uplift: np.ndarray,
                   without_consent: int, *, price_usd: float | None = None,
                   values: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                   ) -> dict[str, Any]:
    """What the truth keeps of one campaign: each offered customer's hidden expected uplift,
    and the number and sum over its control group or holdout (``held``: a random share of
    the audience, so its mean is what an offer to a random customer would earn); with
    ``values`` (value, value at list price, of the offered; value of the held), their sums
    over :data:`HORIZON_MONTHS` at the offered ``price_usd`` and at list price.

    >>> t = campaign_truth("T1", "fsd", 3, ["CU-a"], np.array([5.0]), np.array([1.0, 2.0]), 0)
    >>> t["offered_uplift_usd"], t["held"], t["held_uplift_usd"]
    (5.0, 2, 3.0)
    """
    out = {"campaign_id": campaign_id, "product": product, "day": day,
           "offered": dict(zip(offered_ids, np.round(offered_uplift, 4).tolist(),
                               strict=True)),
           "offered_uplift_usd": round(float(offered_uplift.sum()), 2),
           "held": len(held_uplift), "held_uplift_usd": round(float(held_uplift.sum()), 2),
           "offered_without_consent": without_consent}
    if values is not None:
        offered_value, offered_at_list, held_value = values
        out.update(price_usd=price(product) if price_usd is None else price_usd,
                   list_price_usd=price(product), horizon_months=HORIZON_MONTHS,
                   offered_value_usd=round(float(offered_value.sum()), 2),
                   offered_value_at_list_usd=round(float(offered_at_list.sum()), 2),
                   held_value_usd=round(float(held_value.sum()), 2))
    return out


def check(offer: Offer) -> str | None:
    """Why the twin refuses ``offer`` (``None`` when it takes it): an unknown product, or a
    price outside :data:`PRICE_BAND` of the list price (the hidden rules were sized for
    prices near list; far from it they would be made up)."""
    if offer.product not in OFFERABLE:
        return f"unknown product {offer.product!r}; offerable: {', '.join(OFFERABLE)}"
    listed = price(offer.product)
    low, high = PRICE_BAND
    if not (np.isfinite(offer.price_usd)
            and low * listed - 1e-9 <= offer.price_usd <= high * listed + 1e-9):
        return (f"{offer.product} at {offer.price_usd} USD is outside the prices the twin's "
                f"customers answer: {low:.0%}–{high:.0%} of its list price {listed} "
                f"({low * listed:g}–{high * listed:g} USD)")
    return None


def _offered_price(offer: Offer) -> float | None:
    """The offer's price, or ``None`` at list price (billed exactly as before)."""
    listed = price(offer.product)
    return None if np.isclose(offer.price_usd, listed) else float(offer.price_usd)


def enact(fleet: Fleet, offer: Offer, day: int, rows: Rows) -> None:
    """Send ``offer`` on ``day``: customers who did not consent to marketing are not
    contacted; the rest answer by :meth:`OfferResponse.respond`; accepted subscriptions start
    today, averse customers cancel; ``offers`` and ``subscriptions`` rows and the campaign's
    truth are recorded."""
    def field(ids: tuple[str, ...]) -> np.ndarray:
        found = pc.index_in(pa.array(list(ids), pa.string()), value_set=fleet.customer_ids)
        return found.drop_null().to_numpy().astype(np.int64)

    offered, rest = field(offer.customer_ids), field(offer.not_offered)
    consent = fleet.info.view("consent_marketing")
    without = int((~consent[offered]).sum())
    offered = offered[consent[offered]]
    offered = offered[np.sort(np.unique(offered, return_index=True)[1])]  # once each
    both = np.concatenate([offered, rest])
    v, subs = fleet.vehicles, fleet.subscriptions
    drivers = {k: v.view(k)[both] for k in ("mean_miles", "ap_share", "style", "climate")}
    held = {q: subs.active[q][both] >= 0 for q in PRODUCTS}
    held_usd = {q: np.where(held[q], subs.price[q][both], 0.0) for q in PRODUCTS}
    priced = _offered_price(offer)
    answer = fleet.offer_response.respond(
        offer.product, both, drivers, held, style=drivers["style"],
        age_years=(day - fleet.info.view("delivered")[both]) / 365.25,
        unhappy=fleet.info.view("unhappy_until")[both] >= day, price_usd=priced,
        held_usd=held_usd)
    k = len(offered)
    u = fleet.offer_response.draw(2 * k).reshape(2, k) if k else np.zeros((2, 0))
    accepted = u[0] < answer["p"][:k]
    events = []
    if offer.product in PRODUCTS:
        events.append(subs.start(offer.product, offered[accepted], day, price=priced))
    else:
        fleet.offer_response.owned[offer.product][offered[accepted]] = True
        fleet.offer_response.revenue_usd += ((price(offer.product) if priced is None else priced)
                                             * int(accepted.sum()))
    cancel = answer["averse"][:k] & (u[1] < AVERSE_CANCEL)
    events += [subs.end(q, offered[cancel], day) for q in PRODUCTS]
    when = day_times(fleet.start_date, day, fleet.offer_response.draw(k) * DAY_S)
    fleet.tables.offers(rows, offered, accepted, when, campaign_id=offer.campaign_id,
                        product=offer.product, channel=offer.channel, price_usd=offer.price_usd)
    changed = SubscriptionEvents.concat(events)  # at the time each customer was offered
    order = np.argsort(offered)
    at = when[order[np.searchsorted(offered, changed.idx, sorter=order)]]
    fleet.tables.subscriptions(rows, changed, at)
    ids = fleet.customer_ids.take(offered).to_pylist()
    fleet.offer_response.truth.append(campaign_truth(
        offer.campaign_id, offer.product, day, ids, answer["uplift"][:k],
        answer["uplift"][k:], without, price_usd=priced,
        values=(answer["value"][:k], answer["value_at_list"][:k], answer["value"][k:])))


def enact_due(fleet: Fleet, day: int, rows: Rows) -> None:
    """Send every queued offer whose day has come."""
    book = fleet.offer_response
    due = [o for o in book.pending if o.day <= day]
    book.pending = [o for o in book.pending if o.day > day]
    for offer in due:
        enact(fleet, offer, day, rows)


def apply(fleet: Fleet, offer: Offer) -> Receipt:
    """Queue ``offer`` for its day (or the next simulated), or refuse it with a reason."""
    problem = check(offer)
    if problem:
        return Receipt(False, problem)
    fleet.offer_response.pending.append(offer)
    return Receipt(True, f"{offer.product} offered to {len(offer.customer_ids)} customers "
                         f"from day {max(offer.day, fleet.next_day)}")
