"""Root cause: which factory attributes go with each field failure mode, ranked, with FDR.

For every failure mode — each component's failures (time to first failure, censored
at the analysis date) and each rate measure the schema declares, measured on every car
(:data:`gigaloop.schema.RATE_MEASURES`: a trend such as battery fade, SoH against √days
in service, or events per exposure such as disengagements per rain mile) — every level
of every genealogy attribute is tested against the rest: a log-rank test stratified by
climate × mileage band for failures (:mod:`gigaloop.loop.adjust`), a usage-adjusted Welch
test for rates, so usage does not masquerade as a factory cause. Suppliers, revisions and
trims are compared with the units built beside them, over their whole span and in their
best build window (:mod:`gigaloop.loop.windows`, Bonferroni over the windows searched).
The false discovery rate is controlled over all tests of all modes, each mode a family
(Benjamini–Bogomolov); a finding also needs a credible effect (95 % lower bound ≥
``min_effect_low``, +10 %; +25 % for a rate measured on every car). Within a mode,
findings are picked greedily by the failures they explain; each next pick must still stand
once the vehicles already explained are set aside, so a supplier does not repeat its weak
lot. Process-reading and machine findings are localised in time (change point on the
build date) into a station + window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import ThreadpoolController

from gigaloop import ml
from gigaloop.fleet.usage import MeasuredRates
from gigaloop.loop.adjust import rate_covariates, usage_strata
from gigaloop.loop.localise import localise
from gigaloop.loop.population import Attribute, Population
from gigaloop.loop.windows import (
    WINDOW_KINDS,
    contemporaries,
    mark_window_rows,
    window_candidates,
    with_codes_of,
)

#: Attribute kinds a finding may rest on. Usage such as climate is a covariate, not a
#: cause; a design revision marks a period of builds (each engineering change bumps it),
#: so its effect is judged by that change's own impact check, not rediscovered here.
CAUSE_KINDS = ("lot", "supplier", "machine", "reading", "drift", "shift", "model", "trim",
               "hardware_revision")


@dataclass(frozen=True)
class RootCauseConfig:
    """Thresholds of the scan; the defaults are what the loop runs with."""

    alpha: float = 0.01  # weekly re-tests are many looks: a strict FDR level
    min_events: int = 8
    min_signal_events: int = 3  # a hypothesis a chart stated in advance needs fewer
    min_effect_low: float = 1.1  # the 95 % interval must exclude effects under +10 %
    min_rate_effect_low: float = 1.25  # … and under +25 % for a rate measured on every car
    max_findings_per_mode: int = 5
    min_rate_units: int = 200  # vehicles with the exposure a rate measure asks for
    window_max_days: int = 90


@dataclass
class Finding:
    """One ranked finding; ``members`` marks the vehicles it is about (not serialised)."""

    failure_mode: str
    attribute: str
    kind: str
    names: dict[str, Any]
    effect: float
    ci: tuple[float, float]
    effect_kind: str
    p: float
    q: float
    observed: float
    expected: float
    members: np.ndarray = field(repr=False)
    rank: int = 0

    @property
    def key(self) -> str:
        """Identity across re-analyses: mode + what it names (without numeric ranges)."""
        parts = [f"{k}={v}" for k, v in sorted(self.names.items()) if k not in ("range",
                                                                                "window")]
        return "|".join([self.failure_mode, *parts])

    def record(self) -> dict[str, Any]:
        return {
            "failure_mode": self.failure_mode, "attribute": self.attribute, "names": self.names,
            "effect": round(self.effect, 3), "effect_kind": self.effect_kind,
            "ci": [round(self.ci[0], 3), round(self.ci[1], 3)], "p": float(f"{self.p:.3g}"),
            "q": float(f"{self.q:.3g}"), "observed": round(self.observed, 1),
            "expected": round(self.expected, 1) if np.isfinite(self.expected) else None,
            "affected_vins": int(self.members.sum()),
            "rank": self.rank,
        }


def find_root_causes(pop: Population, config: RootCauseConfig | None = None,
                     signals: list[Attribute] | None = None) -> list[Finding]:
    """Every finding of every failure mode in ``pop``, ranked within its mode.

    ``signals``: hypotheses stated before the field saw anything (units a control chart
    flagged, :mod:`gigaloop.loop.signals`), tested as a family of their own in every mode
    and needing only ``min_signal_events`` failures.
    """
    with _blas().limit(limits=1):  # threads only contend on least squares this small
        return _find(pop, config or RootCauseConfig(), signals or [])


@cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def _find(pop: Population, config: RootCauseConfig, signals: list[Attribute]) -> list[Finding]:
    causes = [a for a in pop.attributes if a.kind in CAUSE_KINDS]
    if len(pop) == 0 or not (causes or signals):
        return []
    plain = [a for a in causes if a.kind not in WINDOW_KINDS]
    levels = contemporaries(pop, causes)
    attributes = plain + levels
    codes = np.asfortranarray(np.column_stack([a.codes for a in attributes]))
    adjust = _Adjustment(usage_strata(pop), rate_covariates(pop))

    def scan(mode: str) -> tuple[pd.DataFrame, list[Attribute]] | None:
        """One mode's tests (rows cut and p corrected) and the window attributes added."""
        if mode in pop.rates:
            rates = _rate_scan(pop.rates[mode], codes, adjust.covariates, config)
            return None if rates is None else (
                mark_window_rows(rates, [], len(plain), len(attributes)), [])
        duration, event = pop.survival(mode)
        if event.sum() < config.min_events:
            return None
        windows = window_candidates(pop, duration, event, adjust.strata, levels,
                                    config.min_events)
        survival = _survival_scan(duration, event,
                                  with_codes_of(codes, [w.attribute for w in windows]),
                                  adjust.strata)
        return (mark_window_rows(survival, windows, len(plain), len(attributes)),
                [w.attribute for w in windows])

    modes = [*sorted(pop.first_failure_days), *pop.rates]
    scans, tested = {}, {}
    for mode, result in zip(modes, map(scan, modes), strict=True):
        if result is not None:
            scans[mode] = result[0]
            tested[mode] = (attributes + result[1], with_codes_of(codes, result[1]))
    if scans:
        families = ml.family_qvalues({mode: s.p.to_numpy() for mode, s in scans.items()},
                                     config.alpha)
        for mode, q in families.items():
            scans[mode]["q"] = q
    _add_signal_family(pop, modes, signals, scans, tested, (attributes, codes), adjust, config)
    findings = []
    for mode, scan in scans.items():
        findings += _select(pop, mode, scan, *tested[mode], adjust, config)
    return findings


