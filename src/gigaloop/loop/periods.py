"""A process window whose excess is one supplier's: the supply level built in it, named.

A process finding localised to a build window (a reading that drifted, a machine) marks
every unit its station built then, and a station with one machine builds every unit: the
window stands for the period, so any cause of that period passes for it — a supplier that
shipped bad parts for two months, a revision introduced then. The data can tell the two
apart when the period's parts came from more than one source: a process fault harms every
unit the station built in the window whichever supplier's parts it carries, a supply
fault only the units with that supplier's parts.

So before a process window becomes a finding (:func:`supply_in_window`), each level of the
supply attributes (:data:`~gigaloop.loop.windows.WINDOW_KINDS`: supplier, hardware
revision, trim) with units on both sides is tested inside the window: its units against
the window's other units, stratified log-rank as every test, its p (with its exact floor)
multiplied by the hypotheses tried (the two levels of a two-level attribute are one).
When the best such level clears ``alpha`` and the window's other units show no excess of
their own against the units built outside it (:func:`rest_stands`), the excess is that
level's, and the finding names the level in the window (a supplier's build window, as
root cause's own window scan finds one) instead of the process. A real process fault
leaves the levels inside its window alike, and a level chosen by chance among them is
held to ``alpha`` over all of them.

A level another finding about the same component has already named (the claims' finding
of a supplier, for its owners' complaints) is the hypothesis itself: when it has units in
the window it is the only level tried, one test, not one among all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gigaloop import ml
from gigaloop.loop.finding import Finding, RootCauseConfig, component_of
from gigaloop.loop.population import Attribute, Population
from gigaloop.loop.standing import rest_stands, restated
from gigaloop.loop.windows import WINDOW_KINDS, compared_failures

#: Units a level (and the rest of the window) needs inside a window to be tried.
MIN_UNITS = 30
#: Kinds of a station's process whose finding may name a build window.
PROCESS_KINDS = ("reading", "machine", "drift")


def supply_finding(pop: Population, mode: str, attribute: Attribute, names: dict[str, Any],
                   members: np.ndarray, row: pd.Series, strata: np.ndarray,
                   config: RootCauseConfig, known: Sequence[Finding] = ()
                   ) -> tuple[Attribute, dict[str, Any], np.ndarray, pd.Series] | None:
    """A process window's finding (``attribute``, ``names``, its units ``members``, its scan
    ``row``) as the supply level whose units in the window carry its excess: attribute,
    names, units and the row restated on them; None for any other finding, or when no
    level does (:func:`supply_in_window`, the supply levels ``known`` findings about the
    same component name tried first)."""
    if attribute.kind not in PROCESS_KINDS or "window" not in names:
        return None
    named = [f.names for f in known if f.kind in WINDOW_KINDS
             and component_of(f.failure_mode) == component_of(mode)]
    found = supply_in_window(pop, mode, members, pop.attributes, strata, config, named)
    if found is None:
        return None
    supplier, level, units = found
    return (supplier, names_in_window(supplier, level, names), units,
            restated(pop, mode, units, row, strata))


def supply_in_window(pop: Population, mode: str, members: np.ndarray,
                     attributes: list[Attribute], strata: np.ndarray,
                     config: RootCauseConfig, named: Sequence[dict[str, Any]] = ()
                     ) -> tuple[Attribute, int, np.ndarray] | None:
    """The supply level whose units inside the process window ``members`` carry its
    excess, as (attribute, level, its units built in the window's days, through any
    machine); None when no level stands apart, or the window's other units fail more too.
    ``named``: the names of levels already found for the same component (the only ones
    tried when any of them can be).

    >>> from datetime import date
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> n = 6000
    >>> supplier = rng.choice([0, 1], n, p=[0.7, 0.3]).astype(np.int32)
    >>> window = np.arange(n) >= 4000                   # the last third of the builds
    >>> bad = window & (supplier == 0)                  # supplier 0's parts, then
    >>> life = rng.exponential(900 / np.where(bad, 3.0, 1.0))
    >>> pop = Population(as_of=date(2025, 12, 1), vin=np.arange(n).astype(str),
    ...     build_date=np.datetime64("2025-01-01") + np.arange(n) // 20,
    ...     delivered_on=np.datetime64("2025-01-05") + np.arange(n) // 20,
    ...     in_service_days=np.full(n, 300.0), climate=np.full(n, "hot"),
    ...     usage=pd.DataFrame({"miles_per_day": np.full(n, 30.0)}),
    ...     attributes=[Attribute("supplier:P", "supplier", supplier, ["SUPA", "SUPB"],
    ...                           {"part": "P"})],
    ...     first_failure_days={"seal": np.where(life < 300, life, np.nan)},
    ...     readings={}, station_machines={})
    >>> found = supply_in_window(pop, "seal", window, pop.attributes,
    ...                          np.zeros(n, np.int64), RootCauseConfig())
    >>> found[0].names(found[1]), int(found[2].sum()) == int(bad.sum())
    ({'supplier': 'SUPA', 'part': 'P'}, True)
    """
    if mode in pop.rates:
        return None
    tried, hypotheses = _testable_levels(members, attributes, named) if named else ([], 0)
    if not tried:
        tried, hypotheses = _testable_levels(members, attributes)
    if not tried:
        return None
    columns = [np.where(inner, 1, np.where(members & (attribute.codes >= 0), 0, -1))
               for attribute, _, inner in tried]
    duration, event = pop.survival(mode)
    scan = ml.logrank_scan(duration, event, np.asfortranarray(np.column_stack(columns),
                                                              dtype=np.int32), strata=strata)
    floor = ml.exact_share_p(scan.observed, scan.expected, compared_failures(scan, ["attribute"]))
    scan = scan.assign(p=np.maximum(scan.p.to_numpy(), floor))
    apart = scan[(scan.level == 1) & (scan.z > 0) & (scan.observed >= config.min_events)]
    if apart.empty:
        return None
    best = apart.loc[apart.p.idxmin()]
    if best.p * hypotheses > config.alpha:
        return None
    attribute, level, inner = tried[int(best.attribute)]
    if rest_stands(duration, event, inner, members, strata, config):
        return None  # the window's other units fail too: a cause of the process or period
    built = pop.build_date[members]
    return attribute, level, (attribute.codes == level) & (pop.build_date >= built.min()) & (
        pop.build_date <= built.max())  # all its units built then, whichever machine


def _testable_levels(members: np.ndarray, attributes: list[Attribute],
                     named: Sequence[dict[str, Any]] | None = None
                     ) -> tuple[list[tuple[Attribute, int, np.ndarray]], int]:
    """The supply levels with :data:`MIN_UNITS` units inside the window ``members`` and
    outside them in it, as (attribute, level, its units in the window), and the number of
    hypotheses they are (the two levels of a two-level attribute are one two-sided test);
    only the levels whose names a ``named`` entry holds, when given."""
    tried: list[tuple[Attribute, int, np.ndarray]] = []
    hypotheses = 0
    for attribute in attributes:
        if attribute.kind not in WINDOW_KINDS:
            continue
        compared = members & (attribute.codes >= 0)
        present = np.unique(attribute.codes[compared])
        before = len(tried)
        for level in present:
            if named is not None and not any(
                    names.items() >= attribute.names(int(level)).items() for names in named):
                continue
            inner = compared & (attribute.codes == level)
            if min(inner.sum(), (compared & ~inner).sum()) < MIN_UNITS:
                continue
            tried.append((attribute, int(level), inner))
        hypotheses += min(len(tried) - before, 1 if len(present) == 2 else len(present))
    return tried, hypotheses


def names_in_window(attribute: Attribute, level: int, window_names: dict[str, Any]
                    ) -> dict[str, Any]:
    """The supply level's names with the process finding's build window."""
    return {**attribute.names(level), "window": window_names["window"]}


__all__ = ["MIN_UNITS", "PROCESS_KINDS", "names_in_window", "supply_finding", "supply_in_window"]
