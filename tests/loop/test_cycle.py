"""The daily cycle: dependency order, schedules, actions through the actuator, the log."""

import json
from datetime import datetime

import pytest

from gigaloop.actuate import Decision, LoggingActuator, MaintenanceOrder
from gigaloop.errors import ConfigError
from gigaloop.loop.cycle import DailyCycle


class Recorder:
    def __init__(self, name, depends_on=(), every_days=1, calls=None):
        self.name, self.depends_on, self.every_days = name, depends_on, every_days
        self.calls = calls if calls is not None else []

    def decide(self, ctx):
        self.calls.append((self.name, ctx.day))
        ctx.board.setdefault("seen", []).append(self.name)
        return [Decision(ctx.day, self.name, f"{self.name} ran",
                         action=MaintenanceOrder(day=ctx.day, machine_id=self.name))]


def test_modules_run_in_dependency_order_on_their_schedule(tmp_path):
    calls = []
    modules = [Recorder("changes", ("rootcause",), calls=calls),
               Recorder("rootcause", ("trace",), every_days=2, calls=calls),
               Recorder("trace", calls=calls)]
    actuator = LoggingActuator()
    cycle = DailyCycle(modules, actuator, log_path=tmp_path / "log.jsonl")
    for day in range(3):
        cycle.run_day(day, datetime(2026, 1, 1 + day), view=None)
    assert calls == [("trace", 0), ("rootcause", 0), ("changes", 0), ("trace", 1),
                     ("changes", 1), ("trace", 2), ("rootcause", 2), ("changes", 2)]
    assert [a.machine_id for a in actuator.log][:3] == ["trace", "rootcause", "changes"]
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(logged) == 8 and logged[0]["action"]["kind"] == "maintenance_order"
    assert all(d.accepted for d in cycle.decisions)


def test_cycles_and_unknown_dependencies_are_refused():
    with pytest.raises(ConfigError, match="cycle"):
        DailyCycle([Recorder("a", ("b",)), Recorder("b", ("a",))], LoggingActuator())
    with pytest.raises(ConfigError, match="unknown 'c'"):
        DailyCycle([Recorder("a", ("c",))], LoggingActuator())