def _add_signal_family(pop: Population, modes: list[str], signals: list[Attribute],
                       scans: dict[str, pd.DataFrame],
                       tested: dict[str, tuple[list[Attribute], np.ndarray]],
                       plain: tuple[list[Attribute], np.ndarray], adjust: _Adjustment,
                       config: RootCauseConfig) -> None:
    """Test ``signals`` in every mode, as one FDR family per mode apart from the scan's, and
    add their rows (``signal`` true) and attributes to ``scans`` and ``tested``."""
    if not signals:
        return
    signal_codes = np.asfortranarray(np.column_stack([a.codes for a in signals]))
    rows = {}
    for mode in modes:
        if mode in pop.rates:
            result = _rate_scan(pop.rates[mode], signal_codes, adjust.covariates, config)
        else:
            duration, event = pop.survival(mode)
            result = None if event.sum() < config.min_signal_events else _exact_interval(
                _survival_scan(duration, event, signal_codes, adjust.strata))
        if result is not None and len(result):
            rows[mode] = result
    if not rows:
        return
    families = ml.family_qvalues({mode: r.p.to_numpy() for mode, r in rows.items()},
                                 config.alpha)
    for mode, result in rows.items():
        result = result.assign(q=families[mode], signal=True)
        result = result[result.q <= config.alpha]  # only these can be chosen
        if result.empty:
            continue
        attributes, codes = tested.get(mode, plain)
        result = result.assign(attribute=result.attribute + len(attributes))
        main = scans.get(mode)
        scans[mode] = result if main is None else pd.concat(
            [main.assign(signal=False), result], ignore_index=True)
        tested[mode] = (attributes + signals, np.asfortranarray(
            np.column_stack([codes, signal_codes])))


