"""Scoring: found only at the right names, rank and window; red herrings count as false."""

from gigaloop.loop.score import score_findings


def fault(id_, mode, names, first=None, red_herring=False):
    return {"id": id_, "finding": {"failure_mode": mode, "names": names,
                                   "red_herring": red_herring},
            "happened": {"first_field_failure_day": first}}


TRUTH = {"scenario": {"start_date": "2025-01-06"}, "faults": [
    fault("lot", "battery_pack", {"lot": "L7"}, first=100),
    fault("weld", "body_seam", {"station": "BW-030", "machine": "BW-030-R2",
                                "window": [40, 58]}, first=150),
    fault("herring", "battery_fade", {"shift": "C"}, red_herring=True),
]}


def finding(id_, mode, names, rank=1, day=200):
    return {"id": id_, "failure_mode": mode, "names": names, "rank": rank, "day_found": day}


def test_found_rank_window_and_false_findings():
    findings = [
        finding("a", "battery_pack", {"lot": "L7"}, rank=2, day=130),
        finding("b", "body_seam", {"station": "BW-030",
                                   "window": ["2025-02-20", "2025-03-07"]}, day=190),
        finding("c", "battery_fade", {"shift": "C"}),
        finding("d", "battery_pack", {"lot": "L8"}),
    ]
    score = score_findings(findings, TRUTH)
    by_id = {f["id"]: f for f in score["faults"]}
    assert by_id["lot"]["found"] and by_id["lot"]["days_to_find"] == 30
    assert by_id["weld"]["found"] and by_id["weld"]["days_to_find"] == 40
    assert by_id["herring"]["flagged"]
    assert score["false_findings"] == ["c", "d"] and score["recall"] == 1.0


def test_a_finding_on_owners_complaints_counts_for_their_component():
    findings = [
        finding("a", "complaint:body_seam", {"station": "BW-030", "machine": "BW-030-R2",
                                             "window": [42, 57]}, day=120),
        finding("b", "body_seam", {"station": "BW-030", "machine": "BW-030-R2",
                                   "window": [40, 58]}, day=170),
        finding("c", "complaint:battery_pack", {"lot": "L8"}),   # names no fault
        finding("d", "complaint:paint_trim", {"lot": "L7"}),     # the lot, another part
    ]
    score = score_findings(findings, TRUTH)
    weld = {f["id"]: f for f in score["faults"]}["weld"]
    assert weld["finding_id"] == "a" and weld["days_to_find"] == -30
    assert weld["found_by"] == "root cause, from complaints"
    assert score["false_findings"] == ["c", "d"]


def test_a_lot_that_went_into_a_suppliers_bad_window_names_that_window():
    window = fault("supplier", "drive_unit", {"part": "DU", "supplier": "SUPF",
                                              "window": [30, 90]}, first=60)
    window["happened"]["lots"] = ["DU-SUPF-0012", "DU-SUPF-0013"]
    truth = {**TRUTH, "faults": [window]}
    findings = [finding("a", "drive_unit", {"lot": "DU-SUPF-0013", "part": "DU"}, day=100),
                finding("b", "drive_unit", {"lot": "DU-SUPF-0020", "part": "DU"})]
    score = score_findings(findings, truth)
    assert score["faults"][0]["finding_id"] == "a" and score["faults"][0]["days_to_find"] == 40
    assert score["false_findings"] == ["b"]  # the supplier's lot from outside the window


def test_a_lot_whose_alias_is_the_faulty_lot_finds_it():
    # every part changed lots at the same unit: the cell lot and the drive-unit lot are the
    # same vehicles, and the finding lists the one beside the other
    run = fault("du-run", "paint_trim", {"part": "DU", "lot": ["DU-0033", "DU-0034"]}, first=60)
    truth = {**TRUTH, "faults": [run]}
    findings = [finding("a", "paint_trim", {"part": "CELL", "lot": "CELL-0033", "aliases": [
                    {"part": "HUB", "lot": "HUB-0016"}, {"part": "DU", "lot": "DU-0034"}]},
                        day=90),
                finding("b", "paint_trim", {"part": "CELL", "lot": "CELL-0040", "aliases": [
                    {"part": "DU", "lot": "DU-0041"}]})]
    score = score_findings(findings, truth)
    assert score["faults"][0]["finding_id"] == "a" and score["faults"][0]["days_to_find"] == 30
    assert score["false_findings"] == ["b"]  # aliased with a lot outside the fault


