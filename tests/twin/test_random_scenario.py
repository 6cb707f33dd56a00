"""The random-scenario generator: deterministic by seed, always valid, the whole vocabulary."""

from __future__ import annotations

import importlib.util
import tomllib
from collections import Counter
from pathlib import Path

from gigaloop.twin.fault_rules import CONFOUND_KINDS, HAZARD_KINDS
from gigaloop.twin.modes import catalogue
from gigaloop.twin.random_scenario import (
    DETECTABLE_Z,
    HAZARD_RATIO_RANGE,
    expected_z,
    random_scenario,
)
from gigaloop.twin.scenario import load_scenario_text
from gigaloop.twin.toml_text import toml_text

SEEDS = range(40)


def test_the_same_seed_draws_the_same_scenario_and_another_seed_another() -> None:
    assert random_scenario(11) == random_scenario(11)
    assert random_scenario(11) != random_scenario(12)


def test_a_draw_read_and_written_again_is_the_same_scenario() -> None:
    """``toml_text`` writes back what ``tomllib`` reads (its start date a date again), so a
    drawn world can be edited as a dict: its faults removed for a null world, say."""
    for seed in (3, 17):
        text = random_scenario(seed)
        again = toml_text(tomllib.loads(text))
        assert load_scenario_text(again) == load_scenario_text(text)


def test_every_draw_is_valid_and_states_its_truth() -> None:
    kinds: Counter[str] = Counter()
    for seed in SEEDS:
        scenario = load_scenario_text(random_scenario(seed))
        real = [f for f in scenario.faults if not f.finding.red_herring]
        herrings = [f for f in scenario.faults if f.finding.red_herring]
        assert 1 <= len(real) <= 3 and len(herrings) <= 2
        assert {f.kind for f in real} <= set(HAZARD_KINDS)
        assert {f.kind for f in herrings} <= set(CONFOUND_KINDS)
        assert {m.name for m in scenario.failure_modes} <= set(catalogue())
        for fault in real:
            low, high = HAZARD_RATIO_RANGE
            assert low <= fault.finding.hazard_ratio <= high  # type: ignore[operator]
            expected = fault.finding.expected_excess_failures
            z = expected_z(expected,  # type: ignore[arg-type]
                           fault.finding.expected_background_failures,  # type: ignore[arg-type]
                           fault.finding.marked_share or 0.0)
            assert fault.finding.detectable == (z >= DETECTABLE_Z and fault.finding.identifiable)
        kinds.update(f.kind for f in scenario.faults)
    assert set(kinds) == {*HAZARD_KINDS, *CONFOUND_KINDS}


def test_a_run_too_short_for_a_window_still_draws_a_valid_scenario() -> None:
    for seed in range(20):
        for days in (1, 6, 20):
            load_scenario_text(random_scenario(seed, days=days), origin=f"{seed}/{days}")


def test_effect_sizes_span_weak_to_strong_and_some_are_detectable() -> None:
    ratios, detectable = [], []
    for seed in SEEDS:
        for fault in load_scenario_text(random_scenario(seed)).faults:
            if not fault.finding.red_herring:
                ratios.append(fault.finding.hazard_ratio)
                detectable.append(fault.finding.detectable)
    assert min(ratios) < 1.6 and max(ratios) > 2.5  # type: ignore[type-var]
    assert 0 < sum(detectable) < len(detectable)


def test_a_sole_suppliers_window_is_never_detectable() -> None:
    """It marks every unit built in its window: no data names the supplier over the period."""
    seen = 0
    for seed in range(1, 31):
        scenario = load_scenario_text(random_scenario(seed))
        sole = {p.part_number for p in scenario.parts if len(p.shares) == 1}
        for fault in scenario.faults:
            where = fault.where
            if where.get("supplier") and where.get("part") in sole:
                seen += 1
                assert not fault.finding.identifiable and not fault.finding.detectable
    assert seen  # seeds 1–30 draw some


def test_the_background_is_the_ratio_s_share_only_where_the_fault_keeps_the_mode_s_hazard() -> None:
    """A fault with the mode's shape and no conditions adds ``ratio − 1`` of its units'
    background; one with a later-rising shape adds less than that on cars under a year old,
    so its background is more than ``excess / (ratio − 1)`` and its z lower."""
    plain = later = 0
    for seed in range(1, 61):
        scenario = load_scenario_text(random_scenario(seed))
        shapes = {c.name: c.shape for c in scenario.components}
        for fault in scenario.faults:
            finding = fault.finding
            if finding.red_herring or not finding.expected_excess_failures:
                continue
            share = finding.expected_excess_failures / (finding.hazard_ratio - 1.0)  # type: ignore[operator]
            shape = fault.effect.get("shape")
            if shape is None and fault.climate is None and "min_daily_miles" not in fault.effect:
                plain += 1
                assert abs(finding.expected_background_failures - share) <= 0.1 + 0.01 * share  # type: ignore[operator]
            elif shape is not None and shape > shapes[fault.mode] + 0.5 and fault.climate is None:
                later += 1
                assert finding.expected_background_failures > 1.2 * share  # type: ignore[operator]
    assert plain and later


def test_the_realized_rule_on_the_expected_excess_gives_the_expected_label() -> None:
    """``bench/eval_loop.py`` judges a fault on the failures it really added, with the
    marked units' background in proportion: fed the generator's own expectation, it says
    what the generator said."""
    bench = Path(__file__).parents[2] / "bench" / "eval_loop.py"
    spec = importlib.util.spec_from_file_location("eval_loop", bench)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    judged = 0
    for seed in SEEDS:
        for fault in load_scenario_text(random_scenario(seed)).faults:
            finding = fault.finding
            if finding.red_herring or abs((finding.expected_z or 0.0) - DETECTABLE_Z) < 0.05:
                continue
            judged += 1
            assert module._realized_detectable(finding.model_dump(),
                                               finding.expected_excess_failures) \
                == finding.detectable, (seed, fault.id)
    assert judged
