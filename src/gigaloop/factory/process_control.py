"""Process control: EWMA + CUSUM on every (machine, parameter) stream, run-to-run setpoints.

Each day the module reads the ``process_readings`` ingested since its last run
(:meth:`ProcessControlModule.observe` takes them as a frame, so a replay can feed it).

**Phase I** is a stream's first ``phase_one_days`` days of readings (subgroups; and at least
``phase_one`` readings). A plant's offsets wander slowly from day to day (common-cause
variation a few days cannot show), so the readings are modelled as *day level + within-day
noise* and the chart is a moving-centre one (Montgomery, *Introduction to SPC*, §10.4, the
EWMA centre line of Montgomery & Mastrangelo 1991): the centre for a day is the forecast of
its level, an EWMA (weight ``centre_weight``) of the previous days' means, and the chart's σ
comes from two variance components estimated over Phase I (:func:`phase_one_baseline`),
``σ² = σ_within² + σ_level²``: the pooled within-day variance and the variance of the day
level around its forecast (day-mean forecast errors less their within-day part; with
``centre_weight = 0`` the centre is fixed at the Phase I mean and ``σ_level²`` is the
between-days component of a one-way random-effects model). In Phase II a day without a
signal moves the centre; a day with one does not, and the centre stays within
``centre_band`` σ of the Phase I mean, so a drift, however slow, is not absorbed.

Every reading goes, in event-time order, through an EWMA and a two-sided CUSUM kept for all
streams at once in :class:`StreamCharts`. A stream's first signal of a day becomes a
:class:`Decision` (and a row of ``spc_alarms``, handed to ``ctx.emit``: the cycle writes it
through the ingest path); its first signal ever also carries the stream's
first-alarm record in its inputs. The chart then restarts (EWMA at the centre, CUSUM sums
at 0). Target = the setpoint in force in Phase I (the mean where no setpoint is recorded).

An alarm puts a stream under run-to-run control: an :class:`R2RController` (double EWMA,
one run = one day) learns the day's mean output against the setpoint in force and proposes
the setpoint that puts the next day's output on target (nominal gain 1), clipped to
``target ± max_adjust·|target|`` and sent (a :class:`SetpointChange` from the next day) when
it differs from the setpoint in force by more than ``deadband_sigmas`` σ. Only where a setpoint
demonstrably acts: a stream's first move is an up-and-back probe whose day means give its gain
(:class:`StepTest`); a stream whose setpoint does not move its readings is only charted. Once
the disturbance the controller estimates is back within ``release_sigmas`` σ the setpoint
returns to target and the stream is left alone until its next alarm.

The default design (EWMA λ = 0.5, L = 4.5; CUSUM k = 1.5, h = 3) has, by Markov chain, ARL₀ of
about 148,000 and 24,900 readings and detects a 2σ shift in about 12 and 6 readings; it is
meant for shifts of 2σ or more. Its ARL₀ falls fast with a persistent offset (to a quarter at
0.3σ), which is why the centre follows the day level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import ibis
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from gigaloop.actuate import SetpointChange
from gigaloop.loop.contract import DayContext, Decision
from gigaloop.errors import ConfigError
from gigaloop.ml.spc import R2RController

RULES = ("ewma_upper", "ewma_lower", "cusum_upper", "cusum_lower")


@dataclass(frozen=True)
class Signals:
    """What :meth:`StreamCharts.process` saw, per stream: the first signal (step -1: none)."""

    first: NDArray[np.intp]
    rule: NDArray[np.intp]
    statistic: NDArray[np.float64]
    limit: NDArray[np.float64]
    ewma: NDArray[np.float64]
    count: NDArray[np.intp]


class StreamCharts:
    """EWMA and two-sided CUSUM over many streams whose readings come in ragged blocks.

    Same formulas and floating-point order as :class:`gigaloop.ml.spc.EWMA` and
    :class:`~gigaloop.ml.spc.CUSUM`; a NaN in a block means "no reading for this stream at
    this step" and leaves its state untouched; a stream restarts after each signal.

    >>> charts = StreamCharts(lam=0.2, L=4.0, k=1.0, h=5.0)
    >>> charts.add_streams(mu=[10.0, 10.0], sigma=[1.0, 1.0])
    >>> block = np.array([[10.2, 12.5], [np.nan, 12.8], [9.9, 13.1], [10.1, np.nan]])
    >>> signals = charts.process(block)
    >>> signals.first.tolist(), [RULES[r] for r in signals.rule[1:]]
    ([-1, 2], ['ewma_upper'])
    """

    def __init__(self, lam: float = 0.2, L: float = 3.8, k: float = 1.0, h: float = 4.0) -> None:
        if not (0 < lam <= 1 and L > 0 and k >= 0 and h > 0):
            raise ConfigError("need 0 < lam <= 1, L > 0, k >= 0, h > 0", lam=lam, L=L, k=k, h=h)
        self.lam, self.L, self.k, self.h = lam, L, k, h
        self.mu = np.empty(0)
        self.sigma = np.empty(0)
        self._z, self._upper, self._lower = np.empty(0), np.empty(0), np.empty(0)

    @property
    def n_streams(self) -> int:
        return len(self.mu)

    @property
    def ewma(self) -> NDArray[np.float64]:
        """The current EWMA of each stream (a copy)."""
        return self._z.copy()

    def add_streams(self, mu: ArrayLike, sigma: ArrayLike) -> None:
        """Start monitoring new streams with centre ``mu`` and spread ``sigma``."""
        mu_, sigma_ = np.atleast_1d(np.asarray(mu, float)), np.atleast_1d(np.asarray(sigma, float))
        if mu_.shape != sigma_.shape or not (np.isfinite(mu_).all() and (sigma_ > 0).all()):
            raise ConfigError("mu and sigma need one finite value each, sigma > 0")
        self.mu, self.sigma = np.concatenate([self.mu, mu_]), np.concatenate([self.sigma, sigma_])
        self._z = np.concatenate([self._z, mu_])
        self._upper = np.concatenate([self._upper, np.zeros_like(mu_)])
        self._lower = np.concatenate([self._lower, np.zeros_like(mu_)])

    def process(self, block: ArrayLike) -> Signals:
        """Run a block of shape ``(n_steps, n_streams)`` (NaN = no reading) through the charts."""
        rows = np.asarray(block, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_streams or np.isinf(rows).any():
            raise ConfigError(f"block must be finite or NaN with shape (n_steps, "
                              f"{self.n_streams}), got {rows.shape}")
        mu, sigma, z, upper, lower = self.mu, self.sigma, self._z, self._upper, self._lower
        width = self.L * sigma * math.sqrt(self.lam / (2.0 - self.lam))
        ucl, lcl, limit = mu + width, mu - width, self.h * sigma
        ref_upper, ref_lower = mu + self.k * sigma, mu - self.k * sigma
        n = self.n_streams
        first, rule = np.full(n, -1, np.intp), np.full(n, -1, np.intp)
        statistic, crossed, at_alarm = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        count = np.zeros(n, np.intp)
        for t, x in enumerate(rows):
            on = ~np.isnan(x)
            x = np.where(on, x, mu)
            np.copyto(z, (1.0 - self.lam) * z + self.lam * x, where=on)
            np.copyto(upper, np.maximum(0.0, upper + (x - ref_upper)), where=on)
            np.copyto(lower, np.maximum(0.0, lower + (ref_lower - x)), where=on)
            flags = np.stack([z > ucl, z < lcl, upper > limit, lower > limit]) & on
            fired = flags.any(axis=0)
            if not fired.any():
                continue
            new = fired & (first < 0)
            which = flags.argmax(axis=0)
            values = np.choose(which, [z, z, upper, lower])
            bounds = np.choose(which, [ucl, lcl, limit, limit])
            first[new], rule[new] = t, which[new]
            statistic[new], crossed[new], at_alarm[new] = values[new], bounds[new], z[new]
            count += fired
            self.reset(np.flatnonzero(fired))
        return Signals(first, rule, statistic, crossed, at_alarm, count)

    def reset(self, streams: ArrayLike) -> None:
        """Restart streams: EWMA at the centre, CUSUM sums at 0."""
        index = np.asarray(streams, dtype=np.intp)
        self._z[index] = self.mu[index]
        self._upper[index] = 0.0
        self._lower[index] = 0.0

    def recentre(self, streams: ArrayLike, mu: ArrayLike) -> None:
        """Move streams' centres to ``mu``; the EWMA moves with them (its distance from the
        centre, like the CUSUM sums, is kept), as on a chart of residuals from the centre.

        >>> charts = StreamCharts()
        >>> charts.add_streams([10.0], [1.0])
        >>> _ = charts.process([[11.0]])
        >>> charts.recentre([0], [10.5])
        >>> charts.mu.tolist(), (charts.ewma - charts.mu).round(3).tolist()
        ([10.5], [0.2])
        """
        index = np.asarray(streams, dtype=np.intp)
        target = np.asarray(mu, dtype=np.float64)
        self._z[index] += target - self.mu[index]
        self.mu[index] = target

    def follow(self, block: ArrayLike, signals: Signals, weight: float, anchor: ArrayLike,
               band: float) -> None:
        """Move each centre toward the stream's mean reading in ``block`` (an EWMA step of
        ``weight``), except for streams without a reading or with a signal in it, and keep it
        within ``band`` σ of ``anchor`` (the Phase I mean): a moving centre line.

        >>> charts = StreamCharts()
        >>> charts.add_streams([10.0, 10.0], [1.0, 1.0])
        >>> block = [[10.8, 10.8], [11.2, np.nan]]
        >>> charts.follow(block, charts.process(block), 0.5, [10.0, 10.0], band=0.4)
        >>> charts.mu.tolist()
        [10.4, 10.4]
        """
        rows = np.asarray(block, dtype=np.float64)
        quiet = np.flatnonzero((~np.isnan(rows)).any(axis=0) & (signals.first < 0))
        if weight == 0 or not len(quiet):
            return
        means = np.nanmean(rows[:, quiet], axis=0)
        centre = np.asarray(anchor, dtype=np.float64)[quiet]
        reach = band * self.sigma[quiet]
        level = (1.0 - weight) * self.mu[quiet] + weight * means
        self.recentre(quiet, np.clip(level, centre - reach, centre + reach))


@dataclass(frozen=True)
class ProcessControlConfig:
    """Chart design, Phase I length, run-to-run controller and step-test settings.

    Phase I: a stream's first ``phase_one_days`` days with readings, and at least
    ``phase_one`` readings. ``centre_weight``: the weight of a day's mean in the moving centre
    (0: the centre stays at the Phase I mean); ``centre_band``: how far (in σ) the centre may
    move from the Phase I mean.
    ``min_gain``: a stream is run-to-run controlled only once an up-and-back setpoint probe
    (at least ``probe_sigmas`` σ, see :class:`StepTest`) has moved its readings by at least
    this much per unit of setpoint (lower 2-SE bound); after ``max_probes`` probes without
    that proof, or proof of less, the stream is only charted.
    ``release_sigmas``: control stops (setpoint back to target) once the disturbance the
    controller estimates is within this many σ.
    """

    phase_one: int = 200
    phase_one_days: int = 30
    centre_weight: float = 0.05
    centre_band: float = 1.0
    lam: float = 0.5
    L: float = 4.5
    k: float = 1.5
    h: float = 3.0
    gain: float = 1.0
    r2r_lam: float = 0.7
    r2r_drift_weight: float | None = 0.4
    max_adjust: float = 0.10
    deadband_sigmas: float = 0.5
    min_gain: float = 0.5
    probe_sigmas: float = 1.0
    max_probes: int = 3
    release_sigmas: float = 0.5

    def __post_init__(self) -> None:
        if self.phase_one < 20:
            raise ConfigError("phase_one needs at least 20 readings", phase_one=self.phase_one)
        if not (self.phase_one_days >= 1 and 0 <= self.centre_weight < 1
                and self.centre_band >= 0):
            raise ConfigError("need phase_one_days >= 1, 0 <= centre_weight < 1, "
                              "centre_band >= 0", phase_one_days=self.phase_one_days,
                              centre_weight=self.centre_weight, centre_band=self.centre_band)
        if not (0 <= self.max_adjust < 1 and self.deadband_sigmas >= 0 and self.gain != 0):
            raise ConfigError("need 0 <= max_adjust < 1, deadband_sigmas >= 0, gain != 0")
        if not (self.min_gain > 0 and self.probe_sigmas > 0 and self.max_probes >= 1
                and self.release_sigmas >= 0):
            raise ConfigError("need min_gain > 0, probe_sigmas > 0, max_probes >= 1, "
                              "release_sigmas >= 0")


@dataclass
class StepTest:
    """What a stream's setpoint moves did to its day means: the gain, by weighted least squares.

    Three consecutive days with mean readings ``y0, y1, y2`` and setpoints ``s0, s1, s2``
    give ``y1 − (y0 + y2)/2 = gain · (s1 − (s0 + s2)/2) + noise``: a level and any linear
    drift cancel, so an up-and-back probe measures the gain even while the process drifts.
    The noise variance is ``σ²(1/n1 + 1/(4 n0) + 1/(4 n2))`` for days of ``n`` readings.

    >>> test = StepTest()
    >>> drift = [10.0, 9.9, 9.8]                  # 0.1 a day, unknown to the test
    >>> setpoints = [10.0, 10.3, 10.0]            # up one day, back the next
    >>> test.add([d + s - 10.0 for d, s in zip(drift, setpoints)], setpoints, [40, 40, 40], 0.1)
    True
    >>> round(test.gain, 2), test.verdict(min_gain=0.5, max_probes=3)
    (1.0, True)
    """

    sxy: float = 0.0
    sxx: float = 0.0
    probes: int = 0

    @property
    def gain(self) -> float:
        return self.sxy / self.sxx if self.sxx > 0 else math.nan

    @property
    def standard_error(self) -> float:
        return 1.0 / math.sqrt(self.sxx) if self.sxx > 0 else math.inf

    def add(self, means: ArrayLike, setpoints: ArrayLike, counts: ArrayLike,
            sigma: float) -> bool:
        """Add three consecutive days; False (nothing added) when the setpoints are collinear."""
        y, s, n = (np.asarray(v, dtype=float) for v in (means, setpoints, counts))
        delta = float(s[1] - (s[0] + s[2]) / 2)
        if abs(delta) <= 1e-12 * max(1.0, abs(float(s[1]))):
            return False
        variance = float(sigma**2 * (1 / n[1] + 1 / (4 * n[0]) + 1 / (4 * n[2])))
        self.sxy += float(y[1] - (y[0] + y[2]) / 2) * delta / variance
        self.sxx += delta * delta / variance
        self.probes += 1
        return True

    def verdict(self, *, min_gain: float, max_probes: int) -> bool | None:
        """True: the setpoint moves the output (gain − 2 SE ≥ ``min_gain``); False: it does
        not (gain + 2 SE < ``min_gain``, or no proof after ``max_probes``); None: not yet."""
        if self.probes == 0:
            return None
        low, high = self.gain - 2 * self.standard_error, self.gain + 2 * self.standard_error
        if low >= min_gain:
            return True
        if high < min_gain or self.probes >= max_probes:
            return False
        return None


@dataclass
class _Stream:
    machine: str
    station: str
    parameter: str
    column: int = -1
    target: float = math.nan
    phase_one: pd.DataFrame | None = None
    controller: R2RController | None = None
    first_alarm: int | None = None
    step: StepTest = field(default_factory=StepTest)
    controllable: bool | None = None
    log: bool = False  # charted on the log scale (a skewed, positive parameter)
    centre: float = math.nan  # Phase I mean and standard deviation, in the parameter's unit
    spread: float = math.nan
    anchor: float = math.nan  # Phase I mean on the chart's scale: the moving centre's anchor
    days: list[tuple[float, float, int]] = field(default_factory=list)
    probe: tuple[int, float] | None = None  # (1: probe in force, 2: back; setpoint before it)


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
        self.charts = StreamCharts(lam=c.lam, L=c.L, k=c.k, h=c.h)
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._monitored: list[_Stream] = []
        self._seen_until: datetime | None = None

    @property
    def charted(self) -> set[tuple[str, str]]:
        """The (machine, parameter) streams past Phase I: their next readings are charted."""
        return {(s.machine, s.parameter) for s in self._monitored}

    def decide(self, ctx: DayContext) -> list[Decision]:
        since = self._seen_until
        readings = self._new_readings(ctx)
        return self.observe(ctx, readings, self._calibrated(ctx, since))

    def observe(self, ctx: DayContext, readings: pd.DataFrame,
                calibrated: frozenset[str] = frozenset()) -> list[Decision]:
        """Decide on ``ctx.day``'s ``readings`` (``vin, station_id, machine_id, parameter, value,
        setpoint, event_time``, in event-time order) and the machines ``calibrated`` since the
        last run (their controllers stop, setpoints go back to target, charts restart);
        ``ctx.view`` is not read."""
        if readings.empty:
            return []
        live = self._phase_one(ctx.day, readings)
        if live.empty:
            return []
        decisions = self._alarms(ctx, live)
        alarmed = {(d.inputs["alarm"]["machine_id"], d.inputs["alarm"]["parameter"]): d
                   for d in decisions}
        decisions += self._run_to_run(ctx, live, alarmed, calibrated)
        self.charts.reset([s.column for s in self._monitored if s.machine in calibrated])
        return decisions

    @staticmethod
    def _calibrated(ctx: DayContext, since: datetime | None) -> frozenset[str]:
        """Machines whose calibration (``maintenance_events``) was ingested after ``since``."""
        events = ctx.view.table("maintenance_events")
        events = events.filter(events.kind == "calibration")
        if since is not None:
            events = events.filter(events.ingested_at > since)
        return frozenset(map(str, ctx.view.execute(events.select("machine_id")).machine_id))

    def _new_readings(self, ctx: DayContext) -> pd.DataFrame:
        table = ctx.view.table("process_readings")
        if self._seen_until is not None:
            table = table.filter(table.ingested_at > self._seen_until)
        self._seen_until = ctx.now
        expr = table.select(
            "vin", "station_id", "parameter", "value", "setpoint", "event_time",
            machine_id=ibis.coalesce(table.machine_id, table.station_id),
        ).order_by(["event_time", "vin"])
        return ctx.view.execute(expr)

    def _phase_one(self, day: int, readings: pd.DataFrame) -> pd.DataFrame:
        """Feed streams still in Phase I (whole days); start those that have enough; return
        the readings of monitored streams."""
        c = self.config
        keep = np.ones(len(readings), dtype=bool)
        starting: list[_Stream] = []
        for (machine, parameter), rows in readings.groupby(["machine_id", "parameter"], sort=False):
            stream = self._streams.get((machine, parameter))
            if stream is None:
                stream = _Stream(machine, str(rows["station_id"].iloc[0]), parameter)
                self._streams[machine, parameter] = stream
            if stream.column >= 0:
                continue
            take = rows.assign(day=day)
            stream.phase_one = take if stream.phase_one is None else pd.concat(
                [stream.phase_one, take])
            keep[readings.index.get_indexer(rows.index)] = False
            if (len(stream.phase_one) >= c.phase_one
                    and stream.phase_one["day"].nunique() >= c.phase_one_days):
                starting.append(stream)
        levels: list[float] = []
        sigmas: list[float] = []
        for stream in starting:
            rows = stream.phase_one
            assert rows is not None
            stream.centre, stream.spread, stream.target = _phase_one_estimate(rows)
            first = rows["value"].to_numpy(dtype=np.float64)
            stream.log = _is_log_normal(first)
            chart = _chart_scale(first, stream.log)
            on = ~np.isnan(chart)
            baseline = phase_one_baseline(chart[on], rows["day"].to_numpy()[on], c.centre_weight)
            stream.phase_one = None  # readings that do not vary: Phase I starts over
            if baseline.sigma > 0:
                stream.column = self.charts.n_streams + len(levels)
                stream.anchor = baseline.mean
                self._monitored.append(stream)
                levels.append(baseline.level)
                sigmas.append(baseline.sigma)
        if levels:
            self.charts.add_streams(levels, sigmas)
        live = readings[keep]
        columns = {(s.machine, s.parameter): s.column for s in self._monitored}
        column = [columns.get(key, -1) for key in zip(live.machine_id, live.parameter, strict=True)]
        return live.assign(column=column)[np.asarray(column) >= 0]

    def _alarms(self, ctx: DayContext, live: pd.DataFrame) -> list[Decision]:
        step = live.groupby("column").cumcount().to_numpy()
        column = live["column"].to_numpy()
        block = np.full((step.max() + 1, self.charts.n_streams), np.nan)
        values = live["value"].to_numpy(dtype=float)
        logged = np.array([self._monitored[c].log for c in column], dtype=bool)
        block[step, column] = np.where(logged, _chart_scale(values, True), values)
        where = np.full(block.shape, -1)
        where[step, column] = np.arange(len(live))
        signals = self.charts.process(block)
        mu_today = self.charts.mu.copy()
        anchors = np.array([stream.anchor for stream in self._monitored])
        self.charts.follow(block, signals, self.config.centre_weight, anchors,
                           self.config.centre_band)
        decisions = []
        for col in np.flatnonzero(signals.first >= 0):
            stream = self._monitored[col]
            reading = live.iloc[where[signals.first[col], col]]
            mu, sigma = mu_today[col], self.charts.sigma[col]
            statistic, limit = float(signals.statistic[col]), float(signals.limit[col])
            if stream.log:  # back to the parameter's unit: EWMA by exp, CUSUM sums to first order
                ewma_rule = signals.rule[col] < 2
                statistic, limit = (math.exp(x) if ewma_rule else x * math.exp(mu)
                                    for x in (statistic, limit))
            row = {
                "machine_id": stream.machine, "station_id": stream.station,
                "parameter": stream.parameter, "rule": RULES[signals.rule[col]],
                "statistic": statistic, "limit": limit,
                "first_vin": str(reading["vin"]), "event_time": reading["event_time"],
            }
            ctx.emit("spc_alarms", [row])
            shift = (signals.ewma[col] - mu) / sigma
            half = 1.96 * math.sqrt(self.config.lam / (2.0 - self.config.lam))
            finding = None
            if stream.first_alarm is None:
                stream.first_alarm = ctx.day
                finding = {
                    "id": f"SPC-{stream.machine}-{stream.parameter}",
                    "failure_mode": "process_drift",
                    "names": {"station": stream.station, "machine": stream.machine,
                              "parameter": stream.parameter, "window": [ctx.day, ctx.day]},
                    "effect": round(float(shift), 3),
                    "ci": [round(float(shift - half), 3), round(float(shift + half), 3)],
                    "rank": 1, "day_found": ctx.day,
                }
            decisions.append(Decision(
                ctx.day, self.name,
                f"{stream.machine} {stream.parameter}: {row['rule']} ({shift:+.1f} σ)",
                inputs={"alarm": row, "first_alarm_of_stream": finding,
                        "centre": stream.centre, "sigma": stream.spread, "log_scale": stream.log,
                        "shift_sigmas": float(shift), "signals_today": int(signals.count[col])},
            ))
        return decisions

    def _run_to_run(self, ctx: DayContext, live: pd.DataFrame,
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
        for col, rows in live.groupby("column"):
            stream = self._monitored[int(col)]
            if stream.first_alarm is None:
                continue
            target, sigma = stream.target, stream.spread
            setpoints = rows["setpoint"].fillna(target)
            output, setpoint = float(rows["value"].mean()), float(setpoints.mean())
            in_force = float(setpoints.iloc[-1])
            stream.days = [*stream.days[-2:], (output, setpoint, len(rows))]
            today = alarmed.get((stream.machine, stream.parameter))
            if stream.machine in calibrated:
                stream.controller = stream.probe = None
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
                        stream.controller = None
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
        return proposal, f"offset {controller.offset:+.4g}, trend {controller.trend:+.3g}"


def _phase_one_estimate(rows: pd.DataFrame) -> tuple[float, float, float]:
    """Phase I mean and standard deviation, and the target (setpoint in force, else the mean)."""
    values = rows["value"].to_numpy(dtype=float)
    setpoints = rows["setpoint"].dropna()
    mean = float(values.mean())
    target = float(setpoints.median()) if len(setpoints) else mean
    return mean, float(values.std(ddof=1)), target


@dataclass(frozen=True)
class Baseline:
    """A stream's Phase I on the chart's scale: the mean, the level forecast for the next day
    (the first centre), the within-day and level standard deviations and the chart's σ."""

    mean: float
    level: float
    within: float
    level_sd: float

    @property
    def sigma(self) -> float:
        return math.hypot(self.within, self.level_sd)