def test_an_inspection_that_re_measures_a_defects_reading_names_that_defect():
    film = fault("film", "camera", {"station": "PT-010", "parameter": "film_thickness",
                                    "window": [16, 105]}, first=60)
    film["finding"]["also_names"] = [{"station": "PT-030", "inspection": "paint_thickness",
                                      "verdict": "failed"}]
    truth = {**TRUTH, "faults": [film]}
    paint = {"station": "PT-030", "inspection": "paint_thickness"}
    findings = [finding("a", "camera", {**paint, "verdict": "failed"}, day=196),
                finding("b", "camera", {**paint, "verdict": "passed"}),
                finding("c", "hvac", {**paint, "verdict": "failed"})]
    score = score_findings(findings, truth)
    assert score["faults"][0]["finding_id"] == "a" and score["faults"][0]["days_to_find"] == 136
    assert score["false_findings"] == ["b", "c"]  # passing units, or another mode


def test_the_days_a_drift_harmed_before_control_took_it_out_name_it_but_do_not_find_it():
    findings = [finding("a", "body_seam", {"station": "BW-030", "machine": "BW-030-R2",
                                           "window": [42, 50]}, day=90),   # inside 40-58
                finding("b", "body_seam", {"station": "BW-030", "machine": "BW-030-R2",
                                           "window": [70, 80]})]           # after it
    score = score_findings(findings, TRUTH)
    weld = {f["id"]: f for f in score["faults"]}["weld"]
    assert not weld["found"]
    assert score["false_findings"] == ["b"]


def test_one_lot_of_a_faulty_revision_names_part_of_it_but_does_not_find_it():
    camera = fault("camera", "disengagement_rain", {"hardware_revision": "CAM-B",
                                                    "supplier": "SUPD"}, first=20)
    camera["happened"]["revision_lots"] = ["CAM-SUPD-0001", "CAM-SUPD-0002"]
    truth = {**TRUTH, "faults": [camera]}
    findings = [finding("a", "disengagement_rain", {"lot": "CAM-SUPD-0001", "part": "CAM"},
                        day=21),
                finding("b", "disengagement_rain", {"lot": "CAM-SUPC-0001", "part": "CAM"})]
    score = score_findings(findings, truth)
    assert not score["faults"][0]["found"]
    assert score["false_findings"] == ["b"]  # a lot of another revision
    findings.append(finding("c", "disengagement_rain", {"hardware_revision": "CAM-B"}, day=35))
    assert score_findings(findings, truth)["faults"][0]["finding_id"] == "c"


def test_wrong_window_low_rank_or_mode_is_not_found():
    findings = [
        finding("a", "battery_pack", {"lot": "L7"}, rank=4),
        finding("b", "body_seam", {"station": "BW-030", "window": [10, 30]}),
        finding("e", "body_seam", {"station": "BW-030"}),
        finding("c", "battery_fade", {"lot": "L7"}),
    ]
    score = score_findings(findings, TRUTH)
    assert score["recall"] == 0.0
    assert not any(f.get("found") for f in score["faults"])
    assert score["false_findings"] == ["b", "c", "e"]  # a named the lot, only too low


