"""Root cause on synthetic fleets: a lot that fails in one climate, or on cars driven far
each day, only is found there."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from gigaloop import ml
from gigaloop.loop.adjust import usage_strata
from gigaloop.loop.finding import RootCauseConfig
from gigaloop.loop.population import Attribute, Population
from gigaloop.loop.rootcause import find_root_causes, prepare_scan, scan_mode
from gigaloop.loop.subgroups import Subgroups

N, LOTS = 12_000, 60
START = np.datetime64("2025-01-06", "D")


def fleet(seed: int, ratio: float = 1.0, climate_only: str | None = None,
          elsewhere: float = 1.0, miles_above: float = 0.0) -> Population:
    """Vehicles of 60 lots of one part in three climates, one day-clocked mode; lot 7's units
    fail ``ratio`` times as often (in ``climate_only``, when given, and on cars driven at
    least ``miles_above`` miles a day; ``elsewhere`` times as often on the others)."""
    rng = np.random.default_rng(seed)
    built = np.sort(rng.integers(0, 240, N))
    service = (300 - built - rng.integers(3, 10, N)).astype(float)
    climate = rng.choice(["cold", "hot", "temperate"], N)
    miles = rng.lognormal(np.log(35), 0.5, N)
    lot = np.minimum(built * LOTS // 240, LOTS - 1).astype(np.int32)
    there = (climate == climate_only) if climate_only else np.ones(N, bool)
    there &= miles >= miles_above
    hazard = np.where(lot == 7, np.where(there, ratio, elsewhere), 1.0)
    life = rng.exponential(365 / (0.25 * hazard))
    usage = pd.DataFrame({"miles_per_day": miles,
                          "in_service_days": service, "telemetry_days": service,
                          "dc_kwh_per_day": 2.0, "ambient_temp_c": 20.0, "autopilot_miles": 0.0})
    lots = Attribute("lot:P-1", "lot", lot, [f"L{i:02d}" for i in range(LOTS)], {"part": "P-1"})
    shift = Attribute("shift", "shift", rng.integers(0, 3, N).astype(np.int32), ["A", "B", "C"])
    return Population(
        as_of=date(2025, 11, 1), vin=np.arange(N).astype(str), build_date=START + built,
        delivered_on=START + built + 5, in_service_days=service, climate=climate, usage=usage,
        attributes=[lots, shift],
        first_failure_days={"seal": np.where(life < service, life, np.nan)},
        readings={}, station_machines={})


def test_a_lot_that_fails_only_in_the_cold_is_found_there() -> None:
    pop = fleet(3, ratio=3.6, climate_only="cold")
    duration, event = pop.survival("seal")
    strata = usage_strata(pop)
    whole = ml.logrank_scan(duration, event, pop.attributes[0].codes, strata=strata)
    # tested over the whole fleet, the lot would not clear even a Bonferroni bar over the lots
    assert whole.p[whole.level == 7].iloc[0] * LOTS > RootCauseConfig().alpha
    found = find_root_causes(pop)
    assert [(f.names.get("lot"), f.names.get("climate")) for f in found] == [("L07", "cold")]
    finding = found[0]
    assert finding.ci[0] > 1.5 and finding.members.sum() == \
        ((pop.attributes[0].codes == 7) & (pop.climate == "cold")).sum()


def test_a_lot_that_fails_everywhere_is_named_without_a_climate() -> None:
    found = find_root_causes(fleet(4, ratio=2.5))
    assert [(f.names.get("lot"), f.names.get("climate")) for f in found] == [("L07", None)]


def test_a_lot_worst_in_the_cold_that_fails_elsewhere_too_is_one_finding_on_the_lot() -> None:
    found = find_root_causes(fleet(12, ratio=4.0, climate_only="cold", elsewhere=1.8))
    assert [(f.names.get("lot"), f.names.get("climate")) for f in found] == [("L07", None)]


def test_a_lot_that_fails_only_on_cars_driven_far_is_found_on_them() -> None:
    pop = fleet(5, ratio=4.0, miles_above=45.0)
    found = find_root_causes(pop)
    assert [f.names.get("lot") for f in found] == ["L07"]
    low, high = found[0].names["miles_per_day"]
    assert 35 < low < 50 and high == pytest.approx(pop.usage.miles_per_day.max(), abs=0.1)
    assert "climate" not in found[0].names and found[0].ci[0] > 1.5


@pytest.mark.parametrize("seed", range(5, 25))
def test_a_faultless_fleet_has_no_finding_in_any_subgroup(seed: int) -> None:
    assert find_root_causes(fleet(seed)) == []


def test_subgroups_of_strata_follow_the_units() -> None:
    climate = np.array(["hot", "cold", "hot", "cold", "hot", "cold"])
    miles = np.array([10.0, 11.0, 50.0, 52.0, np.nan, 30.0])
    strata = np.array([4, 0, 5, 1, 3, 1])  # climate × band, as usage_strata makes them
    groups = Subgroups.of(climate, miles, strata)
    assert groups.keys == ["climate", "climate", "miles_per_day", "miles_per_day",
                           "miles_per_day"]
    assert groups.values[:2] == ["cold", "hot"] and groups.multiplier == 5
    # each climate holds its strata; a band holds the strata whose units' median falls in it,
    # and the strata of unknown mileage (3) are in none
    assert groups.of_stratum[:2, [0, 1, 3, 4, 5]].astype(int).tolist() == [[1, 1, 0, 0, 0],
                                                                          [0, 0, 1, 1, 1]]
    assert not groups.of_stratum[2:, 3].any() and groups.of_stratum[2:].sum(axis=0)[
        [0, 1, 4, 5]].tolist() == [1, 1, 1, 1]


def test_one_climate_and_unknown_mileage_leave_nothing_to_search() -> None:
    groups = Subgroups.of(np.array(["hot"] * 4), np.full(4, np.nan), np.zeros(4, np.int64))
    assert groups.multiplier == 0 and groups.of_stratum.shape == (0, 1)


def test_a_few_failures_of_a_small_lot_in_a_subgroup_are_judged_by_their_exact_chance(
) -> None:
    # 400 lots of 30 cars and no fault: a lot's best subgroup often holds a failure or three
    # where a tenth of one was expected, whose χ² p is absurdly small (3 where 0.1 were
    # expected: about 1e-20; exactly, about 1.5e-4). Every best subgroup of the 400 counts
    # in the false-discovery family, so none may be that small.
    pop = fleet(11)
    lots = np.minimum(np.argsort(np.argsort(pop.build_date, kind="stable")) * 400 // N, 399)
    pop.attributes[0] = Attribute("lot:P-1", "lot", lots.astype(np.int32),
                                  [f"L{i:03d}" for i in range(400)], {"part": "P-1"})
    setup = prepare_scan(pop, RootCauseConfig(), [])
    others = scan_mode(setup, setup.modes.index("seal")).subgroup_others
    assert others is not None and len(others) >= 400
    assert others.p.min() > 1e-6  # 2,400 null tests: the least p is about 4e-4
    assert find_root_causes(pop) == []
