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
