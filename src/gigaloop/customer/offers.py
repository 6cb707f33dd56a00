"""Offers: a randomised experiment per product, then an uplift model, then targeting.

For each product (:attr:`OffersConfig.products`) the :class:`OffersModule` goes, at each
run (every two weeks):

1. **plan** — the organic conversion over ``horizon_days`` among customers without the
   product is read from the store (starts after delivery, last 28 days); the sample size
   that detects ``mde`` more conversion at ``alpha`` with ``power``
   (:func:`~gigaloop.customer.experiment.sample_size`) is fixed, raised to
   ``model_treated`` treated customers when the uplift model needs more;
2. **experiment** — customers who agreed to marketing, without the product and in no other
   experiment, are randomised to treatment (offered at list price) or control (not
   contacted), batches of at most ``experiment_round``; at each run the matured
   outcomes are looked at with the mSPRT's always-valid interval on the conversion and on
   the revenue difference (:func:`~gigaloop.customer.experiment.look`); the experiment ends
   when the planned sample has matured, or earlier when revenue is shown to fall (stopped)
   or conversion is shown to rise with ``model_treated`` treated matured;
3. **target** — a :class:`~gigaloop.customer.uplift.TLearner` is fitted on the experiment
   (judged first on a held-out ``held_out`` share by its Qini), and at each run the
   ``round_offers`` eligible customers of highest predicted uplift (> 0) are offered, a
   random ``holdout_share`` of the pool never is, so the gain stays measured. Each offer
   names its control group or holdout (a random share of the pool) as ``not_offered``;
4. **price** — for the products of :attr:`OffersConfig.pricing`, targeted rounds are split
   between the list price and a changed price until a price experiment on revenue per
   customer over a horizon decides which to keep (:mod:`gigaloop.customer.pricing`).

Every list it sends or writes names customers by their pseudonymous ``customer_id`` only
(``offer_assignments`` rows, the :class:`~gigaloop.actuate.Offer` payloads).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gigaloop.actuate import Offer
from gigaloop.customer import pricing
from gigaloop.customer.experiment import look, sample_size
from gigaloop.customer.uplift import (
    FEATURES,
    ONE_OFF_PRICES,
    TLearner,
    customer_features,
    outcomes,
    qini,
)
from gigaloop.loop.contract import DayContext, Decision

#: List prices the module offers at (USD; monthly for subscriptions), as published by Tesla.
LIST_PRICES = {"fsd": 99.0, "connectivity": 9.99, **ONE_OFF_PRICES}


@dataclass(frozen=True)
class OffersConfig:
    """Experiment design, targeting budget and model settings (none is published)."""

    products: tuple[str, ...] = ("fsd", "connectivity", "performance_upgrade")
    mde: tuple[tuple[str, float], ...] = (("fsd", 0.015), ("connectivity", 0.02),
                                          ("performance_upgrade", 0.01))
    alpha: float = 0.05
    power: float = 0.8
    treated_share: float = 0.75
    horizon_days: int = 14
    settle_days: int = 2              # late rows: a window is read this long after it ends
    first_day: int = 14
    experiment_round: int = 3000      # customers enrolled per product and round, at most
    model_treated: int = 1500         # treated customers the uplift model wants
    round_offers: int = 1000          # targeted offers per product and round
    holdout_share: float = 0.1
    cooldown_days: int = 28
    held_out: float = 0.3
    seed: int = 0
    pricing: pricing.PricingConfig = field(default_factory=pricing.PricingConfig)


@dataclass
class ProductState:
    """One product's experiment and targeting: ``assigned`` holds every experiment
    customer (id, arm, window start, features at assignment); ``rounds`` every targeted
    round (campaign, window start, threshold)."""

    product: str
    phase: str = "plan"               # plan → experiment → target, or stopped
    baseline: float | None = None
    planned: tuple[int, int] | None = None
    assigned: pd.DataFrame | None = None
    batches: int = 0
    looks: list[dict[str, Any]] = field(default_factory=list)
    decided_day: int | None = None
    evaluation: dict[str, Any] | None = None
    model: TLearner | None = None
    rounds: int = 0
    offered: dict[str, pd.Timestamp] = field(default_factory=dict)


@dataclass
class OffersModule:
    """Every two weeks (``every_days``): plan, run and read each product's experiment; then
    target by uplift. Fortnightly rather than weekly: reading the features is most of its
    time, and a run of the default world is kept fast."""

    config: OffersConfig = field(default_factory=OffersConfig)
    name: str = "offers"
    depends_on: tuple[str, ...] = ()
    every_days: int = 14
    states: dict[str, ProductState] = field(default_factory=dict)
    prices: dict[str, pricing.PriceExperiment] = field(default_factory=dict)

    def decide(self, ctx: DayContext) -> list[Decision]:
        cfg = self.config
        if ctx.day < cfg.first_day:
            return []
        now = pd.Timestamp(ctx.now)
        features = _Lazy(lambda: customer_features(ctx.view, now))
        in_experiments = set().union(*(s.assigned.index for s in self.states.values()
                                       if s.assigned is not None))
        decisions: list[Decision] = []
        for product in cfg.products:
            state = self.states.setdefault(product, ProductState(product))
            if state.phase == "plan":
                decisions += self._plan(ctx, state, features)
            if state.phase == "experiment":
                decisions += self._read(ctx, state)
            if state.phase == "experiment":
                decisions += self._enrol(ctx, state, features, in_experiments)
                if state.assigned is not None:
                    in_experiments |= set(state.assigned.index)
            elif state.phase == "target":
                if product in self.prices:
                    decisions += pricing.read(
                        ctx, self.prices[product], cfg.pricing, module=self.name,
                        alpha=cfg.alpha, horizon_days=cfg.horizon_days,
                        settle_days=cfg.settle_days)
                decisions += self._target(ctx, state, features)
        return decisions

    # ---- experiment ----------------------------------------------------------------------
    def _plan(self, ctx: DayContext, state: ProductState,
              features: _Lazy) -> list[Decision]:
        cfg, product = self.config, state.product
        eligible = int((~_holds(features(), product)).sum())
        starts = 0
        if product not in ONE_OFF_PRICES:
            subs, customers = ctx.view.table("subscriptions"), ctx.view.table("customers")
            since = (pd.Timestamp(ctx.now) - pd.Timedelta(days=28)).date()
            new = subs.filter((subs.product == product) & (subs.status == "active")
                              & (subs.started_on >= since))
            new = new.inner_join(customers, "customer_id")
            starts = int(ctx.view.execute(
                new.filter(new.started_on > new.delivered_on).count()))
        if eligible < 100:
            return []
        state.baseline = starts / eligible * cfg.horizon_days / 28
        mde = dict(cfg.mde)[product]
        n_t, n_c = sample_size(state.baseline, state.baseline + mde, alpha=cfg.alpha,
                               power=cfg.power, treated_share=cfg.treated_share)
        if n_t < cfg.model_treated:
            n_c = int(np.ceil(n_c * cfg.model_treated / n_t))
            n_t = cfg.model_treated
        state.planned, state.phase = (n_t, n_c), "experiment"
        return [Decision(ctx.day, self.name,
                         f"{product}: experiment planned, {n_t} treated + {n_c} control "
                         f"(baseline {state.baseline:.4f}, +{mde} conversion detectable)",
                         inputs={"product": product, "baseline": state.baseline, "mde": mde,
                                 "power": cfg.power, "alpha": cfg.alpha,
                                 "planned": [n_t, n_c]})]

    def _enrol(self, ctx: DayContext, state: ProductState, lazy: _Lazy,
               taken: set[str]) -> list[Decision]:
        cfg, product = self.config, state.product
        assert state.planned is not None
        arms = state.assigned.arm if state.assigned is not None else pd.Series([], dtype=str)
        need_t = state.planned[0] - int((arms == "treatment").sum())
        need_c = state.planned[1] - int((arms == "control").sum())
        if need_t <= 0 and need_c <= 0:
            return []
        features = lazy()
        pool = features[~_holds(features, product) & ~features.index.isin(list(taken))]
        rng = self._rng(ctx.day, product)
        n = min(len(pool), cfg.experiment_round, max(need_t, 0) + max(need_c, 0))
        chosen = pool.iloc[rng.permutation(len(pool))[:n]]
        treated = rng.random(n) < cfg.treated_share
        treated = np.where(need_c <= 0, True, np.where(need_t <= 0, False, treated))
        if not n:
            return []
        state.batches += 1
        campaign = f"X-{product}-{state.batches:02d}"
        start = pd.Timestamp(ctx.now).normalize()
        batch = chosen.assign(arm=np.where(treated, "treatment", "control"), start=start,
                              converted=np.nan, revenue=np.nan)[
            ["arm", "start", "converted", "revenue", *FEATURES]]
        state.assigned = (batch if state.assigned is None
                          else pd.concat([state.assigned, batch]))
        ids = chosen.index.to_numpy()
        self._remember(state, ids[treated], start)
        _emit(ctx, campaign, product, ids, batch.arm.to_numpy(), None)
        return [Decision(ctx.day, self.name,
                         f"{product}: experiment batch {campaign}, {int(treated.sum())} "
                         f"offered, {int((~treated).sum())} control",
                         action=_offer(ctx.day + 1, campaign, product, ids[treated],
                                       ids[~treated], "randomised experiment"),
                         inputs={"campaign_id": campaign})]

    def _read(self, ctx: DayContext, state: ProductState) -> list[Decision]:
        """Look at the matured outcomes; end the experiment when the rules say."""
        cfg, product = self.config, state.product
        assigned = state.assigned
        if assigned is None:
            return []
        assert state.planned is not None
        today = pd.Timestamp(ctx.now).normalize()
        ready = assigned.start + pd.Timedelta(days=cfg.horizon_days + cfg.settle_days) <= today
        new = ready & assigned.revenue.isna()
        if new.any():  # a closed window's outcome never changes: read it once
            frame = assigned[new].reset_index(names="customer_id").assign(product=product)
            read = outcomes(ctx.view, frame, horizon_days=cfg.horizon_days)
            assigned.loc[new.to_numpy(), ["converted", "revenue"]] = read[
                ["converted", "revenue"]].to_numpy()
        matured = assigned[ready]
        if matured.empty:
            return []
        result = matured[["converted", "revenue"]].reset_index(drop=True)
        treated = (matured.arm == "treatment").to_numpy()
        mde = dict(cfg.mde)[product]
        conv = look(result.converted[treated].to_numpy(),
                    result.converted[~treated].to_numpy(), tau2=mde**2, alpha=cfg.alpha)
        rev = look(result.revenue[treated].to_numpy(), result.revenue[~treated].to_numpy(),
                   tau2=(mde * LIST_PRICES[product]) ** 2, alpha=cfg.alpha)
        if conv is None or rev is None:
            return []
        state.looks.append({"day": ctx.day, "conversion": conv.record(),
                            "revenue": rev.record()})
        complete = (int(treated.sum()) >= state.planned[0]
                    and int((~treated).sum()) >= state.planned[1])
        harmful = rev.ci[1] < 0
        early = conv.ci[0] > 0 and int(treated.sum()) >= cfg.model_treated
        if not (complete or harmful or early):
            return []
        state.decided_day = ctx.day
        if harmful or conv.ci[0] <= 0:
            state.phase = "stopped"
            verdict = "revenue falls" if harmful else "no conversion gain shown"
            return [Decision(ctx.day, self.name, f"{product}: experiment stopped, {verdict}",
                             inputs={"product": product, "look": state.looks[-1]})]
        state.evaluation = self._fit(state, matured, result)
        state.phase = "target"
        return [Decision(ctx.day, self.name,
                         f"{product}: offer converts (+{conv.diff:.3f}, always-valid 95 % "
                         f"CI {conv.ci[0]:.3f}–{conv.ci[1]:.3f}); uplift model Qini "
                         f"{state.evaluation['qini']:.2f}",
                         inputs={"product": product, "look": state.looks[-1],
                                 "evaluation": state.evaluation})]

    def _fit(self, state: ProductState, matured: pd.DataFrame,
             result: pd.DataFrame) -> dict[str, Any]:
        """Fit the T-learner on a share of the experiment, judge it on the rest, refit on
        all of it."""
        cfg = self.config
        x = matured[list(FEATURES)].astype(float).reset_index(drop=True)
        y, treated = result.revenue.to_numpy(), (matured.arm == "treatment").to_numpy()
        rng = np.random.default_rng(cfg.seed)
        test = rng.random(len(x)) < cfg.held_out
        model = TLearner(seed=cfg.seed).fit(x[~test], y[~test], treated[~test])
        evaluation = {k: round(v, 4) for k, v in
                      qini(model.predict(x[test]), y[test], treated[test]).items()}
        evaluation.update(held_out=int(test.sum()), trained=int((~test).sum()))
        state.model = TLearner(seed=cfg.seed).fit(x, y, treated)
        return evaluation

    # ---- targeting -----------------------------------------------------------------------
    def _target(self, ctx: DayContext, state: ProductState,
                lazy: _Lazy) -> list[Decision]:
        cfg, product = self.config, state.product
        assert state.model is not None
        features = lazy()
        now = pd.Timestamp(ctx.now).normalize()
        cooled = now - pd.Timedelta(days=cfg.cooldown_days)
        recent = [c for c, t in state.offered.items() if t > cooled]
        pool = features[~_holds(features, product) & ~features.index.isin(recent)]
        if pool.empty:
            return []
        rng = self._rng(ctx.day, product)
        holdout = rng.random(len(pool)) < cfg.holdout_share
        score = state.model.predict(pool[list(FEATURES)])
        ranked = np.argsort(-np.where(holdout, -np.inf, score), kind="stable")
        k = min(cfg.round_offers, int(((score > 0) & ~holdout).sum()))
        if not k:
            return []
        targeted = np.zeros(len(pool), bool)
        targeted[ranked[:k]] = True
        state.rounds += 1
        campaign = f"T-{product}-{state.rounds:03d}"
        ids = pool.index.to_numpy()
        self._remember(state, ids[targeted], now)
        kept = targeted | holdout  # those not chosen are not written: the holdout stands in
        _emit(ctx, campaign, product, ids[kept],
              np.where(targeted, "targeted", "holdout")[kept], score[kept])
        sends = self._prices(ctx, product, rng, ids, targeted, holdout, score, now)
        return [Decision(ctx.day, self.name,
                         f"{product}: {name} offered to {int(chosen.sum())} of the {k} of "
                         f"{len(pool)} eligible with the highest predicted uplift at "
                         f"${usd:g} ({int(holdout.sum())} held out)",
                         action=_offer(ctx.day + 1, name, product, ids[chosen],
                                       ids[holdout], "uplift targeting", usd),
                         inputs={"campaign_id": name, "pool": len(pool), "offers": k,
                                 "price_usd": usd, "predicted_uplift_usd": round(
                                     float(score[chosen].sum()), 2)})
                for name, chosen, usd in ((campaign if i == 0 else f"{campaign}-p", c, u)
                                          for i, (c, u) in enumerate(sends)) if chosen.any()]

    def _prices(self, ctx: DayContext, product: str, rng: np.random.Generator,
                ids: np.ndarray, targeted: np.ndarray, holdout: np.ndarray,
                score: np.ndarray, now: pd.Timestamp) -> list[tuple[np.ndarray, float]]:
        """Who of ``targeted`` is offered which price: the list price, or during a price
        experiment the list price and the changed price (sent as ``<campaign>-p``)."""
        listed = LIST_PRICES[product]
        if product not in self.config.pricing.products:
            return [(targeted, listed)]
        exp = self.prices.get(product)
        if exp is None:
            exp = self.prices[product] = pricing.start(ctx, product, listed,
                                                       self.config.pricing)
        if exp.phase != "experiment":
            return [(targeted, exp.price_now())]
        changed = pricing.split(rng, targeted, self.config.pricing.changed_share)
        like = holdout & (score >= score[targeted].min())  # the holdout ranked as high
        arms = np.where(changed, "changed", np.where(targeted, "list", "holdout"))
        exp.add(ids[targeted | like], arms[targeted | like], now)
        return [(targeted & ~changed, listed), (changed, exp.price)]

    # ---- helpers -------------------------------------------------------------------------
    def _rng(self, day: int, product: str) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, day, zlib.crc32(product.encode())])

    @staticmethod
    def _remember(state: ProductState, ids: np.ndarray, when: pd.Timestamp) -> None:
        state.offered.update(dict.fromkeys(ids.tolist(), when))


class _Lazy:
    """The features, computed on first use (a run with nothing to enrol or target reads
    none)."""

    def __init__(self, make: Callable[[], pd.DataFrame]) -> None:
        self._make, self._value = make, None

    def __call__(self) -> pd.DataFrame:
        if self._value is None:
            self._value = self._make()
        return self._value


def _holds(features: pd.DataFrame, product: str) -> pd.Series:
    column = {"fsd": "has_fsd", "connectivity": "has_connectivity"}.get(
        product, f"owns_{product}")
    return features[column] > 0


def _offer(day: int, campaign: str, product: str, offered: np.ndarray,
           rest: np.ndarray, reason: str, price_usd: float | None = None) -> Offer:
    return Offer(day=day, campaign_id=campaign, product=product,
                 price_usd=LIST_PRICES[product] if price_usd is None else price_usd,
                 customer_ids=tuple(offered.tolist()), not_offered=tuple(rest.tolist()),
                 reason=reason)


def _emit(ctx: DayContext, campaign: str, product: str, ids: np.ndarray, arm: np.ndarray,
          score: np.ndarray | None) -> None:
    """``offer_assignments`` rows: who the campaign considered and what it did with them."""
    uplift = [None] * len(ids) if score is None else np.round(score, 4).tolist()
    ctx.emit("offer_assignments", [
        {"campaign_id": campaign, "customer_id": c, "product": product, "arm": a,
         "day": ctx.day, "predicted_uplift_usd": u, "event_time": ctx.now}
        for c, a, u in zip(ids.tolist(), arm.tolist(), uplift, strict=True)])