@dataclass(frozen=True)
class _Adjustment:
    """What every test of one scan is adjusted for, computed once per scan."""

    strata: np.ndarray  # climate × mileage band, for the log-rank tests
    covariates: np.ndarray  # usage and exposure, for the rate tests


def _survival_scan(duration: np.ndarray, event: np.ndarray, codes: np.ndarray,
                   strata: np.ndarray) -> pd.DataFrame:
    scan = ml.logrank_scan(duration, event, codes, strata=strata)
    # every failure inside the level: the point estimate is infinite; count half a failure
    # outside it instead (the interval from the scan already does the same)
    rest_expected = float(event.sum()) - scan.expected
    halved = (scan.observed / scan.expected) / (0.5 / rest_expected)
    hazard = scan.hazard_ratio.where(np.isfinite(scan.hazard_ratio), halved)
    scan["effect"], scan["low"], scan["high"] = hazard, scan.hr_low, scan.hr_high
    # the χ² of a level with few expected failures is far too small in the tail: its p is
    # at least the exact chance that so many of the mode's failures fall in it, given its
    # expected share of them (binomial: Poisson for a small level, and no wider than the
    # log-rank's own spread for a level that holds much of the fleet)
    total = float(event.sum())
    share = np.clip(scan.expected / max(total, 1.0), 0.0, 1.0)
    scan["p"] = np.maximum(scan.p, stats.binom.sf(scan.observed - 1, total, share))
    scan["effect_kind"] = "hazard_ratio"
    return scan


def _exact_interval(scan: pd.DataFrame) -> pd.DataFrame:
    """The hazard ratio's 95 % interval as the exact Poisson one of O given E (a
    standardised ratio). For a few hundred units against a fleet, E is known far better than
    O, and the log-rank interval, whose width goes with √E, is far too wide: 6 failures
    where 1.1 were expected is ×5.5 (2.0–12) exactly, but (1.0–47) by log-rank."""
    observed, expected = scan.observed.to_numpy(float), scan.expected.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = stats.chi2.ppf(0.025, 2 * observed) / (2 * expected)
        high = stats.chi2.ppf(0.975, 2 * observed + 2) / (2 * expected)
    return scan.assign(low=np.nan_to_num(low, nan=0.0), high=high)


def _rate_scan(rates: MeasuredRates, codes: np.ndarray, covariates: np.ndarray,
               config: RootCauseConfig) -> pd.DataFrame | None:
    _, rate, weight, ok = rates
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


def _candidates(scan: pd.DataFrame, config: RootCauseConfig) -> pd.DataFrame:
    """Strong-enough levels, strongest evidence first (forward selection order)."""
    if "at_risk" in scan:
        enough = scan.observed >= np.where(_signal(scan), config.min_signal_events,
                                           config.min_events)
    else:
        enough = scan.n >= 10
    floor = config.min_effect_low if "at_risk" in scan else config.min_rate_effect_low
    keep = (scan.q <= config.alpha) & (scan.effect > 1) & (scan.low >= floor)
    keep &= np.isfinite(scan.effect) & np.isfinite(scan.low) & np.isfinite(scan.high)
    kept = scan[keep & enough]
    return kept.assign(evidence=_evidence(kept)).sort_values(["evidence", "low"],
                                                             ascending=[False, False])


def _signal(rows: pd.DataFrame) -> np.ndarray:
    """Which rows test a leading indicator's hypothesis."""
    return rows["signal"].to_numpy(dtype=bool) if "signal" in rows else np.zeros(len(rows), bool)


