"""The digital twin: a seeded plant (SimPy) and fleet, faults from a scenario, hidden truth.

Analytics never import this package; they read the store the twin writes into.

>>> twin = Twin.from_scenario("alternate", seed=2)
>>> tables = twin.step(0)
>>> twin.scenario.scenario.name, {"sites", "vehicles", "process_readings"} <= set(tables)
('alternate', True)
"""

from gigaloop.twin.scenario import Scenario, load_scenario
from gigaloop.twin.source import TwinDay
from gigaloop.twin.world import Twin

__all__ = ["Scenario", "Twin", "TwinDay", "load_scenario"]
