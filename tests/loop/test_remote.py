"""Modules decided apart (gigaloop.loop.remote): the views they get, the same in their own
process and in place, and the store's replica they read."""

from datetime import datetime

import pytest

from gigaloop.actuate import LoggingActuator, MaintenanceOrder
from gigaloop.errors import ConfigError
from gigaloop.loop import worker
from gigaloop.loop.contract import Decision
from gigaloop.loop.cycle import DailyCycle
from gigaloop.store import Store

DAYS = [datetime(2026, 1, 1 + day, 23, 59, 59) for day in range(4)]


class Counter:
    """Says how many decisions of each module it sees, and asks for a machine."""

    def __init__(self, name, depends_on=()):
        self.name, self.depends_on, self.every_days = name, depends_on, 1

    def decide(self, ctx):
        seen = ctx.view.execute(ctx.view.table("decisions").module.value_counts())
        counts = dict(zip(seen.iloc[:, 0], seen.iloc[:, 1], strict=True))
        return [Decision(ctx.day, self.name, f"{self.name} sees {sorted(counts.items())}",
                         action=MaintenanceOrder(day=ctx.day, machine_id=self.name))]


class Reader(Counter):
    """Counts the decisions ingested since its last day (the incremental read)."""

    def __init__(self, name, depends_on=()):
        super().__init__(name, depends_on)
        self.last, self.read = None, 0

    def decide(self, ctx):
        self.read += ctx.view.ingested_since("decisions", self.last).num_rows
        self.last = ctx.now
        return [Decision(ctx.day, self.name, f"{self.name} has read {self.read}")]


def _run(tmp_path, names=("main", "apart", "later")):
    store, actuator = Store(tmp_path / "store"), LoggingActuator()
    modules = [Counter("main"), Counter("apart"), Reader("later", ("apart",))]
    cycle = DailyCycle([m for m in modules if m.name in names], actuator, store,
                       apart={"apart", "later"}, replica=tmp_path / "replica")
    try:
        summaries = [d.summary for now in DAYS for d in cycle.run_day(DAYS.index(now), now)]
    finally:
        cycle.close()
    return summaries, [a.machine_id for a in actuator.log], store, cycle


def test_apart_the_day_starts_from_yesterday_and_their_rows_come_last(tmp_path):
    summaries, sent, store, cycle = _run(tmp_path)
    assert summaries[:3] == ["main sees []", "apart sees []", "later has read 0"]
    # day 1: every module sees day 0's three decisions; main, on the store, its own too
    assert summaries[3:5] == ["main sees [('apart', 1), ('later', 1), ('main', 1)]",
                              "apart sees [('apart', 1), ('later', 1), ('main', 1)]"]
    # read since its last day: each earlier day's rows once, though they came after it read
    assert summaries[5::3] == [f"later has read {3 * day}" for day in range(1, len(DAYS))]
    assert sent == ["main", "apart"] * len(DAYS)  # the group's actions after the others'
    assert store.count("decisions") == 3 * len(DAYS)
    assert set(cycle.seconds) >= {"main", "apart", "later", "waiting_apart"}
    assert not (tmp_path / "replica").exists()


def test_the_same_decisions_in_their_own_process_and_in_place(tmp_path, monkeypatch):
    if not worker.enabled():
        pytest.skip("one core or GIGALOOP_WORKER=0: the group runs in place anyway")
    apart = _run(tmp_path / "apart")
    monkeypatch.setenv("GIGALOOP_WORKER", "0")
    here = _run(tmp_path / "here")
    assert apart[0] == here[0] and apart[1] == here[1]


def test_modules_apart_may_not_depend_on_the_others(tmp_path):
    modules = [Counter("main"), Counter("apart", ("main",))]
    with pytest.raises(ConfigError, match="depend"):
        DailyCycle(modules, LoggingActuator(), Store(tmp_path), apart={"apart"},
                   replica=tmp_path / "replica")


def test_a_replica_fed_by_the_store_holds_the_same_rows(tmp_path):
    store, replica = Store(tmp_path / "store"), Store(tmp_path / "replica")
    store.mirror_to = replica.mirror
    day = datetime(2025, 1, 2)
    site = [{"site_id": "S1", "name": "F", "region": "CAISO", "timezone": "UTC"}]
    store.write("sites", site, ingested_at=day)
    reading = {"site_id": "S1", "hvac_kwh": 1.0, "process_kwh": 2.0, "lighting_kwh": 0.5,
               "outside_temp_c": 20.0, "indoor_temp_c": 22.0, "tariff_usd_per_kwh": 0.1,
               "carbon_g_per_kwh": 300.0, "event_time": day}
    store.write("energy_readings", [reading, {**reading, "hvac_kwh": -1.0}], ingested_at=day)
    store.write("energy_readings", [reading], ingested_at=day)  # again: unchanged
    for name in ("sites", "energy_readings", "quarantine"):
        assert store.count(name) == replica.count(name) == 1
    assert replica.ingested_between("energy_readings", None, day).equals(
        store.ingested_between("energy_readings", None, day))
