"""`gigaloop run` and `gigaloop score` end to end: the contract of the main job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gigaloop.cli import app
from gigaloop.loop.records import changes_from_store, findings_from_store
from gigaloop.store import Store

pytestmark = pytest.mark.slow
runner = CliRunner()
DAYS = "45"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        out[name] = root / name
        result = runner.invoke(app, ["run", "--days", DAYS, "--seed", seed, "--out",
                                     str(out[name])])
        assert result.exit_code == 0, result.output
    return out


def _summary(path: Path) -> dict:
    return json.loads((path / "summary.json").read_text())


def _without_timings(summary: dict) -> dict:
    return {**summary, "run": {k: v for k, v in summary["run"].items() if k != "timings"}}


def test_the_same_seed_gives_the_same_summary_and_another_seed_does_not(runs):
    assert _without_timings(_summary(runs["a"])) == _without_timings(_summary(runs["b"]))
    assert _summary(runs["a"])["kpis"] != _summary(runs["c"])["kpis"]


def test_summary_has_the_contracted_keys(runs):
    summary = _summary(runs["a"])
    timings = summary["run"].pop("timings")
    assert summary["run"] == {"days": int(DAYS), "seed": 1, "scale": "small", "fleet": 0,
                              "scenario": "default", "loop": True, "complaints": True,
                              "version": "0.1.0",
                              "modules": ["rootcause", "changes", "impact", "maintenance",
                                          "predictive_service", "energy", "process_control",
                                          "driving_model", "rollout", "cell_rollout",
                                          "offers", "insurance"],
                              "skipped_modules": [], "transport": "inprocess"}
    assert set(timings) >= {"twin", "ingest", "rootcause", "energy", "report"}
    assert all(seconds >= 0 for seconds in timings.values())
    for key in ("units_built", "defects_escaped", "field_failures_per_1000",
                "field_failures_per_1000_last90", "unplanned_downtime_hours", "energy_cost",
                "energy_co2e_kg", "hvac_energy_cost", "hvac_co2e_kg", "peak_power_kw",
                "comfort_violation_kh", "crashes_per_million_miles",
                "roadside_failures", "software_revenue", "software_revenue_per_vehicle",
                "churn_monthly", "offers_sent", "offer_uplift", "findings_retracted",
                "changes_withdrawn", "changes_withdrawn_after_acting",
                "campaign_visits_withdrawn", "oee", "availability", "performance", "quality",
                "premium_per_vehicle_month", "loss_ratio"):
        assert key in summary["kpis"]
    assert set(summary["kpis"]["crashes_per_million_miles"]) == {"autopilot", "manual"}
    assert summary["kpis"]["units_built"] > 3000
    assert isinstance(summary["findings"], list) and isinstance(summary["changes"], list)


def test_kpis_and_records_are_what_the_store_holds(runs):
    summary, store = _summary(runs["a"]), Store(runs["a"] / "store")
    kpis = summary["kpis"]
    failures = store.execute(store.table("component_failures"))
    assert kpis["units_built"] == store.count("vehicles")
    assert kpis["vehicles_delivered"] == store.count("customers") > 0
    assert kpis["field_failures"] == len(failures) > 0
    assert kpis["roadside_failures"] == int(failures.roadside.sum())
    assert kpis["field_failures_per_1000"] == round(1000 * len(failures)
                                                    / kpis["vehicles_delivered"], 3)
    visits = store.execute(store.table("service_visits"))
    assert kpis["predictive_service_visits"] == int((visits.reason == "predictive").sum())
    judged = visits[(visits.reason == "predictive") & visits.part_condition.notna()]
    assert kpis["predictive_visits_degraded"] == (
        None if judged.empty else pytest.approx((judged.part_condition == "degraded").mean(),
                                                abs=1e-4))
    downtime = store.execute(store.table("downtime_events"))
    assert kpis["unplanned_downtime_hours"] == pytest.approx(
        downtime[~downtime.planned].hours.sum(), abs=0.01)
    parts = [kpis[k] for k in ("availability", "performance", "quality")]
    assert all(0.7 < part < 1.0 for part in parts)   # a line that loses time, speed and units
    assert kpis["oee"] == pytest.approx(parts[0] * parts[1] * parts[2], abs=1e-4)
    energy = store.execute(store.table("energy_readings"))
    assert kpis["hvac_energy_cost"] == pytest.approx(
        (energy.hvac_kwh * energy.tariff_usd_per_kwh).sum(), abs=0.01)
    miles = store.execute(store.table("telemetry_daily").miles.sum())
    assert kpis["fleet_miles"] == pytest.approx(miles, abs=0.1)
    assert summary["findings"] == json.loads(json.dumps(findings_from_store(store)))
    assert summary["changes"] == json.loads(json.dumps(changes_from_store(store), default=str))
    decisions = store.execute(store.table("decisions"))
    assert "energy" in set(decisions.module)  # it plans every day
    assert store.count("quarantine") == 0  # the twin's and the modules' rows are all valid


def test_the_report_has_its_plots_and_works_offline(runs):
    page = (runs["a"] / "report.html").read_text()
    assert page.count('class="plotly-graph-div"') >= 7
    assert '<script src="http' not in page and "Plotly.newPlot" in page  # plotly.js inline


def test_truth_is_kept_outside_the_store_and_score_reads_it(runs):
    truth = runs["a"] / "truth" / "truth.json"
    assert truth.exists() and not list((runs["a"] / "store").rglob("*truth*"))
    result = runner.invoke(app, ["score", str(runs["a"])])
    assert result.exit_code == 0, result.output
    score = json.loads((runs["a"] / "score.json").read_text())
    ids = {f["id"] for f in json.loads(truth.read_text())["faults"]}
    assert {f["id"] for f in score["faults"]} == ids
    assert set(score) >= {"faults", "false_findings", "recall"}


def test_bad_options_say_what_to_do(tmp_path):
    result = runner.invoke(app, ["run", "--days", "2", "--scale", "huge", "--out",
                                 str(tmp_path / "x")])
    assert result.exit_code != 0
    assert "small" in result.output and "medium" in result.output
    missing = runner.invoke(app, ["score", str(tmp_path / "nowhere")])
    assert missing.exit_code != 0
    unknown = runner.invoke(app, ["run", "--days", "2", "--modules", "rootcause,oracle",
                                  "--out", str(tmp_path / "y")])
    assert unknown.exit_code == 2 and "oracle" in unknown.output
