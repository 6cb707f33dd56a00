"""Findings whose evidence fades are retracted, and their change requests withdrawn."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from gigaloop.loop import retract
from gigaloop.loop.changes import withdraw_changes
from gigaloop.loop.contract import DayContext
from gigaloop.loop.finding import Finding
from gigaloop.loop.modules import RootCauseModule
from gigaloop.loop.population import Population
from gigaloop.loop.retract import TAKEN_SHARE, fading_reason, post_finding_reason
from gigaloop.loop.state import LoopState

N = 6000


def fleet(hazard: np.ndarray, seed: int = 0) -> Population:
    """Vehicles in service 100–400 days, one failure mode at ``hazard`` × the base rate."""
    rng = np.random.default_rng(seed)
    service = rng.uniform(100, 400, N)
    life = rng.exponential(1 / (0.2 / 365 * hazard))
    usage = pd.DataFrame({"miles_per_day": rng.lognormal(np.log(35), 0.4, N),
                          "in_service_days": service})
    return Population(
        as_of=date(2025, 12, 1), vin=np.arange(N).astype(str),
        build_date=np.full(N, np.datetime64("2024-10-01")),
        delivered_on=np.full(N, np.datetime64("2024-10-05")), in_service_days=service,
        climate=rng.choice(["cold", "hot"], N), usage=usage, attributes=[],
        first_failure_days={"seal": np.where(life < service, life, np.nan)},
        readings={}, station_machines={})


def test_a_real_effect_stands_and_a_null_one_is_retracted() -> None:
    lot = np.random.default_rng(1).random(N) < 0.1
    assert fading_reason(fleet(np.where(lot, 3.0, 1.0)), "seal", lot, []) is None
    reason = fading_reason(fleet(np.ones(N)), "seal", lot, [])
    assert reason is not None and reason.startswith("its effect interval now reaches 1")


def test_a_finding_whose_failures_another_explains_is_retracted() -> None:
    lot = np.arange(N) < 600
    pop = fleet(np.where(lot, 3.0, 1.0))
    part_of_it = np.arange(N) < 300  # a shift inside the lot, say
    other = {"id": "F001", "failure_mode": "seal", "names": {"lot": "L7"}}
    reason = fading_reason(pop, "seal", part_of_it, [(other, lot)])
    assert reason == "its failures are explained by F001 (lot=L7)"
    elsewhere = {**other, "failure_mode": "hvac"}  # another mode explains nothing here
    assert fading_reason(pop, "seal", part_of_it, [(elsewhere, lot)]) is None


def test_a_finding_whose_excess_is_in_another_s_vehicles_is_retracted() -> None:
    # a station's fortnight (every unit built then) inside a supplier's bad months: most,
    # not all, of its failures are the supplier's, and the rest fail as everyone does
    rng = np.random.default_rng(3)
    supplier = rng.random(N) < 0.7
    months = (np.arange(N) >= 3000) & (np.arange(N) < 4500)
    fortnight = (np.arange(N) >= 3500) & (np.arange(N) < 3850)
    pop = fleet(np.where(months & supplier, 2.5, 1.0))
    found = {"id": "F002", "failure_mode": "seal", "names": {"supplier": "SUPA"}}
    failed = fortnight & pop.survival("seal")[1]
    assert (failed & months & supplier).sum() < TAKEN_SHARE * failed.sum()
    assert fading_reason(pop, "seal", fortnight, [(found, months & supplier)]) == (
        "its excess is explained by F002: without their vehicles, its own fail no more "
        "than chance")
    assert fading_reason(pop, "seal", fortnight, []) is None  # alone, it would stand


def test_a_rate_finding_nested_in_a_later_one_is_retracted() -> None:
    # a camera lot reported alone, then the revision all its units belong to: the lot's
    # rain disengagements are the revision's; a lot with units failing outside it stands
    from dataclasses import replace

    from gigaloop.fleet.usage import MeasuredRates
    from gigaloop.schema import RATE_MEASURES

    (measure,) = [m for m in RATE_MEASURES if m.mode == "disengagement_rain"]
    index = np.arange(N)
    revision, lot = index < 1800, index < 600
    straddling = (index >= 1500) & (index < 2100)  # its 300 units outside fail too

    def with_rate(factor: np.ndarray) -> Population:
        rng = np.random.default_rng(5)
        rate = rng.gamma(4.0, 0.0005, N) * factor
        pop = fleet(np.ones(N))
        usage = pop.usage.assign(dc_kwh_per_day=rng.uniform(0, 10, N),
                                 ambient_temp_c=rng.normal(15, 8, N),
                                 autopilot_miles=rng.uniform(0, 2000, N),
                                 telemetry_days=pop.in_service_days)
        return replace(pop, usage=usage, rates={measure.mode: MeasuredRates(
            measure, rate, np.full(N, 100.0), np.ones(N, dtype=bool))})

    found = {"id": "F004", "failure_mode": measure.mode, "names": {"revision": "B"}}
    pop = with_rate(np.where(revision, 2.0, 1.0))
    assert fading_reason(pop, measure.mode, lot, []) is None  # alone, it would stand
    assert fading_reason(pop, measure.mode, lot, [(found, revision)]) == (
        "its excess is explained by F004: without their vehicles, its own rate is no higher "
        "than chance allows")
    elsewhere = {**found, "failure_mode": "seal"}
    assert fading_reason(pop, measure.mode, lot, [(elsewhere, revision)]) is None
    pop = with_rate(np.where(revision | straddling, 2.0, 1.0))
    assert fading_reason(pop, measure.mode, straddling, [(found, revision)]) is None


def test_the_changes_of_a_retracted_finding_are_withdrawn() -> None:
    state = LoopState()
    state.retracted.append({"id": "F002", "retracted": {"day": 70, "reason": "no effect"}})
    state.changes += [
        {"id": "C001", "finding_id": "F001", "state": "effective"},
        {"id": "C002", "finding_id": "F002", "state": "effective"},
        {"id": "C003", "finding_id": "F002", "state": "proposed"},
    ]
    state.campaign_backlog["C002"] = ["V1", "V2"]
    ctx = DayContext(70, datetime(2025, 3, 17), view=None)
    decisions = withdraw_changes(ctx, state)
    assert [c["state"] for c in state.changes] == ["effective", "withdrawn", "withdrawn"]
    assert [c.get("acted") for c in state.changes] == [None, True, False]
    assert state.campaign_backlog["C002"] == []
    assert "C002 withdrawn: F002 retracted (no effect); it had been acted on" in [
        d.summary for d in decisions]
    assert withdraw_changes(ctx, state) == []  # once


AS_OF = date(2025, 12, 1)
BASE = 0.2 / 365  # failures per vehicle-day


def split_fleet(before: np.ndarray, after: np.ndarray, days_since: int, seed: int = 0,
                visit_after: np.ndarray | None = None) -> Population:
    """Vehicles in service 200–500 days whose failure hazard is ``before`` × the base rate
    until a finding made ``days_since`` days ago and ``after`` × it since (and the base
    rate again from ``visit_after`` days after the finding, where given: a campaign's fix).
    """
    rng = np.random.default_rng(seed)
    service = rng.uniform(200, 500, N)
    entry = service - days_since  # age at the finding
    life = rng.exponential(1 / (BASE * before))
    late = life >= entry
    post = rng.exponential(1 / (BASE * after))
    if visit_after is not None:  # memoryless: from the visit on, the base rate
        fixed = post > visit_after
        post = np.where(fixed, visit_after + rng.exponential(1 / BASE, N), post)
    life = np.where(late, entry + post, life)
    usage = pd.DataFrame({"miles_per_day": rng.lognormal(np.log(35), 0.4, N),
                          "in_service_days": service})
    return Population(
        as_of=AS_OF, vin=np.arange(N).astype(str),
        build_date=np.full(N, np.datetime64("2024-06-01")),
        delivered_on=(np.datetime64(AS_OF, "D") - service.astype(int)).astype("datetime64[D]"),
        in_service_days=service, climate=rng.choice(["cold", "hot"], N), usage=usage,
        attributes=[], first_failure_days={"seal": np.where(life < service, life, np.nan)},
        readings={}, station_machines={})


def found(days_since: int) -> date:
    return AS_OF - timedelta(days=days_since)


NAMED = np.arange(N) % 10 == 0


def test_a_chance_finding_whose_failures_since_come_at_the_base_rate_is_retracted() -> None:
    # chosen because its vehicles had failed 4× as often; since, they fail like the rest
    pop = split_fleet(np.where(NAMED, 4.0, 1.0), np.ones(N), days_since=150)
    reason = post_finding_reason(pop, "seal", NAMED, found(150), low=1.6)
    assert reason is not None and "under its lower bound 1.60" in reason
    # the same vehicles on the data that selected them still look guilty
    assert fading_reason(pop, "seal", NAMED, []) is None


def test_a_real_effect_that_goes_on_stands() -> None:
    hazard = np.where(NAMED, 3.0, 1.0)
    for seed in range(5):
        pop = split_fleet(hazard, hazard, days_since=150, seed=seed)
        assert post_finding_reason(pop, "seal", NAMED, found(150), low=1.6) is None


def test_too_little_exposure_since_the_finding_leaves_it_standing(monkeypatch) -> None:
    chance = np.where(NAMED, 4.0, 1.0)
    for seed in range(5):  # 5 days: under one failure expected among the named
        pop = split_fleet(chance, np.ones(N), days_since=5, seed=seed)
        assert post_finding_reason(pop, "seal", NAMED, found(5), low=1.6) is None
    # a chance finding 150 days on (about 49 failures expected among the named since) is
    # retracted …
    later = split_fleet(chance, np.ones(N), days_since=150)
    assert post_finding_reason(later, "seal", NAMED, found(150), low=1.6) is not None
    # … unless more exposure than that is asked for
    monkeypatch.setattr(retract, "MIN_POST_EXPECTED", 1.6 * 70.0)
    assert post_finding_reason(later, "seal", NAMED, found(150), low=1.6) is None


def test_a_campaigns_fix_says_nothing_against_its_finding() -> None:
    # a real effect, fixed by a campaign 14 days after the finding: the visits censor it
    hazard = np.where(NAMED, 3.0, 1.0)
    pop = split_fleet(hazard, hazard, days_since=150, visit_after=14.0)
    assert post_finding_reason(pop, "seal", NAMED, found(150), low=2.0) is not None
    visits = pd.Series(np.full(NAMED.sum(), np.datetime64(found(150), "D") + 14),
                       index=pop.vin[NAMED])
    assert post_finding_reason(pop, "seal", NAMED, found(150), low=2.0, visits=visits) is None


def test_the_scan_retracts_a_finding_it_still_sees_and_does_not_raise_it_again() -> None:
    pop = split_fleet(np.where(NAMED, 4.0, 1.0), np.ones(N), days_since=150)
    module = RootCauseModule(LoopState())
    sighting = Finding("seal", "lot:P1", "lot", {"lot": "L1", "part": "P1"}, 4.0, (1.6, 9.0),
                       "hazard_ratio", 1e-6, 1e-4, 40.0, 10.0, NAMED)
    record = {"id": "F001", **sighting.record(), "day_found": 170,
              "date_found": found(150).isoformat()}
    module.state.findings[sighting.key] = record
    module.state.finding_vins["F001"] = pop.vin[NAMED]
    ctx = DayContext(320, datetime(2025, 12, 1), view=None)
    decisions = module._conclude(ctx, pop, [sighting])  # the data that chose it, again
    assert [d.summary.split(":")[0] for d in decisions] == ["F001 retracted"]
    assert module.state.findings == {} and module.state.retracted == [record]
    assert ctx.emitted["findings"][0]["retracted"]
    for day in (327, 334):  # seen again and again: not a new finding while refuted
        ctx = DayContext(day, datetime(2025, 12, 1), view=None)
        assert module._conclude(ctx, pop, [sighting]) == []
    assert module.state.findings == {}


def test_a_cause_found_again_by_another_of_its_names_stays_one_finding() -> None:
    # a supplier's cells are all of one revision: found by both names, then by the supplier
    pop = split_fleet(np.where(NAMED, 4.0, 1.0), np.where(NAMED, 4.0, 1.0), days_since=150)
    module = RootCauseModule(LoopState(), confirm_scans=1)
    both = Finding("door_handle", "hardware_revision", "hardware_revision",
                   {"supplier": "SUPB", "part": "CELL", "hardware_revision": "CELL-B"}, 4.0,
                   (1.6, 9.0), "hazard_ratio", 1e-6, 1e-4, 40.0, 10.0, NAMED)
    supplier = replace(both, attribute="supplier:CELL", kind="supplier",
                       names={"supplier": "SUPB", "part": "CELL"})
    other_lot = replace(both, attribute="lot:CELL", kind="lot",
                        names={"lot": "CELL-7", "part": "CELL"})
    first = module._conclude(DayContext(200, datetime(2025, 7, 1), view=None), pop, [both])
    assert [d.finding["id"] for d in first] == ["F001"]
    again = module._conclude(DayContext(207, datetime(2025, 7, 8), view=None), pop, [supplier])
    assert again == [] and [r["last_seen_day"] for r in module.state.findings.values()] == [207]
    # another lot of the part is another cause
    lot = module._conclude(DayContext(214, datetime(2025, 7, 15), view=None), pop, [other_lot])
    assert [d.finding["id"] for d in lot] == ["F002"]