def _evidence(rows: pd.DataFrame) -> np.ndarray:
    """Selection order: failures a level explains beyond expectation (O − E) for failure
    modes — the cause that accounts for most excess failures comes first, not the small
    pure subset of it with the most extreme ratio; |t| for rates."""
    if "z" in rows:
        return (rows.observed - rows.expected).to_numpy(dtype=float)
    return rows.t.abs().to_numpy(dtype=float)


def _select(pop: Population, mode: str, scan: pd.DataFrame, attributes: list[Attribute],
            codes: np.ndarray, adjust: _Adjustment, config: RootCauseConfig) -> list[Finding]:
    """Forward selection of one mode's findings, then ranked by effect.

    Process readings and machines are first localised into a station + build window and
    judged on that set. Then the candidate with the strongest evidence is taken; every
    later one must still stand once the vehicles already explained are set aside (a lot
    built inside a drift window does not repeat the drift; a lot made entirely of a bad
    camera revision does not repeat the revision). The chosen are ranked by the lower
    bound of their effect."""
    candidates = _candidates(scan, config)
    located = _localised(pop, mode, candidates, attributes, adjust.strata, config)
    if located:
        evidence = [_evidence(located[k][2].to_frame().T)[0] if k in located else e
                    for k, e in zip(zip(candidates.attribute, candidates.level, strict=False),
                                    candidates.evidence, strict=False)]
        candidates = candidates.assign(evidence=evidence).sort_values(
            ["evidence", "low"], ascending=[False, False])
    covered = np.zeros(len(pop), dtype=bool)
    chosen: list[Finding] = []
    while len(candidates) and len(chosen) < config.max_findings_per_mode:
        if chosen:  # re-test what is left without the vehicles already explained
            candidates = _still_standing(pop, mode, candidates, codes, covered, adjust, config)
            if not len(candidates):
                break
        pick = _tie_break(pop, mode, candidates, attributes, located)
        row = candidates.iloc[pick]
        candidates = candidates.drop(candidates.index[pick])
        attribute = attributes[int(row.attribute)]
        level_members = attribute.codes == int(row.level)
        names, members = attribute.names(int(row.level)), level_members
        if (row.attribute, row.level) in located:
            names, members, row = located[row.attribute, row.level]
        if not np.isfinite([row.effect, row.low, row.high]).all() \
                or row.low < (config.min_rate_effect_low if mode in pop.rates
                              else config.min_effect_low):
            continue
        finding = Finding(mode, attribute.name, attribute.kind, names, float(row.effect),
                          (float(row.low), float(row.high)), str(row.effect_kind), float(row.p),
                          float(row.q), float(row.observed), float(row.expected), members,
                          rank=len(chosen) + 1)
        if any(f.key == finding.key for f in chosen):
            continue
        chosen.append(finding)
        covered |= members | level_members  # a localised finding explains its whole level
    chosen.sort(key=lambda f: -f.ci[0])
    for rank, finding in enumerate(chosen, start=1):
        finding.rank = rank
    return chosen


def _members(attributes: list[Attribute], row: pd.Series,
             located: dict[tuple[int, int], tuple[dict, np.ndarray, pd.Series]]) -> np.ndarray:
    if (row.attribute, row.level) in located:
        return located[row.attribute, row.level][1]
    return attributes[int(row.attribute)].codes == int(row.level)


def _tie_break(pop: Population, mode: str, candidates: pd.DataFrame,
               attributes: list[Attribute],
               located: dict[tuple[int, int], tuple[dict, np.ndarray, pd.Series]]) -> int:
    """Position of the candidate to take next: the first, unless another explains the same
    failures (≥ 90 % overlap both ways) and has evidence from the process itself — a drift
    the readings show — while the first (a lot, say) has none. The data cannot tell such
    twins apart; the process record can."""
    first = candidates.iloc[0]
    if mode in pop.rates or _process_backed(attributes, first, located):
        return 0
    _, event = pop.survival(mode)
    failed_first = event & _members(attributes, first, located)
    for position in range(1, min(len(candidates), 6)):
        other = candidates.iloc[position]
        if not _process_backed(attributes, other, located):
            continue
        failed_other = event & _members(attributes, other, located)
        shared = (failed_first & failed_other).sum()
        if shared >= 0.9 * max(failed_first.sum(), failed_other.sum(), 1):
            return position
    return 0


