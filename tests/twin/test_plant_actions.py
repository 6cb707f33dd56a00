"""Actions change the plant from their effective day, and unknown targets are refused."""

from __future__ import annotations

import pandas as pd
import pytest
from plant_helpers import NOMINAL_KA, day_of, latent_frame, make_plant, run

from gigaloop.actuate import (
    Action,
    Calibration,
    EngineeringChange,
    MaintenanceOrder,
    SetpointChange,
)


def enact(action: Action, days: int):
    plant = make_plant()
    assert plant.actions.check(action) is None
    plant.actions.queue(action)
    frames, built = run(plant, days)
    return plant, frames, latent_frame(built)


def test_containing_a_lot_in_use_stops_it_from_that_day() -> None:
    _, baseline, _ = enact(SetpointChange(day=0, station_id="GA-010", parameter="torque",
                                          setpoint=110.0), 36)
    lots = baseline["vehicle_lots"].merge(baseline["vehicles"][["vin", "build_date"]])
    used = sorted(set(lots.loc[lots["lot_id"] == "CELL-SUPB-0008", "build_date"]))
    assert len(used) >= 2
    first = (used[0] - baseline["vehicles"]["build_date"].min()).days
    plant, frames, latent = enact(
        EngineeringChange(day=first + 1, change_id="ECR-1", target={"lot": "CELL-SUPB-0008"}),
        36)
    lots = frames["vehicle_lots"].merge(frames["vehicles"][["vin", "build_date"]])
    days = {(d - frames["vehicles"]["build_date"].min()).days
            for d in lots.loc[lots["lot_id"] == "CELL-SUPB-0008", "build_date"]}
    assert days == {first}
    used_first_day = int((lots["lot_id"] == "CELL-SUPB-0008").sum())
    lot_size = int(frames["lots"].set_index("lot_id").loc["CELL-SUPB-0008", "quantity"])
    assert plant.supply.scrapped == lot_size - used_first_day > 0  # the rest is scrap
    assert (latent.loc[latent["build_day"] > first, "fault_cell_fade"] == "").all()
    assert plant.history.ended_day["F1-weak-cell-lot"] == first + 1
    assert set(frames["vehicles"].loc[frames["vehicles"]["build_date"] > used[0],
                                      "design_revision"]) == {"D2"}


def test_containing_a_future_lot_skips_it() -> None:
    plant, frames, latent = enact(
        EngineeringChange(day=2, target={"lot": "CELL-SUPB-0008"}), 36)
    assert "CELL-SUPB-0008" not in set(frames["lots"]["lot_id"])
    assert plant.supply.scrapped == 0  # never made, nothing wasted
    assert "CELL-SUPB-0009" in set(frames["lots"]["lot_id"])
    assert (latent["fault_cell_fade"] == "").all()


def test_setpoint_change_moves_readings_from_its_day() -> None:
    plant, frames, _ = enact(SetpointChange(day=3, station_id="GA-010", parameter="torque",
                                            setpoint=115.0), 6)
    torque = frames["process_readings"].query("station_id == 'GA-010'")
    torque = torque.assign(day=day_of(plant, torque))
    before, after = torque[torque["day"] < 3], torque[torque["day"] >= 3]
    assert abs(before["value"].mean() - 110) < 0.5 and (before["setpoint"] == 110).all()
    assert abs(after["value"].mean() - 115) < 0.5 and (after["setpoint"] == 115).all()


def test_setpoint_on_one_machine_compensates_its_drift() -> None:
    plant, frames, _latent = enact(SetpointChange(day=50, station_id="BW-030-R2",
                                                 parameter="weld_current", setpoint=11.5), 54)
    weld = frames["process_readings"].query("parameter == 'weld_current' and "
                                            "station_id == 'BW-030'")
    weld = weld.assign(day=day_of(plant, weld))
    late = weld[weld["day"].between(51, 53)].groupby("machine_id")["value"].mean()
    assert abs(late["BW-030-R1"] - NOMINAL_KA) < 0.1
    assert abs(late["BW-030-R2"] - NOMINAL_KA) < 0.4  # 11.5 kA setpoint minus ≈ 1.1 kA drift


