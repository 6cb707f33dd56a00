"""Safety: crashes per million miles, on Autopilot and in manual driving, with exact intervals.

Only vehicles whose owners share telemetry count: their miles are the exposure, so only
their crashes are counted. Intervals are the exact (Garwood) Poisson interval.

>>> poisson_rate_ci(7, 1_000_000, per=1_000_000)
(7.0, 2.81..., 14.42...)
"""

from __future__ import annotations

from typing import Any, Protocol

import ibis.expr.types as ir

from gigaloop import ml

MODES = ("autopilot", "manual")


class Tables(Protocol):
    """Where queries get their tables: a store or a view of one."""

    def table(self, name: str) -> ir.Table: ...

    def execute(self, expr: ir.Expr) -> Any: ...


def poisson_rate_ci(
    count: int, exposure: float, *, per: float = 1.0, level: float = 0.95
) -> tuple[float, float, float]:
    """Rate ``count / exposure × per`` with the exact (Garwood) Poisson interval."""
    low, high = ml.poisson_interval(count, exposure / per, level=level)
    return count * per / exposure, float(low), float(high)


def crash_counts_and_miles(store: Tables) -> dict[str, tuple[int, float]]:
    """Per mode: (crashes, miles), sharing owners only. The miles of both modes are one
    pass over the telemetry; the crashes are joined to the consenting owners from the
    (small) crashes' side."""
    days = store.table("telemetry_daily")
    miles = store.execute(days.aggregate(
        autopilot=days.autopilot_miles.sum(), manual=(days.miles - days.autopilot_miles).sum()))
    customers = store.table("customers")
    crashes = store.table("crashes")
    shared = crashes.inner_join(customers.filter(customers.consent_telemetry).select("vin"),
                                "vin")
    counts = store.execute(shared.group_by("mode").aggregate(crashes=shared.count()))
    crashed = dict(zip(counts["mode"], counts["crashes"], strict=True))
    return {mode: (int(crashed.get(mode, 0)), float(miles[mode].fillna(0.0).iloc[0]))
            for mode in MODES}


def crash_rates(store: Tables, *, level: float = 0.95) -> dict[str, dict[str, Any]]:
    """Per mode: ``crashes``, ``miles``, ``rate`` per million miles and its ``ci`` (None
    without miles).

    >>> import tempfile
    >>> from gigaloop.store import Store
    >>> crash_rates(Store(tempfile.mkdtemp()))["manual"]
    {'crashes': 0, 'miles': 0.0, 'rate': None, 'ci': None}
    """
    out: dict[str, dict[str, Any]] = {}
    for mode, (count, miles) in crash_counts_and_miles(store).items():
        if miles > 0:
            rate, low, high = poisson_rate_ci(count, miles, per=1e6, level=level)
            out[mode] = {"crashes": count, "miles": miles, "rate": rate, "ci": [low, high]}
        else:
            out[mode] = {"crashes": count, "miles": miles, "rate": None, "ci": None}
    return out
