"""The fleet twin: schema, reproducibility, actions, truth and customers."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from gigaloop.actuate import PredictiveService, ServiceCampaign, SoftwareRollout
from gigaloop.errors import ActuationError
from gigaloop.fleet.ota import signed_rollout
from gigaloop.fleet.registry import Signer
from gigaloop.schema import INGESTED_AT, get_table
from gigaloop.twin.fleet import Fleet
from gigaloop.twin.fleet_rows import FLEET_OUTPUTS
from gigaloop.twin.units import BuiltUnits, demo_units

START = date(2025, 1, 6)
SIGNER = Signer.generate()


def run(days: int, batches: dict[int, BuiltUnits], seed: int = 0,
        actions: dict[int, list] | None = None, builds: dict[str, bytes] | None = None
        ) -> tuple[Fleet, dict[str, pa.Table]]:
    """``builds``: software handed to the fleet, by version (vehicles trust ``SIGNER``)."""
    fleet = Fleet(start_date=START, rng=np.random.default_rng(seed), units_per_day=100)
    fleet.updates.provision(SIGNER.trusted())
    fleet.updates.artefacts.update(builds or {})
    parts: dict[str, list[pa.Table]] = {name: [] for name in FLEET_OUTPUTS}
    for day in range(days):
        for action in (actions or {}).get(day, []):
            assert fleet.apply(action).accepted
        if day in batches:
            fleet.add_built(batches[day])
        for name, table in fleet.step(day).items():
            parts[name].append(table)
    return fleet, {name: pa.concat_tables(p) for name, p in parts.items()}


def with_fault(units: BuiltUnits, key: str, fault_id: str) -> BuiltUnits:
    units.fault_id[key] = np.full(len(units), fault_id, dtype=object)
    return units


def test_tables_match_the_schema_exactly():
    _, tables = run(40, {0: demo_units(300, build_day=0)})
    assert set(tables) == set(FLEET_OUTPUTS)
    for name, table in tables.items():
        expected = pa.schema([f for f in get_table(name).arrow_schema() if f.name != INGESTED_AT])
        assert table.schema.equals(expected), name
    for name in ("telemetry_daily", "trigger_events", "customers", "subscriptions",
                 "component_failures", "service_visits", "feedback", "diagnostic_codes"):
        assert tables[name].num_rows > 0, name
    telemetry = tables["telemetry_daily"]
    assert pc.min(telemetry["day"]).as_py() >= date(2025, 1, 9)
    assert pc.max(telemetry["hard_braking_fraction"]).as_py() <= 1.0
    assert telemetry.group_by(["vin", "day"]).aggregate([]).num_rows == telemetry.num_rows


def test_same_seed_same_world_and_another_seed_another():
    first = run(20, {0: demo_units(200, build_day=0)}, seed=3)[1]
    second = run(20, {0: demo_units(200, build_day=0)}, seed=3)[1]
    other = run(20, {0: demo_units(200, build_day=0)}, seed=4)[1]
    for name in FLEET_OUTPUTS:
        assert first[name].equals(second[name]), name
    assert not first["telemetry_daily"].equals(other["telemetry_daily"])


def test_deliveries_come_3_to_10_days_after_build_to_consenting_telemetry():
    fleet, tables = run(15, {2: demo_units(400, build_day=2)})
    delivered = tables["customers"].column("delivered_on").to_pylist()
    offsets = {(d - START).days - 2 for d in delivered}
    assert min(offsets) >= 3 and max(offsets) <= 10
    consenting = pc.sum(tables["customers"]["consent_telemetry"]).as_py()
    last = tables["telemetry_daily"].filter(pc.equal(tables["telemetry_daily"]["day"],
                                                     pa.scalar(date(2025, 1, 20))))
    assert last.num_rows == consenting < 400
    assert fleet.kpis()["vehicles_in_field"] == 400


def test_hot_climate_bias_moves_deliveries_to_hot_regions():
    plain = demo_units(1500, build_day=0)
    biased = demo_units(1500, build_day=0, seed=1, hot_climate_bias=0.6)
    _, tables = run(12, {0: plain})
    _, tables_biased = run(12, {0: biased})

    def hot_share(t: pa.Table) -> float:
        return pc.mean(pc.equal(t["climate_region"], "hot")).as_py()

    assert hot_share(tables["customers"]) == pytest.approx(0.25, abs=0.04)
    assert hot_share(tables_biased["customers"]) > 0.65


def test_software_rollout_changes_shares_and_rollback_restores():
    build = b"2025.32.0"
    release = {"model_name": "driver_assistance", "sha256": hashlib.sha256(build).hexdigest(),
               "length": len(build), "hardware": ["HW4"]}

    def signed(day: int, stage: str, share: float) -> SoftwareRollout:
        return signed_rollout(SIGNER, "2025.32.0", release, version_number=1, day=day,
                              now=datetime(2025, 1, 6) + timedelta(days=day - 1),
                              stage=stage, share=share)

    rollout, back = signed(15, "staged", 0.3), signed(25, "rollback", 0.0)
    _, tables = run(30, {0: demo_units(2000, build_day=0)}, actions={5: [rollout, back]},
                    builds={"2025.32.0": build})
    reports = tables["ota_reports"]
    assert reports["result"].to_pylist() == ["installed"] * 2
    telemetry = tables["telemetry_daily"]

    def share(day: int) -> float:
        rows = telemetry.filter(pc.equal(telemetry["day"], pa.scalar(START + timedelta(days=day))))
        return pc.mean(pc.equal(rows["software_version"], "2025.32.0")).as_py()

    assert share(14) == 0.0
    assert share(20) == pytest.approx(0.3, abs=0.04)
    assert share(27) == 0.0


def test_service_campaign_resets_seam_defect_and_lowers_failures():
    serviced = with_fault(demo_units(1500, build_day=0, seam_defect=30.0), "seam_defect", "F2")
    left = with_fault(demo_units(1500, build_day=0, seed=1, seam_defect=30.0), "seam_defect", "F2")
    both = BuiltUnits(np.concatenate([serviced.vin, left.vin]),
                      np.zeros(3000, np.int64), *(np.concatenate([a, b]) for a, b in (
                          (serviced.model, left.model), (serviced.trim, left.trim),
                          (serviced.hardware_revision, left.hardware_revision))),
                      {k: np.concatenate([serviced.latent[k], left.latent[k]])
                       for k in serviced.latent},
                      {k: np.concatenate([serviced.fault_id[k], left.fault_id[k]])
                       for k in serviced.fault_id})
    campaign = ServiceCampaign(day=15, campaign_id="C-SEAM-1", component="body_seam",
                               vins=tuple(serviced.vin))
    fleet, tables = run(240, {0: both}, actions={14: [campaign]})
    claims = tables["component_failures"].filter(
        pc.equal(tables["component_failures"]["component"], "body_seam"))
    vins = set(claims["vin"].to_pylist())
    hit_serviced = len(vins & set(serviced.vin))
    hit_left = len(vins & set(left.vin))
    assert hit_left > 3 * max(hit_serviced, 5)
    visits = tables["service_visits"].filter(
        pc.equal(tables["service_visits"]["reason"], "campaign"))
    assert set(visits["campaign_id"].to_pylist()) == {"C-SEAM-1"}
    assert 0.75 * 1500 < visits.num_rows <= 1500
    assert set(visits["vin"].to_pylist()) <= set(serviced.vin)
    # capacity: at most 50 campaign visits a day (units_per_day // 2)
    per_day = pc.value_counts(pc.strftime(visits["event_time"], "%Y-%m-%d"))
    assert max(c.as_py() for c in per_day.field("counts")) <= 50
    assert fleet.kpis()["campaign_visits"] == visits.num_rows
    # truth: the first seam failure the fault caused, on an affected unit
    truth = [e for e in fleet.truth_events() if e["kind"] == "first_field_failure"]
    assert [e["fault_id"] for e in truth] == ["F2"]
    assert truth[0]["vin"] in set(both.vin) and truth[0]["failure_mode"] == "body_seam"


def test_actions_the_fleet_cannot_take():
    fleet = Fleet(start_date=START, rng=np.random.default_rng(0), units_per_day=10)
    assert not fleet.apply(ServiceCampaign(day=0, component="flux_capacitor")).accepted
    assert not fleet.apply(SoftwareRollout(day=0, software_version="", fleet_fraction=1)).accepted
    from gigaloop.actuate import MaintenanceOrder

    with pytest.raises(ActuationError):
        fleet.apply(MaintenanceOrder(day=0, machine_id="X"))


def test_customers_subscribe_and_rate_lower_after_failures():
    fleet, tables = run(60, {0: demo_units(3000, build_day=0)})
    subs = tables["subscriptions"]
    starts = subs.filter(pc.is_null(subs["ended_on"]))
    fsd = pc.sum(pc.equal(starts["product"], "fsd")).as_py() / 3000
    assert fsd == pytest.approx(0.12, abs=0.03)
    assert set(subs["monthly_price_usd"].to_pylist()) == {99.0, 9.99}
    assert pc.sum(pc.is_valid(subs["ended_on"])).as_py() > 0
    feedback = tables["feedback"]
    service = pc.mean(feedback.filter(pc.equal(feedback["channel"], "service"))["rating"])
    survey = pc.mean(feedback.filter(pc.equal(feedback["channel"], "survey"))["rating"])
    assert service.as_py() < survey.as_py() - 1
    assert fleet.kpis()["software_revenue"] > 0


def test_predictive_service_replaces_the_part_before_it_fails():
    """Codes of one half of the fleet are booked the next day: their precursor-coded
    failures mostly vanish; the other half's stay."""
    fleet = Fleet(start_date=START, rng=np.random.default_rng(2), units_per_day=100)
    fleet.add_built(demo_units(15_000, build_day=0))
    booked, claims, visits = set(), [], []
    for day in range(240):
        tables = fleet.step(day)
        codes = tables.get("diagnostic_codes")
        if codes is not None and codes.num_rows:
            coded = codes.filter(pc.equal(codes["code"], "CP_a004_latch"))["vin"].to_pylist()
            half = tuple(v for v in coded if int(v[-1]) % 2 == 0)
            booked |= set(half)
            if half:
                receipt = fleet.apply(PredictiveService(day=day + 1, vins=half,
                                                        component="charge_port"))
                assert receipt.accepted, receipt.detail
        if "component_failures" in tables:
            claims.append(tables["component_failures"])
        if "service_visits" in tables:
            visits.append(tables["service_visits"])
    failed = pa.concat_tables(claims)
    ports = failed.filter(pc.equal(failed["component"], "charge_port"))["vin"].to_pylist()
    even = sum(int(v[-1]) % 2 == 0 for v in ports)
    odd = len(ports) - even
    assert odd > 40 and even < 0.8 * odd, (even, odd)   # half the failures have a code
    served = pa.concat_tables(visits)
    served = served.filter(pc.equal(served["reason"], "predictive"))
    assert served.num_rows > 0.5 * (odd - even)
    assert set(served["component"].to_pylist()) == {"charge_port"}
    assert set(served["vin"].to_pylist()) <= booked
    per_day = pc.value_counts(pc.strftime(served["event_time"], "%Y-%m-%d"))
    assert max(c.as_py() for c in per_day.field("counts")) <= 25   # units_per_day // 4
    assert not fleet.apply(PredictiveService(day=0, component="warp_core")).accepted
    # the technician finds a coded part (its failure days away) degraded, and leaves the
    # condition of a repaired one empty
    coded = served.filter(pc.less(pc.strftime(served["event_time"], "%Y-%m-%d"), "2025-08-01"))
    condition = coded["part_condition"].to_pylist()
    assert condition.count("degraded") > 0.8 * len(condition), condition
    repairs = pa.concat_tables(visits).filter(pc.equal(pa.concat_tables(visits)["reason"],
                                                       "repair"))
    assert repairs.num_rows and repairs["part_condition"].null_count == repairs.num_rows