def test_recalibrating_the_station_ends_the_drift() -> None:
    plant, frames, latent = enact(
        EngineeringChange(day=45, change_id="ECR-2", target={"station": "BW-030"}), 50)
    weld = frames["process_readings"].query("machine_id == 'BW-030-R2' and "
                                            "parameter == 'weld_current'")
    weld = weld.assign(day=day_of(plant, weld))
    assert weld.loc[weld["day"].between(42, 44), "value"].mean() < NOMINAL_KA - 0.2
    assert abs(weld.loc[weld["day"] >= 45, "value"].mean() - NOMINAL_KA) < 0.1
    assert (latent.loc[latent["build_day"] >= 46, "fault_seam_defect"] == "").all()
    assert plant.history.ended_day["F2-weld-drift"] == 45


def test_retiring_a_hardware_revision_switches_to_its_fix() -> None:
    plant, _frames, latent = enact(
        EngineeringChange(day=2, target={"hardware_revision": "CAM-B"}), 8)
    assert plant.history.redesigns == 1
    late = latent[latent["build_day"] >= 2]
    assert "CAM-B" not in set(late["hardware_revision"])
    assert "CAM-B2" in set(late["hardware_revision"])
    assert (late["rain_perception"] == 1.0).all()


def test_reworking_what_the_seam_inspection_fails_repairs_those_units() -> None:
    """Units the seam vision failed shipped with their flaw; from the change's day they are
    reworked (their seam back to nominal), and the world counts them."""
    plant, frames, latent = enact(EngineeringChange(
        day=52, change_id="ECR-3", target={"station": "BW-040", "inspection": "weld_seam"}), 58)
    seams = frames["inspection_results"].query("inspection == 'weld_seam'")
    failed = latent.set_index("vin").loc[seams.loc[~seams["passed"], "vin"]]
    before, after = failed[failed["build_day"] < 52], failed[failed["build_day"] >= 52]
    assert len(after) and (after["seam_defect"] == 1.0).all()
    assert (before["seam_defect"] > 1.0).sum() > 5  # the weld drift's weak seams, shipped
    drifting = latent[latent["build_day"] >= 52]
    assert (drifting["seam_defect"] > 1.0).any()  # those the vision passed are not touched
    assert plant.builder.reworked == len(after)
    assert "reworked" in plant.history.actions[-1]["detail"]


def test_a_calibration_is_recorded_on_its_day() -> None:
    plant, frames, _ = enact(Calibration(day=2, machine_id="BW-030-R2", reason="test"), 4)
    events = frames["maintenance_events"]
    done = events[(events["machine_id"] == "BW-030-R2") & (events["kind"] == "calibration")]
    assert len(done) == 1 and done["reason"].iloc[0] == "test"
    assert plant.history.actions[-1]["detail"] == "recalibrated BW-030-R2"


def test_dropping_a_supplier_stops_its_lots() -> None:
    _, frames, _ = enact(EngineeringChange(day=2, target={"supplier": "SUPB"}), 10)
    lots = frames["lots"].assign(day=lambda f: f["event_time"].dt.normalize())
    late = lots[lots["day"] >= lots["day"].min() + pd.Timedelta(days=3)]
    assert len(late) and not late["lot_id"].str.contains("CELL-SUPB").any()


@pytest.mark.parametrize(("action", "reason"), [
    (MaintenanceOrder(day=1, machine_id="ST-999-P1"), "unknown machine"),
    (Calibration(day=1, machine_id="ST-999-P1"), "unknown machine"),
    (SetpointChange(day=1, station_id="XX-010", parameter="torque", setpoint=1.0),
     "unknown station or machine"),
    (SetpointChange(day=1, station_id="GA-010", parameter="weld_current", setpoint=10.0),
     "has no parameter"),
    (SetpointChange(day=1, station_id="BW-030", parameter="weld_current", setpoint=30.0),
     "outside the safe range"),
    (EngineeringChange(day=1, target={"colour": "red"}), "target must use keys"),
    (EngineeringChange(day=1, target={"lot": "CELL-SUPQ-0001"}), "unknown lot"),
    (EngineeringChange(day=1, target={"supplier": "SUPE"}), "sole source"),
    (EngineeringChange(day=1, target={"hardware_revision": "CAM-Z"}), "unknown hardware"),
    (EngineeringChange(day=1, target={"station": "BW-030", "machine": "BW-010-R1"}),
     "is not at station"),
    (EngineeringChange(day=1, target={"station": "PT-030", "inspection": "paint_thickness"}),
     "no reworkable inspection"),
])
def test_unknown_targets_are_refused_with_a_reason(action: Action, reason: str) -> None:
    assert reason in (make_plant().actions.check(action) or "")