def test_drift_defects_count_the_drifting_machines_units_in_the_true_window(tmp_path):
    import json
    from datetime import date, datetime, timedelta

    import pandas as pd

    from gigaloop.loop.drift_harm import drift_defects
    from gigaloop.loop.score import TRUTH_PATH
    from gigaloop.store import Store

    truth = {"scenario": {"start_date": "2025-01-06"}, "days_simulated": 100, "faults": [
        {"id": "F2", "kind": "weld_current_drift", "starts": 40, "stops": 58,
         "where": {"station": "BW-030", "machine": "BW-030-R2"},
         "happened": {"affected_vins": 7, "ended_day": 50}},
        {"id": "F1", "kind": "weak_cell_lot", "starts": 0, "where": {"lot": "L"},
         "happened": {"affected_vins": 9}},
        {"id": "F6", "kind": "process_drift", "starts": 60, "stops": 90,
         "where": {"station": "GA-010", "machine": "GA-010-T1", "parameter": "torque"},
         "happened": {"affected_vins": 5, "ended_day": None}}]}
    (tmp_path / TRUTH_PATH).parent.mkdir(parents=True)
    (tmp_path / TRUTH_PATH).write_text(json.dumps(truth))
    # (day built, machine, seam inspection passed): drift days 40..49, inspections to day 51
    units = [(39, "R2", False), (40, "R2", False), (45, "R2", True), (49, "R2", False),
             (51, "R2", False), (52, "R2", False), (44, "R1", False), (46, "R1", True)]
    store, now = Store(tmp_path / "store"), datetime(2025, 6, 1)
    t0 = datetime(2025, 1, 6)

    def write(table, **columns):
        n = len(next(iter(columns.values())))
        stamped = table not in ("sites", "lines", "stations")
        frame = pd.DataFrame({**({"event_time": [t0] * n} if stamped else {}), **columns})
        assert store.write(table, frame, ingested_at=now).written == n

    write("sites", site_id=["TX1"], name=["Texas"], region=["ERCOT"], timezone=["UTC"])
    write("lines", line_id=["L1"], site_id=["TX1"], name=["line"])
    write("stations", station_id=["BW-030", "BW-040"], line_id=["L1", "L1"],
          process=["body_weld"] * 2, sequence=[7, 8])
    vins = [f"V{i}" for i in range(len(units))]
    built = [date(2025, 1, 6) + timedelta(days=d) for d, _, _ in units]
    n = len(units)
    write("vehicles", vin=vins, build_date=built, site_id=["TX1"] * n, line_id=["L1"] * n,
          shift=["A"] * n, model=["GL-Y"] * n, trim=["RWD"] * n,
          hardware_revision=["HW-1"] * n, design_revision=["D1"] * n)
    write("vehicle_stations", vin=vins, station_id=["BW-030"] * n, shift=["A"] * n,
          machine_id=[f"BW-030-{m}" for _, m, _ in units])
    write("inspection_results", vin=vins, station_id=["BW-040"] * n,
          inspection=["weld_seam"] * n, passed=[p for _, _, p in units])
    store.close()  # the run is over: its store is on disk for the scorer to open
    assert drift_defects(tmp_path, after_days=2) == [{
        "id": "F2", "machine": "BW-030-R2", "parameter": "weld_current", "window": [40, 49],
        "affected_units": 7, "inspection_window": [40, 51],
        "units_built": 4, "inspection_failures": 3, "sibling_units": 2, "sibling_failures": 1},
        {"id": "F6", "machine": "GA-010-T1", "parameter": "torque", "window": [60, 89],
         "affected_units": 5}]


def test_a_process_alarm_credits_the_drift_of_its_stream_while_it_ran():
    drift = {**fault("torque", "paint_trim", {"station": "GA-010", "machine": "GA-010-T1",
                                              "window": [150, 330]}, first=165),
             "kind": "process_drift", "where": {"machine": "GA-010-T1", "parameter": "torque"}}
    truth = {**TRUTH, "faults": [drift]}

    def alarm(id_, machine, parameter, day):
        return finding(id_, "process_drift", {"station": "GA-010", "machine": machine,
                                              "parameter": parameter, "window": [day, day]},
                       day=day)

    findings = [alarm("early", "GA-010-T1", "torque", 50),  # before the drift: noise
                alarm("during", "GA-010-T1", "torque", 160),
                alarm("other", "GA-010-T1", "clamp_force", 161),
                alarm("elsewhere", "GA-010-T2", "torque", 162)]
    score = score_findings(findings, truth)
    (result,) = score["faults"]
    assert result["found"] and result["finding_id"] == "during"
    assert result["found_by"] == "process control" and result["days_to_find"] == -5
    # alarms on streams with no fault are counted apart, not as false findings
    assert score["n_false_findings"] == 0 and score["process_alarms"] == 4
    assert score["process_alarms_without_fault"] == ["early", "elsewhere", "other"]
    # without the alarm, the fault waits for the field
    assert not score_findings(findings[:1], truth)["faults"][0]["found"]


