"""One failure mode's findings, chosen from its scan: forward selection, then ranked.

Candidates are the levels whose q-value and effect clear the bars of
:class:`~gigaloop.loop.finding.RootCauseConfig` (a leading indicator's hypothesis needs
fewer failures, :mod:`gigaloop.loop.signals`). Process readings and machines are first
localised into a station + build window; then the candidate explaining the most excess
failures is taken, and each next one must still stand once the vehicles already explained
are set aside.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

from gigaloop import ml
from gigaloop.loop.finding import Adjustment, Finding, RootCauseConfig
from gigaloop.loop.localise import localise
from gigaloop.loop.namings import (
    Located,
    in_subgroup,
    members_of,
    names_of,
    same_level,
    twin_namings,
    without_subgroup,
)
from gigaloop.loop.periods import supply_finding
from gigaloop.loop.population import END_DEPTH, Attribute, Population
from gigaloop.loop.standing import backward, rest_stands, restated
from gigaloop.loop.windows import CodeMatrix

#: How far a level's units in one subgroup (a climate, a band of use) must stand apart from
#: its units elsewhere (one-sided) for a finding to name the subgroup rather than the level.
INTERACTION_ALPHA = 0.05


def _candidates(scan: pd.DataFrame, config: RootCauseConfig) -> pd.DataFrame:
    """Strong-enough levels, strongest evidence first (forward selection order)."""
    effect, low, high = (scan[c].to_numpy(dtype=float) for c in ("effect", "low", "high"))
    floor = config.min_effect_low if "at_risk" in scan else config.min_rate_effect_low
    keep = (scan.q.to_numpy(dtype=float) <= config.alpha) & (effect > 1) & (low >= floor)
    keep &= np.isfinite(effect) & np.isfinite(low) & np.isfinite(high)
    if keep.any():  # most modes of most scans have none: the rest is not worth building
        if "at_risk" in scan:
            keep &= scan.observed.to_numpy() >= np.where(
                _signal(scan), config.min_signal_events, config.min_events)
        else:
            keep &= scan.n.to_numpy() >= 10
    kept = scan[keep]
    if not len(kept):
        return kept.assign(evidence=np.zeros(0))
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


def select_findings(pop: Population, mode: str, scan: pd.DataFrame, attributes: list[Attribute],
            codes: CodeMatrix, adjust: Adjustment, config: RootCauseConfig,
            known: Sequence[Finding] = ()) -> list[Finding]:
    """Forward selection of one mode's findings, then ranked by effect; ``known``: the
    findings of the modes selected before (a supply level they name about the same
    component is the hypothesis a process window of this mode is tested for first).

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
        for _ in range(3):  # a supplier → its units in one climate → its revision's there
            narrower = _smallest_sufficient(pop, mode, candidates, pick, attributes, located,
                                            adjust.strata, config)
            if narrower == pick:
                break
            pick = narrower
        pick = _subgroup_or_everywhere(pop, mode, candidates, pick, attributes, located,
                                       adjust.strata, config)
        row = candidates.iloc[pick]
        candidates = candidates.drop(candidates.index[pick])
        attribute = attributes[int(row.attribute)]
        level_members = attribute.codes == int(row.level)
        names, members = attribute.names(int(row.level)), level_members
        floor = config.min_rate_effect_low if mode in pop.rates else config.min_effect_low
        if (row.attribute, row.level) in located and _stands(located[row.attribute,
                                                                     row.level][2], floor):
            names, members, row = located[row.attribute, row.level]
        # else a reading whose range matters at every build date, not in one window: the
        # level itself is the finding — in the end decile of the reading's range only: past
        # a limit harm grows towards the end (a dose-response), so the decile beside the end
        # standing without it is a chance association among the ranges tested
        if not _stands(row, floor) or (attribute.kind == "reading" and "range" in names
                                       and attribute.meta["depth"][int(row.level)] > END_DEPTH):
            continue
        supply = supply_finding(pop, mode, attribute, names, members, row, adjust.strata,
                                config, known)
        if supply is not None:  # a process window whose excess is one supplier's parts'
            level_members = level_members | members
            attribute, names, members, row = supply
            if not _stands(row, floor):
                continue
        aliases, alternatives, twins = twin_namings(candidates, names, members, attributes,
                                                located)
        candidates = candidates.drop([*twins, *same_level(candidates, names, attributes,
                                                           located)])
        finding = Finding(mode, attribute.name, attribute.kind, names, float(row.effect),
                          (float(row.low), float(row.high)), str(row.effect_kind), float(row.p),
                          float(row.q), float(row.observed), float(row.expected), members,
                          rank=len(chosen) + 1, aliases=aliases, alternatives=alternatives)
        if any(f.key == finding.key for f in chosen):
            continue
        chosen.append(finding)
        covered |= members | level_members  # a localised finding explains its whole level
    chosen = backward(pop, mode, chosen, adjust.strata, config)
    chosen.sort(key=lambda f: -f.ci[0])
    for rank, finding in enumerate(chosen, start=1):
        finding.rank = rank
    return chosen


