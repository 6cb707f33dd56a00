"""Crash rates by software version, hardware revision and week, against the exact interval."""

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from gigaloop.fleet.safety import crash_rates_by, poisson_rate_ci


class Frames:
    """A Tables stand-in over in-memory frames."""

    def __init__(self, **frames):
        self.frames = {k: ibis.memtable(v) for k, v in frames.items()}

    def table(self, name):
        return self.frames[name]

    def execute(self, expr):
        return expr.execute()

    def group_totals(self, name, columns, by):
        table = self.frames[name]
        sums = table.group_by(by).aggregate(**{c: table[c].sum() for c in columns})
        return sums.execute().set_index(by)[columns]


def fleet():
    days = pd.DataFrame({
        "vin": ["A", "A", "B", "C"], "software_version": ["v1", "v2", "v2", "v2"],
        "day": [dt.date(2026, 1, 5), dt.date(2026, 1, 14), dt.date(2026, 1, 7),
                dt.date(2026, 1, 7)],
        "miles": [2e6, 3e6, 1e6, 5e6], "autopilot_miles": [1e6, 2e6, 0.5e6, 4e6]})
    crashes = pd.DataFrame({
        "vin": ["A", "A", "B", "C"], "mode": ["autopilot", "manual", "autopilot", "autopilot"],
        "software_version": ["v1", "v2", "v2", "v2"],
        "event_time": pd.to_datetime(["2026-01-06", "2026-01-15", "2026-01-08", "2026-01-08"])})
    customers = pd.DataFrame({"vin": ["A", "B", "C"], "consent_telemetry": [True, True, False]})
    vehicles = pd.DataFrame({"vin": ["A", "B", "C"], "hardware_revision": ["HW3", "HW4", "HW4"]})
    return Frames(telemetry_daily=days, crashes=crashes, customers=customers, vehicles=vehicles)


def row(table, mode, key, value):
    return table[(table["mode"] == mode) & (table[key] == value)].iloc[0]


def test_by_software_version_counts_sharing_owners_only():
    out = crash_rates_by(fleet(), "software_version")
    v2 = row(out, "autopilot", "software_version", "v2")
    assert v2["crashes"] == 1 and v2["miles"] == 6.5e6  # C's crash: no consent
    assert np.allclose(v2[["rate", "low", "high"]].astype(float),
                       poisson_rate_ci(1, 6.5e6, per=1e6))


def test_by_hardware_revision_and_week():
    hw = crash_rates_by(fleet(), "hardware_revision")
    assert row(hw, "manual", "hardware_revision", "HW3")["crashes"] == 1
    assert row(hw, "autopilot", "hardware_revision", "HW4")["miles"] == 4.5e6
    weeks = crash_rates_by(fleet(), "week")
    first = row(weeks, "autopilot", "week", dt.date(2026, 1, 5))
    assert first["crashes"] == 2 and first["miles"] == 5.5e6
    assert row(weeks, "manual", "week", dt.date(2026, 1, 12))["crashes"] == 1


def test_report_figure_draws_the_published_autopilot_reference():
    from gigaloop.web.figures import safety_figure

    fig = safety_figure({"crashes_per_million_miles": {"autopilot": 0.2},
                         "crashes_per_million_miles_ci95": {"autopilot": [0.1, 0.3]}})
    assert [s.y0 for s in fig.layout.shapes] == [1 / 6.69]
