"""The line's launches and passages computed from its stop intervals (twin/flow.py)."""

from __future__ import annotations

import numpy as np

from gigaloop.twin.flow import LineFlow, settle


def test_launches_every_interval_and_wait_for_the_restart() -> None:
    flow = LineFlow([5.0], every_s=10.0)
    serials, times = flow.advance(until=60.0, stops=[(25.0, 42.0)])
    assert serials.tolist() == [0, 1, 2, 3, 4]
    assert times[:, 0].tolist() == [0.0, 10.0, 20.0, 42.0, 52.0]   # 30 fell in the stop
    assert times[:, 1].tolist() == [5.0, 15.0, 25.0, 47.0, 57.0]


def test_a_launch_due_in_an_open_stop_waits_for_its_end_the_next_day() -> None:
    flow = LineFlow([5.0], every_s=10.0, batch=3)
    flow.advance(until=60.0, stops=[])                       # launches 0, 10, …, 50
    serials, times = flow.advance(until=100.0, stops=[(63.0, np.inf)])
    assert times[:, 0].tolist() == [60.0]                     # 70 waits: the stop is open
    serials, times = flow.advance(until=200.0, stops=[(63.0, 130.0)])
    assert times[:, 0].tolist() == [130.0, 140.0, 150.0, 160.0, 170.0, 180.0, 190.0]
    assert serials.tolist() == list(range(21, 42, 3))          # batches of three serials


def test_the_first_launch_opens_the_line_whatever_stops_then() -> None:
    _, times = LineFlow([5.0], every_s=10.0).advance(until=30.0, stops=[(0.0, 15.0)])
    assert times[:, 0].tolist() == [0.0, 15.0]                 # 25 finishes at 30: tomorrow


def test_settle_moves_times_out_of_touching_stops() -> None:
    t = settle(np.array([1.0, 12.0, 30.0]), np.array([10.0, 20.0]), np.array([20.0, 25.0]))
    assert t.tolist() == [1.0, 25.0, 30.0]
