"""Root cause: which factory attributes go with each field failure mode, ranked, with FDR.

For every failure mode — each component's failures (time to first failure, censored
at the analysis date) and each rate measure the schema declares, measured on every car
(:data:`gigaloop.schema.RATE_MEASURES`: a trend such as battery fade, SoH against √days
in service, or events per exposure such as disengagements per rain mile), and each
component's owners' first complaint about it (``complaint:<component>``, a failure felt
before the claim; in the claims' FDR tree, as modes of their own: a level's complaints
and its claims are two looks at one cause, and a tree of their own let a chance cluster
of claims through twice) — every level of every genealogy attribute is tested against the
rest: a log-rank test stratified by climate × mileage band for failures
(:mod:`gigaloop.loop.adjust`), a usage-adjusted Welch test for rates, so usage does not
masquerade as a factory cause. Suppliers, revisions and
trims are compared with the units built beside them, over their whole span and in their
best build window (:mod:`gigaloop.loop.windows`, Bonferroni over the windows searched);
every level of a failure mode is also tested within each climate and each band of miles per
day, for a cause that bites in one of them only (:mod:`gigaloop.loop.subgroups`: a
false-discovery family of their own, as the signals have, so they cannot relax the scan's
bar). The trees of families — the claims', the signals', the subgroups' — share ``alpha``
(Bonferroni: a third each when all three are tested, :mod:`gigaloop.loop.families`): each
holds its rate, so under no cause at all each would make a finding with chance up to
``alpha`` at every weekly scan.
The false discovery rate is controlled over all tests of all modes as a tree of families
(Benjamini–Bogomolov at each level): modes, then each mode's attributes (a lot attribute
with its hundreds of lots is one, a revision with its two levels and windows another),
then their levels; a finding also needs a credible effect (95 % lower bound ≥
``min_effect_low``, +10 %; +25 % for a rate measured on every car). Within a mode,
findings are picked greedily by the failures they explain; each next pick must still stand
once the vehicles already explained are set aside, so a supplier does not repeat its weak
lot (:mod:`gigaloop.loop.selection`). Process-reading and machine findings are localised
in time (change point on the build date) into a station + window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from gigaloop import ml
from gigaloop.fleet.usage import MeasuredRates
from gigaloop.loop.adjust import rate_covariates, usage_strata
from gigaloop.loop.families import add_signal_tree, add_subgroup_tree, claims_tree, tree_count
from gigaloop.loop.finding import (
    CAUSE_KINDS,
    Adjustment,
    Finding,
    RootCauseConfig,
    is_complaint,
)
from gigaloop.loop.population import TESTED_DEPTH, Attribute, Population
from gigaloop.loop.selection import select_findings
from gigaloop.loop.subgroups import Subgroups, searched_by_subgroup, subgroup_candidates
from gigaloop.loop.windows import (
    WINDOW_KINDS,
    CodeMatrix,
    LevelAttribute,
    WindowCandidate,
    compared_failures,
    contemporaries,
    mark_window_rows,
    window_candidates,
)


def find_root_causes(pop: Population, config: RootCauseConfig | None = None,
                     signals: list[Attribute] | None = None) -> list[Finding]:
    """Every finding of every failure mode in ``pop``, ranked within its mode.

    ``signals``: hypotheses stated before the field saw anything (units a control chart
    flagged, :mod:`gigaloop.loop.signals`), tested as a family of their own in every mode
    and needing only ``min_signal_events`` failures. The scan of each mode is
    :func:`scan_mode` on a :func:`prepare_scan` (so modes can be scanned by two processes,
    :func:`gigaloop.loop.worker.share`); :func:`combine_scans` decides from them.
    """
    config = config or RootCauseConfig()
    scan = prepare_scan(pop, config, signals)
    return combine_scans(scan, [scan_mode(scan, i) for i in range(len(scan.modes))])


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


@dataclass
class ScanSetup:
    """What every mode's scan shares: the population, the attributes tested (plain ones
    and revisions' contemporaries) as one code matrix, the signals' code matrix, the usage
    adjustment, and the modes in the order they are scanned (claims and rates, then
    complaints)."""

    pop: Population
    config: RootCauseConfig
    signals: list[Attribute]
    plain: list[Attribute]
    attributes: list[Attribute]
    levels: list[LevelAttribute]
    codes: np.ndarray
    signal_codes: np.ndarray
    adjust: Adjustment
    subgroups: Subgroups
    modes: list[str]


@dataclass
class ModeScan:
    """One mode's tests (rows cut, p not yet corrected; None when too few failures), the
    window attributes its scan added, the signals' rows in it, and its subgroup candidates
    with their rows (:mod:`gigaloop.loop.subgroups`; attributes numbered from 0)."""

    rows: pd.DataFrame | None
    windows: list[Attribute]
    signal_rows: pd.DataFrame | None
    subgroups: list[Attribute] = field(default_factory=list)
    subgroup_rows: pd.DataFrame | None = None
    #: every other level's best subgroup (``family``, ``p``): counted by the family too
    subgroup_others: pd.DataFrame | None = None


def _scan_modes(pop: Population, config: RootCauseConfig) -> list[str]:
    """The modes a scan of ``pop`` tests, in order: failures and rates, then complaints."""
    modes = [*sorted(m for m in pop.first_failure_days if not is_complaint(m)), *pop.rates]
    complaints = sorted(filter(is_complaint, pop.first_failure_days)) if config.complaints \
        else []
    return modes + complaints


def prepare_scan(pop: Population, config: RootCauseConfig,
                 signals: list[Attribute] | None = None) -> ScanSetup:
    """The attributes, their code matrix and the usage adjustment every mode's scan uses."""
    with _blas().limit(limits=1):
        return _prepare(pop, config, signals)


