"""A price experiment for a subscription: list price against a changed price, on revenue.

Once a product's uplift model targets (:class:`~gigaloop.customer.offers.OffersModule`),
each targeted round is split at random: a share ``changed_share`` of the chosen customers
is offered the changed price (``factor`` × list), the rest the list price, and the round's
random holdout is not contacted. At each run the closed windows are looked at with the
mSPRT's always-valid interval (:func:`~gigaloop.customer.experiment.look`) on **net revenue
per customer over a horizon**: the window's net subscription revenue (subscriptions
started × their billed monthly price − subscriptions ended × theirs, every subscription
product, from the store) × the expected billed months over ``horizon_months`` at the
product's monthly churn c measured in the store when the experiment starts,
Σ (1 − c)^m for m < H. Not conversion: a discount raises conversion and may still lose
money. One-off purchases are left out: they are another product, whose own campaigns
reach the same customers, and counted they would only add noise ($2,000 each).

The decision: the first look whose interval for (changed − list) excludes 0 adopts the
price that earns more; when each arm has ``max_per_arm`` closed customers and the
interval still covers 0, the list price stays ("no difference shown"). Until then
targeting keeps splitting. Assumed, not measured: the same churn at both prices (churn at
a new price takes months to read; a discount that lowers churn is undervalued by it).

>>> exp = PriceExperiment("fsd", list_price=99.0, price=49.5, months=9.69, churn=0.04)
>>> decided = exp.judge(np.r_[np.full(60, 480.0), np.zeros(440)],
...                     np.r_[np.full(30, 960.0), np.zeros(470)], tau2=(0.02 * 960) ** 2,
...                     alpha=0.05, max_per_arm=3000)
>>> decided, exp.price_now()
(None, 49.5)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gigaloop.customer.experiment import Look, look
from gigaloop.customer.revenue import subscription_spells
from gigaloop.customer.uplift import outcomes
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.store import Tables


@dataclass(frozen=True)
class PricingConfig:
    """Which products get a price experiment, the changed price, the horizon and the stop
    rule (none is published; see docs/customers.md for the reasons)."""

    products: tuple[str, ...] = ("fsd",)
    factor: float = 0.5             # changed price ÷ list: Tesla's own 2024 cut was $199 → $99
    changed_share: float = 0.5      # of each targeted round, during the experiment
    horizon_months: int = 12
    mde: float = 0.02               # mixing sd: 2 conversion points × list × months
    max_per_arm: int = 2500
    churn_window_days: int = 90


@dataclass
class PriceExperiment:
    """One product's price experiment: ``assigned`` (index ``customer_id``) holds each
    customer's arm (``list``, ``changed`` or ``holdout``), window start and outcome."""

    product: str
    list_price: float
    price: float
    months: float
    churn: float
    phase: str = "experiment"       # experiment → decided
    adopted: float | None = None
    decided_day: int | None = None
    assigned: pd.DataFrame | None = None
    looks: list[dict[str, Any]] = field(default_factory=list)

    def price_now(self) -> float:
        """The price a targeted offer goes at now (the changed arm's during the experiment)."""
        return self.adopted if self.adopted is not None else self.price

    def add(self, ids: np.ndarray, arms: np.ndarray, start: pd.Timestamp) -> None:
        batch = pd.DataFrame({"arm": arms, "start": start, "revenue": np.nan},
                             index=pd.Index(ids, name="customer_id"))
        self.assigned = batch if self.assigned is None else pd.concat([self.assigned, batch])

    def judge(self, changed: np.ndarray, listed: np.ndarray, *, tau2: float, alpha: float,
              max_per_arm: int) -> Look | None:
        """Look at revenue per customer (changed − list); decide when the rule says.
        Returns the look that decided, else ``None``."""
        result = look(changed, listed, tau2=tau2, alpha=alpha)
        if result is None:
            return None
        shown = result.significant
        full = min(len(changed), len(listed)) >= max_per_arm
        if not (shown or full):
            return None
        self.phase = "decided"
        self.adopted = self.price if shown and result.diff > 0 else self.list_price
        return result


def monthly_churn(store: Tables, product: str, now: pd.Timestamp, window_days: int) -> float:
    """``product``'s subscriptions ended in the last ``window_days`` ÷ subscription-months at
    risk in them (the store's subscriptions; 0.04 when it has none)."""
    spells = subscription_spells(store.table("subscriptions"), now.date(), window_days)
    spells = spells.filter(spells["product"] == product)
    got = store.execute(spells.aggregate(ended=spells.ended_in_window.sum(),
                                         days=spells.risk_days.sum()))
    months = float(got.days.fillna(0).iloc[0]) * 12 / 365.25
    ended = float(got.ended.fillna(0).iloc[0])
    return ended / months if months > 0 and ended > 0 else 0.04