def phase_one_baseline(values: ArrayLike, days: ArrayLike, weight: float) -> Baseline:
    """Variance components of Phase I readings grouped by day: ``σ² = σ_within² + σ_level²``.

    ``σ_within²`` pools the within-day variances. The level of day d is forecast by an EWMA
    (``weight``) of the means of the days before it (``weight = 0``: by the Phase I mean);
    ``σ_level²`` is the mean squared forecast error of the day means less its within-day part
    ``σ_within²/n_d`` (at least 0). With ``weight = 0`` that is the between-days component of
    a one-way random-effects model (method of moments); with ``weight > 0`` it is the error
    of the moving centre that :class:`ProcessControlModule` charts around, which a level
    wandering from day to day makes larger than the within-day σ alone suggests.

    >>> rng = np.random.default_rng(4)
    >>> days = np.repeat(np.arange(30), 40)
    >>> level = np.repeat(np.cumsum(0.3 * rng.standard_normal(30)), 40)  # a wandering level
    >>> base = phase_one_baseline(level + rng.standard_normal(1200), days, weight=0.2)
    >>> round(base.within, 1), round(base.level_sd, 1), base.sigma > base.within
    (1.0, 0.5, True)
    """
    x, d = np.asarray(values, dtype=np.float64), np.asarray(days)
    _, group = np.unique(d, return_inverse=True)
    counts = np.bincount(group).astype(np.float64)
    means = np.bincount(group, weights=x) / counts
    spread_df = len(x) - len(counts)
    if spread_df > 0:
        within2 = float(((x - means[group]) ** 2).sum() / spread_df)
    else:  # one reading a day: no within-day estimate, the total variance stands for it
        within2 = float(np.var(x, ddof=1)) if len(x) > 1 else 0.0
    mean = float(x.mean())
    if weight > 0:
        level, forecasts = float(means[0]), []
        for day_mean in means:
            forecasts.append(level)
            level = (1.0 - weight) * level + weight * float(day_mean)
        errors, sizes = means[1:] - np.asarray(forecasts[1:]), counts[1:]
    else:
        level, errors, sizes = mean, means - mean, counts
    level2 = 0.0
    if len(errors) > (weight == 0):
        squares = float(np.mean(errors**2))
        if weight == 0:  # deviations from a mean fitted on them
            squares *= len(errors) / (len(errors) - 1)
        level2 = squares - float(np.mean(within2 / sizes))
    return Baseline(mean, level, math.sqrt(within2), math.sqrt(max(level2, 0.0)))


def _is_log_normal(values: NDArray[np.float64]) -> bool:
    """Positive Phase I readings, significantly right-skewed (D'Agostino, p < 0.05), whose
    logs are less skewed: charted on the log scale.

    >>> rng = np.random.default_rng(2)
    >>> _is_log_normal(800 * np.exp(0.2 * rng.standard_normal(200)))
    True
    >>> _is_log_normal(10 + 0.1 * rng.standard_normal(200))
    False
    """
    if len(values) < 20 or (values <= 0).any():
        return False
    return bool(stats.skewtest(values).pvalue < 0.05 and stats.skew(values) > 0
                and abs(stats.skew(np.log(values))) < abs(stats.skew(values)))


def _chart_scale(values: NDArray[np.float64], log: bool) -> NDArray[np.float64]:
    """Readings as charted: their logs on a log-scale stream (NaN, no reading, where ≤ 0)."""
    if not log:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
