"""30-day Safety Scores for consenting customers from ``telemetry_daily`` rows.

A customer is scored only with both ``consent_telemetry`` and ``consent_insurance``;
the others' telemetry is dropped before any factor is computed.

>>> import pandas as pd
>>> days = pd.DataFrame({"vin": ["A", "A", "B"],
...     "day": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-02"]),
...     "miles": [30.0, 10.0, 20.0], "autopilot_miles": [0.0, 0.0, 0.0],
...     "fcw_count": [0, 0, 0], "hard_braking_fraction": [0.0, 0.02, 0.0],
...     "aggressive_turning_fraction": [0.0] * 3, "unsafe_following_fraction": [0.0] * 3,
...     "speeding_fraction": [0.0] * 3, "late_night_miles": [0.0] * 3,
...     "forced_disengagements": [0, 0, 0]})
>>> owners = pd.DataFrame({"customer_id": ["c1", "c2"], "vin": ["A", "B"],
...     "consent_telemetry": [True, True], "consent_insurance": [True, False]})
>>> # day 1: 30 mi at 100; day 2: 10 mi with 2 % hard braking scores 88.31 → (3000 + 883.1) / 40
>>> scores = consenting_scores(days, owners, as_of=pd.Timestamp("2026-01-02"))
>>> list(scores.customer_id), round(float(scores.score_v22.iloc[0]), 2)
(['c1'], 97.08)
"""
from __future__ import annotations

import pandas as pd

from gigaloop.customer.safety_score import daily_scores

WINDOW_DAYS = 30


def consenting_scores(telemetry: pd.DataFrame, customers: pd.DataFrame,
                      as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per consenting customer with miles in the 30 days to ``as_of``:
    customer_id, vin, miles, score_v1, score_v22 (mileage-weighted, 0–100)."""
    consenting = customers[customers.consent_telemetry.astype(bool)
                           & customers.consent_insurance.astype(bool)]
    window = telemetry[(telemetry.day > as_of - pd.Timedelta(days=WINDOW_DAYS))
                       & (telemetry.day <= as_of)
                       & telemetry.vin.isin(consenting.vin)]
    weighted = window[["vin", "miles"]].assign(
        v1=daily_scores(window, "1.0") * window["miles"],
        v22=daily_scores(window, "2.2") * window["miles"])
    weighted = weighted[weighted["miles"] > 0]
    sums = weighted.groupby("vin", sort=True)[["miles", "v1", "v22"]].sum()
    scored = pd.DataFrame({"vin": sums.index, "miles": sums["miles"].to_numpy(),
                           "score_v1": (sums["v1"] / sums["miles"]).clip(0, 100).to_numpy(),
                           "score_v22": (sums["v22"] / sums["miles"]).clip(0, 100).to_numpy()})
    return consenting[["customer_id", "vin"]].merge(scored, on="vin")
