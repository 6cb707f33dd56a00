"""The plant as SimPy processes: the line, its machines, maintenance windows and the meters.

Plain generator processes share one :class:`simpy.Environment` whose clock is local
seconds since the scenario's first midnight:

* ``_monitor`` ages every machine each hour, takes a condition snapshot, breaks the ones
  worn out and draws minor stops (more often on a machine in poor condition);
* ``_maintenance_windows`` opens the weekly planned window: targeted maintenance orders
  and one process area's routine maintenance;
* ``_line_stop`` stops the line for a cause no machine has (:mod:`gigaloop.twin.losses`:
  material shortage, quality hold, utility outage), drawn for each day at its start.

On a slow day (:class:`~gigaloop.twin.losses.LineLosses`) units are launched less often.

Units need no process: :class:`~gigaloop.twin.flow.LineFlow` launches a batch every takt
while the line runs and times it through the stations from the line's stop intervals.
:meth:`Plant.step` runs one day and turns what happened into store tables.

>>> from gigaloop.twin.scenario import load_scenario
>>> plant = Plant(load_scenario(), units_per_day=80, seed_seq=np.random.SeedSequence(0))
>>> tables, built = plant.step(0)
>>> tables["vehicles"].num_rows == len(built) > 50, tables["energy_readings"].num_rows
(True, 24)
"""

from __future__ import annotations

import zlib
from collections.abc import Generator
from typing import Any

import numpy as np
import pyarrow as pa
import simpy

from gigaloop.errors import GigaloopError
from gigaloop.twin.actions import PlantActions
from gigaloop.twin.background import ProcessOffsets
from gigaloop.twin.build import UnitBuilder
from gigaloop.twin.clock import DAY_S, Clock
from gigaloop.twin.energy import Energy
from gigaloop.twin.flow import LineFlow
from gigaloop.twin.history import History
from gigaloop.twin.layout import STATIONS, machine_station
from gigaloop.twin.losses import LineLosses, LineStop
from gigaloop.twin.lots import Supply
from gigaloop.twin.machines import Machines, Snapshot, readings
from gigaloop.twin.process import ProcessModel
from gigaloop.twin.scenario import Scenario
from gigaloop.twin.tables import arrow_table, static_tables
from gigaloop.twin.units import BuiltUnits

STREAMS = ("units", "process", "machines", "energy")
MINOR_STOP_MEAN_H = 0.4
DEFAULT_REPAIR_H = 8.0
Process = Generator[simpy.Event, Any, None]
AREAS = ("casting", "stamping", "body_weld", "paint", "battery_pack", "general_assembly",
         "eol_test")


