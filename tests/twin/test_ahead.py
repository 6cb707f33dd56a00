"""The twin in a process of its own: the rows, truth and world KPIs it makes in place, its
errors raised here, and a clear word when its process dies."""

from __future__ import annotations

import json
import os
import signal

import pytest

from gigaloop.actuate import MaintenanceOrder
from gigaloop.errors import ActuationError, ConfigError, GigaloopError
from gigaloop.loop import worker
from gigaloop.twin import Twin, load_scenario
from gigaloop.twin.ahead import TwinAhead
from gigaloop.twin.random_scenario import random_scenario
from gigaloop.twin.scenario import load_scenario_text

DAYS = 6


@pytest.mark.parametrize("world", ["alternate", "random 911"])
def test_ahead_it_makes_the_rows_truth_and_kpis_it_makes_in_place(tmp_path, world):
    scenario = load_scenario("alternate") if world == "alternate" else load_scenario_text(
        random_scenario(911, days=DAYS))  # a world drawn here, not a packaged one
    here = Twin(scenario, seed=3)
    with TwinAhead(scenario, days=DAYS, seed=3, context=worker.context()) as ahead:
        assert [ahead.day_end(d) for d in range(DAYS)] == [here.day_end(d) for d in range(DAYS)]
        for day in range(DAYS):
            sent, made = ahead.step(day), here.step(day)
            assert sent.keys() == made.keys()
            for name, table in made.items():
                assert sent[name].equals(table), (day, name)
        assert ahead.seconds > 0
        ahead.write_truth(tmp_path / "ahead.json")
        here.write_truth(tmp_path / "here.json")
        assert ahead.world_kpis() == here.world_kpis()
    assert json.loads((tmp_path / "ahead.json").read_text()) == json.loads(
        (tmp_path / "here.json").read_text())


def test_its_errors_are_raised_here_as_they_are():
    with pytest.raises(ConfigError, match="unknown scale 'huge'") as caught:
        TwinAhead(load_scenario(), days=2, scale="huge", context=worker.context())
    assert any("in the twin's process" in note for note in caught.value.__notes__)


def test_days_are_read_in_order_and_no_action_reaches_it():
    with TwinAhead(load_scenario(), days=2, context=worker.context()) as ahead:
        with pytest.raises(GigaloopError, match="expected day 0, got 1"):
            ahead.step(1)
        with pytest.raises(ActuationError, match="run it in place"):
            ahead.apply(MaintenanceOrder(day=1, machine_id="P1"))


def test_a_twin_process_that_dies_is_named_with_what_to_do():
    with TwinAhead(load_scenario(), days=3, context=worker.context()) as ahead:
        ahead.step(0)
        os.kill(ahead._process.pid, signal.SIGKILL)
        ahead._process.join()
        with pytest.raises(GigaloopError, match="GIGALOOP_WORKER=0"):
            ahead.step(1)
            ahead.step(2)  # day 1 may have been sent before the kill


def test_a_run_goes_ahead_only_when_nothing_acts_and_no_base_must_be_handed_over(
        tmp_path, two_processes):
    from gigaloop.run import RunOptions, _twin

    with _twin(RunOptions(days=2, out=tmp_path), []) as ahead:
        assert isinstance(ahead, TwinAhead)
    with _twin(RunOptions(days=2, out=tmp_path, fleet=50), []) as here:
        assert isinstance(here, Twin)


def test_ctrl_c_is_the_readers_to_handle_the_twin_goes_on():
    with TwinAhead(load_scenario(), days=2, context=worker.context()) as ahead:
        os.kill(ahead._process.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the group
        assert "vehicles" in ahead.step(0) and ahead._process.is_alive()
