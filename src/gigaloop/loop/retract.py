"""Findings that no longer stand: re-tested when a scan does not find them again, and
retracted when their evidence has faded.

A finding is one look at data that keeps arriving; a later scan may not see it again,
either because its q-value wandered over the bar (it still stands) or because it was
never real. So a finding missing from a scan is re-tested on the vehicles it named, in
today's population, and retracted — for good: found again later, it is a new finding —
when

* its effect interval reaches 1: those vehicles fail no more often than the rest
  (stratified log-rank as in the scan, the usage-adjusted rate for a rate measure), or
* a better explanation has taken its cases: a finding of the same failure mode seen in
  this scan names at least :data:`TAKEN_SHARE` of its failed vehicles.

A finding whose change has taken effect is not re-tested here: the fix itself fades its
evidence (a replaced pack fades like any other), and the impact check judges the change.

>>> from datetime import date
>>> import pandas as pd
>>> n = 400
>>> pop = Population(as_of=date(2025, 1, 1), vin=np.arange(n).astype(str),
...     build_date=np.full(n, np.datetime64("2024-01-01")),
...     delivered_on=np.full(n, np.datetime64("2024-01-02")),
...     in_service_days=np.full(n, 300.0), climate=np.full(n, "hot"),
...     usage=pd.DataFrame({"miles_per_day": np.full(n, 30.0)}), attributes=[],
...     first_failure_days={"seal": np.where(np.arange(n) % 10 == 0, 100.0, np.nan)},
...     readings={}, station_machines={})
>>> named = np.arange(n) < 100  # fails like everyone else
>>> fading_reason(pop, "seal", named, [])
'its effect interval now reaches 1: hazard ratio 1.00 (0.49–2.05)'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gigaloop import ml
from gigaloop.loop.adjust import rate_covariates, usage_strata
from gigaloop.loop.population import Population
from gigaloop.loop.rootcause import RootCauseConfig

#: A finding whose failed vehicles are at least this share of another's is explained by it.
TAKEN_SHARE = 0.9


def fading_reason(pop: Population, mode: str, members: np.ndarray,
                  standing: list[tuple[dict[str, Any], np.ndarray]],
                  config: RootCauseConfig | None = None) -> str | None:
    """Why a finding of ``mode`` on the vehicles ``members`` (a mask over ``pop``) no
    longer stands, or None while it may; ``standing``: (record, members) of the findings
    of this scan."""
    config = config or RootCauseConfig()
    if not members.any() or members.all():
        return None
    if mode in pop.rates:
        return _rate_faded(pop, mode, members, config)
    if mode not in pop.first_failure_days:
        return None
    duration, event = pop.survival(mode)
    failed = members & event
    for record, other in standing:
        if record["failure_mode"] == mode and failed.any() \
                and (failed & other).sum() >= TAKEN_SHARE * failed.sum():
            names = ", ".join(f"{k}={v}" for k, v in record["names"].items())
            return f"its failures are explained by {record['id']} ({names})"
    scan = ml.logrank_scan(duration, event, members.astype(np.int32)[:, None],
                           strata=usage_strata(pop))
    row = scan[scan.level == 1].iloc[0]
    if row.hr_low > 1.0:
        return None
    return (f"its effect interval now reaches 1: hazard ratio {row.hazard_ratio:.2f} "
            f"({row.hr_low:.2f}–{row.hr_high:.2f})")


def _rate_faded(pop: Population, mode: str, members: np.ndarray,
                config: RootCauseConfig) -> str | None:
    _, rate, weight, ok = pop.rates[mode]
    if ok.sum() < config.min_rate_units or not (members & ok).any():
        return None
    scan = ml.adjusted_rate_scan(rate[ok], rate_covariates(pop)[ok],
                                 members[ok].astype(np.int32)[:, None], weight[ok])
    row = scan[scan.level == 1]
    base = float(np.average(rate[ok], weights=weight[ok]))
    if row.empty or base <= 0:
        return None
    low, effect, high = ((base + row.iloc[0][c]) / base
                         for c in ("effect_low", "effect", "effect_high"))
    if low > 1.0:
        return None
    return f"its effect interval now reaches 1: rate ratio {effect:.2f} ({low:.2f}–{high:.2f})"