def billed_months(churn: float, horizon: int) -> float:
    """Expected billed months over ``horizon`` months at monthly ``churn``.

    >>> round(billed_months(0.04, 12), 2), billed_months(0.0, 12)
    (9.69, 12.0)
    """
    if churn <= 0:
        return float(horizon)
    return (1 - (1 - churn) ** horizon) / churn


def start(ctx: DayContext, product: str, list_price: float,
          cfg: PricingConfig) -> PriceExperiment:
    """A product's experiment, with its churn and horizon months fixed from the store now."""
    churn = monthly_churn(ctx.view, product, pd.Timestamp(ctx.now), cfg.churn_window_days)
    return PriceExperiment(product, list_price=list_price,
                           price=round(cfg.factor * list_price, 2),
                           months=billed_months(churn, cfg.horizon_months), churn=churn)


def split(rng: np.random.Generator, targeted: np.ndarray, share: float) -> np.ndarray:
    """Which targeted customers get the changed price (one draw per pool customer)."""
    return targeted & (rng.random(len(targeted)) < share)


def read(ctx: DayContext, exp: PriceExperiment, cfg: PricingConfig, *, module: str,
         alpha: float, horizon_days: int, settle_days: int) -> list[Decision]:
    """Read the closed windows, look, and record the decision when it is taken."""
    if exp.phase != "experiment" or exp.assigned is None:
        return []
    assigned = exp.assigned
    today = pd.Timestamp(ctx.now).normalize()
    ready = assigned.start + pd.Timedelta(days=horizon_days + settle_days) <= today
    new = ready & assigned.revenue.isna()
    if new.any():  # a closed window's outcome never changes: read it once
        frame = assigned[new].reset_index().assign(product=exp.product)
        got = outcomes(ctx.view, frame, horizon_days=horizon_days, one_off=False)
        assigned.loc[new.to_numpy(), "revenue"] = got.revenue.to_numpy()
    closed = assigned[ready]
    value = {arm: closed.revenue[closed.arm == arm].to_numpy() * exp.months
             for arm in ("changed", "list", "holdout")}
    tau2 = (cfg.mde * exp.list_price * exp.months) ** 2
    decided = exp.judge(value["changed"], value["list"], tau2=tau2, alpha=alpha,
                        max_per_arm=cfg.max_per_arm)
    last = look(value["changed"], value["list"], tau2=tau2, alpha=alpha)
    if last is None:
        return []
    against = {arm: look(value[arm], value["holdout"], tau2=tau2, alpha=alpha)
               for arm in ("changed", "list")}
    record = {"day": ctx.day, "changed_minus_list": last.record(),
              **{f"{arm}_minus_holdout": r.record() for arm, r in against.items() if r}}
    exp.looks.append(record)
    if decided is None:  # each look is recorded: the evidence so far, and that it goes on
        return [Decision(ctx.day, module,
                         f"{exp.product}: price experiment ${exp.price:g} vs "
                         f"${exp.list_price:g} goes on (revenue per customer over "
                         f"{cfg.horizon_months} months {last.diff:+.2f} USD, always-valid 95 % "
                         f"CI {last.ci[0]:.2f} to {last.ci[1]:.2f})",
                         inputs={"product": exp.product, "price_look": record})]
    exp.decided_day = ctx.day
    better = "changed" if exp.adopted != exp.list_price else "list"
    verdict = (f"adopts ${exp.adopted:g}" if decided.significant and better == "changed"
               else f"keeps list ${exp.list_price:g}" + (
                   "" if decided.significant else ", no difference shown"))
    return [Decision(ctx.day, module,
                     f"{exp.product}: price experiment ${exp.price:g} vs ${exp.list_price:g} "
                     f"{verdict} (revenue per customer over {cfg.horizon_months} months "
                     f"{decided.diff:+.2f} USD, always-valid 95 % CI {decided.ci[0]:.2f} to "
                     f"{decided.ci[1]:.2f})",
                     inputs={"product": exp.product, "price_experiment": {
                         "list_price_usd": exp.list_price, "changed_price_usd": exp.price,
                         "adopted_price_usd": exp.adopted, "shown": decided.significant,
                         "horizon_months": cfg.horizon_months,
                         "billed_months": round(exp.months, 3),
                         "churn_monthly": round(exp.churn, 5), "alpha": alpha,
                         "tau": round(float(np.sqrt(tau2)), 3), "look": record,
                         "looks": len(exp.looks)}})]