def _prepare(pop: Population, config: RootCauseConfig,
             signals: list[Attribute] | None) -> ScanSetup:
    causes = [a for a in pop.attributes if a.kind in CAUSE_KINDS]
    if len(pop) == 0 or not (causes or signals):
        empty = np.zeros((len(pop), 0))
        none = np.zeros(0, dtype=np.int64)
        return ScanSetup(pop, config, signals or [], [], [], [], empty, empty,
                         Adjustment(none, {}),
                         Subgroups(np.zeros((0, 0), dtype=bool), [], []), [])
    plain = [a for a in causes if a.kind not in WINDOW_KINDS]
    levels = contemporaries(pop, causes)
    attributes = [*plain, *levels]
    codes = np.asfortranarray(np.column_stack([a.codes for a in attributes]))
    signal_codes = np.asfortranarray(np.column_stack([a.codes for a in signals])) \
        if signals else np.zeros((len(pop), 0))
    strata = usage_strata(pop)
    return ScanSetup(pop, config, signals or [], plain, attributes, levels, codes, signal_codes,
                     Adjustment(strata, {mode: rate_covariates(pop, mode) for mode in pop.rates}),
                     Subgroups.of(pop.climate, pop.usage["miles_per_day"].to_numpy(), strata),
                     _scan_modes(pop, config))


def scan_mode(scan: ScanSetup, index: int) -> ModeScan:
    """The tests of ``scan.modes[index]``: every level of every attribute, its best build
    windows, and the signals (complaint modes test no signals)."""
    with _blas().limit(limits=1):  # threads only contend on least squares this small
        mode = scan.modes[index]
        rows, windows, subgroups = _scan_attributes(scan, mode)
        signal_rows = None if is_complaint(mode) or not scan.signals \
            else _scan_signals(scan, mode)
        return ModeScan(rows, windows, signal_rows, *subgroups)


