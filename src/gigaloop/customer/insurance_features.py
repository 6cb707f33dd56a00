"""Per-driver insurance features and claims, aggregated in the store's engine.

Only customers with both ``consent_telemetry`` and ``consent_insurance`` appear: the
others' telemetry and insurance claims are dropped by a semi-join before anything is
summed.
Factors are mileage-weighted averages over a window of ``telemetry_daily`` days, in the
Safety Score's units (percentage points; FCW per 1,000 manual miles), plus forced
disengagements per 1,000 miles, Autopilot and rain shares, miles per driving day and the
home climate. ``pcf_v22`` is the mileage-weighted average of each day's Safety Score v2.2
PCF. The target, ``claims``, counts the vehicle's ``insurance_claims`` (collision and
property damage) in the window, and ``claim_cost`` sums what they cost.

>>> import ibis, pandas as pd
>>> from types import SimpleNamespace
>>> tables = {"customers": ibis.memtable({"customer_id": ["c1", "c2"], "vin": ["A", "B"],
...     "climate_region": ["hot", "cold"], "consent_telemetry": [True, True],
...     "consent_insurance": [True, False]}),
...     "telemetry_daily": ibis.memtable({"vin": ["A", "A", "B"],
...     "day": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-01"]).date,
...     "miles": [30.0, 10.0, 20.0], "autopilot_miles": [0.0, 5.0, 0.0],
...     "rain_miles": [0.0, 10.0, 0.0], "late_night_miles": [0.0, 0.0, 0.0],
...     "hard_braking_fraction": [0.0, 0.02, 0.0], "aggressive_turning_fraction": [0.0] * 3,
...     "unsafe_following_fraction": [0.0] * 3, "speeding_fraction": [0.0] * 3,
...     "fcw_count": [0, 0, 0], "forced_disengagements": [0, 0, 0]}),
...     "insurance_claims": ibis.memtable({"vin": ["A", "B"], "amount_usd": [9000.0, 5000.0],
...     "event_time": pd.to_datetime(["2026-01-02 08:00", "2026-01-01 09:00"])})}
>>> store = SimpleNamespace(table=tables.__getitem__, execute=lambda e: e.execute())
>>> f = driver_features(store, pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-02"))
>>> f[["customer_id", "miles", "hard_braking", "rain_share", "claims", "claim_cost"]
...   ].values.tolist()
[['c1', 40.0, 0.5, 0.25, 1, 9000.0]]
"""
from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from gigaloop.customer.safety_score import V22_CAPS, pcf_v22
from gigaloop.store import Tables

#: Factors a driver can change, in Safety Score units (percentage points; per 1,000 mi).
CHANGEABLE = ("hard_braking", "aggressive_turning", "unsafe_following",
              "excessive_speeding", "late_night", "forced_per_1000")
#: Other numeric features: warnings, driving conditions and usage.
OTHER = ("fcw_per_1000", "autopilot_share", "rain_share", "log_miles_per_day")
CLIMATE_LEVELS = ("temperate", "hot", "cold")

# v2.2 argument order; each factor's multiplier per point is read off pcf_v22 itself.
_V22_ORDER = ("hard_braking", "aggressive_turning", "unsafe_following",
              "forced_disengagement", "late_night", "excessive_speeding", "unbuckled")
_V22_BASE = pcf_v22(*[0.0] * 7)
#: log of each v2.2 factor's PCF multiplier per point (per day with one, forced disengagement)
V22_LOG_PER_POINT = {name: math.log(pcf_v22(*[float(i == j) for j in range(7)]) / _V22_BASE)
                     for i, name in enumerate(_V22_ORDER)}


def consenting_vehicles(store: Tables) -> ir.Table:
    """``customer_id``, ``vin``, ``climate_region`` of customers who agreed to both
    telemetry sharing and score-based insurance."""
    customers = store.table("customers")
    return customers.filter(customers.consent_telemetry & customers.consent_insurance
                            ).select("customer_id", "vin", "climate_region")


#: Additive sums per vehicle a driver's features are ratios of (``days``: reported days,
#: driven or not).
SUMS = ("miles", "manual_miles", "days", "autopilot_miles", "rain_miles", "late_night_miles",
        "hard_braking_miles", "turning_miles", "following_miles", "speeding_miles", "fcw",
        "forced", "pcf_miles")


