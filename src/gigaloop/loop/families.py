"""The trees of false-discovery families a root-cause scan reports from, sharing ``alpha``.

Three trees are tested (:func:`gigaloop.loop.rootcause.combine_scans`): the claims' —
every mode's levels and windows, claims, rate measures and owners' complaints in one (a
level's complaints and its claims are two looks at one cause, and two trees let a chance
cluster of claims through twice) —, the signals' (hypotheses a control chart stated in
advance, :mod:`gigaloop.loop.signals`) and the subgroups' (a level's best climate or band
of use, :mod:`gigaloop.loop.subgroups`). Each holds its false-discovery rate, so under no
cause at all each makes a finding with chance up to its level at every weekly scan: they
share ``alpha`` (Bonferroni over the trees: a third each when all three are tested), and
each q is multiplied back by the trees' number, so ``q ≤ alpha`` is the bar for all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gigaloop import ml
from gigaloop.loop.finding import RootCauseConfig
from gigaloop.loop.population import Attribute
from gigaloop.loop.signals import mechanism_shown
from gigaloop.loop.windows import CodeMatrix

if TYPE_CHECKING:
    from gigaloop.loop.rootcause import ModeScan, ScanSetup


def tree_count(scans: dict[str, pd.DataFrame], signal_rows: dict[str, pd.DataFrame],
               results: list[ModeScan]) -> int:
    """How many trees of families the scan tests — the claims' (with rates and complaints),
    the signals', the subgroups' — each of which has a share of ``alpha`` (Bonferroni). A
    tree counts when it has tests, whatever their p-values.

    >>> tree_count({"seal": pd.DataFrame()}, {}, [])     # the claims' tree alone
    1
    >>> tree_count({"seal": pd.DataFrame()}, {"seal": pd.DataFrame()}, [])
    2
    """
    subgroups = any(r.subgroup_others is not None for r in results)
    return max(int(bool(scans)) + int(bool(signal_rows)) + int(subgroups), 1)


def shared_qvalues(pvalues: dict[str, np.ndarray], alpha: float, trees: int,
                   groups: dict[str, list[str]] | None = None) -> dict[str, np.ndarray]:
    """One tree's q-values (:func:`gigaloop.ml.family_qvalues`) at its share of ``alpha``
    among ``trees``, multiplied back: ``q ≤ alpha`` is then the bar of every tree.

    >>> shared_qvalues({"seal": np.array([0.001, 0.5])}, 0.01, 3)["seal"].tolist()
    [0.006, 1.0]
    >>> shared_qvalues({"seal": np.array([0.002, 0.5])}, 0.01, 3)["seal"].tolist()
    [1.0, 1.0]
    >>> shared_qvalues({"seal": np.array([0.002, 0.5])}, 0.01, 1)["seal"].tolist()
    [0.004, 0.5]
    """
    qvalues = ml.family_qvalues(pvalues, alpha / trees, groups)
    return {key: np.minimum(q * trees, 1.0) for key, q in qvalues.items()}


def claims_tree(scans: dict[str, pd.DataFrame],
                tested: dict[str, tuple[list[Attribute], CodeMatrix]], alpha: float,
                trees: int = 1) -> None:
    """Each mode's rows in ``scans`` get their q over the claims' tree, at ``alpha`` over
    the ``trees`` tested (multiplied back); ``tested``: each mode's attributes."""
    if not scans:
        return
    qvalues = shared_qvalues(
        {mode: s.p.to_numpy() for mode, s in scans.items()}, alpha, trees,
        groups={mode: [tested[mode][0][a].family for a in s.attribute]
                for mode, s in scans.items()})
    for mode, q in qvalues.items():
        scans[mode]["q"] = q


def add_signal_tree(scan: ScanSetup, rows: dict[str, pd.DataFrame],
                    scans: dict[str, pd.DataFrame],
                    tested: dict[str, tuple[list[Attribute], CodeMatrix]],
                    trees: int = 1) -> None:
    """The signals' tests, one FDR family per mode apart from the scan's, at ``alpha`` over
    the ``trees`` tested (their q multiplied back): their rows (``signal`` true)
    and attributes added to ``scans`` and ``tested``; a row that passes must also show its
    dose (:func:`~gigaloop.loop.signals.mechanism_shown`)."""
    if not rows:
        return
    config, signals = scan.config, scan.signals
    plain = (scan.attributes, CodeMatrix(scan.codes))
    qvalues = shared_qvalues({mode: r.p.to_numpy() for mode, r in rows.items()},
                             config.alpha, trees)
    for mode, result in rows.items():
        q = qvalues[mode]
        for i in np.flatnonzero(q <= config.alpha):  # passed: the dose must show it too
            if not mechanism_shown(scan.pop, mode, signals[int(result.attribute.iloc[i])]):
                q[i] = 1.0
        _append_passed(mode, result.assign(q=q, signal=True), signals, config,
                       scans, tested.get(mode, plain), tested)


def add_subgroup_tree(scan: ScanSetup, results: dict[str, ModeScan],
                      scans: dict[str, pd.DataFrame],
                      tested: dict[str, tuple[list[Attribute], CodeMatrix]],
                      trees: int = 1) -> None:
    """The subgroup candidates' tests (:mod:`gigaloop.loop.subgroups`), a tree of families of
    their own over the modes (claims and complaints alike), at ``alpha`` over the
    ``trees`` tested: those that pass are added to ``scans`` and ``tested`` beside
    the mode's other rows."""
    empty = pd.DataFrame({"attribute": [], "p": []})
    rows = {mode: (r.subgroup_rows if r.subgroup_rows is not None else empty,
                   r.subgroup_others) for mode, r in results.items()
            if r.subgroup_others is not None}
    if not any(len(r) for r, _ in rows.values()):
        return
    qvalues = shared_qvalues(
        {mode: np.r_[r.p.to_numpy(dtype=float), others.p.to_numpy(dtype=float)]
         for mode, (r, others) in rows.items()}, scan.config.alpha, trees,
        groups={mode: [*(results[mode].subgroups[int(a)].family for a in r.attribute),
                       *others.family] for mode, (r, others) in rows.items()})
    plain = (scan.attributes, CodeMatrix(scan.codes))
    for mode, (result, _) in rows.items():
        _append_passed(mode, result.assign(q=qvalues[mode][:len(result)], signal=False),
                       results[mode].subgroups, scan.config, scans, tested.get(mode, plain),
                       tested)


def _append_passed(mode: str, result: pd.DataFrame, added: list[Attribute],
                   config: RootCauseConfig, scans: dict[str, pd.DataFrame],
                   before: tuple[list[Attribute], CodeMatrix],
                   tested: dict[str, tuple[list[Attribute], CodeMatrix]]) -> None:
    """A family's rows of ``mode`` that pass (q ≤ alpha: only these can be chosen) added to
    the mode's scan, their attributes (``added``) after those ``before``."""
    result = result[result.q <= config.alpha]
    if result.empty:
        return
    attributes, codes = before
    result = result.assign(attribute=result.attribute + len(attributes))
    main = scans.get(mode)
    if main is not None and "signal" not in main:
        main = main.assign(signal=False)
    scans[mode] = result if main is None else pd.concat([main, result], ignore_index=True)
    tested[mode] = (attributes + added, codes.plus([a.codes for a in added]))


__all__ = ["add_signal_tree", "add_subgroup_tree", "claims_tree", "shared_qvalues",
           "tree_count"]
