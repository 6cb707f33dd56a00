"""What the dashboard reads from the store beyond the API's own queries: process streams
behind SPC alarms, downtime, energy plans and subscription revenue, each small enough to
plot (long series are aggregated)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from gigaloop.loop.kpis import DAYS_PER_MONTH
from gigaloop.store import Tables

#: A stream with more readings than this is plotted as its hourly (or daily) mean and range.
RAW_POINTS = 3000
#: Streams with the most alarms that the plant page plots.
STREAMS_SHOWN = 4


def span_days(store: Tables) -> int:
    """Days from the first to the last reading of the plant (0 for an empty store)."""
    spans = []
    for name in ("process_readings", "machine_readings", "energy_readings", "downtime_events"):
        table = store.table(name)
        row = store.execute(table.aggregate(first=table.event_time.min(),
                                            last=table.event_time.max())).iloc[0]
        if pd.notna(row["first"]):
            spans.append((row["first"], row["last"]))
    if not spans:
        return 0
    return int((max(s[1] for s in spans) - min(s[0] for s in spans)).days) + 1


def alarmed_streams(alarms: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (machine, parameter) streams with the most alarms, most first.

    >>> alarmed_streams([{"machine_id": "M1", "parameter": "t"}, {"machine_id": "M2",
    ...     "parameter": "t"}, {"machine_id": "M2", "parameter": "t"}])
    [('M2', 't'), ('M1', 't')]
    """
    counts: dict[tuple[str, str], int] = {}
    for alarm in alarms:
        key = (alarm["machine_id"], alarm["parameter"])
        counts[key] = counts.get(key, 0) + 1
    return sorted(counts, key=lambda k: (-counts[k], k))[:STREAMS_SHOWN]


def charted_streams(store: Tables, alarms: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The streams the plant page charts: those with the most alarms, then (while there
    are fewer than :data:`STREAMS_SHOWN`) other streams, so a quiet plant is charted too."""
    streams = alarmed_streams(alarms)
    if len(streams) < STREAMS_SHOWN:
        readings = store.table("process_readings").filter(lambda t: t.machine_id.notnull())
        others = store.execute(readings.select("machine_id", "parameter").distinct()
                               .order_by(["machine_id", "parameter"])
                               .limit(STREAMS_SHOWN + len(streams)))
        streams += [key for key in others.itertuples(index=False, name=None)
                    if key not in streams][:STREAMS_SHOWN - len(streams)]
    return streams


def stream_readings(store: Tables, machine: str, parameter: str) -> pd.DataFrame:
    """One process stream as ``time``, ``value``, ``low``, ``high``, ``setpoint``: every
    reading, or per hour (per day past a month) mean and range when there are many."""
    readings = store.table("process_readings")
    stream = readings.filter((readings.machine_id == machine)
                             & (readings.parameter == parameter))
    if int(store.execute(stream.count())) <= RAW_POINTS:
        raw = store.execute(stream.select(time=stream.event_time, value=stream.value,
                                          setpoint=stream.setpoint).order_by("time"))
        return raw.assign(low=raw["value"], high=raw["value"])
    span = store.execute(stream.aggregate(first=stream.event_time.min(),
                                          last=stream.event_time.max())).iloc[0]
    unit = "D" if (span["last"] - span["first"]).days > 31 else "h"
    binned = stream.mutate(time=stream.event_time.truncate(unit))
    return store.execute(binned.group_by("time").aggregate(
        value=binned.value.mean(), low=binned.value.min(), high=binned.value.max(),
        setpoint=binned.setpoint.mean()).order_by("time"))


def downtime_by_cause(store: Tables, days: int) -> pd.DataFrame:
    """Downtime hours per day (per week past 60 days), cause and planned or not."""
    events = store.table("downtime_events")
    when = events.event_time.truncate("W") if days > 60 else events.event_time.truncate("D")
    grouped = events.mutate(date=when.date()).group_by(["date", "cause", "planned"])
    return store.execute(grouped.aggregate(hours=events.hours.sum()).order_by("date"))


def energy_plans(store: Tables, limit: int = 30) -> list[dict[str, Any]]:
    """The energy schedules the loop sent, newest first: day, site, why, and the hours
    it pre-cools (cooling setpoint below the day's highest)."""
    decisions = store.table("decisions")
    plans = decisions.filter(decisions.action_kind == "energy_schedule")
    rows = store.execute(plans.order_by([plans.day.desc(), "seq"]).limit(limit))
    out = []
    for row in rows.itertuples():
        action = json.loads(row.action_json) if row.action_json else {}
        cooling = action.get("cooling_setpoint_c") or []
        precool = [h for h, c in enumerate(cooling) if cooling and c < max(cooling)]
        out.append({"day": int(row.day), "site_id": action.get("site_id", ""),
                    "accepted": row.accepted, "reason": action.get("reason") or row.summary,
                    "precool_hours": precool,
                    "shifted_kwh": round(sum(x for x in action.get("shift_kwh", []) if x > 0),
                                         1)})
    return out


def revenue_end(store: Tables) -> pd.Timestamp | None:
    """Midnight ending the last day with data: the day after the latest vehicle day
    (telemetry) or subscription event, or the latest subscription end if later; None
    before any. (``gigaloop run`` counts its KPI to the run's end, the same midnight.)"""
    subs, days = store.table("subscriptions"), store.table("telemetry_daily")
    ends = store.execute(subs.aggregate(event=subs.event_time.max(), ended=subs.ended_on.max()))
    event, ended = ends.iloc[0]
    last_day = store.execute(days.day.max())
    found = [pd.Timestamp(v).normalize() + pd.Timedelta(days=1) for v in (event, last_day)
             if pd.notna(v)] + ([pd.Timestamp(ended)] if pd.notna(ended) else [])
    return max(found) if found else None


def monthly_revenue(store: Tables) -> pd.DataFrame:
    """Subscription revenue earned per calendar month and product (active days × monthly
    price, as ``loop.kpis.software_revenue`` counts it) up to :func:`revenue_end`."""
    rows = store.table("subscriptions")
    subs = store.execute(rows.group_by("subscription_id").aggregate(
        product=rows["product"].arbitrary(), started_on=rows.started_on.min(),
        ended_on=rows.ended_on.max(), price=rows.monthly_price_usd.max()))
    end = revenue_end(store)
    if subs.empty or end is None:
        return pd.DataFrame(columns=["month", "product", "revenue"])
    start = pd.to_datetime(subs["started_on"]).min()
    months = pd.date_range(start.to_period("M").to_timestamp(), end, freq="MS")
    out = []
    for month in months:
        stop = min(month + pd.offsets.MonthBegin(1), end)
        began = pd.to_datetime(subs["started_on"]).clip(lower=month)
        ended = pd.to_datetime(subs["ended_on"]).fillna(stop).clip(upper=stop)
        active = (ended - began).dt.days.clip(lower=0)
        earned = (active * subs["price"] / DAYS_PER_MONTH).groupby(subs["product"]).sum()
        out += [{"month": month.date(), "product": p, "revenue": round(float(v), 2)}
                for p, v in earned.items()]
    return pd.DataFrame(out)
