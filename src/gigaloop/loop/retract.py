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
  this scan names at least :data:`TAKEN_SHARE` of its failed vehicles, or, with the
  vehicles of this scan's findings of its mode set aside, its own fail no more than
  chance (:func:`~gigaloop.loop.standing.stands_alone`, as selection's backward step;
  for a rate measure, its own rate is no longer a candidate's,
  :func:`~gigaloop.loop.standing.rate_stands_alone`: a camera lot found alone, then the
  revision it belongs to).

A finding whose change has taken effect is not re-tested here: the fix itself fades its
evidence (a replaced pack fades like any other), and the impact check judges the change.

The data that selected a finding keeps supporting it (the winner's curse: of many levels
tested, the one that stood out by chance was picked *because* it stood out), so every
standing finding — seen again this scan or not, acted on or not — is also re-tested on
the evidence that came after it was made (:func:`post_finding_reason`): the failures of
its named vehicles against the rest's from the finding's date on, left-truncated there
(only the vehicles in service and not yet failed then; time counted from then; a vehicle
its change's campaign called in is censored at that visit), stratified as the scan is
(climate × mileage band) and by age at the finding date. It is retracted when

* enough exposure has accrued — the named vehicles would have had at least
  :data:`MIN_POST_EXPECTED` failures since, had its effect been its own lower bound
  L (L × E ≥ 5, E their expected failures at the rest's rate) — and
* the 95 % upper bound of the post-finding hazard ratio is below L (the larger of the
  log-rank's Pike bound and the exact Poisson bound on O given E, over the rest's O/E):
  the effect since is smaller than the least the finding claimed.

A real effect keeps failing its vehicles at its rate after the finding and stands (at
its lower bound, a look retracts it with chance ≤ 2.5 %); a chance one falls back to the
base rate and fades as the exposure grows. A rate measure (sums over each car's life,
not split by date) has no post-finding test. A key so retracted is not raised again while
the evidence since the first finding's date still refutes it
(:class:`~gigaloop.loop.modules.RootCauseModule`): the data that chose it would choose it
again.

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

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from gigaloop import ml
from gigaloop.loop.adjust import usage_strata
from gigaloop.loop.finding import names_text
from gigaloop.loop.population import Population
from gigaloop.loop.rootcause import RootCauseConfig
from gigaloop.loop.standing import rate_ratio, rate_stands_alone, stands_alone

#: A finding whose failed vehicles are at least this share of another's is explained by it.
TAKEN_SHARE = 0.9
#: Post-finding evidence is judged once the named vehicles' expected failures since the
#: finding, at the finding's lower bound, reach this.
MIN_POST_EXPECTED = 5.0
#: Age at the finding date is cut into this many quantile bands (strata beside usage).
POST_AGE_BANDS = 4


def fading_reason(pop: Population, mode: str, members: np.ndarray,
                  standing: list[tuple[dict[str, Any], np.ndarray]],
                  config: RootCauseConfig | None = None) -> str | None:
    """Why a finding of ``mode`` on the vehicles ``members`` (a mask over ``pop``) no
    longer stands, or None while it may; ``standing``: (record, members) of the findings
    of this scan."""
    config = config or RootCauseConfig()
    if not members.any() or members.all():
        return None
    beside = [(record, other) for record, other in standing  # its mode's, sharing vehicles
              if record["failure_mode"] == mode and (other & members).any()]
    if mode in pop.rates:
        return _rate_faded(pop, mode, members, beside, config)
    if mode not in pop.first_failure_days:
        return None
    duration, event = pop.survival(mode)
    failed = members & event
    for record, other in standing:
        if record["failure_mode"] == mode and failed.any() \
                and (failed & other).sum() >= TAKEN_SHARE * failed.sum():
            names = names_text(record["names"])
            return f"its failures are explained by {record['id']} ({names})"
    strata = usage_strata(pop)
    if beside:
        others = np.logical_or.reduce([other for _, other in beside])
        if not stands_alone(duration, event, members & ~others, others, strata, config):
            ids = ", ".join(record["id"] for record, _ in beside)
            return (f"its excess is explained by {ids}: without their vehicles, its own fail "
                    "no more than chance")
    scan = ml.logrank_scan(duration, event, members.astype(np.int32)[:, None], strata=strata)
    row = scan[scan.level == 1].iloc[0]
    if row.hr_low > 1.0:
        return None
    return (f"its effect interval now reaches 1: hazard ratio {row.hazard_ratio:.2f} "
            f"({row.hr_low:.2f}–{row.hr_high:.2f})")


def _rate_faded(pop: Population, mode: str, members: np.ndarray,
                beside: list[tuple[dict[str, Any], np.ndarray]],
                config: RootCauseConfig) -> str | None:
    """:func:`fading_reason` for a rate measure; ``beside``: the findings of its measure in
    this scan that share vehicles with it."""
    ok = pop.rates[mode].usable
    if ok.sum() < config.min_rate_units or not (members & ok).any():
        return None
    if beside:
        others = np.logical_or.reduce([other for _, other in beside])
        if not rate_stands_alone(pop, mode, members & ~others, others, config):
            ids = ", ".join(record["id"] for record, _ in beside)
            return (f"its excess is explained by {ids}: without their vehicles, its own rate "
                    "is no higher than chance allows")
    ratio = rate_ratio(pop, mode, members, ok)
    if ratio is None or ratio[1] > 1.0:
        return None
    _, low, effect, high = ratio
    return f"its effect interval now reaches 1: rate ratio {effect:.2f} ({low:.2f}–{high:.2f})"


def post_finding_reason(pop: Population, mode: str, members: np.ndarray, found_on: date,
                        low: float, visits: pd.Series | None = None) -> str | None:
    """Why a finding of ``mode`` on ``members`` (a mask over ``pop``), made on
    ``found_on`` with lower bound ``low``, is contradicted by what came after it, or None
    while it is not (or cannot be yet). ``visits``: VIN → day (datetime64) its change's
    campaign serviced it; a serviced vehicle counts only until then.

    Rate measures are not judged here (None)."""
    if mode in pop.rates or mode not in pop.first_failure_days or not low > 1.0:
        return None
    elapsed = float((np.datetime64(pop.as_of, "D") - np.datetime64(found_on, "D")
                     ).astype(int))
    if elapsed <= 0:
        return None
    duration, event = pop.survival(mode)
    entry = pop.in_service_days - elapsed  # age at the finding date
    at_risk = (entry >= 0) & ~(event & (duration <= entry))
    since = duration - entry
    if visits is not None and len(visits):
        visit = pd.Series(pop.vin).map(visits).to_numpy(dtype="datetime64[D]")
        stop = np.where(np.isnat(visit), np.nan,
                        (visit - np.datetime64(found_on, "D")).astype(float))
        served = np.isfinite(stop) & (stop < since)
        at_risk &= ~(served & (stop <= 0))
        since, event = np.where(served, stop, since), event & ~served
    named = members[at_risk]
    if not named.any() or named.all():
        return None
    since, event, entry = since[at_risk], event[at_risk], entry[at_risk]
    edges = np.unique(np.quantile(entry, np.linspace(0, 1, POST_AGE_BANDS + 1)[1:-1]))
    strata = usage_strata(pop)[at_risk] * (len(edges) + 1) + np.searchsorted(edges, entry)
    scan = ml.logrank_scan(since, event, named.astype(np.int32)[:, None],
                           strata=pd.factorize(strata)[0])
    row = scan[scan.level == 1].iloc[0]
    observed, expected = float(row.observed), float(row.expected)
    rest_observed, rest_expected = event.sum() - observed, event.sum() - expected
    if low * expected < MIN_POST_EXPECTED or rest_observed <= 0 or rest_expected <= 0:
        return None
    exact = ml.poisson_interval(observed, expected)[1] / (rest_observed / rest_expected)
    high = max(float(row.hr_high), float(exact))
    if high >= low:
        return None
    return (f"since it was made ({found_on.isoformat()}), its vehicles failed {observed:.0f} "
            f"times where {expected:.1f} were expected: hazard ratio "
            f"{float(row.hazard_ratio):.2f} (up to {high:.2f}), under its lower bound {low:.2f}")
