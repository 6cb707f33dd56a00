"""Root cause on synthetic fleets: build windows found, usage confounds and noise not."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from gigaloop import ml
from gigaloop.loop.adjust import usage_strata
from gigaloop.loop.population import Attribute, Population, reading_attributes
from gigaloop.loop.rootcause import _survival_scan, find_root_causes
from gigaloop.loop.windows import (
    best_window,
    contemporaries,
    expected_failures,
    window_candidates,
)

DAYS, PER_DAY = 240, 40  # build days and units a day: 9,600 vehicles
START = np.datetime64("2025-01-06", "D")


def fleet(seed: int, *, hazard: np.ndarray | None = None, miles: np.ndarray | None = None,
          extra: list[Attribute] = ()) -> Population:
    """Vehicles built over DAYS, in service to the end; one day-clocked mode whose rate is
    ``hazard`` (× the base) and, where ``miles`` is given, proportional to daily miles."""
    rng = np.random.default_rng(seed)
    n = DAYS * PER_DAY
    built = np.repeat(np.arange(DAYS), PER_DAY)
    service = (DAYS + 60 - built - rng.integers(3, 10, n)).astype(float)
    per_day = miles if miles is not None else rng.lognormal(np.log(35), 0.5, n)
    rate = 0.06 / 365 * (hazard if hazard is not None else 1.0)
    if miles is not None:
        rate = rate * per_day / 35
    life = rng.exponential(np.broadcast_to(1 / rate, n))
    usage = pd.DataFrame({"miles_per_day": per_day, "in_service_days": service,
                          "telemetry_days": service, "dc_kwh_per_day": 2.0,
                          "ambient_temp_c": 20.0, "autopilot_miles": 0.0})
    supplier = Attribute("supplier:P-1", "supplier", (rng.random(n) < 0.5).astype(np.int32),
                         ["SUPA", "SUPB"], {"part": "P-1"})
    trim = Attribute("trim", "trim", rng.integers(0, 3, n).astype(np.int32),
                     ["AWD", "Perf", "RWD"])
    return Population(
        as_of=date(2025, 11, 1), vin=np.arange(n).astype(str), build_date=START + built,
        delivered_on=START + built + 5, in_service_days=service,
        climate=rng.choice(["cold", "hot", "temperate"], n), usage=usage,
        attributes=[supplier, trim, *extra],
        first_failure_days={"seal": np.where(life < service, life, np.nan)},
        readings={}, station_machines={})


def test_expected_failures_sum_to_the_failures_in_each_stratum() -> None:
    rng = np.random.default_rng(0)
    duration, event = rng.uniform(0, 300, 5000), rng.random(5000) < 0.2
    strata = rng.integers(0, 4, 5000)
    expected = expected_failures(duration, event, strata)
    for stratum in range(4):
        mine = strata == stratum
        assert expected[mine].sum() == pytest.approx(event[mine].sum(), rel=0.05)


def test_best_window_counts_the_windows_it_searched() -> None:
    observed, expected = np.ones(20), np.ones(20)
    observed[6:10] = 6
    start, stop, llr, searched = best_window((observed, expected), (expected, expected),
                                             (2, 4), 5)
    assert (start, stop) == (6, 10) and llr > 0
    assert searched == 19 + 17 + 20  # 2-bin, 4-bin and open-ended windows


def test_a_suppliers_build_window_is_found_and_dated() -> None:
    pop = fleet(1)
    window = (pop.build_date >= START + 80) & (pop.build_date < START + 136)
    bad = window & (pop.attributes[0].codes == 1)
    pop = fleet(1, hazard=np.where(bad, 3.0, 1.0))
    found = find_root_causes(pop)
    assert [f.names["supplier"] for f in found] == ["SUPB"]
    duration, event = pop.survival("seal")
    levels = contemporaries(pop, pop.attributes)
    windows = window_candidates(pop, duration, event, usage_strata(pop), levels, 8)
    dated = next(w for w in windows if w.attribute.names(1)["supplier"] == "SUPB")
    first, last = ((np.datetime64(d, "D") - START).astype(int)
                   for d in dated.attribute.names(1)["window"])
    assert abs(first - 80) <= 14 and abs(last - 135) <= 14


def test_a_revision_is_compared_with_units_built_beside_it() -> None:
    pop = fleet(6)
    late = pop.build_date >= START + 150
    new_revision = Attribute("hardware_revision", "hardware_revision",
                             np.where(late, 1, 0).astype(np.int32), ["R-A", "R-B"])
    # everything built late fails more (a cause of the period), the new revision with it
    pop = fleet(6, hazard=np.where(late, 2.5, 1.0), extra=[new_revision])
    assert not [f for f in find_root_causes(pop) if "hardware_revision" in f.names]


def test_a_level_sent_to_high_mileage_customers_is_no_cause() -> None:
    rng = np.random.default_rng(2)
    n = DAYS * PER_DAY
    trim = rng.integers(0, 3, n)
    miles = rng.lognormal(np.log(35), 0.5, n) * np.where((trim == 1) & (rng.random(n) < 0.6),
                                                          2.7, 1.0)
    confounded = Attribute("trim", "trim", trim.astype(np.int32), ["AWD", "Perf", "RWD"])
    pop = fleet(2, miles=miles)
    pop.attributes[1] = confounded
    assert not [f for f in find_root_causes(pop) if "trim" in f.names]


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_a_fleet_without_a_cause_gives_no_finding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lots = Attribute("lot:P-2", "lot", (np.arange(DAYS * PER_DAY) // 120).astype(np.int32),
                     [f"L-{k}" for k in range(DAYS * PER_DAY // 120)], {"part": "P-2"})
    shift = Attribute("shift", "shift", rng.integers(0, 3, DAYS * PER_DAY).astype(np.int32),
                      ["A", "B", "C"])
    assert find_root_causes(fleet(seed, extra=[lots, shift])) == []


def test_a_revision_that_is_its_suppliers_window_is_named_with_it() -> None:
    """SUPB ships revision R2 for its first half, then R3; only R2 is weak. SUPB's best build
    window is exactly R2's units — no data tells them apart — so the one finding names both,
    and SUPB's other units (its later half), failing at the base rate, are not a finding."""
    base = fleet(2)
    supb = base.attributes[0].codes == 1
    revision = np.where(supb, np.where(base.build_date < START + DAYS // 2, 1, 2), 0)
    rev = Attribute("hardware_revision", "hardware_revision", revision.astype(np.int32),
                    ["R1", "R2", "R3"])
    pop = fleet(2, hazard=np.where(revision == 1, 2.5, 1.0), extra=[rev])
    found = [f.record()["names"] for f in find_root_causes(pop)]
    assert len(found) == 1 and found[0]["hardware_revision"] == "R2", found
    assert found[0]["supplier"] == "SUPB"


@pytest.mark.parametrize(("decile", "found"), [(9, True), (0, True), (8, False), (1, False)])
def test_a_readings_range_is_a_cause_only_at_an_end_of_the_range(decile: int,
                                                                  found: bool) -> None:
    """Units whose torque fell in one decile fail 3×: the top or bottom decile is reported as
    a range (a limit crossed); the decile next to it alone is not — past a limit harm grows
    towards the end — though its effect is as large (the middle ones are not even tested)."""
    n = DAYS * PER_DAY
    values = np.random.default_rng(7).normal(100.0, 1.0, n)
    torque, = reading_attributes({("GA-010", "torque"): values})
    rank_decile = np.argsort(np.argsort(values)) * 10 // n
    pop = fleet(6, hazard=np.where(rank_decile == decile, 3.0, 1.0), extra=[torque])
    pop.readings = {("GA-010", "torque"): values}
    ranges = [f.names for f in find_root_causes(pop) if f.names.get("parameter") == "torque"]
    assert bool(ranges) == found, ranges


def _deciles_only(values: np.ndarray) -> Attribute:
    """The reading binned into plain deciles (as root cause did before its end deciles were
    split at their outer 2 %)."""
    edges = np.quantile(values, np.linspace(0, 1, 11))
    codes = np.searchsorted(edges[1:-1], values, side="right").astype(np.int32)
    depth = np.minimum(np.arange(10), np.arange(10)[::-1]) / 10
    return Attribute("reading:GA-010:torque", "reading", codes, list(range(10)),
                     {"station": "GA-010", "parameter": "torque", "edges": edges,
                      "depth": depth})


def test_a_dose_beyond_a_limit_is_found_in_the_extreme_bin_where_a_decile_dilutes_it() -> None:
    """A dose growing as the square of the excess over the 90th percentile (the decile's
    mean ×1.8, its extreme fiftieth ×3.9) is found in more worlds with the end deciles split
    at 2 % than with plain deciles: the extreme bin holds most of the excess in a fifth of
    the units."""
    n = DAYS * PER_DAY
    found = {"split": 0, "deciles": 0}
    for seed in range(8):
        values = np.random.default_rng(100 + seed).normal(100.0, 1.0, n)
        limit = np.quantile(values, 0.9)
        dose = np.maximum(values - limit, 0.0) ** 2
        hazard = 1.0 + 0.8 * dose / dose[values > limit].mean()
        for name, attribute in (("split", reading_attributes({("GA-010", "torque"):
                                                              values})[0]),
                                ("deciles", _deciles_only(values))):
            pop = fleet(seed, hazard=hazard, extra=[attribute])
            pop.readings = {("GA-010", "torque"): values}
            found[name] += any(f.names.get("parameter") == "torque"
                               for f in find_root_causes(pop))
    assert found["split"] >= 7 and found["split"] >= found["deciles"] + 2, found


def test_a_level_that_holds_most_of_its_contemporaries_is_judged_against_them_alone() -> None:
    # 800 cars of a supplier ×2 against the 200 built beside it; 9,000 others not compared.
    # The exact floor under the χ² p counts the compared cars' failures only: over the
    # whole fleet's failures the supplier would look like a small level, and its floor
    # would hide what the log-rank sees.
    rng = np.random.default_rng(4)
    codes = np.r_[np.ones(800), np.zeros(200), np.full(9_000, -1)].astype(np.int32)
    life = rng.exponential(900 / np.where(codes == 1, 2.0, 1.0))
    duration, event = np.minimum(life, 300.0), life < 300.0
    rows = _survival_scan(duration, event, codes[:, None], np.zeros(len(codes), np.int64))
    level = rows[rows.level == 1].iloc[0]
    assert level.observed + rows[rows.level == 0].observed.iloc[0] < event.sum() / 5
    logrank = ml.logrank_scan(duration, event, codes[:, None]).query("level == 1").p.iloc[0]
    assert logrank < 1e-5 and level.p < 1e-4  # over every failure, its floor was 0.009
