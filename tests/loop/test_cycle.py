"""The daily cycle: dependency order, schedules, actions through the actuator, the log."""

import json
from datetime import datetime

import pytest

from gigaloop.actuate import LoggingActuator, MaintenanceOrder
from gigaloop.errors import ConfigError
from gigaloop.loop.contract import Decision
from gigaloop.loop.cycle import DailyCycle
from gigaloop.loop.records import findings_from_store
from gigaloop.store import Store


class Recorder:
    def __init__(self, name, depends_on=(), every_days=1, calls=None):
        self.name, self.depends_on, self.every_days = name, depends_on, every_days
        self.calls = calls if calls is not None else []

    def decide(self, ctx):
        self.calls.append((self.name, ctx.day))
        return [Decision(ctx.day, self.name, f"{self.name} ran",
                         action=MaintenanceOrder(day=ctx.day, machine_id=self.name))]


def test_modules_run_in_dependency_order_on_their_schedule(tmp_path):
    calls = []
    modules = [Recorder("changes", ("rootcause",), calls=calls),
               Recorder("rootcause", ("trace",), every_days=2, calls=calls),
               Recorder("trace", calls=calls)]
    actuator, store = LoggingActuator(), Store(tmp_path)
    cycle = DailyCycle(modules, actuator, store)
    made = [d for day in range(3) for d in cycle.run_day(day, datetime(2026, 1, 1 + day))]
    assert calls == [("trace", 0), ("rootcause", 0), ("changes", 0), ("trace", 1),
                     ("changes", 1), ("trace", 2), ("rootcause", 2), ("changes", 2)]
    assert [a.machine_id for a in actuator.log][:3] == ["trace", "rootcause", "changes"]
    logged = store.execute(store.table("decisions").order_by(["day", "module"]))
    assert len(logged) == 8 and set(logged.action_kind) == {"maintenance_order"}
    assert json.loads(logged.action_json[0])["machine_id"] == "changes"  # day 0, by name
    assert all(d.accepted for d in made) and logged.accepted.all()
    assert set(cycle.seconds) == {"trace", "rootcause", "changes"}


def test_rows_a_module_emits_go_through_ingest_and_bad_ones_are_quarantined(tmp_path):
    class Alarmist:
        name, depends_on, every_days = "alarmist", (), 1

        def decide(self, ctx):
            ctx.emit("spc_alarms", [{"machine_id": "NOPE", "station_id": "NOPE",
                                     "parameter": "p", "rule": "ewma_upper", "statistic": 1.0,
                                     "limit": 0.5, "first_vin": "V1", "event_time": ctx.now}])
            return []

    store = Store(tmp_path)
    DailyCycle([Alarmist()], LoggingActuator(), store).run_day(0, datetime(2026, 1, 1))
    quarantined = store.execute(store.quarantine())
    assert store.count("spc_alarms") == 0 and len(quarantined) == 1
    assert set(quarantined.source) == {"alarmist"}


def test_cycles_and_missing_dependencies_are_refused_saying_what_to_add():
    with pytest.raises(ConfigError, match="cycle"):
        DailyCycle([Recorder("a", ("b",)), Recorder("b", ("a",))], LoggingActuator(), None)
    with pytest.raises(ConfigError, match=r"needs 'c'.*add 'c'"):
        DailyCycle([Recorder("a", ("c",))], LoggingActuator(), None)


def test_a_finding_reported_with_a_decision_reaches_the_records(tmp_path):
    class Watcher:
        name, depends_on, every_days = "watcher", (), 1

        def decide(self, ctx):
            finding = {"id": f"PM-P1-d{ctx.day}", "failure_mode": "machine_breakdown",
                       "names": {"machine": "P1"}, "effect": 0.9, "ci": None, "rank": 1,
                       "day_found": ctx.day}
            return [Decision(ctx.day, self.name, "service P1", finding=finding)]

    store = Store(tmp_path)
    cycle = DailyCycle([Watcher()], LoggingActuator(), store)
    for day in (3, 4):
        cycle.run_day(day, datetime(2026, 1, 1 + day))
    assert [f["id"] for f in findings_from_store(store)] == ["PM-P1-d3", "PM-P1-d4"]
    assert findings_from_store(store)[0]["names"] == {"machine": "P1"}


def test_a_modules_setup_is_sent_when_the_cycle_is_built_and_logged_on_its_first_day(
        tmp_path):
    class Commissioned(Recorder):
        def setup(self):
            return [Decision(0, self.name, "switch the cameras to images",
                             action=MaintenanceOrder(day=0, machine_id="CAM"))]

    actuator = LoggingActuator()
    store = Store(tmp_path)
    try:
        cycle = DailyCycle([Commissioned("inspection")], actuator, store)
        assert [a.machine_id for a in actuator.log] == ["CAM"]  # before any day
        first = cycle.run_day(0, datetime(2025, 1, 2))
        assert [d.summary for d in first] == ["switch the cameras to images", "inspection ran"]
        assert first[0].accepted and [a.machine_id for a in actuator.log] == ["CAM", "inspection"]
        assert [d.summary for d in cycle.run_day(1, datetime(2025, 1, 3))] == ["inspection ran"]
        assert store.count("decisions") == 3
    finally:
        store.close()


class Starter(Recorder):
    """A module whose work runs beside the others: ``start`` now, the decision later."""

    def start(self, ctx):
        self.calls.append((f"{self.name} started", ctx.day))
        return lambda: self.decide(ctx)


def test_a_started_module_runs_beside_those_that_do_not_wait_for_it(tmp_path):
    calls = []
    modules = [Starter("rootcause", calls=calls), Recorder("changes", ("rootcause",), calls=calls),
               Recorder("impact", ("changes",), calls=calls), Recorder("energy", calls=calls)]
    cycle = DailyCycle(modules, LoggingActuator(), Store(tmp_path))
    made = cycle.run_day(0, datetime(2026, 1, 1))
    # changes waits for root cause, and impact for changes; energy does not
    assert calls == [("rootcause started", 0), ("energy", 0), ("rootcause", 0),
                     ("changes", 0), ("impact", 0)]
    assert [d.module for d in made] == ["energy", "rootcause", "changes", "impact"]
    assert set(cycle.seconds) == {"rootcause", "changes", "impact", "energy"}
