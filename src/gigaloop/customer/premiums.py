"""Score-based insurance in the loop: each month, price every consenting driver's next
period, explain the price, and count what it earned.

Module ``insurance`` (every :attr:`InsuranceConfig.period_days` days from ``first_day``).
The rating model is fitted on the consenting drivers' whole history of driving and
insurance claims (:func:`~gigaloop.customer.insurance_features.driver_features`: a
customer without both consents is never read, so never priced), and how much it may learn
depends on how many claims there are — at about one per 150,000 miles, a young fleet has
tens in its first months:

* fewer than ``glm_min_claims``: the **Safety Score rating**, claims per mile =
  base × the driver's v2.2 PCF. The published formula gives the relative risks; only the
  base rate is fitted (Σ claims ÷ Σ miles × PCF), so tens of claims are enough.
* from ``glm_min_claims`` on: the **Poisson GLM** of :mod:`gigaloop.customer.insurance`,
  every factor's rate ratio fitted (about fifteen claims per parameter).

Before it prices anyone the model is judged on drivers it was not fitted on
(``held_out`` of them, by customer): observed ÷ expected claims with its exact Poisson
interval, and the normalised Gini of the model and of the PCF. Refitted on every driver,
each one's premium for the coming period, at the miles per day and factors of their last
``window_days``, is a ``premiums`` row: expected claims × the mean cost of the history's
claims ÷ the target loss ratio (:class:`~gigaloop.customer.insurance.PremiumSettings`),
with the factors a driver can change, each as its multiplier on the mean driver's price.

A driver's relative risk is trusted by the miles behind it (:class:`~gigaloop.customer.
insurance.Credibility`), its constant learnt on the last complete block's claims once that
block holds ``credibility_min_claims``.

:func:`insurance_kpis` reads the rows back: the mean premium per vehicle-month and the
loss ratio — what the claims of each priced vehicle inside its period cost ÷ the
premiums, over periods that have ended.

>>> module = InsuranceModule()
>>> module.name, module.every_days, module.config.settings.target_loss_ratio
('insurance', 30, 0.75)
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from gigaloop import ml
from gigaloop.customer.insurance import (
    ClaimFrequencyGLM,
    Credibility,
    PremiumSettings,
    credibility_weight,
    log_relative_risk,
    monthly_premium,
    normalised_gini,
    split_by_customer,
)
from gigaloop.customer.insurance_features import (
    CHANGEABLE,
    SUMS,
    V22_LOG_PER_POINT,
    claim_sums,
    consenting_vehicles,
    driving_sums,
    features_from_sums,
)
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.store import Tables


@dataclass(frozen=True, kw_only=True)
class InsuranceConfig:
    """``first_day``: first pricing; ``window_days``: the recent driving a price is set
    from; ``period_days``: what one premium covers; ``min_claims``: fewer in the history
    and nobody is priced; ``glm_min_claims``: from this many, every factor is fitted;
    ``credibility_min_claims``: from this many claims in the last complete block, how far
    a record is trusted is learnt (:class:`~gigaloop.customer.insurance.Credibility`)."""

    first_day: int = 90
    window_days: int = 90
    period_days: int = 30
    held_out: float = 0.3
    min_claims: int = 10
    glm_min_claims: int = 200
    credibility_min_claims: int = 30
    seed: int = 0
    settings: PremiumSettings = field(default_factory=PremiumSettings)


@dataclass
class DrivingLedger:
    """Per consenting vehicle and block of ``block_days`` telemetry days: the additive
    driving sums (:data:`~gigaloop.customer.insurance_features.SUMS`) and claims, read
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
        days, claims = view.table("telemetry_daily"), view.table("insurance_claims")
        if self.seen_until is not None:
            days = days.filter(days.ingested_at > self.seen_until)
            claims = claims.filter(claims.ingested_at > self.seen_until)
        days = days.semi_join(consenting, "vin")
        claims = claims.semi_join(consenting, "vin")
        start = int((self.epoch - pd.Timestamp(0)).days)
        sums = view.execute(driving_sums(
            days, ((days.day.epoch_days() - start) // self.block_days).name("block")))
        hits = view.execute(claim_sums(claims, ((claims.event_time.date().epoch_days() - start)
                                                // self.block_days).name("block")))
        new = pd.concat([sums, hits]).fillna(0.0).groupby(["vin", "block"]).sum()
        self.sums = new if self.sums.empty else self.sums.add(new, fill_value=0.0)
        self.seen_until = view.cutoff

    def features(self, consenting: pd.DataFrame, since: pd.Timestamp | None = None,
                 until: pd.Timestamp | None = None) -> pd.DataFrame:
        """:func:`~gigaloop.customer.insurance_features.driver_features` of the blocks
        from the one holding ``since`` (all of them without it) to the one before the block
        holding ``until`` (the last without it)."""
        if self.sums.empty:
            return features_from_sums(pd.DataFrame(columns=["vin", *SUMS, "claims",
                                                        "claim_cost"]),
                                      consenting)
        sums, block = self.sums, self.sums.index.get_level_values("block")
        keep = np.ones(len(sums), bool)
        if since is not None:
            keep &= block >= self.block_of(since)
        if until is not None:
            keep &= block < self.block_of(until)
        sums = sums[keep]
        return features_from_sums(sums.groupby(level="vin").sum().reset_index(), consenting)

    def block_of(self, day: pd.Timestamp) -> int:
        """The index of the block holding ``day``."""
        assert self.epoch is not None
        return (day - self.epoch).days // self.block_days

    def block_start(self, block: int) -> pd.Timestamp:
        """The first day of block ``block``."""
        assert self.epoch is not None
        return self.epoch + pd.Timedelta(days=block * self.block_days)


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
        claims = int(history.claims.sum()) if len(history) else 0
        if claims < cfg.min_claims:
            return [Decision(ctx.day, self.name,
                             f"insurance: not priced, {claims} claims so far "
                             f"(< {cfg.min_claims})",
                             inputs={"drivers": len(history), "claims": claims})]
        cfg = dataclasses.replace(cfg, settings=dataclasses.replace(
            cfg.settings, claim_cost_usd=float(history.claim_cost.sum()) / claims))
        judged = held_out_check(history, cfg)
        model = fit_rating(history, cfg)
        recent = self.ledger.features(consenting, since=today - pd.Timedelta(
            days=cfg.window_days - 1))
        credibility = self._credibility(consenting, today, cfg)
        prices = model.prices(recent, cfg, credibility)
        start = today + pd.Timedelta(days=1)
        ctx.emit("premiums", [
            {"premium_id": f"{c}/{start.date()}", "customer_id": c, "vin": v,
             "period_start": start.date(), "period_days": cfg.period_days,
             "expected_claims": float(e), "premium_usd": float(p), "factors_json": f,
             "event_time": ctx.now}
            for c, v, e, p, f in zip(recent.customer_id, recent.vin, prices.expected,
                                     prices.premium, prices.factors, strict=True)])
        return [Decision(ctx.day, self.name,
                         f"insurance: {len(recent)} drivers priced from {start.date()} "
                         f"({model.kind}, {claims} claims at "
                         f"${cfg.settings.claim_cost_usd:,.0f}), mean ${prices.premium.mean():,.2f}"
                         f" per {cfg.period_days} days; held-out observed/expected "
                         f"{judged['observed_over_expected']:.2f}",
                         inputs={"model": model.kind, "drivers": len(recent),
                                 "claims": claims,
                                 "claim_cost_usd": round(cfg.settings.claim_cost_usd, 2),
                                 "credibility_k_miles": None if credibility is None
                                 else round(credibility.k, 1),
                                 "held_out": judged,
                                 "rate_ratios": model.rate_ratios()})]

    def _credibility(self, consenting: pd.DataFrame, today: pd.Timestamp,
                     cfg: InsuranceConfig) -> Credibility | None:
        """How far a driver's record is trusted (:class:`Credibility`), learnt as a price is
        used: the rating fitted on the blocks before the last complete one, its relative
        risks judged on that block's claims. None (every record trusted) while that block
        holds fewer than ``credibility_min_claims``."""
        last = self.ledger.block_of(today) - 1
        if last < 1:
            return None
        start = self.ledger.block_start(last)
        before = self.ledger.features(consenting, until=start)
        after = self.ledger.features(consenting, since=start, until=start + pd.Timedelta(
            days=self.ledger.block_days))
        both = before.merge(after[["customer_id", "claims", "miles"]], on="customer_id",
                            suffixes=("", "_after"))
        if both.claims_after.sum() < cfg.credibility_min_claims or before.claims.sum() < 1:
            return None
        rate = fit_rating(before, cfg).rate(both)
        return Credibility.fit(log_relative_risk(rate, both.miles.to_numpy(float)),
                               both.miles.to_numpy(float), both.claims_after.to_numpy(float),
                               both.miles_after.to_numpy(float))


@dataclass(frozen=True)
class Prices:
    """Per driver: expected claims and premium over the period, factors (JSON)."""

    expected: np.ndarray
    premium: np.ndarray
    factors: list[str]


@dataclass
class PcfRating:
    """Claims per mile = ``base`` × the driver's v2.2 PCF: the Safety Score's published
    relative risks, one fitted rate. ``mean_points``: the mileage-weighted mean driver's
    factor points, from which each factor's multiplier is told.

    >>> drivers = pd.DataFrame({"claims": [1, 3], "miles": [1e6, 1e6], "pcf_v22": [0.5, 1.5],
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
        base = float(drivers.claims.sum()) / float((miles * drivers.pcf_v22).sum())
        return cls(base, {f: float(np.average(drivers[f], weights=miles)) for f in PCF_FACTORS})

    def rate(self, drivers: pd.DataFrame) -> np.ndarray:
        return self.base * drivers.pcf_v22.to_numpy(float)

    def rate_ratios(self) -> dict[str, float]:
        """The published formula's multiplier per point of each factor."""
        return {f: round(float(np.exp(V22_LOG_PER_POINT[f])), 4) for f in PCF_FACTORS}

    def prices(self, drivers: pd.DataFrame, cfg: InsuranceConfig,
               credibility: Credibility | None = None) -> Prices:
        """Each factor's multiplier on the mean driver's price: its PCF multiplier at the
        driver's mileage-weighted points against the mean driver's (the PCF is a product
        per day, so across days this is the first-order split, not an exact one)."""
        factors = pd.DataFrame({f: np.exp(V22_LOG_PER_POINT[f]
                                          * (drivers[f] - self.mean_points[f]))
                                for f in PCF_FACTORS}, index=drivers.index)
        return _prices(self.rate(drivers), drivers, factors, cfg, credibility)


@dataclass
class GlmRating:
    """:class:`~gigaloop.customer.insurance.ClaimFrequencyGLM`, every factor fitted."""

    model: ClaimFrequencyGLM
    kind: str = "poisson glm"

    def rate(self, drivers: pd.DataFrame) -> np.ndarray:
        return self.model.rate(drivers)

    def rate_ratios(self) -> dict[str, float]:
        return self.model.coef_.apply(np.exp).round(4).to_dict()

    def prices(self, drivers: pd.DataFrame, cfg: InsuranceConfig,
               credibility: Credibility | None = None) -> Prices:
        factors = self.model.explain(drivers, cfg.settings)[list(CHANGEABLE)]
        return _prices(self.rate(drivers), drivers, factors, cfg, credibility)


#: The v2.2 factors whose points the driver features hold.
PCF_FACTORS = ("hard_braking", "aggressive_turning", "unsafe_following",
               "excessive_speeding", "late_night")


def fit_rating(drivers: pd.DataFrame, cfg: InsuranceConfig) -> PcfRating | GlmRating:
    """The rating model the claims in ``drivers`` can support (module docstring)."""
    if drivers.claims.sum() >= cfg.glm_min_claims:
        return GlmRating(ClaimFrequencyGLM().fit(drivers))
    return PcfRating.fit(drivers)


def held_out_check(drivers: pd.DataFrame, cfg: InsuranceConfig) -> dict[str, Any]:
    """Fit on all but a held-out share of drivers (by customer); on those: observed ÷
    expected claims (exact Poisson 95 % interval) and the normalised Gini of the model
    and of the Safety Score's PCF."""
    test = split_by_customer(drivers.customer_id, cfg.held_out, cfg.seed)
    model = fit_rating(drivers[~test], cfg)
    held = drivers[test]
    claims, miles = held.claims.to_numpy(float), held.miles.to_numpy(float)
    rate = model.rate(held)
    expected, observed = float((rate * miles).sum()), float(claims.sum())
    low, high = ml.poisson_interval(np.array([observed]), np.array([expected]))
    return {"model": model.kind, "drivers": int(test.sum()), "claims": int(observed),
            "observed_over_expected": round(observed / expected, 4),
            "ci95": [round(float(low[0]), 4), round(float(high[0]), 4)],
            "gini_model": _gini(claims, miles, rate),
            "gini_pcf_v22": _gini(claims, miles, held.pcf_v22.to_numpy(float))}


def _gini(claims: np.ndarray, miles: np.ndarray, score: np.ndarray) -> float | None:
    return round(normalised_gini(claims, miles, score), 4) if claims.sum() else None


def _prices(rate: np.ndarray, drivers: pd.DataFrame, factors: pd.DataFrame,
            cfg: InsuranceConfig, credibility: Credibility | None = None) -> Prices:
    """Expected claims, premiums and factors over the period. With ``credibility`` each
    driver's relative risk is trusted by the miles behind it: rate ∝ RR^z and each factor
    raised to z, the drivers' expected claims in all kept as the rating has them."""
    miles = drivers.miles_per_day.to_numpy(float) * cfg.period_days
    if credibility is not None and len(rate):
        window = drivers.miles.to_numpy(float)
        z = credibility_weight(window, credibility.k)
        trusted = np.exp(z * log_relative_risk(rate, window))
        rate = trusted * float((rate * miles).sum()) / float((trusted * miles).sum())
        factors = factors.pow(z, axis=0)
    text = [json.dumps({k: round(float(v), 3) for k, v in row.items()})
            for row in factors.to_dict("records")]
    return Prices(rate * miles, np.asarray(monthly_premium(rate, miles, cfg.settings)), text)


def insurance_kpis(store: Tables, *, end: datetime) -> dict[str, float | None]:
    """``premium_per_vehicle_month``: the mean premium, scaled to a calendar month;
    ``loss_ratio``: what the insurance claims of each priced vehicle inside its period
    cost ÷ the premiums, over the periods that ended by ``end`` (None without any)."""
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
        claims = store.table("insurance_claims")
        hits = store.execute(claims.filter(claims.vin.isin(ended.vin.unique().tolist()))
                             .select("vin", "event_time", "amount_usd"))
        joined = ended.merge(hits, on="vin")
        inside = (joined.event_time >= joined.start) & (joined.event_time < joined.stop)
        loss_ratio = round(float(joined.amount_usd[inside].sum())
                           / float(ended.premium_usd.sum()), 4)
    return {"premium_per_vehicle_month": round(float(per_month.mean()), 2),
            "loss_ratio": loss_ratio}


def _today(now: datetime) -> pd.Timestamp:
    """The simulated day that ends at ``now`` (the cycle runs at the plant's midnight)."""
    return (pd.Timestamp(now) - pd.Timedelta(hours=12)).normalize()


__all__ = ["GlmRating", "InsuranceConfig", "InsuranceModule", "PcfRating", "fit_rating",
           "held_out_check", "insurance_kpis"]
