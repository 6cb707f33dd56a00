"""The process-control decision module: alarms, run-to-run setpoints, calibrations.

See the package's docstring (:mod:`gigaloop.factory.process_control`) for what it does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gigaloop.actuate import Calibration, SetpointChange
from gigaloop.factory.process_control.charts import RULES, StreamCharts
from gigaloop.factory.process_control.config import ProcessControlConfig
from gigaloop.factory.process_control.phase_one import PhaseOneWindow, chart_scale, fit_phase_one
from gigaloop.factory.process_control.readings import COLUMNS, DayReadings, StreamRows
from gigaloop.factory.process_control.step_test import StepTest
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.ml.spc import R2RController

#: The failure mode of this module's findings: a chart's alarm on a machine's parameter,
#: its effect the shift in the parameter's σ (an episode's first alarm is one finding).
ALARM_MODE = "process_drift"


@dataclass
class _Stream:
    """One (machine, parameter) stream: its Phase I, chart column and run-to-run state."""

    machine: str
    station: str
    parameter: str
    window: PhaseOneWindow
    column: int = -1  # in the charts, once past Phase I
    target: float = math.nan
    controller: R2RController | None = None
    first_alarm: int | None = None
    #: a day's alarm after a quiet spell, or on the other side of the centre, opens a new
    #: episode
    last_alarm: int | None = None
    episode_side: str = ""  # "upper" or "lower": the side the episode's alarms are on
    episode_days: int = 0  # days with an alarm in the current episode
    step: StepTest = field(default_factory=StepTest)
    controllable: bool | None = None
    log: bool = False  # charted on the log scale (a skewed, positive parameter)
    centre: float = math.nan  # Phase I mean and standard deviation, in the parameter's unit
    spread: float = math.nan
    anchor: float = math.nan  # Phase I mean on the chart's scale: the moving centre's anchor
    days: list[tuple[float, float, int]] = field(default_factory=list)
    probe: tuple[int, float] | None = None  # (1: probe in force, 2: back; setpoint before it)
    #: the controller's last setpoint was clipped at target ± ``max_adjust``: the setpoint
    #: cannot bring the stream back all the way
    saturated: bool = False


class ProcessControlModule:
    """Daily SPC on ``process_readings`` with run-to-run setpoint correction.

    >>> module = ProcessControlModule()
    >>> module.name, module.every_days, module.config.phase_one
    ('process_control', 1, 200)
    """

    name = "process_control"
    depends_on: tuple[str, ...] = ()
    every_days = 1

    def __init__(self, config: ProcessControlConfig | None = None) -> None:
        self.config = config or ProcessControlConfig()
        c = self.config
        self.charts = StreamCharts(lam=c.lam, L=c.L, k=c.k, h=c.h)  # streams past Phase I
        self._streams: dict[tuple[str, str], _Stream] = {}  # every stream seen, by key
        self._monitored: list[_Stream] = []  # those in the charts, by column
        self._seen_until: datetime | None = None  # readings ingested by then are read
        self._calibration_ordered: dict[str, int] = {}  # machine → day last ordered

    @property
    def charted(self) -> set[tuple[str, str]]:
        """The (machine, parameter) streams past Phase I: their next readings are charted."""
        return {(s.machine, s.parameter) for s in self._monitored}

    def decide(self, ctx: DayContext) -> list[Decision]:
        since = self._seen_until
        readings = self._new_readings(ctx)
        return self.observe(ctx, readings, self._calibrated(ctx, since))

    def observe(self, ctx: DayContext, readings: DayReadings | pa.Table | pd.DataFrame,
                calibrated: frozenset[str] = frozenset()) -> list[Decision]:
        """Decide on ``ctx.day``'s ``readings`` (``vin, station_id, machine_id, parameter, value,
        setpoint, event_time``; Arrow or a frame is put in event-time order) and the machines
        ``calibrated`` since the last run (their controllers stop, setpoints go back to target,
        charts restart); ``ctx.view`` is not read."""
        if isinstance(readings, pd.DataFrame):
            readings = DayReadings.from_frame(readings)
        elif isinstance(readings, pa.Table):
            readings = DayReadings.from_table(readings)
        if not len(readings):
            return []
        live = self._phase_one(ctx.day, readings)
        if not live:
            return []
        decisions = self._alarms(ctx, readings, live)
        alarmed = {(d.inputs["alarm"]["machine_id"], d.inputs["alarm"]["parameter"]): d
                   for d in decisions}
        decisions += self._run_to_run(ctx, readings, live, alarmed, calibrated)
        decisions += self._calibrations(ctx, alarmed)
        self.charts.restart([s.column for s in self._monitored if s.machine in calibrated])
        return decisions

    @staticmethod
    def _calibrated(ctx: DayContext, since: datetime | None) -> frozenset[str]:
        """Machines whose calibration (``maintenance_events``) was ingested after ``since``."""
        events = ctx.view.ingested_since("maintenance_events", since, ["machine_id", "kind"])
        calibrations = events.filter(pc.equal(events["kind"], "calibration"))
        return frozenset(map(str, calibrations["machine_id"].to_pylist()))

    def _new_readings(self, ctx: DayContext) -> DayReadings:
        """The readings ingested since the last run, read straight to Arrow (no Ibis query)."""
        table = ctx.view.ingested_since("process_readings", self._seen_until, COLUMNS)
        self._seen_until = ctx.now
        return DayReadings.from_table(table)

    def _phase_one(self, day: int, readings: DayReadings) -> list[tuple[_Stream, StreamRows]]:
        """Feed streams still in Phase I (whole days); start those that have enough; return
        the monitored streams with readings today (in chart-column order) and their rows."""
        c = self.config
        live: list[tuple[_Stream, StreamRows]] = []
        starting: list[_Stream] = []
        for rows in readings.streams:
            stream = self._streams.get((rows.machine, rows.parameter))
            if stream is None:
                stream = _Stream(rows.machine, rows.station, rows.parameter,
                                 PhaseOneWindow(c.phase_one, c.phase_one_days))
                self._streams[rows.machine, rows.parameter] = stream
            if stream.column >= 0:
                live.append((stream, rows))
            elif stream.window.add(day, readings.value[rows.index],
                                   readings.setpoint[rows.index]):
                starting.append(stream)
        levels: list[float] = []
        sigmas: list[float] = []
        for stream in starting:
            fit = fit_phase_one(stream.window, c.centre_weight)
            stream.centre, stream.spread, stream.target = fit.centre, fit.spread, fit.target
            stream.log, baseline = fit.log, fit.baseline
            if baseline.sigma == 0:  # readings that do not vary: Phase I starts over
                stream.window = PhaseOneWindow(c.phase_one, c.phase_one_days)
                continue
            stream.column = self.charts.n_streams + len(levels)
            stream.anchor = baseline.mean
            self._monitored.append(stream)
            levels.append(baseline.level)
            sigmas.append(baseline.sigma)
        if levels:
            self.charts.add_streams(levels, sigmas)
        return sorted(live, key=lambda pair: pair[0].column)

    def _alarms(self, ctx: DayContext, readings: DayReadings,
                live: list[tuple[_Stream, StreamRows]]) -> list[Decision]:
        """Chart today's readings (one column a stream, its readings in order down it); a
        stream's first signal becomes a decision and a row of ``spc_alarms``."""
        block = np.full((max(len(rows.index) for _, rows in live), self.charts.n_streams),
                        np.nan)
        row_at: dict[int, np.ndarray] = {}  # chart column -> its rows of ``readings``
        for stream, rows in live:
            values = readings.value[rows.index]
            block[:len(values), stream.column] = chart_scale(values, stream.log)
            row_at[stream.column] = rows.index
        signals = self.charts.process(block)
        mu_today = self.charts.mu
        anchors = np.array([stream.anchor for stream in self._monitored])
        self.charts.follow(block, signals, self.config.centre_weight, anchors,
                           self.config.centre_band)
        sigmas = self.charts.sigma
        decisions = []
        for col in np.flatnonzero(signals.first >= 0):
            stream = self._monitored[col]
            reading = int(row_at[int(col)][signals.first[col]])
            mu, sigma = mu_today[col], sigmas[col]
            statistic, limit = float(signals.statistic[col]), float(signals.limit[col])
            if stream.log:  # back to the parameter's unit: EWMA by exp, CUSUM sums to first order
                ewma_rule = signals.rule[col] < 2
                statistic, limit = (math.exp(x) if ewma_rule else x * math.exp(mu)
                                    for x in (statistic, limit))
            row = {
                "machine_id": stream.machine, "station_id": stream.station,
                "parameter": stream.parameter, "rule": RULES[signals.rule[col]],
                "statistic": statistic, "limit": limit,
                "first_vin": readings.vin(reading), "event_time": readings.event_time(reading),
            }
            ctx.emit("spc_alarms", [row])
            shift = (signals.ewma[col] - mu) / sigma
            half = 1.96 * math.sqrt(self.config.lam / (2.0 - self.config.lam))
            finding = None
            if stream.first_alarm is None:
                stream.first_alarm = ctx.day
            side = "upper" if row["rule"].endswith("upper") else "lower"
            if stream.last_alarm is None or side != stream.episode_side \
                    or ctx.day - stream.last_alarm > self.config.episode_gap_days:
                stream.episode_days, stream.episode_side = 0, side
                finding = {
                    "id": f"SPC-{stream.machine}-{stream.parameter}-d{ctx.day}",
                    "failure_mode": ALARM_MODE,
                    "names": {"station": stream.station, "machine": stream.machine,
                              "parameter": stream.parameter, "window": [ctx.day, ctx.day]},
                    "effect": round(float(shift), 3),
                    "ci": [round(float(shift - half), 3), round(float(shift + half), 3)],
                    "rank": 1, "day_found": ctx.day,
                }
            stream.last_alarm = ctx.day
            stream.episode_days += 1
            decisions.append(Decision(
                ctx.day, self.name,
                f"{stream.machine} {stream.parameter}: {row['rule']} ({shift:+.1f} σ)",
                finding=finding,
                inputs={"alarm": row,
                        "centre": stream.centre, "sigma": stream.spread, "log_scale": stream.log,
                        "shift_sigmas": float(shift), "signals_today": int(signals.count[col])},
            ))
        return decisions

    def _run_to_run(self, ctx: DayContext, readings: DayReadings,
                    live: list[tuple[_Stream, StreamRows]],
                    alarmed: dict[tuple[str, str], Decision],
                    calibrated: frozenset[str] = frozenset()) -> list[Decision]:
        """Probe, then control, the streams that have alarmed; propose tomorrow's setpoint.

        A stream's controller starts at an alarm and stops (setpoint back to target) once the
        disturbance it estimates is within ``release_sigmas`` σ. Before its first move the
        stream is probed (setpoint moved one day, back the next, :class:`StepTest`); one
        whose setpoint does not move its readings is only charted (setpoint back to target).
        A calibrated machine's streams stop being controlled: whatever the controller was
        compensating is gone, and its setpoint would now push the other way.
        """
        c = self.config
        extra = []
        for stream, rows in live:
            if stream.first_alarm is None:
                continue
            target, sigma = stream.target, stream.spread
            setpoints = readings.setpoint[rows.index]
            setpoints[np.isnan(setpoints)] = target  # none recorded: the target
            output = float(readings.value[rows.index].mean())
            setpoint, in_force = float(setpoints.mean()), float(setpoints[-1])
            stream.days = [*stream.days[-2:], (output, setpoint, len(rows.index))]
            today = alarmed.get((stream.machine, stream.parameter))
            if stream.machine in calibrated:
                stream.controller = stream.probe = None
                stream.saturated = False
                if abs(target - in_force) > 1e-9 * max(1.0, abs(target)):
                    extra += self._send(ctx, stream, today, target, "machine calibrated",
                                        output, setpoint)
                continue
            controller = stream.controller
            if controller is None and today is not None and stream.controllable is not False:
                controller = stream.controller = R2RController(
                    target=target, gain=c.gain, lam=c.r2r_lam, drift_weight=c.r2r_drift_weight,
                    initial_offset=output - c.gain * setpoint)
            if controller is not None:
                controller.learn_one(output, setpoint)
            proposal, why, force = None, "", False
            if stream.probe is not None and stream.probe[0] == 1:
                stream.probe = (2, stream.probe[1])
                proposal, why, force = stream.probe[1], "step test: setpoint back", True
            else:
                if stream.probe is not None:
                    stream.probe = None
                    means, points, counts = zip(*stream.days, strict=True)
                    if len(means) == 3 and stream.step.add(means, points, counts, sigma):
                        stream.controllable = stream.step.verdict(min_gain=c.min_gain,
                                                                  max_probes=c.max_probes)
                if stream.controllable is False:
                    stream.controller = controller = None
                    proposal, why = target, (f"step test: gain {stream.step.gain:.2f} ± "
                                             f"{stream.step.standard_error:.2f}, not controllable")
                if controller is not None:
                    disturbance = (c.gain * target + controller.offset + controller.trend
                                   - stream.centre)
                    if today is None and abs(disturbance) <= c.release_sigmas * sigma:
                        stream.controller, stream.saturated = None, False
                        proposal, why = target, f"disturbance {disturbance:+.3g} within deadband"
                    else:
                        proposal, why = self._propose(stream, controller, in_force, sigma)
                        force = stream.probe is not None
            if proposal is None or abs(proposal - in_force) <= 1e-9 * max(1.0, abs(target)) or (
                    not force and abs(proposal - in_force) <= c.deadband_sigmas * sigma
                    and proposal != target):
                continue
            extra += self._send(ctx, stream, today, proposal, why, output, setpoint)
        return extra

    def _calibrations(self, ctx: DayContext,
                      alarmed: dict[tuple[str, str], Decision]) -> list[Decision]:
        """Calibrate the machines of streams alarming again that their setpoint cannot
        correct (no gain; no room: ``max_adjust``·|target| under one σ; or not enough: the
        controller's setpoint clipped at the bound, a drift larger than ``max_adjust``),
        once per ``calibration_cooldown_days`` a machine."""
        c = self.config
        if not c.calibrate_after_days:
            return []
        decisions = []
        for (machine, parameter), alarm in alarmed.items():
            stream = self._streams[(machine, parameter)]
            room = c.max_adjust * abs(stream.target) >= stream.spread
            stuck = stream.controllable is False or not room or stream.saturated
            last = self._calibration_ordered.get(machine)
            if not stuck or stream.episode_days < c.calibrate_after_days or (
                    last is not None and ctx.day - last < c.calibration_cooldown_days):
                continue
            self._calibration_ordered[machine] = ctx.day
            why = ("its setpoint does not move it" if stream.controllable is False
                   else "its target leaves run-to-run control no room" if not room
                   else "run-to-run control is at its bound")
            decisions.append(Decision(
                ctx.day, self.name, f"{machine}: calibrate ({parameter} alarmed on "
                                    f"{stream.episode_days} days; {why})",
                action=Calibration(day=ctx.day + 1, machine_id=machine,
                                   reason=f"process control: {parameter} out of control"),
                inputs={"trigger": alarm.inputs["alarm"], "episode_days": stream.episode_days,
                        "controllable": stream.controllable, "target": stream.target,
                        "sigma": stream.spread}))
        return decisions

    def _send(self, ctx: DayContext, stream: _Stream, today: Decision | None, proposal: float,
              why: str, output: float, setpoint: float) -> list[Decision]:
        """Put tomorrow's setpoint on today's alarm decision, or on a new one (returned)."""
        action = SetpointChange(
            day=ctx.day + 1, station_id=stream.machine, parameter=stream.parameter,
            setpoint=round(proposal, 6), reason=f"run-to-run: {why}")
        decision, new = today, []
        if decision is None:
            decision = Decision(ctx.day, self.name,
                                f"{stream.machine} {stream.parameter}: run-to-run setpoint",
                                inputs={"target": stream.target, "sigma": stream.spread})
            new.append(decision)
        decision.action = action
        decision.inputs["r2r"] = {
            "output": output, "setpoint": setpoint, "proposal": proposal, "why": why,
            "step_test": {"gain": stream.step.gain, "se": stream.step.standard_error,
                          "probes": stream.step.probes, "controllable": stream.controllable}}
        if stream.controller is not None:
            decision.inputs["r2r"].update(offset=stream.controller.offset,
                                          trend=stream.controller.trend)
        return new

    def _propose(self, stream: _Stream, controller: R2RController, in_force: float,
                 sigma: float) -> tuple[float, str]:
        """Tomorrow's setpoint (clipped to target ± ``max_adjust``): the controller's, or while
        the stream's gain is unproven, a probe of at least ``probe_sigmas`` σ its way."""
        c = self.config
        target = stream.target
        bound = c.max_adjust * abs(target)
        wanted = controller.next_setpoint
        if stream.controllable is None:
            direction = 1.0 if wanted >= in_force else -1.0
            wanted = in_force + direction * max(abs(wanted - in_force), c.probe_sigmas * sigma)
        proposal = float(np.clip(wanted, target - bound, target + bound))
        if stream.controllable is None and abs(proposal - in_force) > 1e-9 * max(1.0, abs(target)):
            stream.probe = (1, in_force)
            return proposal, "step test: setpoint probe"
        stream.saturated = proposal != wanted
        return proposal, f"offset {controller.offset:+.4g}, trend {controller.trend:+.3g}"