def test_a_booking_finds_vehicles_delivered_after_the_last_one_in_the_order_given():
    fleet = Fleet(start_date=START, rng=np.random.default_rng(5), units_per_day=100)
    fleet.add_built(demo_units(600, build_day=0))
    day = 0
    while not len(fleet.vins):
        fleet.step(day)
        day += 1
    early = fleet.vins.to_pylist()
    assert fleet.field_index([early[-1], "NOT-A-VIN", early[0]]).tolist() == [len(early) - 1, 0]
    for later_day in range(day, day + 10):
        fleet.step(later_day)
    later = fleet.vins.to_pylist()
    assert len(later) > len(early)
    assert fleet.field_index(later[::-1]).tolist() == list(range(len(later)))[::-1]


def test_a_healthy_part_a_visit_removes_is_mostly_found_serviceable():
    fleet = Fleet(start_date=START, rng=np.random.default_rng(4), units_per_day=100)
    fleet.add_built(demo_units(2_000, build_day=0))
    for day in range(30):  # delivered
        fleet.step(day)
    vins = tuple(fleet.vins.to_pylist()[:200])
    assert fleet.apply(PredictiveService(day=30, vins=vins, component="touchscreen")).accepted
    visits = [fleet.step(day).get("service_visits") for day in range(30, 50)]
    served = pa.concat_tables([v for v in visits if v is not None])
    served = served.filter(pc.equal(served["reason"], "predictive"))
    condition = served["part_condition"].to_pylist()
    assert len(condition) > 150 and condition.count("serviceable") > 0.85 * len(condition)
