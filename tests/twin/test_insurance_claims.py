"""The twin's insurance claims: who files them, how often, and what they cost."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from gigaloop.twin import Twin, load_scenario
from gigaloop.twin.hazards import CLAIM, CRASH

DAYS = 45
FLEET = 30_000


@pytest.fixture(scope="module")
def days() -> dict[str, pa.Table]:
    """Every table of a 30,000-vehicle installed base's first 45 days, concatenated."""
    twin = Twin(load_scenario(), seed=3, fleet=FLEET)
    parts: dict[str, list[pa.Table]] = {}
    for day in range(DAYS):
        for name, table in twin.step(day).items():
            parts.setdefault(name, []).append(table)
    return {name: pa.concat_tables(tables) for name, tables in parts.items()}


def test_only_policyholders_claim_and_each_of_their_crashes_is_a_collision_claim(
        days: dict[str, pa.Table]) -> None:
    customers = days["customers"].to_pandas()
    insured = set(customers.vin[customers.consent_insurance])
    claims = days["insurance_claims"].to_pandas()
    crashes = days["crashes"].to_pandas()
    assert set(claims.vin) <= insured
    theirs = crashes[crashes.vin.isin(insured)]
    assert len(theirs) > 0 and len(crashes) > len(theirs)  # others crash, and do not claim
    collisions = claims[claims.coverage == "collision"]
    matched = theirs.merge(collisions, on=["vin", "event_time"])
    assert len(matched) == len(theirs)


def test_claims_come_at_the_published_frequency_and_cost(days: dict[str, pa.Table]) -> None:
    customers = days["customers"].to_pandas()
    share = customers.consent_insurance.mean()
    miles = float(pa.compute.sum(days["telemetry_daily"]["miles"]).as_py())
    consenting = customers.consent_telemetry.mean()
    insured_miles = miles / consenting * share  # telemetry covers the consenting share
    claims = days["insurance_claims"].to_pandas()
    # 8.57 claims per 100 car-years of 13,500 miles at the fleet's mean crash risk per mile
    per_mile = (CLAIM.collision_per_crash + CLAIM.property_damage_per_crash) * (
        0.75 * CRASH.manual_per_mile + 0.25 * CRASH.autopilot_per_mile)
    assert per_mile == pytest.approx((0.062 + 0.0237) / 13_500)
    expected = per_mile * insured_miles
    assert expected > 60  # enough that ±40 % is about three Poisson standard errors
    assert len(claims) == pytest.approx(expected, rel=0.4)
    collision = claims.coverage == "collision"
    assert collision.mean() == pytest.approx(0.062 / 0.0857, abs=0.15)
    assert claims.amount_usd.min() > 0
    assert claims.amount_usd[collision].mean() == pytest.approx(CLAIM.collision_usd, rel=0.5)


def test_the_cost_draw_has_the_published_means() -> None:
    rng = np.random.default_rng(0)
    coverage = np.arange(200_000) < 100_000
    cost = CLAIM.cost(coverage, rng)
    assert cost[coverage].mean() == pytest.approx(CLAIM.collision_usd, rel=0.02)
    assert cost[~coverage].mean() == pytest.approx(CLAIM.property_damage_usd, rel=0.02)
