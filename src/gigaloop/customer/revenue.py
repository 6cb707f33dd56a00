"""Software revenue, churn and the measured gain of targeted offers, from the store alone.

* revenue — each subscription's active days up to ``end`` × its monthly price ÷ 30.44,
  plus accepted one-off offers;
* churn — subscriptions ended in the last 90 days ÷ the subscription-months at risk in
  them (a monthly rate; an installed base's months before the run are not in the store);
* offer uplift — for every targeted campaign whose window has closed, the targeted
  customers' net software revenue in the window against that of the campaign's random
  holdout customers the model ranked as high (predicted uplift at or above the lowest
  targeted): Σ n_targeted × (mean targeted − mean holdout), with a normal 95 % interval.

>>> import ibis
>>> subs = ibis.memtable({"subscription_id": ["S1", "S1", "S2"], "customer_id": ["c1"] * 3,
...     "product": ["fsd"] * 3, "status": ["active", "ended", "active"],
...     "started_on": [date(2025, 1, 1)] * 2 + [date(2025, 3, 2)],
...     "ended_on": [None, date(2025, 1, 31), None], "monthly_price_usd": [99.0] * 3})
>>> s = subscription_spells(subs).execute().sort_values("subscription_id")
>>> s.days.tolist(), s.ended.tolist()
([30, 0], [True, False])
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from gigaloop.customer.uplift import outcomes
from gigaloop.store import Tables

DAYS_PER_MONTH = 365.25 / 12
CHURN_WINDOW_DAYS = 90


def subscription_spells(rows: ir.Table, end: date | None = None,
                        window_days: int = CHURN_WINDOW_DAYS) -> ir.Table:
    """One row per subscription: customer, product, start, ``days`` active up to ``end``
    (default: its end; none while active), ``ended``, price, and for churn ``risk_days``
    (active days in the ``window_days`` before ``end``) and ``ended_in_window``."""
    subs = rows.group_by("subscription_id").aggregate(
        customer_id=rows.customer_id.max(), product=rows["product"].max(),
        started_on=rows.started_on.min(), ended_on=rows.ended_on.max(),
        monthly_price_usd=rows.monthly_price_usd.max())
    stop = subs.ended_on
    if end is not None:
        stop = ibis.least(stop.fill_null(ibis.literal(end)), ibis.literal(end))
    days = stop.delta(subs.started_on, unit="day").fill_null(0).clip(lower=0)
    out = subs.mutate(days=days, ended=subs.ended_on.notnull())
    if end is None:
        return out
    since = ibis.literal(end - timedelta(days=window_days))
    risk = stop.delta(ibis.greatest(subs.started_on, since), unit="day")
    return out.mutate(risk_days=risk.fill_null(0).clip(lower=0),
                      ended_in_window=subs.ended_on.notnull() & (subs.ended_on > since)
                      & (subs.ended_on <= ibis.literal(end)))


def software_kpis(store: Tables, *, end: datetime, horizon_days: int = 14) -> dict[str, Any]:
    """``software_revenue``, ``software_revenue_per_vehicle``, ``churn_monthly``,
    ``offers_sent``, ``offer_uplift`` and ``offer_uplift_ci95`` (None where no rows)."""
    out: dict[str, Any] = dict.fromkeys(
        ("software_revenue", "software_revenue_per_vehicle", "churn_monthly",
         "offer_uplift", "offer_uplift_ci95"))
    offers = store.table("offers")
    out["offers_sent"] = int(store.execute(offers.count()))
    rows = store.table("subscriptions")
    if int(store.execute(rows.count())) == 0:
        return out
    spells = subscription_spells(rows, end.date())
    totals = store.execute(spells.aggregate(
        revenue=(spells.days * spells.monthly_price_usd / DAYS_PER_MONTH).sum(),
        months=(spells.risk_days / DAYS_PER_MONTH).sum(),
        ended=spells.ended_in_window.sum()))
    one_off = store.execute(offers.filter(offers.accepted).price_usd.sum()) or 0.0
    revenue = float(totals.revenue[0]) + float(one_off)
    vehicles = int(store.execute(store.table("customers").count()))
    months = float(totals.months[0])
    out.update(software_revenue=round(revenue, 2),
               software_revenue_per_vehicle=round(revenue / vehicles, 2) if vehicles else None,
               churn_monthly=round(float(totals.ended[0]) / months, 4) if months else None)
    out.update(offer_uplift(store, end=end, horizon_days=horizon_days))
    return out


def offer_uplift(store: Tables, *, end: datetime, horizon_days: int = 14,
                 settle_days: int = 2) -> dict[str, Any]:
    """The measured gain of targeted campaigns against their holdout (see above)."""
    table = store.table("offer_assignments")
    targeted = table.filter(table.campaign_id.startswith("T-")
                            & table.arm.isin(["targeted", "holdout"]))
    assigned = store.execute(targeted.select("campaign_id", "customer_id", "product", "arm",
                                             "predicted_uplift_usd", "event_time"))
    none = {"offer_uplift": None, "offer_uplift_ci95": None}
    if assigned.empty:
        return none
    assigned["start"] = pd.to_datetime(assigned.event_time).dt.normalize()
    closed = assigned.start + pd.Timedelta(days=horizon_days + settle_days) <= pd.Timestamp(end)
    assigned = assigned[closed].reset_index(drop=True)
    if assigned.empty:
        return none
    assigned = assigned.join(outcomes(store, assigned, horizon_days=horizon_days))
    gain, variance, used = 0.0, 0.0, 0
    for _, campaign in assigned.groupby("campaign_id"):
        chosen = campaign[campaign.arm == "targeted"]
        if chosen.empty:
            continue
        floor = chosen.predicted_uplift_usd.min()
        like = campaign[(campaign.arm == "holdout") & (campaign.predicted_uplift_usd >= floor)]
        if len(like) < 2 or len(chosen) < 2:
            continue
        n = len(chosen)
        gain += n * (chosen.revenue.mean() - like.revenue.mean())
        variance += n**2 * (chosen.revenue.var() / n + like.revenue.var() / len(like))
        used += 1
    if not used:
        return none
    half = 1.96 * math.sqrt(variance)
    gain = float(gain)
    return {"offer_uplift": round(gain, 2),
            "offer_uplift_ci95": [round(gain - half, 2), round(gain + half, 2)]}


def by_cohort(store: Tables, *, end: datetime) -> list[dict[str, Any]]:
    """Per delivery quarter: vehicles, software revenue per vehicle, monthly churn (last
    90 days)."""
    customers = store.table("customers")
    rows = store.table("subscriptions")
    if int(store.execute(customers.count())) == 0:
        return []
    spells = subscription_spells(rows, end.date())
    joined = spells.inner_join(customers.select("customer_id", "delivered_on"), "customer_id")
    subs = store.execute(joined.select(
        "delivered_on", revenue=joined.days * joined.monthly_price_usd / DAYS_PER_MONTH,
        months=joined.risk_days / DAYS_PER_MONTH, ended=joined.ended_in_window))
    people = store.execute(customers.select("customer_id", "delivered_on"))
    offers = store.table("offers")
    bought = store.execute(offers.filter(offers.accepted).inner_join(
        customers.select("customer_id", "delivered_on"), "customer_id")
        .select("delivered_on", revenue=offers.price_usd))
    quarter = lambda d: pd.PeriodIndex(pd.to_datetime(d), freq="Q").astype(str)  # noqa: E731
    money = pd.concat([subs[["delivered_on", "revenue"]], bought])
    revenue = money.groupby(quarter(money.delivered_on)).revenue.sum()
    risk = subs.groupby(quarter(subs.delivered_on))[["months", "ended"]].sum()
    vehicles = people.groupby(quarter(people.delivered_on)).size()
    return [{"cohort": str(q), "vehicles": int(n),
             "revenue_per_vehicle": round(float(revenue.get(q, 0.0)) / n, 2),
             "churn_monthly": round(float(risk.ended.get(q, 0)) / m, 4)
             if (m := float(risk.months.get(q, 0.0))) > 0 else None}
            for q, n in vehicles.items()]


__all__ = ["by_cohort", "offer_uplift", "software_kpis", "subscription_spells"]