class Plant:
    """One site with one line; faults from the scenario; actions through :attr:`actions`."""

    def __init__(self, scenario: Scenario, *, units_per_day: int,
                 seed_seq: np.random.SeedSequence) -> None:
        self.scenario = scenario
        self.site = scenario.site
        self.units_per_day = units_per_day
        self.clock = Clock(scenario.scenario.start_date, self.site.timezone)
        self._entropy = [int(x) for x in seed_seq.generate_state(4)]
        self.env = simpy.Environment()
        self.machines = Machines(np.random.default_rng([*self._entropy, zlib.crc32(b"wear")]))
        self.supply = Supply(scenario.parts, units_per_day=units_per_day)
        self.process = ProcessModel(ProcessOffsets(scenario.background, self._entropy))
        self.energy = Energy(self.site, units_per_day=units_per_day)
        self.history = History()
        self.builder = UnitBuilder(scenario, self.clock, self.supply, self.process, self._entropy)
        self.actions = PlantActions(self)
        self.design_revision = "D1"
        self.batch = max(1, units_per_day // 240)
        self.takt_s = DAY_S / units_per_day   # the rated (ideal) cycle time of a unit
        self.losses = LineLosses(self._entropy)
        self.cycle_s = [0.85 * self.takt_s * self.batch + st.dwell_s for st in STATIONS]
        self._repair_h: dict[int, float] = {}
        self._stops = 0
        self._stopped_at = 0.0
        self._stop_intervals: list[tuple[float, float]] = []
        self._resume = self.env.event()
        self._day = -1
        self._rngs: dict[str, np.random.Generator] = {}
        self._indoor = np.full(24, 22.0)
        # units are launched every takt × batch while the line runs and timed down the line
        # from its stops (docs/twin-plant.md, "Units down the line")
        self.flow = LineFlow(self.cycle_s, every_s=self.takt_s * self.batch, batch=self.batch)
        self._snapshots: list[tuple[float, Snapshot]] = []
        self._maintenance: list[dict[str, Any]] = []
        self._downtime: list[dict[str, Any]] = []
        drifting = self._inject_faults()
        for process in (self._monitor(), self._maintenance_windows()):
            self.env.process(process)
        for fault in self.scenario.faults:  # a drift that ends on a date ends by a calibration
            if fault.id in drifting and fault.stops is not None:
                self.env.process(self._calibration(
                    str(fault.where["machine"]), str(fault.where.get("parameter",
                                                                     "weld_current")),
                    fault.stops * DAY_S))

    def _inject_faults(self) -> set[str]:
        """Drifts (a process defect's shift is one) and bearing defects; the drifts' ids."""
        drifting = set()
        for fault in self.scenario.faults:
            size = fault.effect.get("drift_ka", fault.effect.get("drift", fault.effect.get(
                "shift", 0.0)))
            if fault.kind in ("weld_current_drift", "process_drift") or (
                    fault.kind == "process_defect" and size):
                stop = fault.stops if fault.stops is not None else np.inf
                self.process.add_drift(
                    fault.id, str(fault.where["machine"]), start_s=fault.starts * DAY_S,
                    stop_s=stop * DAY_S, size=size,
                    ramp_s=max(fault.effect.get("ramp_days", 0.0), 1e-3) * DAY_S,
                    parameter=str(fault.where.get("parameter", "weld_current")))
                drifting.add(fault.id)
            if fault.kind == "bearing_wear":
                rng = np.random.default_rng([*self._entropy, zlib.crc32(fault.id.encode())])
                machine = str(fault.where["machine"])
                hours = fault.effect["pf_interval_days"] * 24 * float(
                    np.exp(0.15 * rng.standard_normal()))
                self.machines.add_defect(machine, start_hour=fault.starts * 24 + rng.uniform(0, 24),
                                         hours_to_failure=max(hours, 1.0))
                self._repair_h[self.machines.index[machine]] = fault.effect["repair_hours"]
                self.history.defects[machine] = fault.id
        return drifting

    # -- one day ---------------------------------------------------------------------------

    def step(self, day: int) -> tuple[dict[str, pa.Table], BuiltUnits]:
        """Simulate ``day`` (days run in order) and return its rows and finished units."""
        if day != self._day + 1:
            raise GigaloopError(f"plant days run in order: expected day {self._day + 1}, "
                                f"got {day}", day=day)
        self._day = day
        self._rngs = {name: np.random.default_rng([*self._entropy, k, day])
                      for k, name in enumerate(STREAMS)}
        self.actions.enact_due(day)
        self.process.new_day(self._rngs["process"])
        day_of_year = self.clock.date_of(day).timetuple().tm_yday
        outside = self.energy.outside_temperature(day_of_year, self._rngs["energy"])
        self._indoor = self.energy.indoor(outside, np.ones(24), self._rngs["energy"])
        stops, speed = self.losses.day(day)
        for stop in stops:
            self.env.process(self._line_stop(stop))
        self.flow.every_s = self.takt_s * self.batch / speed
        self.env.run(until=(day + 1) * DAY_S)
        tables: dict[str, pa.Table] = (
            static_tables(self.scenario, ideal_cycle_s=self.takt_s) if day == 0 else {})
        built = self._finished_units(day, tables)
        energy = self.energy.day(outside=outside, day_of_year=day_of_year,
                                 running=self._running_share(day), rng=self._rngs["energy"])
        hours = day * DAY_S + np.arange(24) * 3600.0
        tables["energy_readings"] = arrow_table("energy_readings", {
            **energy, "site_id": [self.site.site_id] * 24, "event_time": self.clock.to_utc(hours)})
        tables["machine_readings"] = self._machine_table()
        for name, rows in (("maintenance_events", self._maintenance),
                           ("downtime_events", self._downtime)):
            if rows:
                tables[name] = arrow_table(name, {k: [r[k] for r in rows] for k in rows[0]})
            rows.clear()
        return tables, built

    def _finished_units(self, day: int, tables: dict[str, pa.Table]) -> BuiltUnits:
        stops = [*self._stop_intervals, *([(self._stopped_at, np.inf)] if self._stops else [])]
        starts, passages = self.flow.advance((day + 1) * DAY_S, stops)
        if not len(starts):
            return BuiltUnits.empty()
        b = self.batch
        serials = (starts[:, None] + np.arange(b)).reshape(-1)
        times = np.repeat(passages[:, :-1], b, axis=0)
        done_s = np.repeat(passages[:, -1], b)
        units = self.builder.build(day, serials, times, done_s, self._rngs["units"],
                                   self.design_revision)
        tables.update(units.tables)
        self.history.record_units(day, units)
        return units.built

    def _machine_table(self) -> pa.Table:
        snapshots, self._snapshots = self._snapshots, []
        n = len(self.machines.ids)
        columns: dict[str, Any] = readings([s for _, s in snapshots],
                                           self.machines.base_vibration,
                                           self.machines.temperature_rise)
        columns["machine_id"] = np.tile(self.machines.ids, len(snapshots))
        columns["event_time"] = self.clock.to_utc(np.repeat([t for t, _ in snapshots], n))
        return arrow_table("machine_readings", columns)

    def _running_share(self, day: int) -> np.ndarray:
        """Share of each hour of ``day`` the line was running."""
        start = np.arange(24) * 3600.0 + day * DAY_S
        intervals = list(self._stop_intervals)
        if self._stops:
            intervals.append((self._stopped_at, self.env.now))
        stopped = np.zeros(24)
        for a, b in intervals:
            stopped += np.clip(np.minimum(b, start + 3600) - np.maximum(a, start), 0, None)
        self._stop_intervals = [iv for iv in self._stop_intervals if iv[1] > (day + 1) * DAY_S]
        return 1.0 - stopped / 3600.0

    # -- line state --------------------------------------------------------------------------

    def _stop_line(self) -> None:
        if self._stops == 0:
            self._stopped_at = self.env.now
            self._resume = self.env.event()
        self._stops += 1

    def _start_line(self) -> None:
        self._stops -= 1
        if self._stops == 0:
            self._stop_intervals.append((self._stopped_at, self.env.now))
            self._resume.succeed()

    # -- processes ---------------------------------------------------------------------------

    def _monitor(self) -> Process:
        machines = self.machines
        while True:
            now = self.env.now
            rng = self._rngs["machines"]
            for i in machines.advance(now / 3600.0):
                self.env.process(self._stop_machine(
                    int(i), self._repair_h.get(int(i), DEFAULT_REPAIR_H), "breakdown"))
            jams = (rng.random(len(machines.ids)) < machines.minor_stop_probability()
                    ) & ~machines.down
            for i in np.flatnonzero(jams):
                hours = 0.05 + rng.exponential(MINOR_STOP_MEAN_H)
                self.env.process(self._stop_machine(int(i), hours, "minor_stop"))
            hour = int(now % DAY_S // 3600)
            self._snapshots.append((now, machines.snapshot(rng, indoor_c=self._indoor[hour])))
            yield self.env.timeout(3600.0)

    def _stop_machine(self, i: int, hours: float, cause: str) -> Process:
        machine = str(self.machines.ids[i])
        self.machines.down[i] = True
        start = self.env.now
        self._stop_line()
        if cause == "breakdown":
            self.history.breakdown(machine, int(start // DAY_S))
        yield self.env.timeout(hours * 3600.0)
        if cause == "breakdown":
            self.machines.repair(i)
            self.record_maintenance(machine, "corrective", "breakdown: bearing replaced",
                                     hours, start)
        self.machines.down[i] = False
        self._start_line()
        self._record_downtime(machine, planned=False, cause=cause, hours=hours, start=start)

    def _line_stop(self, stop: LineStop) -> Process:
        """A stop of the whole line no machine caused (none is down: they stand idle)."""
        yield self.env.timeout(stop.at_s)
        start = self.env.now
        self._stop_line()
        yield self.env.timeout(stop.hours * 3600.0)
        self._start_line()
        self._record_downtime(None, planned=False, cause=stop.cause, hours=stop.hours,
                              start=start, station_id=stop.station_id)

    def _maintenance_windows(self) -> Process:
        site = self.site
        first = (site.maintenance_weekday - self.clock.start.weekday()) % 7
        yield self.env.timeout(first * DAY_S + site.maintenance_start_hour * 3600.0)
        week = 0
        while True:
            start = self.env.now
            day = int(start // DAY_S)
            orders = self.actions.due_orders(day)
            area = AREAS[week % len(AREAS)]
            work = {i: "routine planned maintenance" for i, m in enumerate(self.machines.ids)
                    if machine_station(str(m)).process == area}
            work.update({self.machines.index[m]: reason for m, reason in orders.items()})
            work = {i: why for i, why in work.items() if not self.machines.down[i]}
            self._stop_line()
            for i in work:
                self.machines.down[i] = True
            yield self.env.timeout(site.maintenance_hours * 3600.0)
            for i, reason in work.items():
                machine = str(self.machines.ids[i])
                if machine in orders:
                    replaced = self.machines.service(i)
                    if replaced or machine not in self.history.defects:
                        self.history.maintained(machine, day)
                else:
                    self.machines.routine_maintenance(i)
                self.machines.down[i] = False
                self.record_maintenance(machine, "planned", reason, site.maintenance_hours, start)
            for station_id in sorted({machine_station(str(self.machines.ids[i])).station_id
                                      for i in work}):
                self._record_downtime(None, planned=True, cause="planned_maintenance",
                                      hours=site.maintenance_hours, start=start,
                                      station_id=station_id)
            self._start_line()
            week += 1
            yield self.env.timeout(7 * DAY_S - site.maintenance_hours * 3600.0)

    def _calibration(self, machine: str, parameter: str, at_s: float) -> Process:
        """The machine's scheduled calibration: done in a break, recorded like any work; it
        re-zeroes the machine (:meth:`ProcessModel.recalibrate`)."""
        yield self.env.timeout(at_s)
        self.process.recalibrate(machine, at_s)
        self.record_maintenance(machine, "calibration", f"scheduled calibration: {parameter}",
                                0.0, at_s)

    def record_maintenance(self, machine: str, kind: str, reason: str, hours: float,
                           start: float) -> None:
        """A row of ``maintenance_events`` (work order) for ``machine``, starting at ``start``."""
        self._maintenance.append({
            "maintenance_id": f"WO-{self.site.site_id}-{self.history.next_id('WO'):06d}",
            "machine_id": machine, "kind": kind, "reason": reason, "duration_h": hours,
            "event_time": self.clock.to_utc(np.array([start]))[0]})

    def _record_downtime(self, machine: str | None, *, planned: bool, cause: str, hours: float,
                         start: float, station_id: str | None = None) -> None:
        self._downtime.append({
            "downtime_id": f"DT-{self.site.site_id}-{self.history.next_id('DT'):06d}",
            "station_id": station_id or machine_station(machine or "").station_id,
            "machine_id": machine, "planned": planned, "cause": cause, "hours": hours,
            "event_time": self.clock.to_utc(np.array([start]))[0]})
