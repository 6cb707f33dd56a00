"""Predictive service: rules learned from codes and claims, censoring, the module's bookings."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from gigaloop.actuate import PredictiveService
from gigaloop.customer import (
    PredictiveServiceConfig,
    PredictiveServiceModule,
    fit_precursors,
    held_out_precision,
    in_holdout,
)
from gigaloop.customer.precursors import wilson_low
from gigaloop.errors import ConfigError
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.loop.cycle import decision_row

T0 = pd.Timestamp("2025-01-06")


def world(seed: int = 0, n: int = 4000, days: int = 200):
    """Codes and claims of ``n`` vehicles: ``CP`` precedes a charge-port failure by 3–10
    days in 80 % of cases, ``WIFI`` is noise; claims also happen without a code."""
    rng = np.random.default_rng(seed)
    vins = np.array([f"V{i:05d}" for i in range(n)])
    fail_day = rng.uniform(0, days, n)
    fails = rng.random(n) < 0.3
    coded = fails & (rng.random(n) < 0.7)
    lead = rng.uniform(3, 10, n)
    real = coded & (rng.random(n) < 0.8)            # 20 % of coded vehicles never fail
    codes = pd.DataFrame({
        "vin": np.concatenate([vins[coded], vins[:600]]),
        "code": ["CP"] * int(coded.sum()) + ["WIFI"] * 600,
        "event_time": T0 + pd.to_timedelta(np.concatenate(
            [fail_day[coded] - lead[coded], rng.uniform(0, days, 600)]), unit="D").round("s")})
    keep = fails & ~(coded & ~real)
    failures = pd.DataFrame({
        "vin": vins[keep], "component": "charge_port",
        "event_time": T0 + pd.to_timedelta(fail_day[keep], unit="D").round("s"),
        "cost_usd": 400.0, "roadside": rng.random(int(keep.sum())) < 0.1})
    return codes, failures


def test_rules_find_the_precursor_and_its_precision():
    codes, failures = world()
    rules = fit_precursors(codes, failures, until=T0 + pd.Timedelta(days=200))
    cp, wifi = rules.loc["CP"], rules.loc["WIFI"]
    assert cp.component == "charge_port" and cp.act and not wifi.act
    assert cp.precision == pytest.approx(0.8, abs=0.05)
    assert cp.precision_low < cp.precision and 3 <= cp.lead_days_median <= 10
    assert wifi.precision < 0.35    # 30 % of all vehicles fail within 200 days, coded or not


def test_codes_whose_window_is_open_are_censored_not_misses():
    codes, failures = world()
    until = T0 + pd.Timedelta(days=100)
    early = fit_precursors(codes, failures, until=until)
    late = fit_precursors(codes, failures, until=T0 + pd.Timedelta(days=200))
    raised = codes[(codes.code == "CP") & (codes.event_time <= until)]
    assert early.loc["CP", "events"] == len(raised) < late.loc["CP", "events"]
    # the codes of the last days have not had their failure yet; counted as misses they
    # would pull the precision down, followed up to ``until`` they do not
    assert early.loc["CP", "hits"] / len(raised) < 0.78
    assert early.loc["CP", "precision"] == pytest.approx(0.8, abs=0.05)
    assert early.loc["CP", "resolved"] < len(raised)


def test_a_code_months_ahead_of_its_failure_is_learned_before_its_windows_close():
    rng = np.random.default_rng(5)
    n = 60
    raised = T0 + pd.to_timedelta(rng.uniform(0, 150, n), unit="D")
    lead = pd.to_timedelta(rng.uniform(30, 150, n), unit="D")
    codes = pd.DataFrame({"vin": [f"D{i}" for i in range(n)], "code": "DI_bearing",
                          "event_time": raised})
    failures = pd.DataFrame({"vin": codes.vin, "component": "drive_unit",
                             "event_time": raised + lead, "cost_usd": 4500.0,
                             "roadside": rng.random(n) < 0.7})
    rule = fit_precursors(codes, failures, until=T0 + pd.Timedelta(days=160)).loc["DI_bearing"]
    assert rule.component == "drive_unit" and rule.hits < n / 2
    assert rule.precision > 0.9 and rule.act
    short = fit_precursors(codes, failures, until=T0 + pd.Timedelta(days=160),
                           config=PredictiveServiceConfig(horizon_days=30))
    assert not short.loc["DI_bearing", "act"]


def test_serviced_codes_are_censored_not_counted_as_misses():
    codes, failures = world()
    cp = codes[codes.code == "CP"]
    # half the coded vehicles were serviced the next day: their failures never happened
    serviced = cp.iloc[::2].assign(event_time=lambda d: d.event_time + pd.Timedelta(days=1))
    failures = failures[~failures.vin.isin(serviced.vin)]
    until = T0 + pd.Timedelta(days=200)
    naive = fit_precursors(codes, failures, until=until)
    censored = fit_precursors(codes, failures, until=until, serviced=serviced)
    assert naive.loc["CP", "precision"] < 0.5
    assert censored.loc["CP", "precision"] == pytest.approx(0.8, abs=0.06)


def test_failures_before_a_visit_could_come_are_not_hits():
    codes, failures = world()
    quick = fit_precursors(codes, failures, until=T0 + pd.Timedelta(days=200),
                           config=PredictiveServiceConfig(reaction_days=8))
    slow = fit_precursors(codes, failures, until=T0 + pd.Timedelta(days=200))
    assert quick.loc["CP", "precision"] < slow.loc["CP", "precision"] - 0.3


def test_cost_rule_and_evidence_threshold():
    codes, failures = world()
    until = T0 + pd.Timedelta(days=200)
    dear = fit_precursors(codes, failures, until=until,
                          config=PredictiveServiceConfig(planned_cost_share=5.0))
    few = fit_precursors(codes, failures, until=until,
                         config=PredictiveServiceConfig(min_events=10_000))
    assert not dear.loc["CP", "act"] and not few.loc["CP", "act"]


def test_held_out_precision_on_later_codes():
    codes, failures = world(seed=1)
    out = held_out_precision(codes, failures, split=T0 + pd.Timedelta(days=100),
                             until=T0 + pd.Timedelta(days=200))
    assert out["precision"] == pytest.approx(0.8, abs=0.07)
    assert 0.3 < out["recall"] < 0.7           # 70 % coded × 80 % of those … of all claims
    assert out["codes_booked"] > 50


def test_holdout_is_stable_and_near_its_share():
    vins = pd.Series([f"5YJ{i:07d}" for i in range(20_000)])
    first, again = in_holdout(vins, 5), in_holdout(vins, 5)
    assert (first == again).all() and 0.04 < first.mean() < 0.06


def test_bad_config_is_refused():
    with pytest.raises(ConfigError):
        PredictiveServiceConfig(reaction_days=200)
    with pytest.raises(ConfigError):
        PredictiveServiceConfig(holdout_percent=100)


class View:
    """A store view over in-memory frames: the rows ingested by ``now``."""

    def __init__(self, frames: dict[str, pd.DataFrame], now: pd.Timestamp) -> None:
        self.frames, self.now = frames, now

    def table(self, name: str) -> ibis.Table:
        frame = self.frames[name]
        return ibis.memtable(frame[frame.ingested_at <= self.now])

    def execute(self, expr: ibis.Expr) -> object:
        return expr.to_pandas()

    def ingested_since(self, name: str, after: pd.Timestamp | None,
                       columns: list[str]) -> pa.Table:
        frame = self.frames[name]
        keep = frame.ingested_at <= self.now
        if after is not None:
            keep &= frame.ingested_at > after
        return pa.Table.from_pandas(frame.loc[keep, columns], preserve_index=False)


def day_end(day: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=day + 1)


def store_frames(codes: pd.DataFrame, failures: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The world as a store holds it: each row ingested at the end of its day, no visits or
    decisions yet."""
    def stamped(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.assign(ingested_at=frame.event_time.dt.floor("D") + pd.Timedelta(days=1))
    visits = pd.DataFrame({"vin": pd.Series([], dtype=str), "reason": pd.Series([], dtype=str),
                           "event_time": pd.Series([], dtype="datetime64[ns]")})
    decisions = pd.DataFrame([decision_row(Decision(0, "x", "x"), 0, T0)]).iloc[:0]
    telemetry = pd.DataFrame({"vin": pd.Series([], dtype=str), "day": pd.Series([], dtype=object),
                              "lv_battery_rest_v": pd.Series([], dtype=float),
                              "drive_unit_noise_db": pd.Series([], dtype=float),
                              "ingested_at": pd.Series([], dtype="datetime64[ns]")})
    return {"diagnostic_codes": stamped(codes), "component_failures": stamped(failures),
            "service_visits": stamped(visits), "telemetry_daily": telemetry,
            "decisions": decisions.assign(ingested_at=decisions.event_time)}


def run_day(module: PredictiveServiceModule, frames: dict[str, pd.DataFrame], day: int):
    """One cycle: the module decides on the store as of the day's end; its decisions are
    written back (as the daily cycle writes them)."""
    now = day_end(day)
    decisions = module.decide(DayContext(day, now.to_pydatetime(), View(frames, now)))
    rows = pd.DataFrame([decision_row(d, seq, now) for seq, d in enumerate(decisions)])
    if len(rows):
        frames["decisions"] = pd.concat([frames["decisions"], rows.assign(ingested_at=now)],
                                        ignore_index=True)
    return decisions


def test_module_books_each_code_worth_a_visit_once_and_never_the_holdout():
    codes, failures = world(seed=2, days=260)
    frames = store_frames(codes, failures)
    module = PredictiveServiceModule()
    booked: dict[str, int] = {}
    for day in range(150, 170):
        for decision in run_day(module, frames, day):
            action = decision.action
            assert isinstance(action, PredictiveService) and action.component == "charge_port"
            assert action.day == day + 1 and decision.inputs["code"] == "CP"
            assert not set(action.vins) & set(booked)
            booked |= dict.fromkeys(action.vins, day)
    cp = codes[codes.code == "CP"].set_index("vin").event_time
    failed = failures.groupby("vin").event_time.max()
    for vin, day in booked.items():
        raised = cp[vin]
        assert not in_holdout([vin], 5)[0]
        assert not (raised <= failed.get(vin, T0) <= day_end(day))   # not failed yet
        assert (day_end(day) - raised).days <= 10   # CP leads are 3–10 days: later, no risk
    fresh = cp[(cp > day_end(149)) & (cp < day_end(169).floor("D"))]
    fresh = fresh[~in_holdout(fresh.index, 5)]
    fresh = fresh[[not (t <= failed.get(v, T0) <= t + pd.Timedelta(days=1))
                   for v, t in fresh.items()]]
    assert len(fresh) > 30 and set(fresh.index) <= set(booked)
    rules = module.state.rules
    assert rules.act["CP"] and not rules.act["WIFI"]


def test_a_module_rebuilt_from_the_store_decides_as_one_that_kept_running():
    codes, failures = world(seed=3, days=260)
    frames = store_frames(codes, failures)
    running = PredictiveServiceModule()
    restarted = PredictiveServiceModule()
    for day in range(140, 165):
        if day >= 150:  # mid-week: the last refit was on day 147
            now = day_end(day)
            theirs = restarted.decide(DayContext(day, now.to_pydatetime(), View(frames, now)))
        ours = run_day(running, frames, day)
        if day >= 150:
            assert [d.record() for d in theirs] == [d.record() for d in ours]
    assert restarted.state.booked == running.state.booked
    assert len(restarted.state.booked) > 20
    for a, b in zip(restarted.state.history.as_of(day_end(164)),
                    running.state.history.as_of(day_end(164)), strict=True):
        # the same rows (codes come in the order they were read: fits do not depend on it)
        pd.testing.assert_frame_equal(a.sort_values(list(a.columns), ignore_index=True),
                                      b.sort_values(list(b.columns), ignore_index=True))


def test_a_day_reads_only_rows_ingested_since_the_last():
    codes, failures = world(seed=2, days=260)
    frames = store_frames(codes, failures)
    module = PredictiveServiceModule()
    run_day(module, frames, 150)
    history = module.state.history
    assert len(history.codes) == (frames["diagnostic_codes"].ingested_at <= day_end(150)).sum()
    frames["diagnostic_codes"] = frames["diagnostic_codes"][
        frames["diagnostic_codes"].ingested_at > day_end(150)]   # the past is not read again
    run_day(module, frames, 151)
    today = codes[(codes.event_time >= day_end(150)) & (codes.event_time < day_end(151))]
    assert len(history.codes) > len(today) > 0
    assert history.codes.tail(len(today)).vin.tolist() == today.vin.tolist()


def test_the_wilson_bound_is_scipys_and_rules_do_not_depend_on_the_order_of_codes():
    from scipy.stats import binomtest

    k, n = np.array([0, 1, 5, 19, 20, 3, 0]), np.array([0, 20, 20, 20, 20, 7, 9])
    expected = [binomtest(int(a), int(b)).proportion_ci(0.95, "wilson").low if b else 0.0
                for a, b in zip(k, n, strict=True)]
    np.testing.assert_allclose(wilson_low(k, n, 0.95), expected, rtol=1e-12, atol=0)
    codes, failures = world(seed=1)
    until = T0 + pd.Timedelta(days=150)
    shuffled = codes.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(fit_precursors(codes, failures, until=until),
                                  fit_precursors(shuffled, failures, until=until))


def test_a_rule_that_starts_acting_books_the_long_lead_codes_raised_before_it():
    rng = np.random.default_rng(6)
    n = 80
    raised = T0 + pd.to_timedelta(rng.uniform(0, 200, n), unit="D").round("s")
    codes = pd.DataFrame({"vin": [f"D{i:03d}" for i in range(n)], "code": "DI_bearing",
                          "event_time": raised})
    failures = pd.DataFrame({"vin": codes.vin, "component": "drive_unit",
                             "event_time": raised + pd.to_timedelta(rng.uniform(30, 150, n),
                                                                     unit="D").round("s"),
                             "cost_usd": 4500.0, "roadside": True})
    frames = store_frames(codes, failures)
    module = PredictiveServiceModule()
    booked = [v for d in run_day(module, frames, 200) for v in d.action.vins]
    age = (day_end(200) - codes.set_index("vin").event_time[booked]).dt.days
    assert module.state.rules.act["DI_bearing"] and len(booked) > 10
    assert (age > 28).sum() > 5          # codes raised long before: their part is still due
    failed = failures.set_index("vin").event_time[booked]
    assert (failed > day_end(200)).all()  # none whose part has already failed