def _scan_attributes(scan: ScanSetup, mode: str) -> tuple[
        pd.DataFrame | None, list[Attribute],
        tuple[list[Attribute], pd.DataFrame | None, pd.DataFrame | None]]:
    pop, config, adjust = scan.pop, scan.config, scan.adjust
    attributes, plain = scan.attributes, scan.plain
    if mode in pop.rates:
        rates = _rate_scan(pop.rates[mode], scan.codes, adjust.covariates[mode], config)
        return (None if rates is None else mark_window_rows(
            _hypotheses_only(rates, attributes), [], len(plain), len(attributes))), [], \
            ([], None, None)
    duration, event = pop.survival(mode)
    if event.sum() < config.min_events:
        return None, [], ([], None, None)
    windows = window_candidates(pop, duration, event, adjust.strata, scan.levels,
                                config.min_events)
    searched = searched_by_subgroup(attributes)
    scanned = ml.logrank_subgroup_scan(duration, event, scan.codes, strata=adjust.strata,
                                       subgroups=scan.subgroups.of_stratum, searched=searched)
    survival = _hypotheses_only(_survival_rows(scanned.whole), attributes)
    narrowed, others = subgroup_candidates(scanned.subgroups, survival, scan.codes, attributes,
                                           searched, len(plain), scan.subgroups,
                                           adjust.strata, config.min_events, config.alpha)
    narrowed_rows = mark_window_rows(_scanned_apart(duration, event, narrowed, adjust.strata),
                                     narrowed, 0, 0) if narrowed else None
    if windows:  # scanned apart: appending them would copy the whole matrix
        extra = _scanned_apart(duration, event, windows, adjust.strata)
        survival = pd.concat([survival, extra.assign(attribute=extra.attribute
                                                     + scan.codes.shape[1])],
                             ignore_index=True)
    return (mark_window_rows(survival, windows, len(plain), len(attributes)),
            [w.attribute for w in windows],
            ([c.attribute for c in narrowed], narrowed_rows, others))


def _scanned_apart(duration: np.ndarray, event: np.ndarray, candidates: list[WindowCandidate],
                   strata: np.ndarray) -> pd.DataFrame:
    """The survival rows of candidate attributes (windows, subgroups), numbered from 0."""
    return _survival_scan(duration, event, np.asfortranarray(
        np.column_stack([c.attribute.codes for c in candidates])), strata)


def _scan_signals(scan: ScanSetup, mode: str) -> pd.DataFrame | None:
    """The signals' tests in ``mode`` (exact intervals for failures: few units each)."""
    pop, config, adjust, codes = scan.pop, scan.config, scan.adjust, scan.signal_codes
    if mode in pop.rates:
        result = _rate_scan(pop.rates[mode], codes, adjust.covariates[mode], config)
    else:
        duration, event = pop.survival(mode)
        result = None if event.sum() < config.min_signal_events else _exact_interval(
            _survival_scan(duration, event, codes, adjust.strata))
    if result is not None:
        result = _hypotheses_only(result, scan.signals)
    return result if result is not None and len(result) else None


def combine_scans(scan: ScanSetup, results: list[ModeScan]) -> list[Finding]:
    """The findings of every mode from its tests: false discovery rate over the trees of
    families (:mod:`gigaloop.loop.families`: claims, rates and complaints in one, signals
    and subgroups apart, sharing ``alpha``), then selection."""
    config, attributes = scan.config, scan.attributes
    scans: dict[str, pd.DataFrame] = {}
    tested: dict[str, tuple[list[Attribute], CodeMatrix]] = {}
    for mode, result in zip(scan.modes, results, strict=True):
        if result.rows is not None:
            scans[mode] = result.rows
            tested[mode] = (attributes + result.windows,
                            CodeMatrix(scan.codes).plus([a.codes for a in result.windows]))
    signal_rows = {mode: r.signal_rows for mode, r in zip(scan.modes, results, strict=True)
                   if r.signal_rows is not None}
    trees = tree_count(scans, signal_rows, results)
    claims_tree(scans, tested, config.alpha, trees)
    add_signal_tree(scan, signal_rows, scans, tested, trees)
    add_subgroup_tree(scan, dict(zip(scan.modes, results, strict=True)), scans, tested, trees)
    findings: list[Finding] = []
    with _blas().limit(limits=1):
        for mode, rows in sorted(scans.items(), key=lambda item: is_complaint(item[0])):
            findings += select_findings(scan.pop, mode, rows, *tested[mode], scan.adjust,
                                        config, findings)
    return findings


