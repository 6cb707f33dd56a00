"""Inspection in the loop: cameras and the repair bay in the twin, the cost threshold, the
p-chart, and the module's verdicts, rework orders and labels on a few twin days."""

from datetime import datetime

import numpy as np
import pytest

from gigaloop.actuate import PublishImages, Rework
from gigaloop.factory.inspection.threshold import cost_threshold
from gigaloop.ml.spc import PChart
from gigaloop.twin import Twin


def test_a_dearer_escape_lowers_the_threshold() -> None:
    rng = np.random.default_rng(0)
    scores = np.r_[rng.normal(0, 1, 400), rng.normal(2.5, 1, 40)]
    bad = np.r_[np.zeros(400, bool), np.ones(40, bool)]
    cheap = cost_threshold(scores, bad, c_escape=100, c_rework=50, prevalence=0.05)
    dear = cost_threshold(scores, bad, c_escape=5000, c_rework=50, prevalence=0.05)
    assert dear.threshold < cheap.threshold
    assert dear.miss_rate < cheap.miss_rate and dear.false_reject_rate > cheap.false_reject_rate
    with pytest.raises(ValueError, match="defective and good"):
        cost_threshold(scores[:10], bad[:10], c_escape=1, c_rework=1, prevalence=0.1)


def test_weights_stand_for_the_unaudited() -> None:
    """An audited good unit weighted 1/share counts as that many passed units."""
    point = cost_threshold([0.1, 0.9, 0.85], [False, False, True], c_escape=10, c_rework=10,
                           prevalence=0.5, weights=[50, 1, 1])
    assert point.false_reject_rate == pytest.approx(1 / 51)


def test_p_chart_stays_quiet_in_control_and_signals_a_shift() -> None:
    rng = np.random.default_rng(1)
    chart = PChart()
    for _ in range(14):
        chart.learn_one(rng.binomial(80, 0.03), 80)
    quiet = [chart.update(rng.binomial(80, 0.03), 80) and chart.alarm for _ in range(100)]
    assert sum(quiet) <= 3
    chart.update(rng.binomial(80, 0.25), 80)
    assert chart.alarm and chart.rule == "p_upper"


def test_legacy_cameras_count_escapes_and_their_rejects_are_repaired() -> None:
    twin = Twin.from_scenario(seed=3)
    for day in range(5):
        tables = twin.step(day)
    assert "inspection_images" not in tables
    points = set(tables["inspection_results"]["inspection"].to_pylist())
    assert {"weld_seam", "paint_panel"} <= points
    truth = twin.truth()["inspection"]
    assert truth["mode"] == "legacy"
    for point in ("weld_seam", "paint_panel"):
        counts = truth[point]
        assert counts["escaped"] == counts["defective"] - counts["repaired"]
    assert twin.world_kpis()["defects_escaped"] >= truth["paint_panel"]["escaped"]


def test_published_images_leave_verdicts_and_rework_to_the_loop() -> None:
    twin = Twin.from_scenario(seed=3)
    assert "inspection_images" not in twin.step(0)  # legacy cameras until asked
    assert twin.apply(PublishImages(day=1)).accepted
    tables = twin.step(1)
    images = tables["inspection_images"]
    labelled = images.filter(images["label"].is_valid())
    assert set(labelled["label"].to_pylist()) >= {"good", "porosity", "crater"}
    assert "weld_seam" not in tables["inspection_results"]["inspection"].to_pylist()
    camera = twin.plant.builder.camera
    units = images.filter(images["vin"].is_valid())["vin"].to_pylist()
    bad = next(v for v in units if v in camera.defects["paint_panel"])
    good = next(v for v in units if v not in camera.defects["paint_panel"])
    before = twin.truth()["inspection"]["paint_panel"]  # the legacy day's rejects
    receipt = twin.apply(Rework(day=1, station_id="PT-030", inspection="paint_panel",
                                vins=(bad, good)))
    assert receipt.accepted
    reports = twin.step(2)["rework_results"].to_pylist()
    assert [(r["vin"], r["defect_found"]) for r in reports] == [(bad, True), (good, False)]
    counts = twin.truth()["inspection"]["paint_panel"]
    assert counts["false_rejects"] == before["false_rejects"] + 1
    assert counts["repaired"] == before["repaired"] + 1
    folder = camera.folder
    assert folder is not None and any(folder.rglob("*.npy"))