def driving_sums(days: ir.Table, *by: ir.Value) -> ir.Table:
    """Per ``vin`` (and ``by``): the additive sums :data:`SUMS` of ``telemetry_daily``
    rows. Sums of disjoint sets of rows add up, so they can be kept as rows arrive."""
    manual = days.miles - days.autopilot_miles
    return days.group_by(["vin", *by]).aggregate(
        miles=days.miles.sum(), manual_miles=manual.sum(), days=days.count(),
        autopilot_miles=days.autopilot_miles.sum(), rain_miles=days.rain_miles.sum(),
        late_night_miles=days.late_night_miles.sum(),
        hard_braking_miles=(days.hard_braking_fraction * days.miles).sum(),
        turning_miles=(days.aggressive_turning_fraction * days.miles).sum(),
        following_miles=(days.unsafe_following_fraction * days.miles).sum(),
        speeding_miles=(days.speeding_fraction * days.miles).sum(),
        fcw=days.fcw_count.sum(), forced=days.forced_disengagements.sum(),
        pcf_miles=(_daily_pcf_v22(days) * days.miles).sum())


def features_from_sums(sums: pd.DataFrame, consenting: pd.DataFrame) -> pd.DataFrame:
    """:func:`driver_features` from per-vin :data:`SUMS`, ``claims`` and ``claim_cost``
    (``sums``) and the
    consenting customers (``customer_id``, ``vin``, ``climate_region``)."""
    p = sums[sums.miles > 0].merge(consenting, on="vin")
    manual = p.manual_miles.where(p.manual_miles > 0)
    out = pd.DataFrame({
        "customer_id": p.customer_id, "vin": p.vin, "climate_region": p.climate_region,
        "miles": p.miles, "days": p["days"].astype("int64"),
        "hard_braking": 100 * p.hard_braking_miles / p.miles,
        "aggressive_turning": 100 * p.turning_miles / p.miles,
        "unsafe_following": 100 * p.following_miles / p.miles,
        "excessive_speeding": 100 * p.speeding_miles / p.miles,
        "late_night": 100 * p.late_night_miles / p.miles,
        "forced_per_1000": 1000 * p.forced / p.miles,
        "fcw_per_1000": (1000 * p.fcw / manual).fillna(0.0),
        "autopilot_share": p.autopilot_miles / p.miles, "rain_share": p.rain_miles / p.miles,
        "miles_per_day": p.miles / p["days"],
        "log_miles_per_day": np.log(p.miles / p["days"]),
        "pcf_v22": p.pcf_miles / p.miles, "claims": p.claims.fillna(0).astype("int64"),
        "claim_cost": p.claim_cost.fillna(0.0).astype(float)})
    return out.sort_values("customer_id").reset_index(drop=True)


def driver_features(store: Tables, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """One row per consenting customer with miles on days ``start``–``end`` (inclusive):
    ``customer_id``, ``vin``, ``climate_region``, ``miles``, ``days``, the factors of
    :data:`CHANGEABLE` and :data:`OTHER`, ``miles_per_day``, ``pcf_v22``, ``claims`` and
    ``claim_cost``."""
    consenting = consenting_vehicles(store)
    days = store.table("telemetry_daily")
    # every reported day, driven or not: miles per day are per calendar day, as a price's
    # period is (per driving day they ran ≈ 14 % high, and so did every premium)
    days = days.filter(days.day >= start.date(), days.day <= end.date())
    sums = driving_sums(days.semi_join(consenting, "vin"))
    claims = store.table("insurance_claims")
    claims = claims.filter(claims.event_time >= start,
                           claims.event_time < end + pd.Timedelta(days=1))
    counts = claim_sums(claims.semi_join(consenting, "vin"))
    return features_from_sums(store.execute(sums.left_join(counts, "vin").drop("vin_right")),
                              store.execute(consenting))


def claim_sums(claims: ir.Table, *by: ir.Value) -> ir.Table:
    """Per ``vin`` (and ``by``): ``claims`` (how many) and ``claim_cost`` (USD) of
    ``insurance_claims`` rows; additive, like :func:`driving_sums`."""
    return claims.group_by(["vin", *by]).aggregate(claims=claims.count(),
                                                   claim_cost=claims.amount_usd.sum())


def _daily_pcf_v22(days: ir.Table) -> ir.FloatingValue:
    """Each day's v2.2 PCF as an engine expression (caps applied; unbuckled is 0)."""
    points = {"hard_braking": 100 * days.hard_braking_fraction,
              "aggressive_turning": 100 * days.aggressive_turning_fraction,
              "unsafe_following": 100 * days.unsafe_following_fraction,
              "late_night": ibis.ifelse(days.miles > 0,
                                        100 * days.late_night_miles / days.miles, 0.0),
              "excessive_speeding": 100 * days.speeding_fraction}
    log_pcf = sum(V22_LOG_PER_POINT[name] * ibis.least(value, V22_CAPS[name])
                  for name, value in points.items())
    forced_day = ibis.ifelse(days.forced_disengagements > 0, 1.0, 0.0)
    log_pcf = log_pcf + V22_LOG_PER_POINT["forced_disengagement"] * forced_day
    return _V22_BASE * log_pcf.exp()