def _process_backed(attributes: list[Attribute], row: pd.Series,
                    located: dict[tuple[int, int], tuple[dict, np.ndarray, pd.Series]]) -> bool:
    kind = attributes[int(row.attribute)].kind
    names = located.get((row.attribute, row.level), ({},))[0]
    return kind == "drift" or (kind == "reading" and "window" in names)


def _localised(pop: Population, mode: str, candidates: pd.DataFrame,
               attributes: list[Attribute], strata: np.ndarray, config: RootCauseConfig,
               most: int = 4) -> dict[tuple[int, int], tuple[dict, np.ndarray, pd.Series]]:
    """Station + window findings for the strongest reading / machine candidates."""
    if mode in pop.rates:
        return {}
    out = {}
    for _, row in candidates.iterrows():
        attribute = attributes[int(row.attribute)]
        if attribute.kind not in ("reading", "machine"):
            continue
        level = int(row.level)
        names, members = localise(pop, mode, attribute, attribute.codes == level,
                                  attribute.names(level), window_max_days=config.window_max_days)
        out[row.attribute, row.level] = (names, members, _restated(pop, mode, members, row, strata))
        if len(out) == most:
            break
    return out


def _restated(pop: Population, mode: str, members: np.ndarray, row: pd.Series,
              strata: np.ndarray) -> pd.Series:
    """The scan row re-computed for a localised set of vehicles (q stays the level's)."""
    duration, event = pop.survival(mode)
    scan = ml.logrank_scan(duration, event, members.astype(np.int32)[:, None], strata=strata)
    inside = scan[scan.level == 1]
    if inside.empty:
        return row
    fresh = inside.iloc[0]
    restated = row.copy()
    for column, source in (("effect", "hazard_ratio"), ("low", "hr_low"), ("high", "hr_high"),
                           ("p", "p"), ("observed", "observed"), ("expected", "expected"),
                           ("z", "z")):
        restated[column] = fresh[source]
    return restated


def _still_standing(pop: Population, mode: str, candidates: pd.DataFrame, codes: np.ndarray,
                    covered: np.ndarray, adjust: _Adjustment,
                    config: RootCauseConfig) -> pd.DataFrame:
    """The candidates that, without the vehicles already explained, are still significant
    (p ≤ alpha) with an effect credibly above the reporting floor."""
    rest = ~covered
    columns = np.unique(candidates.attribute.to_numpy().astype(int))
    sub_codes = np.asfortranarray(codes[np.ix_(rest, columns)])
    if mode in pop.rates:
        _, rate, weight, ok = pop.rates[mode]
        ok = ok[rest]
        if ok.sum() < config.min_rate_units:
            return candidates.iloc[0:0]
        rescan = ml.adjusted_rate_scan(rate[rest][ok], adjust.covariates[rest][ok],
                                       sub_codes[ok], weight[rest][ok]).dropna(subset=["p"])
        base = float(np.average(rate[rest][ok], weights=weight[rest][ok]))
        better = (base + rescan.effect_low) >= config.min_rate_effect_low * base
    else:
        duration, event = pop.survival(mode)
        rescan = ml.logrank_scan(duration[rest], event[rest], sub_codes,
                                 strata=adjust.strata[rest])
        signal = set(candidates.attribute[_signal(candidates)].astype(int))
        least = np.where([int(columns[a]) in signal for a in rescan.attribute],
                         config.min_signal_events, config.min_events)
        better = (rescan.hr_low >= config.min_effect_low) & (rescan.observed >= least)
    standing = rescan[(rescan.p <= config.alpha) & better]
    alive = {(int(columns[a]), int(lv)) for a, lv in zip(standing.attribute, standing.level,
                                                         strict=True)}
    mask = [(int(a), int(lv)) in alive for a, lv in zip(candidates.attribute, candidates.level,
                                                        strict=True)]
    return candidates[np.array(mask, dtype=bool)]