@pytest.mark.slow  # fits two small models: ≈ 15–30 s on 2 shared cores
def test_module_writes_verdicts_orders_rework_and_learns_labels(tmp_path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from gigaloop.factory.inspection.module import InspectionConfig, InspectionModule
    from gigaloop.ingest import ingest
    from gigaloop.loop.cycle import DailyCycle
    from gigaloop.store import Store
    from gigaloop.twin import TwinDay

    twin = Twin.from_scenario(seed=2)
    store = Store(tmp_path / "store")
    module = InspectionModule(InspectionConfig(
        train=60, epochs=2, bank_size=256, coreset_pool=8000, audit_share=0.2,
        phase_one_days=1, cache_dir=tmp_path / "models"))
    cycle = DailyCycle([module], twin, store)
    try:
        for day in range(3):
            now = twin.day_end(day)
            source = TwinDay(twin, day)
            source.simulate()
            ingest(source, store, now)
            cycle.run_day(day, now)
        results = store.table("inspection_results").to_pyarrow()
        images = store.table("inspection_images").to_pyarrow()
        reworked = store.table("rework_results").to_pyarrow()
    finally:
        store.close()
    vision = results.filter(results["image_uri"].is_valid())
    units = images.filter(images["vin"].is_valid())
    assert vision.num_rows == units.num_rows > 100
    assert set(module.points) == {"weld_seam", "paint_panel"}
    assert reworked.num_rows > 0 and module.points["weld_seam"].labels
    assert len(list((tmp_path / "models").glob("*.onnx"))) == 2  # the fitted scorers, cached
    first = module.operating_points[0]
    assert 0 <= first["false_reject_rate"] < 0.5 and first["threshold"] > 0  # a tiny model
    assert datetime(2025, 1, 1) < twin.day_end(2)


def test_a_run_without_the_vision_extra_skips_the_module(monkeypatch, caplog) -> None:
    from gigaloop import run
    from gigaloop.errors import MissingExtraError

    def missing():
        raise MissingExtraError("vision", "torch")

    original = run._module_class
    monkeypatch.setattr(run, "_module_class",
                        lambda name: missing if name == "inspection" else original(name))
    with caplog.at_level("WARNING", logger="gigaloop.run"):
        modules = run.decision_modules(("inspection", "energy"))
    assert [m.name for m in modules] == ["energy"]
    assert "pip install 'gigaloop[vision]'" in caplog.text


def test_an_alarm_calibrates_the_upstream_machine_whose_units_fail(tmp_path) -> None:
    """Units of BW-030-R2 fail at the camera far more than R1's: the alarm's decision orders
    R2's calibration from the next day, once per cooldown; BW-040's lone camera is no
    suspect, and a day where no machine stands out orders nothing."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from gigaloop.actuate import Calibration
    from gigaloop.factory.inspection.module import InspectionModule, _Point
    from gigaloop.factory.inspection.threshold import OperatingPoint
    from gigaloop.loop.contract import DayContext
    from gigaloop.store import Store

    at = datetime(2025, 1, 6, 8)
    vins = [f"V{i:03d}" for i in range(60)]
    stations = [("BW-030", 70), ("BW-040", 80), ("PT-030", 110)]
    tables = {
        "sites": [{"site_id": "S1", "name": "s", "region": "r", "timezone": "UTC"}],
        "lines": [{"line_id": "L1", "site_id": "S1", "name": "l"}],
        "stations": [{"station_id": s, "line_id": "L1", "process": "body_weld", "sequence": q}
                     for s, q in stations],
        "vehicles": [{"vin": v, "build_date": at.date(), "site_id": "S1", "line_id": "L1",
                      "shift": "A", "model": "m", "trim": "t", "hardware_revision": "h",
                      "design_revision": "d", "event_time": at} for v in vins],
        "process_readings": [
            {"vin": v, "station_id": s, "machine_id": m, "parameter": "weld_current",
             "value": 10.0, "unit": "kA", "setpoint": 10.0, "event_time": at}
            for i, v in enumerate(vins)
            for s, m in (("BW-030", f"BW-030-R{1 + i % 2}"), ("BW-040", "BW-040-V1"))],
    }
    store = Store(tmp_path)
    try:
        for name, rows in tables.items():
            assert store.write(name, rows, ingested_at=at).quarantined == 0
        ctx = DayContext(30, at.replace(hour=23), store.as_of(at.replace(hour=23)))
        module = InspectionModule()
        state = _Point("BW-040", "BW-040-V1", None, "m", OperatingPoint(0.5, 0, 0, 0, 0, 0),
                       chart_threshold=0.5)
        names = np.array(vins, dtype=object)
        r2_fails = np.array([i % 2 == 1 and i < 40 for i in range(60)])  # 20 of R2's 30
        first = module._alarm(ctx, "weld_seam", state, 0.33, names, r2_fails)
        assert isinstance(first.action, Calibration)
        assert first.action.machine_id == "BW-030-R2" and first.action.day == 31
        again = module._alarm(ctx, "weld_seam", state, 0.33, names, r2_fails)
        assert again.action is None and "calibrated on day 30" in again.summary
        even = np.array([i < 10 for i in range(60)])  # 5 of each robot's: no contrast
        assert module._alarm(ctx, "weld_seam", state, 0.17, names, even).action is None
    finally:
        store.close()
