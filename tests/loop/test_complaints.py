"""Owners' complaints as failure modes: found before the claims, mapped to their component,
and quiet when they are noise."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from gigaloop.loop.changes import plan_actions, same_cause
from gigaloop.loop.finding import RootCauseConfig
from gigaloop.loop.population import Attribute, Population
from gigaloop.loop.rootcause import find_root_causes

DAYS, PER_DAY = 200, 60
STATION, BAD = "GA-010", "GA-010-T1"


def _world(seed: int, *, defect: bool) -> Population:
    """Two nutrunners, T1's torque drifting on build days 60–120 (a drift window the
    readings show); with ``defect`` the units it built then are heading for a trim failure:
    a few have failed (too few claims for the scan), and a share of their owners already
    complain. Every owner complains about some part now and then (noise)."""
    rng = np.random.default_rng(seed)
    n = DAYS * PER_DAY
    day = np.repeat(np.arange(DAYS), PER_DAY)
    build = np.datetime64("2025-01-01") + day
    machine = np.where(rng.random(n) < 0.5, BAD, "GA-010-T2").astype(object)
    in_service = (np.datetime64("2025-07-31") - build).astype(float)
    claims, complaints = np.full(n, np.nan), np.full(n, np.nan)
    for events, rate in ((claims, 0.002), (complaints, 0.01)):  # per unit, over its service
        hit = rng.random(n) < rate
        events[hit] = rng.uniform(0, in_service[hit])
    window = (machine == BAD) & (day >= 60) & (day <= 120)
    if defect:
        failing = rng.choice(np.flatnonzero(window), 50, replace=False)
        claims[failing[:4]] = rng.uniform(20, 40, 4)
        said = failing[rng.random(len(failing)) < 0.6]  # the symptom, before the failure
        complaints[said] = rng.uniform(0, 20, len(said))
    codes = np.where(machine == BAD, 0, 1).astype(np.int32)
    zero = np.zeros(n)
    return Population(
        as_of=date(2025, 7, 31), vin=np.arange(n).astype(str), build_date=build,
        delivered_on=build + 1, in_service_days=in_service, climate=np.full(n, "temperate"),
        usage=pd.DataFrame({"telemetry_days": zero, "miles_per_day": rng.gamma(4.0, 8.0, n),
                            "dc_kwh_per_day": zero, "clear_disengagements": zero,
                            "autopilot_miles": zero, "ambient_temp_c": np.full(n, 15.0),
                            "in_service_days": in_service}),
        attributes=[Attribute(f"machine:{STATION}", "machine", codes, [BAD, "GA-010-T2"],
                              {"station": STATION}),
                    Attribute(f"drift:{BAD}:torque", "drift",
                              np.where(window, 1, np.where(machine == BAD, 0, -1)).astype(
                                  np.int32), ["outside", "inside"],
                              {"station": STATION, "machine": BAD, "parameter": "torque",
                               "window": ["2025-03-02", "2025-05-01"]})],
        first_failure_days={"paint_trim": claims,  # a claim is a complaint too
                            "complaint:paint_trim": np.fmin(claims, complaints)},
        readings={}, station_machines={STATION: machine})


def test_complaints_point_at_the_machine_before_the_claims_can():
    found = 0
    for seed in range(5):
        pop = _world(seed, defect=True)
        findings = find_root_causes(pop)
        on_bad = [f for f in findings if f.names.get("machine") == BAD]
        assert all(f.failure_mode == "complaint:paint_trim" for f in on_bad)
        found += bool(on_bad)
        off = find_root_causes(pop, RootCauseConfig(complaints=False))
        assert not off  # four claims: the claims alone say nothing yet
    assert found >= 4  # ~30 complaints among ~1,800 units, against ~18 from noise


def test_complaints_that_are_noise_give_no_finding():
    reported = sum(bool(find_root_causes(_world(100 + seed, defect=False)))
                   for seed in range(10))
    assert reported <= 1


def test_a_complaint_finding_services_its_component_and_shares_its_claims_cause():
    complaint = {"failure_mode": "complaint:paint_trim",
                 "names": {"station": STATION, "machine": BAD,
                           "window": ["2025-03-02", "2025-05-01"]}}
    claim = {"failure_mode": "paint_trim", "names": {"station": STATION, "machine": BAD,
                                                     "window": ["2025-03-05", "2025-05-01"]}}
    actions = plan_actions(complaint, change_id="C001", day=90, vins=("V1",))
    assert [a.kind for a in actions] == ["engineering_change", "service_campaign"]
    assert actions[1].component == "paint_trim"
    assert same_cause(complaint, claim)
    assert not same_cause(complaint, {**claim, "failure_mode": "body_seam"})
