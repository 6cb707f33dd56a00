"""Score-based insurance in the loop: each month, price every consenting driver's next
period, explain the price, and count what it earned.

Module ``insurance`` (every :attr:`InsuranceConfig.period_days` days from ``first_day``).
The rating model is fitted on the consenting drivers' whole history of driving and
crashes (:func:`~gigaloop.customer.insurance_features.driver_features`: a customer
without both consents is never read, so never priced), and how much it may learn depends
on how many crashes there are — at about one per million miles, a young fleet has tens:

* fewer than ``glm_min_crashes``: the **Safety Score rating**, crashes per mile =
  base × the driver's v2.2 PCF. The published formula gives the relative risks; only the
  base rate is fitted (Σ crashes ÷ Σ miles × PCF), so tens of crashes are enough.
* from ``glm_min_crashes`` on: the **Poisson GLM** of :mod:`gigaloop.customer.insurance`,
  every factor's rate ratio fitted (about fifteen crashes per parameter).

Before it prices anyone the model is judged on drivers it was not fitted on
(``held_out`` of them, by customer): observed ÷ expected crashes with its exact Poisson
interval, and the normalised Gini of the model and of the PCF. Refitted on every driver,
each one's premium for the coming period, at the miles per day and factors of their last
``window_days``, is a ``premiums`` row: expected crashes × the stated claim cost ÷ the
target loss ratio (:class:`~gigaloop.customer.insurance.PremiumSettings`), with the
factors a driver can change, each as its multiplier on the mean driver's price.

:func:`insurance_kpis` reads the rows back: the mean premium per vehicle-month and the
loss ratio — the crashes of each priced vehicle inside its period at the same claim cost
÷ the premiums, over periods that have ended.

>>> module = InsuranceModule()
>>> module.name, module.every_days, module.config.settings.target_loss_ratio
('insurance', 30, 0.75)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from gigaloop import ml
from gigaloop.customer.insurance import (
    ClaimFrequencyGLM,
    PremiumSettings,
    monthly_premium,
    normalised_gini,
    split_by_customer,
)
from gigaloop.customer.insurance_features import (
    CHANGEABLE,
    SUMS,
    V22_LOG_PER_POINT,
    Tables,
    consenting_vehicles,
    driving_sums,
    features_from_sums,
)
from gigaloop.loop.contract import DayContext, Decision


@dataclass(frozen=True, kw_only=True)
class InsuranceConfig:
    """``first_day``: first pricing; ``window_days``: the recent driving a price is set
    from; ``period_days``: what one premium covers; ``min_crashes``: fewer in the history
    and nobody is priced; ``glm_min_crashes``: from this many, every factor is fitted."""

    first_day: int = 90
    window_days: int = 90
    period_days: int = 30
    held_out: float = 0.3
    min_crashes: int = 10
    glm_min_crashes: int = 200
    seed: int = 0
    settings: PremiumSettings = field(default_factory=PremiumSettings)


@dataclass
class DrivingLedger:
    """Per consenting vehicle and block of ``block_days`` telemetry days: the additive
    driving sums (:data:`~gigaloop.customer.insurance_features.SUMS`) and crashes, read
    by ingestion time so each row counts once, late or not — a pricing reads only the
    rows that arrived since the last. A window starts on a block's first day.

    ``epoch`` is the first block's first day; ``seen_until`` the last instant read.
    """

    block_days: int = 30
    epoch: pd.Timestamp | None = None
    seen_until: datetime | None = None
    sums: pd.DataFrame = field(default_factory=pd.DataFrame)

    def update(self, view: Any, epoch: pd.Timestamp) -> None:
        """Add the rows ingested since the last update (``epoch``: day 0, on the first)."""
        if self.epoch is None:
            self.epoch = epoch
        consenting = consenting_vehicles(view)
        days, crashes = view.table("telemetry_daily"), view.table("crashes")
        if self.seen_until is not None:
            days = days.filter(days.ingested_at > self.seen_until)
            crashes = crashes.filter(crashes.ingested_at > self.seen_until)
        days = days.filter(days.miles > 0).semi_join(consenting, "vin")
        crashes = crashes.semi_join(consenting, "vin")
        start = int((self.epoch - pd.Timestamp(0)).days)
        sums = view.execute(driving_sums(
            days, ((days.day.epoch_days() - start) // self.block_days).name("block")))
        hits = view.execute(crashes.group_by(
            ["vin", ((crashes.event_time.date().epoch_days() - start)
                     // self.block_days).name("block")]).aggregate(crashes=crashes.count()))
        new = pd.concat([sums, hits]).fillna(0.0).groupby(["vin", "block"]).sum()
        self.sums = new if self.sums.empty else self.sums.add(new, fill_value=0.0)
        self.seen_until = view.cutoff

    def features(self, consenting: pd.DataFrame,
                 since: pd.Timestamp | None = None) -> pd.DataFrame:
        """:func:`~gigaloop.customer.insurance_features.driver_features` of the blocks
        from the one holding ``since`` (all of them without it)."""
        if self.sums.empty:
            return features_from_sums(pd.DataFrame(columns=["vin", *SUMS, "crashes"]),
                                      consenting)
        sums = self.sums
        if since is not None:
            assert self.epoch is not None
            first = (since - self.epoch).days // self.block_days
            sums = sums[sums.index.get_level_values("block") >= first]
        return features_from_sums(sums.groupby(level="vin").sum().reset_index(), consenting)


@dataclass
class InsuranceModule:
    """Monthly pricing; see the module docstring. ``ledger``: the driving read so far."""

    config: InsuranceConfig = field(default_factory=InsuranceConfig)
    name: str = "insurance"
    depends_on: tuple[str, ...] = ()
    every_days: int = 30
    ledger: DrivingLedger = field(default_factory=DrivingLedger, repr=False)

    def __post_init__(self) -> None:
        self.every_days = self.config.period_days
        self.ledger.block_days = self.config.period_days

    def decide(self, ctx: DayContext) -> list[Decision]:
        cfg = self.config
        if ctx.day < cfg.first_day:
            return []
        today = _today(ctx.now)
        self.ledger.update(ctx.view, today - pd.Timedelta(days=ctx.day))
        consenting = ctx.view.execute(consenting_vehicles(ctx.view))
        history = self.ledger.features(consenting)
        crashes = int(history.crashes.sum()) if len(history) else 0
        if crashes < cfg.min_crashes:
            return [Decision(ctx.day, self.name,
                             f"insurance: not priced, {crashes} crashes so far "
                             f"(< {cfg.min_crashes})",
                             inputs={"drivers": len(history), "crashes": crashes})]
        judged = held_out_check(history, cfg)
        model = fit_rating(history, cfg)
        recent = self.ledger.features(consenting, since=today - pd.Timedelta(
            days=cfg.window_days - 1))
        prices = model.prices(recent, cfg)
        start = today + pd.Timedelta(days=1)
        ctx.emit("premiums", [
            {"premium_id": f"{c}/{start.date()}", "customer_id": c, "vin": v,
             "period_start": start.date(), "period_days": cfg.period_days,
             "expected_crashes": float(e), "premium_usd": float(p), "factors_json": f,
             "event_time": ctx.now}
            for c, v, e, p, f in zip(recent.customer_id, recent.vin, prices.expected,
                                     prices.premium, prices.factors, strict=True)])
        return [Decision(ctx.day, self.name,
                         f"insurance: {len(recent)} drivers priced from {start.date()} "
                         f"({model.kind}, {crashes} crashes), mean ${prices.premium.mean():,.2f}"
                         f" per {cfg.period_days} days; held-out observed/expected "
                         f"{judged['observed_over_expected']:.2f}",
                         inputs={"model": model.kind, "drivers": len(recent),
                                 "crashes": crashes, "held_out": judged,
                                 "rate_ratios": model.rate_ratios()})]


@dataclass(frozen=True)
class Prices:
    """Per driver: expected crashes and premium over the period, factors (JSON)."""

    expected: np.ndarray
    premium: np.ndarray
    factors: list[str]


@dataclass
class PcfRating:
    """Crashes per mile = ``base`` × the driver's v2.2 PCF: the Safety Score's published
    relative risks, one fitted rate. ``mean_points``: the mileage-weighted mean driver's
    factor points, from which each factor's multiplier is told.

    >>> drivers = pd.DataFrame({"crashes": [1, 3], "miles": [1e6, 1e6], "pcf_v22": [0.5, 1.5],
    ...     **{f: [0.0, 2.0] for f in PCF_FACTORS}})
    >>> rating = PcfRating.fit(drivers)
    >>> rating.base, rating.rate(drivers).tolist()
    (2e-06, [1e-06, 3e-06])
    """

    base: float
    mean_points: dict[str, float]
    kind: str = "safety score rating"

    @classmethod
    def fit(cls, drivers: pd.DataFrame) -> PcfRating:
        miles = drivers.miles.to_numpy(float)
        base = float(drivers.crashes.sum()) / float((miles * drivers.pcf_v22).sum())
        return cls(base, {f: float(np.average(drivers[f], weights=miles)) for f in PCF_FACTORS})

    def rate(self, drivers: pd.DataFrame) -> np.ndarray:
        return self.base * drivers.pcf_v22.to_numpy(float)

    def rate_ratios(self) -> dict[str, float]:
        """The published formula's multiplier per point of each factor."""
        return {f: round(float(np.exp(V22_LOG_PER_POINT[f])), 4) for f in PCF_FACTORS}

    def prices(self, drivers: pd.DataFrame, cfg: InsuranceConfig) -> Prices:
        """Each factor's multiplier on the mean driver's price: its PCF multiplier at the
        driver's mileage-weighted points against the mean driver's (the PCF is a product
        per day, so across days this is the first-order split, not an exact one)."""
        factors = pd.DataFrame({f: np.exp(V22_LOG_PER_POINT[f]
                                          * (drivers[f] - self.mean_points[f]))
                                for f in PCF_FACTORS}, index=drivers.index)
        return _prices(self.rate(drivers), drivers, factors, cfg)