def _tie_break(pop: Population, mode: str, candidates: pd.DataFrame,
               attributes: list[Attribute], located: Located) -> int:
    """Position of the candidate to take next: the first, unless another explains the same
    failures (≥ 90 % overlap both ways) and has evidence from the process itself — a drift
    the readings show — while the first (a lot, say) has none. The data cannot tell such
    twins apart; the process record can."""
    first = candidates.iloc[0]
    if mode in pop.rates or _process_backed(attributes, first, located):
        return 0
    _, event = pop.survival(mode)
    failed_first = event & members_of(attributes, first, located)
    for position in range(1, min(len(candidates), 6)):
        other = candidates.iloc[position]
        if not _process_backed(attributes, other, located):
            continue
        failed_other = event & members_of(attributes, other, located)
        shared = (failed_first & failed_other).sum()
        if shared >= 0.9 * max(failed_first.sum(), failed_other.sum(), 1):
            return position
    return 0


def _smallest_sufficient(pop: Population, mode: str, candidates: pd.DataFrame, pick: int,
                         attributes: list[Attribute], located: Located,
                         strata: np.ndarray, config: RootCauseConfig) -> int:
    """Position of the candidate to take instead of ``pick``: the strongest one nested in
    it (a revision inside its supplier, a lot inside its supplier) when the rest of
    ``pick``'s units, set against the units outside it, show no excess of their own
    (p > alpha or an effect under the floor). A supplier whose excess is all in one
    revision is that revision; one whose other lots fail too stays the supplier."""
    if mode in pop.rates:
        return pick
    outer = members_of(attributes, candidates.iloc[pick], located)
    outer_names = names_of(attributes, candidates.iloc[pick], located)
    duration, event = pop.survival(mode)
    for position in range(len(candidates)):
        inner = members_of(attributes, candidates.iloc[position], located)
        if position == pick or not inner.any() or (inner & ~outer).any() \
                or inner.sum() >= outer.sum():
            continue
        if in_subgroup(names_of(attributes, candidates.iloc[position], located)) \
                and not in_subgroup(outer_names):  # the level in one climate or band of use
            if _only_there(pop, mode, inner, outer, strata, config):
                return position
            continue
        if not rest_stands(duration, event, inner, outer, strata, config):
            return position
    return pick


def _subgroup_or_everywhere(pop: Population, mode: str, candidates: pd.DataFrame, pick: int,
                            attributes: list[Attribute], located: Located,
                            strata: np.ndarray, config: RootCauseConfig) -> int:
    """Position of the candidate to take instead of ``pick`` when ``pick`` is a level in one
    subgroup (:mod:`gigaloop.loop.subgroups`) whose units there fail no more, beyond chance,
    than its units elsewhere, or whose units elsewhere fail beyond chance too: the level
    itself, where it is a candidate. A lot that fails everywhere is a lot, even when its
    cold units show it most."""
    names = names_of(attributes, candidates.iloc[pick], located)
    if mode in pop.rates or not in_subgroup(names):
        return pick
    everywhere = without_subgroup(names)
    inner = members_of(attributes, candidates.iloc[pick], located)
    for position in range(len(candidates)):
        if position != pick and names_of(attributes, candidates.iloc[position],
                                       located) == everywhere:
            outer = members_of(attributes, candidates.iloc[position], located)
            if (inner & ~outer).any():
                continue
            if not _only_there(pop, mode, inner, outer, strata, config):
                return position
    return pick


def _only_there(pop: Population, mode: str, inner: np.ndarray, outer: np.ndarray,
                strata: np.ndarray, config: RootCauseConfig) -> bool:
    """Whether a level's failures are its units' in one subgroup (``inner``) alone: those
    fail more than its units elsewhere, and those elsewhere not beyond chance."""
    duration, event = pop.survival(mode)
    return _stands_apart(pop, mode, inner, outer, strata) \
        and not rest_stands(duration, event, inner, outer, strata, config)


