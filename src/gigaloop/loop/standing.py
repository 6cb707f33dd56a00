"""Whether a set of vehicles still stands as a cause once others are set aside: the last
step of a mode's forward selection (:mod:`gigaloop.loop.selection`), the test of the
rest of a set around a narrower one (:mod:`gigaloop.loop.periods`), and a scan row
restated on the set a finding ends up naming."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gigaloop import ml
from gigaloop.loop.adjust import rate_covariates
from gigaloop.loop.finding import Finding, RootCauseConfig
from gigaloop.loop.population import Population


def restated(pop: Population, mode: str, members: np.ndarray, row: pd.Series,
             strata: np.ndarray) -> pd.Series:
    """A scan row re-computed for the set of vehicles ``members`` (a localised window, a
    supplier's units in it; q stays the row's)."""
    duration, event = pop.survival(mode)
    scan = ml.logrank_scan(duration, event, members.astype(np.int32)[:, None], strata=strata)
    inside = scan[scan.level == 1]
    if inside.empty:
        return row
    fresh = inside.iloc[0]
    out = row.copy()
    for column, source in (("effect", "hazard_ratio"), ("low", "hr_low"), ("high", "hr_high"),
                           ("p", "p"), ("observed", "observed"), ("expected", "expected"),
                           ("z", "z")):
        out[column] = fresh[source]
    return out


def rest_stands(duration: np.ndarray, event: np.ndarray, inner: np.ndarray,
                outer: np.ndarray, strata: np.ndarray, config: RootCauseConfig) -> bool:
    """Whether ``outer``'s units outside ``inner``, against the units outside ``outer``,
    show an excess of their own (:func:`stands_alone`, ``inner`` set aside)."""
    return stands_alone(duration, event, outer & ~inner, inner, strata, config)


def backward(pop: Population, mode: str, chosen: list[Finding], strata: np.ndarray,
              config: RootCauseConfig) -> list[Finding]:
    """The chosen findings, in the order taken, without those that no longer stand once the
    vehicles of the others are set aside: a later pick stood without an earlier one's
    vehicles, but the earlier was never re-tested without the later's (a fortnight's
    window of one station inside the months a supplier shipped bad parts, taken first for
    its larger excess, is the supplier's once the supplier is found)."""
    if len(chosen) < 2 or mode in pop.rates:
        return chosen
    duration, event = pop.survival(mode)
    kept = list(chosen)
    for finding in chosen:
        others = np.zeros(len(pop), dtype=bool)
        for other in kept:
            if other is not finding:
                others |= other.members
        if (finding.members & others).any() and not stands_alone(
                duration, event, finding.members & ~others, others, strata, config):
            kept.remove(finding)
    return kept


def stands_alone(duration: np.ndarray, event: np.ndarray, units: np.ndarray,
                  set_aside: np.ndarray, strata: np.ndarray, config: RootCauseConfig) -> bool:
    """Whether ``units`` fail beyond chance (p ≤ alpha with its exact floor, an effect
    credibly above the floor) against the units neither they nor ``set_aside`` hold."""
    codes = np.where(set_aside, -1, units.astype(np.int32)).astype(np.int32)[:, None]
    test = ml.logrank_scan(duration, event, codes, strata=strata)
    floor = ml.exact_share_p(test.observed, test.expected, np.full(len(test),
                                                                     test.observed.sum()))
    test = test.assign(p=np.maximum(test.p.to_numpy(), floor))
    test = test[test.level == 1]
    return bool(not test.empty and test.observed.iloc[0] >= config.min_signal_events
                and test.p.iloc[0] <= config.alpha
                and test.hr_low.iloc[0] >= config.min_effect_low)


def rate_stands_alone(pop: Population, mode: str, units: np.ndarray, set_aside: np.ndarray,
                      config: RootCauseConfig) -> bool:
    """Whether ``units``' usage-adjusted rate of the rate measure ``mode`` stands above the
    rate of the vehicles neither they nor ``set_aside`` hold, as a scan's candidate must
    (p ≤ alpha, the ratio's lower bound at least ``min_rate_effect_low``): a camera lot
    made entirely of a revision found since has no units of its own left and does not.
    """
    ok = pop.rates[mode].usable
    compared = ok & (units | ~set_aside)
    inside = units & compared
    if inside.sum() < 10 or compared.sum() < config.min_rate_units or inside.all():
        return False
    ratio = rate_ratio(pop, mode, inside, compared)
    return ratio is not None and ratio[0] <= config.alpha \
        and ratio[1] >= config.min_rate_effect_low


def rate_ratio(pop: Population, mode: str, units: np.ndarray, among: np.ndarray
               ) -> tuple[float, float, float, float] | None:
    """The usage-adjusted rate ratio of the rate measure ``mode`` of ``units`` against the
    rest of ``among`` (masks over ``pop``): (p, lower bound, ratio, upper bound), or None
    when the rest's rate is not positive."""
    rate, weight = pop.rates[mode].rate, pop.rates[mode].weight
    scan = ml.adjusted_rate_scan(rate[among], rate_covariates(pop, mode)[among],
                                 units[among].astype(np.int32)[:, None], weight[among])
    row = scan[scan.level == 1]
    base = float(np.average(rate[among], weights=weight[among]))
    if row.empty or base <= 0:
        return None
    low, effect, high = ((base + float(row.iloc[0][c])) / base
                         for c in ("effect_low", "effect", "effect_high"))
    return float(row.iloc[0].p), low, effect, high


__all__ = ["backward", "rate_ratio", "rate_stands_alone", "rest_stands", "stands_alone"]
