"""Findings whose evidence fades are retracted, and their change requests withdrawn."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from gigaloop.loop.changes import withdraw_changes
from gigaloop.loop.contract import DayContext
from gigaloop.loop.population import Population
from gigaloop.loop.retract import fading_reason
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
