"""The report's tables and series: a process chart's alarm is tabled (and drawn) apart from
the findings, with its shift in σ, never as a hazard or rate ratio; the energy plot leaves out a
day the run cut short, the battery plot a month too few cars have reached."""

from __future__ import annotations

import ibis
import pandas as pd

from gigaloop.web.figures import battery_figure, energy_series, loop_timeline_figure
from gigaloop.web.tables import alarms_table, findings_table

SUMMARY = {
    "findings": [
        {"id": "F001", "failure_mode": "battery_fade", "names": {"lot": "CELL-7"},
         "effect": 1.56, "ci": [1.46, 1.66], "effect_kind": "fade_rate_ratio", "q": 3e-17,
         "rank": 1, "affected_vins": 1200, "day_found": 77, "active": True},
        {"id": "SPC-BW-030-R2-weld_current-d42", "failure_mode": "process_drift",
         "names": {"station": "BW-030", "machine": "BW-030-R2", "parameter": "weld_current",
                   "window": [42, 42]},
         "effect": -2.15, "ci": [-3.28, -1.02], "rank": 1, "day_found": 42},
    ],
    "changes": [],
}


def test_an_alarm_is_not_a_finding_and_shows_its_shift_in_sigma() -> None:
    findings, alarms = findings_table(SUMMARY), alarms_table(SUMMARY)
    assert "F001" in findings and "SPC-" not in findings
    assert "1,200" in findings and "fade rate ratio 1.56 (1.46 to 1.66)" in findings
    assert "SPC-BW-030-R2-weld_current-d42" in alarms and "F001" not in alarms
    assert "<td>BW-030-R2</td>" in alarms and "<td>weld_current</td>" in alarms
    assert "−2.15 (−3.28 to −1.02)" in alarms


def test_the_timeline_draws_an_alarm_on_its_own_row_and_joins_it_to_its_fault() -> None:
    truth = [{"day": 40, "what": "fault onset", "label": "F2-weld-drift"}]
    score = {"faults": [{"id": "F2-weld-drift", "finding_id": "SPC-BW-030-R2-weld_current-d42"}]}
    figure = loop_timeline_figure(SUMMARY, truth, score)
    rows = {trace.name: list(trace.x) for trace in figure.data if trace.name}
    assert rows["finding"] == [77] and rows["process alarm"] == [42]
    (chain,) = [trace for trace in figure.data if trace.mode == "lines"]
    assert list(chain.y) == ["fault onset", "process alarm"]


def test_after_scoring_an_alarm_names_its_fault_or_none() -> None:
    score = {"faults": [{"id": "F2-weld-drift", "finding_id": "SPC-BW-030-R2-weld_current-d42"}]}
    assert "finds F2-weld-drift" in alarms_table(SUMMARY, score)
    alone = {"findings": [{**SUMMARY["findings"][1], "id": "SPC-X-d9"}], "changes": []}
    assert "no injected fault" in alarms_table(alone, score)
    assert "No process chart alarmed." in alarms_table({"findings": []})


def test_a_machine_s_predicted_breakdown_shows_no_ratio() -> None:
    predicted = {"id": "PM-ST-010-P1-d82", "failure_mode": "machine_breakdown",
                 "names": {"machine": "ST-010-P1", "station": "ST-010"}, "effect": 0.0,
                 "ci": None, "rank": 1, "day_found": 82}
    row = findings_table({"findings": [predicted], "changes": []})
    assert "0.00" not in row and '<td class="num">—</td>' in row


def test_the_energy_plot_leaves_out_a_day_cut_short() -> None:
    """Three whole days of hourly readings and the first hour of a fourth (the run ended):
    three points, not a fall to a twenty-fourth of a day's cost."""
    hours = pd.date_range("2025-03-01", periods=3 * 24 + 1, freq="h")
    readings = ibis.memtable(pd.DataFrame({
        "event_time": hours, "hvac_kwh": 10.0, "process_kwh": 80.0, "lighting_kwh": 10.0,
        "tariff_usd_per_kwh": 0.1, "carbon_g_per_kwh": 400.0}))

    class Store:
        def table(self, name: str) -> ibis.Table:
            assert name == "energy_readings"
            return readings

    series = energy_series(Store(), days=30)  # type: ignore[arg-type]
    assert series.date.astype(str).tolist() == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert series.cost.tolist() == [240.0] * 3 and series.hvac_cost.tolist() == [24.0] * 3


def test_the_battery_plot_leaves_out_a_month_too_few_cars_have_reached() -> None:
    """Forty cars report every day for two months; one of them, delivered first, on into a
    third month alone: its month is one pack's noise, not the climate's trend."""
    days = pd.date_range("2025-01-01", periods=60)
    rows = [{"vin": f"V{k}", "day": day, "battery_soh": 0.99, "climate_region": "hot"}
            for k in range(40) for day in days]
    rows += [{"vin": "V0", "day": day, "battery_soh": 0.90, "climate_region": "hot"}
             for day in pd.date_range("2025-03-02", periods=30)]
    tables = {"telemetry_daily": ibis.memtable(pd.DataFrame(rows)),
              "customers": ibis.memtable(pd.DataFrame({
                  "vin": [f"V{k}" for k in range(40)], "climate_region": "hot",
                  "delivered_on": pd.Timestamp("2025-01-01")}))}

    class Store:
        def table(self, name: str) -> ibis.Table:
            return tables[name]

    (line,) = battery_figure(Store()).data  # type: ignore[arg-type]
    assert list(line.x) == [0, 1] and list(line.y) == [99.0, 99.0]


def test_the_energy_plot_of_an_empty_store_is_empty() -> None:
    empty = ibis.memtable(pd.DataFrame({
        "event_time": pd.Series([], dtype="datetime64[us]"), "hvac_kwh": [], "process_kwh": [],
        "lighting_kwh": [], "tariff_usd_per_kwh": [], "carbon_g_per_kwh": []}))

    class Store:
        def table(self, name: str) -> ibis.Table:
            return empty

    series = energy_series(Store(), days=30)  # type: ignore[arg-type]
    assert series.empty and list(series.columns) == ["date", "cost", "co2", "hvac_cost"]