def test_a_maintenance_prediction_on_a_machine_with_no_fault_is_no_false_finding():
    bearing = {**fault("bearing", "machine_breakdown", {"machine": "ST-010-P1"}),
               "kind": "bearing_wear"}
    truth = {**TRUTH, "faults": [bearing]}
    findings = [finding("PM-1", "machine_breakdown", {"machine": "ST-010-P1"}, day=80),
                finding("PM-2", "machine_breakdown", {"machine": "BW-020-R2"}, day=90),
                finding("F1", "body_seam", {"machine": "BW-020-R2"})]
    score = score_findings(findings, truth)
    assert score["faults"][0]["found_by"] == "maintenance"
    assert score["maintenance_predictions_without_fault"] == ["PM-2"]
    assert score["false_findings"] == ["F1"]  # root cause's claims stay false findings


def test_a_finding_that_names_only_a_background_difference_is_false():
    """Lots, machines and shifts differ a little in the twin (truth ``background``): real,
    but no fault, so a finding that names only such a difference names no fault."""
    truth = {**TRUTH, "background": {
        "lots": [{"lot": "L9", "part": "CELL", "modes": ["battery_pack"], "frailty": 1.14}],
        "machines": [{"machine": "GA-010-T1", "station": "GA-010", "parameter": "torque",
                      "mean_offset": -0.6, "mean_offset_sigmas": -0.3, "spread_factor": 1.1}],
        "shifts": [{"shift": "B", "station": "GA-010", "parameter": "torque",
                    "mean_offset": -0.4, "mean_offset_sigmas": -0.2}]}}
    findings = [finding("lot", "battery_pack", {"lot": "L9", "part": "CELL"}),
                finding("machine", "paint_trim", {"station": "GA-010", "machine": "GA-010-T1"}),
                finding("shift", "paint_trim", {"shift": "B"}),
                finding("true", "battery_pack", {"lot": "L7"}, day=150)]
    score = score_findings(findings, truth)
    assert score["false_findings"] == ["lot", "machine", "shift"]
    assert score["false_findings"] == score_findings(findings, TRUTH)["false_findings"]
    assert score["recall"] == 0.5      # the lot fault found, the weld drift not


def test_a_bad_release_is_found_when_its_vehicles_took_the_rollback() -> None:
    release = {**fault("release-9", "software_release", {"software_version": "9"}, first=10),
               "kind": "bad_release"}
    rollback = finding("SW-9", "software_release", {"software_version": "9"}, day=13)
    for rolled_back_day, found in ((14, True), (None, False)):
        release["happened"].update(onset_day=10, peak_share=0.01,
                                   rolled_back_day=rolled_back_day)
        (scored,) = score_findings([rollback], {**TRUTH, "faults": [release]})["faults"]
        assert scored["found"] is found and scored["rolled_back_day"] == rolled_back_day
        assert scored["day_found"] == (13 if found else None)
        assert scored["peak_share"] == 0.01


def test_a_finding_on_one_of_the_plants_own_laws_is_counted_apart():
    """Under-torque loosening trim is the twin's physics, in every world: found on its mode
    (or its owners' complaints) it is a real cause, though no fault the scenario injected."""
    law = {"failure_mode": "paint_trim", "names": {"station": "GA-010", "parameter": "torque"}}
    findings = [finding("t", "complaint:paint_trim",
                        {"station": "GA-010", "parameter": "torque", "range": [101.5, 106.9]}),
                finding("u", "camera", {"station": "GA-010", "parameter": "torque",
                                        "range": [101.5, 106.9]})]
    score = score_findings(findings, {**TRUTH, "mechanisms": [law]})
    assert score["mechanism_findings"] == ["t"] and score["false_findings"] == ["u"]
    assert score_findings(findings, TRUTH)["false_findings"] == ["t", "u"]


def test_units_an_inspection_failed_and_the_line_shipped_are_a_law_of_the_plant():
    """The seam vision fails units whose seam will open: their seam complaints are the
    plant's physics (the truth lists the inspection among its ``mechanisms``), not a false
    cause — on another component they are."""
    from gigaloop.twin.build import MECHANISMS

    names = {"station": "BW-040", "inspection": "weld_seam", "verdict": "failed"}
    findings = [finding("s", "complaint:body_seam", names), finding("h", "hvac", names)]
    score = score_findings(findings, {**TRUTH, "mechanisms": [dict(m) for m in MECHANISMS]})
    assert score["mechanism_findings"] == ["s"] and score["false_findings"] == ["h"]
