"""Safety: crashes per million miles, on Autopilot and in manual driving, with exact intervals.

Only vehicles whose owners share telemetry count: their miles are the exposure, so only
their crashes are counted. Intervals are the exact (Garwood) Poisson interval.

>>> poisson_rate_ci(7, 1_000_000, per=1_000_000)
(7.0, 2.81..., 14.42...)
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from gigaloop import ml
from gigaloop.store import Tables

MODES = ("autopilot", "manual")


def poisson_rate_ci(
    count: int, exposure: float, *, per: float = 1.0, level: float = 0.95
) -> tuple[float, float, float]:
    """Rate ``count / exposure × per`` with the exact (Garwood) Poisson interval."""
    low, high = ml.poisson_interval(count, exposure / per, level=level)
    return count * per / exposure, float(low), float(high)


def crash_counts_and_miles(store: Tables) -> ir.Table:
    """One row per mode: ``mode``, ``crashes``, ``miles`` (sharing owners only), as one
    Ibis expression: both modes' miles from one aggregate of the telemetry, the crashes
    joined to the consenting owners from the (small) crashes' side. :func:`crash_rates`
    takes the same miles from :meth:`~gigaloop.store.Store.totals` instead, which reads
    only the telemetry files written since its last call."""
    days = store.table("telemetry_daily")
    totals = days.aggregate(autopilot=days.autopilot_miles.sum(),
                            manual=(days.miles - days.autopilot_miles).sum())
    miles = ibis.union(*(totals.select(mode=ibis.literal(mode), miles=totals[mode])
                         for mode in MODES))
    counts = crash_counts(store)
    joined = miles.left_join(counts, miles["mode"] == counts["mode"])
    return joined.select(miles["mode"], crashes=counts.crashes.fill_null(0),
                         miles=miles.miles.fill_null(0.0)).order_by("mode")


def crash_counts(store: Tables) -> ir.Table:
    """Crashes per ``mode`` of vehicles whose owners share telemetry (modes without one
    are absent)."""
    customers = store.table("customers")
    crashes = store.table("crashes")
    sharing = customers.filter(customers.consent_telemetry).select("vin")
    shared = crashes.semi_join(sharing.semi_join(crashes, "vin"), "vin")
    return shared.group_by("mode").aggregate(crashes=shared.count())


def crash_rates(store: Tables, *, level: float = 0.95) -> dict[str, dict[str, Any]]:
    """Per mode: ``crashes``, ``miles``, ``rate`` per million miles and its ``ci`` (None
    without miles).

    >>> import tempfile
    >>> from gigaloop.store import Store
    >>> crash_rates(Store(tempfile.mkdtemp()))["manual"]
    {'crashes': 0, 'miles': 0.0, 'rate': None, 'ci': None}
    """
    counts = store.execute(crash_counts(store)).set_index("mode").crashes
    sums = store.totals("telemetry_daily", ["miles", "autopilot_miles"])
    exposure = {"autopilot": sums["autopilot_miles"],
                "manual": sums["miles"] - sums["autopilot_miles"]}
    out: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        count, miles = int(counts.get(mode, 0)), exposure[mode]
        if miles > 0:
            rate, low, high = poisson_rate_ci(count, miles, per=1e6, level=level)
            out[mode] = {"crashes": count, "miles": miles, "rate": rate, "ci": [low, high]}
        else:
            out[mode] = {"crashes": count, "miles": miles, "rate": None, "ci": None}
    return out


#: Published reference: one crash per 6.69 million miles on Autopilot (Tesla Vehicle
#: Safety Report), as crashes per million miles.
AUTOPILOT_REFERENCE_PER_MILLION = 1 / 6.69


def rates_table(crashes: pd.DataFrame, miles: pd.DataFrame, by: list[str], *,
                level: float = 0.95) -> pd.DataFrame:
    """Crashes per million miles per ``mode`` × ``by`` group, with exact intervals.

    ``crashes`` counts crashes per group (``mode``, the ``by`` columns, ``crashes``);
    ``miles`` sums exposure per group (the ``by`` columns, ``miles`` in all and
    ``autopilot_miles``). Groups without miles have NaN rates.

    >>> c = pd.DataFrame({"mode": ["autopilot"], "v": ["a"], "crashes": [1]})
    >>> m = pd.DataFrame({"v": ["a"], "miles": [3e6], "autopilot_miles": [1e6]})
    >>> rates_table(c, m, ["v"])[["mode", "crashes", "rate"]].values.tolist()
    [['autopilot', 1, 1.0], ['manual', 0, 0.0]]
    """
    exposure = miles.groupby(by, dropna=False)[["miles", "autopilot_miles"]].sum()
    exposure = pd.concat({"autopilot": exposure["autopilot_miles"],
                          "manual": exposure["miles"] - exposure["autopilot_miles"]},
                         names=["mode"]).rename("exposure")
    counts = crashes.groupby(["mode", *by], dropna=False)["crashes"].sum()
    out = pd.concat([exposure, counts], axis=1).fillna({"crashes": 0, "exposure": 0.0})
    out = out.reset_index().astype({"crashes": int}).rename(columns={"exposure": "miles"})
    cis = [poisson_rate_ci(k, e, per=1e6, level=level) if e > 0 else (np.nan,) * 3
           for k, e in zip(out["crashes"], out["miles"], strict=True)]
    out[["rate", "low", "high"]] = np.array(cis, dtype=float).reshape(-1, 3)
    return out.sort_values(["mode", *by], ignore_index=True)


def crash_rates_by(store: Tables, by: str, *, level: float = 0.95) -> pd.DataFrame:
    """Rates per mode and ``software_version``, ``hardware_revision`` or ``week``
    (Monday of the crash or telemetry day), sharing owners only. Miles per version or day
    come from :meth:`~gigaloop.store.Store.group_totals` (kept per file), per hardware
    revision from a join in the engine; crashes are counted per group by the engine."""
    if by not in ("software_version", "hardware_revision", "week"):
        raise ValueError(f"unknown grouping {by!r}")
    customers = store.table("customers")
    sharing = customers.filter(customers.consent_telemetry).select("vin")
    crashes = store.table("crashes").semi_join(sharing, "vin")
    if by == "hardware_revision":
        vehicles = store.table("vehicles").select("vin", "hardware_revision")
        days = store.table("telemetry_daily").inner_join(vehicles, "vin")
        miles = store.execute(days.group_by(by).aggregate(
            miles=days.miles.sum(), autopilot_miles=days.autopilot_miles.sum()))
        crashes = crashes.inner_join(vehicles, "vin")
    else:
        column = "day" if by == "week" else by
        miles = store.group_totals("telemetry_daily", ["miles", "autopilot_miles"], column)
        miles = miles.rename_axis(column).reset_index()
    if by == "week":
        crashes = crashes.mutate(week=crashes.event_time.truncate("W").date())
    counted = store.execute(crashes.group_by(["mode", by]).aggregate(crashes=crashes.count()))
    if by == "week":  # engines differ in how a truncated date comes back
        counted["week"] = pd.to_datetime(counted["week"]).dt.date
        miles["week"] = _monday(miles.pop("day"))
    return rates_table(counted, miles, [by], level=level)


def _monday(days: pd.Series) -> pd.Series:
    day = pd.to_datetime(days)
    return (day - pd.to_timedelta(day.dt.weekday, unit="D")).dt.date
