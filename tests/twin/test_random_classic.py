"""The packaged kinds drawn anew: deterministic by seed, always valid, every kind, and
camera revisions both a minority and most of the builds."""

from __future__ import annotations

from collections import Counter

from gigaloop.twin.random_classic import CLASSIC_KINDS, random_classic_scenario
from gigaloop.twin.scenario import load_scenario_text

SEEDS = range(40)


def test_the_same_seed_draws_the_same_world_and_another_seed_another() -> None:
    assert random_classic_scenario(5) == random_classic_scenario(5)
    assert random_classic_scenario(5) != random_classic_scenario(6)


def test_a_short_run_draws_valid_worlds_too() -> None:
    for seed in range(20):
        load_scenario_text(random_classic_scenario(seed, days=12))


def test_every_kind_is_drawn_with_the_finding_that_names_it() -> None:
    kinds: Counter[str] = Counter()
    herrings = 0
    for seed in SEEDS:
        scenario = load_scenario_text(random_classic_scenario(seed))
        real = [f for f in scenario.faults if not f.finding.red_herring]
        assert 2 <= len(real) <= 4 and len({f.kind for f in real}) == len(real)
        kinds.update(f.kind for f in real)
        herrings += len(scenario.faults) - len(real)
        for fault in real:
            names = fault.finding.names
            if fault.kind == "weak_cell_lot":
                assert names["lot"] == fault.where["lot"]
                assert 1.3 <= fault.effect["pack_hazard_multiplier"] <= 3.0
            elif fault.kind in ("weld_current_drift", "process_drift"):
                assert names["window"] == [fault.starts, fault.stops]
                assert names["machine"] == fault.where["machine"]
            elif fault.kind == "camera_rain":
                assert names["hardware_revision"] == fault.where["hardware_revision"]
                assert 1.3 <= fault.effect["rain_multiplier"] <= 3.0
    assert set(kinds) == set(CLASSIC_KINDS)
    assert 5 < herrings < 35


def test_a_weak_camera_revision_is_sometimes_most_of_the_builds() -> None:
    shares = []
    for seed in SEEDS:
        scenario = load_scenario_text(random_classic_scenario(seed))
        camera = next(p for p in scenario.parts if p.revisions)
        for fault in scenario.faults:
            if fault.kind == "camera_rain":
                supplier = next(s for s, r in camera.revisions.items()
                                if r == fault.where["hardware_revision"])
                shares.append(camera.shares[supplier] / sum(camera.shares.values()))
    assert min(shares) < 0.4 and max(shares) > 0.6