def _hypotheses_only(scan: pd.DataFrame, attributes: list[Attribute]) -> pd.DataFrame:
    """The scan's rows that are hypotheses (rows of attributes appended after
    ``attributes`` are kept):

    * of a process reading, only the bins within :data:`TESTED_DEPTH` of either end: a
      process defect acts beyond a threshold on one side of nominal (a dose-response), so a
      middle bin that stands out is chance, and testing it spends the false-discovery
      budget of the real hypotheses;
    * of a drift or alarm window, only the units inside it: the rest ("outside") names the
      window but holds none of it, and any cause the window lacks (a bad revision built
      only before it) would make the rest stand out.
    """
    tested = [a.meta["depth"] <= TESTED_DEPTH if a.kind == "reading"
              else np.asarray(a.levels) == "inside" if a.kind == "drift"
              else np.ones(len(a.levels), dtype=bool) for a in attributes]
    offset = np.cumsum([0, *map(len, tested)])
    tested_of = np.concatenate([*tested, [True]])  # the last: attributes appended after
    at = scan.attribute.to_numpy(dtype=np.int64)
    level = scan.level.to_numpy(dtype=np.int64)
    inside = at < len(attributes)
    flat = np.where(inside, offset[np.minimum(at, len(attributes))] + level, len(tested_of) - 1)
    return scan[tested_of[flat]].reset_index(drop=True)


def _survival_scan(duration: np.ndarray, event: np.ndarray, codes: np.ndarray,
                   strata: np.ndarray) -> pd.DataFrame:
    return _survival_rows(ml.logrank_scan(duration, event, codes, strata=strata))


def _survival_rows(scan: pd.DataFrame) -> pd.DataFrame:
    """A log-rank scan's rows with the effect and p root cause judges them by."""
    observed, expected = scan.observed.to_numpy(), scan.expected.to_numpy()
    total = compared_failures(scan, ["attribute"])
    # every failure inside the level: the point estimate is infinite; count half a failure
    # outside it instead (the interval from the scan already does the same)
    with np.errstate(divide="ignore", invalid="ignore"):
        halved = (observed / expected) / (0.5 / (total - expected))
    hazard = scan.hazard_ratio.to_numpy()
    return scan.assign(effect=np.where(np.isfinite(hazard), hazard, halved),
                       low=scan.hr_low, high=scan.hr_high,
                       p=np.maximum(scan.p.to_numpy(), ml.exact_share_p(observed, expected, total)),
                       effect_kind="hazard_ratio")


def _exact_interval(scan: pd.DataFrame) -> pd.DataFrame:
    """The hazard ratio's 95 % interval as the exact Poisson one of O given E (a
    standardised ratio). For a few hundred units against a fleet, E is known far better than
    O, and the log-rank interval, whose width goes with √E, is far too wide: 6 failures
    where 1.1 were expected is ×5.5 (2.0–12) exactly, but (1.0–47) by log-rank."""
    low, high = ml.poisson_interval(scan.observed, scan.expected)
    return scan.assign(low=np.nan_to_num(low, nan=0.0), high=high)


def _rate_scan(rates: MeasuredRates, codes: np.ndarray, covariates: np.ndarray,
               config: RootCauseConfig) -> pd.DataFrame | None:
    rate, weight, ok = rates.rate, rates.weight, rates.usable
    if ok.sum() < config.min_rate_units:
        return None
    scan = ml.adjusted_rate_scan(rate[ok], covariates[ok], codes[ok], weight[ok])
    scan = scan.dropna(subset=["p"]).reset_index(drop=True)
    base = float(np.average(rate[ok], weights=weight[ok]))
    if base <= 0:
        return None
    scan["effect"] = (base + scan.effect) / base
    scan["low"], scan["high"] = (base + scan.effect_low) / base, (base + scan.effect_high) / base
    scan["effect_kind"] = "fade_rate_ratio" if rates.measure.is_trend else "rate_ratio"
    scan["observed"], scan["expected"] = scan.n, np.nan
    return scan


__all__ = ["CAUSE_KINDS", "Finding", "ModeScan", "RootCauseConfig", "ScanSetup", "combine_scans",
           "find_root_causes", "prepare_scan", "scan_mode"]