@dataclass
class GlmRating:
    """:class:`~gigaloop.customer.insurance.ClaimFrequencyGLM`, every factor fitted."""

    model: ClaimFrequencyGLM
    kind: str = "poisson glm"

    def rate(self, drivers: pd.DataFrame) -> np.ndarray:
        return self.model.rate(drivers)

    def rate_ratios(self) -> dict[str, float]:
        return self.model.coef_.apply(np.exp).round(4).to_dict()

    def prices(self, drivers: pd.DataFrame, cfg: InsuranceConfig) -> Prices:
        factors = self.model.explain(drivers, cfg.settings)[list(CHANGEABLE)]
        return _prices(self.rate(drivers), drivers, factors, cfg)


#: The v2.2 factors whose points the driver features hold.
PCF_FACTORS = ("hard_braking", "aggressive_turning", "unsafe_following",
               "excessive_speeding", "late_night")


def fit_rating(drivers: pd.DataFrame, cfg: InsuranceConfig) -> PcfRating | GlmRating:
    """The rating model the crashes in ``drivers`` can support (module docstring)."""
    if drivers.crashes.sum() >= cfg.glm_min_crashes:
        return GlmRating(ClaimFrequencyGLM().fit(drivers))
    return PcfRating.fit(drivers)


def held_out_check(drivers: pd.DataFrame, cfg: InsuranceConfig) -> dict[str, Any]:
    """Fit on all but a held-out share of drivers (by customer); on those: observed ÷
    expected crashes (exact Poisson 95 % interval) and the normalised Gini of the model
    and of the Safety Score's PCF."""
    test = split_by_customer(drivers.customer_id, cfg.held_out, cfg.seed)
    model = fit_rating(drivers[~test], cfg)
    held = drivers[test]
    crashes, miles = held.crashes.to_numpy(float), held.miles.to_numpy(float)
    rate = model.rate(held)
    expected, observed = float((rate * miles).sum()), float(crashes.sum())
    low, high = ml.poisson_interval(np.array([observed]), np.array([expected]))
    return {"model": model.kind, "drivers": int(test.sum()), "crashes": int(observed),
            "observed_over_expected": round(observed / expected, 4),
            "ci95": [round(float(low[0]), 4), round(float(high[0]), 4)],
            "gini_model": _gini(crashes, miles, rate),
            "gini_pcf_v22": _gini(crashes, miles, held.pcf_v22.to_numpy(float))}


