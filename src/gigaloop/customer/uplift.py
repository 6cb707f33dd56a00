"""Who responds to an offer: features and outcomes from the store, a T-learner, the Qini.

:func:`customer_features` is one row per customer who agreed to offers, indexed by the
pseudonymous ``customer_id`` (VINs join the tables inside the engine and never leave it).
:func:`outcomes` is what each assigned customer did in the ``horizon_days`` after the
assignment: ``converted`` (started the product, or bought the one-off) and ``revenue``
(monthly price of every subscription started, minus that of every one ended, plus
one-off purchases). :class:`TLearner` fits one scikit-learn gradient-boosting regressor
on the treated and one on the controls; the uplift is their difference.
:func:`qini` judges a ranking on held-out customers.

>>> rng = np.random.default_rng(0)
>>> x = pd.DataFrame({"a": rng.normal(size=4000)})
>>> t = rng.random(4000) < 0.5
>>> y = np.where(t & (x.a > 0), 10.0, 0.0) * (rng.random(4000) < 0.5)
>>> model = TLearner(seed=0).fit(x, y, t)
>>> high, low = model.predict(pd.DataFrame({"a": [1.0, -1.0]}))
>>> bool(high > low + 3)
True
>>> q = qini(model.predict(x), y, t)
>>> bool(q["qini"] > 0), bool(q["uplift_top"] > q["uplift_all"])
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ibis
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from gigaloop.store import Tables

if TYPE_CHECKING:  # imported when a model is built: a run without offers never loads it
    from sklearn.ensemble import HistGradientBoostingRegressor

#: Products sold once (not subscriptions) and their list prices (USD).
ONE_OFF_PRICES = {"performance_upgrade": 2000.0}
FEATURES = ("age_years", "climate_hot", "climate_cold", "miles_per_day", "autopilot_share",
            "hard_braking", "aggressive_turning", "has_fsd", "has_connectivity",
            "owns_performance_upgrade", "recent_failure", "mean_rating")


def customer_features(store: Tables, now: pd.Timestamp, *, window_days: int = 56,
                      failure_days: int = 45) -> pd.DataFrame:
    """:data:`FEATURES` of every customer who agreed to offers, as of ``now``; telemetry
    features (mileage-weighted over ``window_days``) are NaN for those who share none."""
    customers = store.table("customers")
    people = customers.filter(customers.consent_marketing)
    days = store.table("telemetry_daily")
    days = days.filter(days.day >= (now - pd.Timedelta(days=window_days)).date(),
                       days.miles > 0).semi_join(people.select("vin"), "vin")
    drive = days.group_by("vin").aggregate(
        miles=days.miles.sum(), n=days.count(), ap=days.autopilot_miles.sum(),
        hb=(days.hard_braking_fraction * days.miles).sum(),
        turn=(days.aggressive_turning_fraction * days.miles).sum())
    fails = store.table("component_failures")
    fails = fails.filter(fails.event_time >= now - pd.Timedelta(days=failure_days))
    failed = fails.select("vin").distinct().mutate(recent_failure=ibis.literal(1))
    joined = people.left_join(drive, "vin").left_join(failed, "vin")
    frame = store.execute(joined.select(
        "customer_id", "climate_region", "delivered_on",
        miles_per_day=drive.miles / drive.n, autopilot_share=drive.ap / drive.miles,
        hard_braking=100 * drive.hb / drive.miles,
        aggressive_turning=100 * drive.turn / drive.miles,
        recent_failure=failed.recent_failure.fill_null(0)))
    frame = frame.drop_duplicates("customer_id").set_index("customer_id").sort_index()
    delivered = pd.to_datetime(frame.pop("delivered_on"))
    frame["age_years"] = (now.normalize() - delivered).dt.days / 365.25
    climate = frame.pop("climate_region")
    frame["climate_hot"], frame["climate_cold"] = climate == "hot", climate == "cold"
    held = active_subscriptions(store)
    for product in ("fsd", "connectivity"):
        frame[f"has_{product}"] = frame.index.isin(held.customer_id[held["product"] == product])
    offers = store.table("offers")
    bought = store.execute(offers.filter(offers.accepted & (offers.product
                                                            == "performance_upgrade"))
                           .select("customer_id"))
    frame["owns_performance_upgrade"] = frame.index.isin(bought.customer_id)
    feedback = store.table("feedback")
    recent = feedback.filter(feedback.event_time >= now - pd.Timedelta(days=failure_days))
    rating = store.execute(recent.group_by("customer_id").aggregate(
        mean_rating=recent.rating.mean())).set_index("customer_id").mean_rating
    frame["mean_rating"] = rating.reindex(frame.index)
    return frame[list(FEATURES)].astype(float)


def active_subscriptions(store: Tables) -> pd.DataFrame:
    """``customer_id``, ``product`` of every subscription that has not ended."""
    subs = store.table("subscriptions")
    ended = subs.filter(subs.status == "ended").select("subscription_id")
    active = subs.filter(subs.status == "active").anti_join(ended, "subscription_id")
    return store.execute(active.select("customer_id", "product"))


def outcomes(store: Tables, assigned: pd.DataFrame, *, horizon_days: int,
             one_off: bool = True) -> pd.DataFrame:
    """``converted`` and ``revenue`` of each row of ``assigned`` (``customer_id``,
    ``product``, ``start``: the first day of its window), aligned with it; ``one_off``:
    whether one-off purchases count (else subscriptions only, monthly)."""
    if assigned.empty:
        return pd.DataFrame({"converted": [], "revenue": []}, dtype=float)
    first = pd.Timestamp(assigned.start.min()).date()
    subs = store.table("subscriptions")
    subs = store.execute(subs.filter((subs.started_on >= first) | (subs.ended_on >= first))
                         .select("customer_id", "product", "status", "started_on", "ended_on",
                                 "monthly_price_usd"))
    parts = [_events(subs[subs.status == "active"], "started_on", 1.0),
             _events(subs[subs.status == "ended"], "ended_on", -1.0)]
    if one_off:
        offers = store.table("offers")
        bought = store.execute(offers.filter(offers.accepted & offers.product.isin(
            list(ONE_OFF_PRICES))).select("customer_id", "product", "price_usd",
                                          "event_time"))
        parts.append(pd.DataFrame({"customer_id": bought.customer_id,
                                   "product": bought["product"],
                                   "date": pd.to_datetime(bought.event_time).dt.normalize(),
                                   "revenue": bought.price_usd}))
    events = pd.concat([p for p in parts if len(p)] or parts[:1])  # an empty part: no dtype
    rows = assigned.reset_index(drop=True).assign(row=lambda d: np.arange(len(d)))
    merged = rows[["row", "customer_id", "product", "start"]].merge(
        events, on="customer_id", suffixes=("", "_event"))
    start = pd.to_datetime(merged.start)
    inside = (merged.date >= start) & (merged.date < start + pd.Timedelta(days=horizon_days))
    merged = merged[inside]
    revenue = merged.groupby("row").revenue.sum()
    took = merged[(merged["product"] == merged.product_event) & (merged.revenue > 0)]
    out = pd.DataFrame({"converted": 0.0, "revenue": 0.0}, index=rows.row)
    out.loc[revenue.index, "revenue"] = revenue.to_numpy()
    out.loc[took.row.unique(), "converted"] = 1.0
    return out.reset_index(drop=True)


def _events(subs: pd.DataFrame, date: str, sign: float) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": subs.customer_id, "product": subs["product"],
                         "date": pd.to_datetime(subs[date]),
                         "revenue": sign * subs.monthly_price_usd})


@dataclass
class TLearner:
    """Two gradient-boosting regressors, on the treated and on the controls; their
    difference is each customer's expected uplift (``fit`` returns self). One thread: on
    a few thousand rows OpenMP's threads cost more than they save (4 s against 0.3 s for a
    fit on a busy 2-core machine)."""

    seed: int = 0
    max_iter: int = 100
    learning_rate: float = 0.05
    max_depth: int = 3
    min_samples_leaf: int = 40
    models_: list[HistGradientBoostingRegressor] = field(default_factory=list, repr=False)

    def _model(self) -> HistGradientBoostingRegressor:
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf,
            random_state=self.seed)

    def fit(self, x: pd.DataFrame, y: np.ndarray, treated: np.ndarray) -> TLearner:
        treated = np.asarray(treated, bool)
        with threadpool_limits(1):
            self.models_ = [self._model().fit(x[arm], np.asarray(y)[arm])
                            for arm in (treated, ~treated)]
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        on, off = self.models_
        with threadpool_limits(1):
            return np.asarray(on.predict(x) - off.predict(x))


def qini(score: np.ndarray, y: np.ndarray, treated: np.ndarray, *,
         top: float = 0.2) -> dict[str, float]:
    """How well ``score`` ranks held-out customers by uplift. The Qini curve at a share φ
    is the incremental outcome of treating the top φ: (mean treated − mean control among
    them) × their number. ``qini`` is the mean, over φ = 0.1 … 1, of the curve above the
    random line φ × curve(1), per customer; ``uplift_top`` is the treated − control
    difference of means in the top ``top`` share, ``uplift_all`` over everyone."""
    order = np.argsort(-np.asarray(score), kind="stable")
    y, treated = np.asarray(y, float)[order], np.asarray(treated, bool)[order]
    n = len(y)

    def uplift(k: int) -> float:
        t, c = treated[:k], ~treated[:k]
        if not t.any() or not c.any():
            return 0.0
        return float(y[:k][t].mean() - y[:k][c].mean())

    shares = np.linspace(0.1, 1.0, 10)
    curve = np.array([uplift(round(s * n)) * round(s * n) for s in shares])
    return {"qini": float(np.mean(curve - shares * curve[-1]) / n),
            "uplift_top": uplift(round(top * n)), "uplift_all": uplift(n)}
