"""Impact's difference in differences starts at the finding's date: a group chosen for its
early failures, which then fails like everyone else, is not a verified fix; a real defect
that a campaign removes still is."""

from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd

from gigaloop.loop.impact import _campaign_effect
from gigaloop.loop.population import Population

N, AS_OF_DAY, FOUND_DAY, EFFECTIVE_DAY = 6000, 450, 200, 215
DAY0 = np.datetime64("2025-01-01")


def _world(seed: int, real: bool) -> tuple[Population, pd.DataFrame, set[str]]:
    """Vehicles delivered on day 0, exponential lives (mean 3,000 days); the campaign visits
    the named between days 220 and 280. Real: the first 600 fail at 4× until their visit.
    Chance: every vehicle fails alike, and the finding named the 600 with the most failures
    before its day (all early failures of a tenth of the fleet, filled up at random)."""
    rng = np.random.default_rng(seed)
    visit_day = rng.integers(EFFECTIVE_DAY + 5, EFFECTIVE_DAY + 65, N)
    life = rng.exponential(3000.0, N)
    if real:
        named = np.arange(N) < 600
        early = rng.exponential(3000.0 / 4, N)
        life = np.where(named & (early < visit_day), early,
                        np.where(named, visit_day + rng.exponential(3000.0, N), life))
    else:
        pool = rng.random(N) < 0.1
        chosen = np.flatnonzero(pool & (life < FOUND_DAY))
        rest = rng.choice(np.setdiff1d(np.arange(N), chosen), 600 - len(chosen), replace=False)
        named = np.isin(np.arange(N), np.r_[chosen, rest])
    vins = np.array([f"V{i:05d}" for i in range(N)])
    pop = Population(
        as_of=date(2025, 1, 1) + pd.Timedelta(days=AS_OF_DAY), vin=vins,
        build_date=np.full(N, DAY0), delivered_on=np.full(N, DAY0),
        in_service_days=np.full(N, float(AS_OF_DAY)), climate=np.full(N, "temperate"),
        usage=pd.DataFrame({"miles_per_day": np.full(N, 30.0)}), attributes=[],
        first_failure_days={"seal": np.where(life <= AS_OF_DAY, np.floor(life), np.nan)},
        readings={}, station_machines={})
    served = pd.DataFrame({"vin": vins[named],
                           "day": DAY0 + visit_day[named].astype("timedelta64[D]")})
    return pop, served, set(vins[named])


def _verified(seed: int, real: bool, since: np.datetime64 | None) -> bool:
    pop, served, named = _world(seed, real)
    ctx = SimpleNamespace(day=AS_OF_DAY)
    change = {"day_effective": EFFECTIVE_DAY, "failure_mode": "seal"}
    return _campaign_effect(ctx, pop, change, served, named, since).high < 1


def test_a_group_chosen_for_its_early_failures_is_not_a_verified_fix():
    found = DAY0 + np.timedelta64(FOUND_DAY, "D")
    from_delivery = [_verified(seed, real=False, since=None) for seed in range(5)]
    from_finding = [_verified(seed, real=False, since=found) for seed in range(5)]
    assert all(from_delivery)  # regression to the mean passes for a fix
    assert not any(from_finding)


def test_a_real_defect_removed_by_its_campaign_is_verified():
    found = DAY0 + np.timedelta64(FOUND_DAY, "D")
    assert all(_verified(seed, real=True, since=found) for seed in range(5))