def _gini(crashes: np.ndarray, miles: np.ndarray, score: np.ndarray) -> float | None:
    return round(normalised_gini(crashes, miles, score), 4) if crashes.sum() else None


def _prices(rate: np.ndarray, drivers: pd.DataFrame, factors: pd.DataFrame,
            cfg: InsuranceConfig) -> Prices:
    miles = drivers.miles_per_day.to_numpy(float) * cfg.period_days
    text = [json.dumps({k: round(float(v), 3) for k, v in row.items()})
            for row in factors.to_dict("records")]
    return Prices(rate * miles, np.asarray(monthly_premium(rate, miles, cfg.settings)), text)


def insurance_kpis(store: Tables, *, end: datetime,
                   settings: PremiumSettings | None = None) -> dict[str, float | None]:
    """``premium_per_vehicle_month``: the mean premium, scaled to a calendar month;
    ``loss_ratio``: crashes of each priced vehicle inside its period × the claim cost ÷
    the premiums, over the periods that ended by ``end`` (None without any)."""
    premiums = store.table("premiums")
    rows = store.execute(premiums.select("vin", "period_start", "period_days",
                                         "premium_usd"))
    if rows.empty:
        return {"premium_per_vehicle_month": None, "loss_ratio": None}
    per_month = rows.premium_usd / rows.period_days * (365.25 / 12)
    start = pd.to_datetime(rows.period_start)
    stop = start + pd.to_timedelta(rows.period_days, unit="D")
    # the mask after assign: assigning Series to an empty frame would adopt their index
    ended = rows.assign(start=start, stop=stop)[stop <= pd.Timestamp(end)]
    loss_ratio = None
    if len(ended):
        crashes = store.table("crashes")
        hits = store.execute(crashes.filter(crashes.vin.isin(ended.vin.unique().tolist()))
                             .select("vin", "event_time"))
        joined = ended.merge(hits, on="vin")
        inside = (joined.event_time >= joined.start) & (joined.event_time < joined.stop)
        claim_cost = (settings or PremiumSettings()).claim_cost_usd
        loss_ratio = round(float(inside.sum()) * claim_cost
                           / float(ended.premium_usd.sum()), 4)
    return {"premium_per_vehicle_month": round(float(per_month.mean()), 2),
            "loss_ratio": loss_ratio}


def _today(now: datetime) -> pd.Timestamp:
    """The simulated day that ends at ``now`` (the cycle runs at the plant's midnight)."""
    return (pd.Timestamp(now) - pd.Timedelta(hours=12)).normalize()


__all__ = ["GlmRating", "InsuranceConfig", "InsuranceModule", "PcfRating", "fit_rating",
           "held_out_check", "insurance_kpis"]
