"""Precursor codes as the car's own complaints: which codes count, and what they reveal that
claims no longer can once predictive service replaces the parts they warn about."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from gigaloop.loop.population import Attribute, Population
from gigaloop.loop.precursors import add_code_complaints, precursor_links
from gigaloop.loop.rootcause import find_root_causes

START = pd.Timestamp("2025-01-01")
DAYS, PER_DAY = 200, 60
PART, CODE, NOISE = "charge_port", "CP_latch", "UI_wifi"


def _history(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """2,000 cars over 200 days: 60 raise the part's code, and 45 of them claim the part
    5–40 days later; 600 raise a nuisance code; 40 others claim the part unannounced."""
    rng = np.random.default_rng(seed)
    vins = np.array([f"V{i:04d}" for i in range(2000)])
    warned, noisy = vins[:60], rng.choice(vins[60:], 600, replace=False)
    unannounced = rng.choice(np.setdiff1d(vins[60:], noisy), 40, replace=False)
    code_day = rng.uniform(0, 150, 60)
    codes = pd.DataFrame({
        "vin": np.r_[warned, noisy], "code": [CODE] * 60 + [NOISE] * 600,
        "event_time": START + pd.to_timedelta(np.r_[code_day, rng.uniform(0, 200, 600)], "D")})
    failed = rng.random(60) < 0.75
    claim_day = np.r_[code_day[failed] + rng.uniform(5, 40, failed.sum()),
                      rng.uniform(0, 200, 40)]
    failures = pd.DataFrame({"vin": np.r_[warned[failed], unannounced], "component": PART,
                             "event_time": START + pd.to_timedelta(claim_day, "D"),
                             "cost_usd": 400.0, "roadside": False})
    return codes, failures


def test_a_code_most_of_whose_cars_claim_the_part_is_its_precursor_and_noise_is_not():
    for seed in range(5):
        codes, failures = _history(seed)
        until = START + pd.Timedelta(days=200)
        assert precursor_links(codes, failures, failures.iloc[:0], until) == {CODE: PART}


def test_no_claims_no_links():
    codes, failures = _history(0)
    assert precursor_links(codes, failures.iloc[:0], failures.iloc[:0], START) == {}


def _population(seed: int) -> tuple[Population, pd.DataFrame]:
    """Cars of five lots of one part; the parts of lot L3 are weak: 20 of its 2,400 cars
    raise the part's code, and predictive service replaces every one of those parts
    before it fails, so its claims are the background's (0.3 % of every lot, which raise
    the code first half the time)."""
    rng = np.random.default_rng(seed)
    n = DAYS * PER_DAY
    day = np.repeat(np.arange(DAYS), PER_DAY)
    build = np.datetime64("2025-01-01") + day
    delivered = build + 3
    as_of = np.datetime64("2025-07-31")
    in_service = (as_of - delivered).astype(float)
    lot = rng.integers(0, 5, n).astype(np.int32)
    vin = np.array([f"V{i:05d}" for i in range(n)])
    claims = np.full(n, np.nan)
    hit = rng.random(n) < 0.003
    claims[hit] = rng.uniform(0, in_service[hit])
    warned = hit & (rng.random(n) < 0.5)
    weak = rng.choice(np.flatnonzero((lot == 3) & (in_service > 30)), 20, replace=False)
    code_day = np.r_[claims[warned] - rng.uniform(5, 30, warned.sum()),
                     rng.uniform(0, in_service[weak] - 1)]
    who = np.r_[np.flatnonzero(warned), weak]
    codes = pd.DataFrame({"vin": vin[who], "code": CODE, "event_time": pd.to_datetime(
        delivered[who]) + pd.to_timedelta(code_day, "D")})
    zero = np.zeros(n)
    pop = Population(
        as_of=date(2025, 7, 31), vin=vin, build_date=build, delivered_on=delivered,
        in_service_days=in_service, climate=np.full(n, "temperate"),
        usage=pd.DataFrame({"telemetry_days": zero, "miles_per_day": rng.gamma(4.0, 8.0, n),
                            "dc_kwh_per_day": zero, "clear_disengagements": zero,
                            "autopilot_miles": zero, "ambient_temp_c": np.full(n, 15.0),
                            "in_service_days": in_service}),
        attributes=[Attribute("lot:CP-HOUSING", "lot", lot, [f"L{k}" for k in range(5)],
                              {"part": "CP-HOUSING"})],
        first_failure_days={PART: claims}, readings={}, station_machines={})
    return pop, codes


def test_a_weak_lot_its_codes_got_replaced_is_found_through_the_codes_alone():
    found = 0
    for seed in range(5):
        pop, codes = _population(seed)
        assert not _on_weak_lot(pop)  # its claims are the background's
        add_code_complaints(pop, codes, {CODE: PART})
        on_lot = _on_weak_lot(pop)
        assert all(f.failure_mode == f"complaint:{PART}" for f in on_lot)
        found += bool(on_lot)
    assert found >= 4  # 20 warned cars of ~2,400, against ~4 from the background


def _on_weak_lot(pop: Population) -> list:
    return [f for f in find_root_causes(pop) if f.names.get("lot") == "L3"]


def test_a_code_moves_a_car_s_complaint_earlier_but_never_before_delivery():
    pop, _ = _population(0)
    failed = np.flatnonzero(np.isfinite(pop.first_failure_days[PART]))[:3]
    moment = pd.to_datetime(pop.delivered_on[failed])
    codes = pd.DataFrame({"vin": pop.vin[failed], "code": CODE, "event_time": [
        moment[0] + pd.Timedelta(days=pop.first_failure_days[PART][failed[0]] + 5),  # after
        moment[1] - pd.Timedelta(days=2),                                           # before
        moment[2]]})                                                                 # day 0
    claims = pop.first_failure_days[PART].copy()
    add_code_complaints(pop, codes, {CODE: PART, NOISE: "touchscreen"})
    complaint = pop.first_failure_days[f"complaint:{PART}"]
    assert complaint[failed[0]] == claims[failed[0]]  # the claim came first
    assert complaint[failed[1]] == claims[failed[1]]  # raised at the plant: not the field
    assert complaint[failed[2]] == 0.0
    others = np.setdiff1d(np.arange(len(pop)), failed)
    np.testing.assert_array_equal(complaint[others], claims[others])
    assert "complaint:touchscreen" not in pop.first_failure_days  # no claim: no mode