def _stands_apart(pop: Population, mode: str, inner: np.ndarray, outer: np.ndarray,
                  strata: np.ndarray) -> bool:
    """Whether ``inner``'s units (a level's in one subgroup) fail more, against expectation,
    than the rest of ``outer``'s (the level's elsewhere): given their failures, the exact
    one-sided binomial test that the two observed-to-expected ratios are equal, at
    :data:`INTERACTION_ALPHA` — it chooses between two names of one cause, not whether there
    is one."""
    duration, event = pop.survival(mode)
    codes = np.where(inner, 2, np.where(outer, 1, 0)).astype(np.int32)[:, None]
    scan = ml.logrank_scan(duration, event, codes, strata=strata).set_index("level")
    o_in, e_in = (float(scan[c].get(2, 0.0)) for c in ("observed", "expected"))
    o_rest, e_rest = (float(scan[c].get(1, 0.0)) for c in ("observed", "expected"))
    if o_in == 0 or e_in <= 0:
        return False
    if e_rest <= 0:
        return True
    chance = special.bdtrc(int(o_in) - 1, int(o_in + o_rest), e_in / (e_in + e_rest))
    return bool(chance <= INTERACTION_ALPHA)


def _process_backed(attributes: list[Attribute], row: pd.Series, located: Located) -> bool:
    kind = attributes[int(row.attribute)].kind
    names = located.get((row.attribute, row.level), ({},))[0]
    return kind == "drift" or (kind == "reading" and "window" in names)


def _localised(pop: Population, mode: str, candidates: pd.DataFrame,
               attributes: list[Attribute], strata: np.ndarray, config: RootCauseConfig,
               most: int = 4) -> Located:
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
        out[row.attribute, row.level] = (names, members, restated(pop, mode, members, row, strata))
        if len(out) == most:
            break
    return out


def _stands(row: pd.Series, floor: float) -> bool:
    """A finite effect whose interval's lower bound reaches ``floor``."""
    return bool(np.isfinite([row.effect, row.low, row.high]).all() and row.low >= floor)


def _still_standing(pop: Population, mode: str, candidates: pd.DataFrame, codes: CodeMatrix,
                    covered: np.ndarray, adjust: Adjustment,
                    config: RootCauseConfig) -> pd.DataFrame:
    """The candidates that, without the vehicles already explained, are still significant
    (p ≤ alpha) with an effect credibly above the reporting floor."""
    rest = ~covered
    columns = np.unique(candidates.attribute.to_numpy().astype(int))
    sub_codes = codes.take(rest, columns)
    if mode in pop.rates:
        rate, weight, ok = pop.rates[mode].rate, pop.rates[mode].weight, pop.rates[mode].usable
        ok = ok[rest]
        if ok.sum() < config.min_rate_units:
            return candidates.iloc[0:0]
        rescan = ml.adjusted_rate_scan(rate[rest][ok], adjust.covariates[mode][rest][ok],
                                       sub_codes[ok], weight[rest][ok]).dropna(subset=["p"])
        base = float(np.average(rate[rest][ok], weights=weight[rest][ok]))
        better = (base + rescan.effect_low) >= config.min_rate_effect_low * base
    else:
        duration, event = pop.survival(mode)
        rescan = ml.logrank_scan(duration[rest], event[rest], sub_codes,
                                 strata=adjust.strata[rest])
        signal = set(candidates.attribute[_signal(candidates)].astype(int))
        is_signal = np.array([int(columns[a]) in signal for a in rescan.attribute], dtype=bool)
        least = np.where(is_signal, config.min_signal_events, config.min_events)
        # a signal's interval is the exact one of O given E, as in its scan
        low = np.where(is_signal, ml.poisson_interval(rescan.observed, rescan.expected)[0],
                       rescan.hr_low)
        better = (low >= config.min_effect_low) & (rescan.observed >= least)
    standing = rescan[(rescan.p <= config.alpha) & better]
    alive = {(int(columns[a]), int(lv)) for a, lv in zip(standing.attribute, standing.level,
                                                         strict=True)}
    mask = [(int(a), int(lv)) in alive for a, lv in zip(candidates.attribute, candidates.level,
                                                        strict=True)]
    return candidates[np.array(mask, dtype=bool)]
