"""Process control: EWMA + CUSUM on every (machine, parameter) stream, run-to-run setpoints.

Each day the module reads the ``process_readings`` ingested since its last run, as Arrow
straight from the store, and works on them as NumPy arrays (:mod:`.readings`;
:meth:`ProcessControlModule.observe` also takes them as a frame, so a replay can feed it).

**Phase I** is a stream's first ``phase_one_days`` days of readings (subgroups; and at least
``phase_one`` readings), or fewer when a step of a σ or more has held in them
(:func:`held_step`: a drift that began inside Phase I is charted against the days before
it, days after it began). A plant's offsets wander slowly from day to day (common-cause
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
streams at once in :class:`StreamCharts` (on :mod:`gigaloop.ml.spc`'s banks). A stream's
first signal of a day becomes a :class:`~gigaloop.loop.contract.Decision` (and a row of
``spc_alarms``, handed to ``ctx.emit``: the cycle writes it through the ingest path); its
first signal ever also carries the stream's first-alarm record in its inputs. The chart then
restarts (EWMA at the centre, CUSUM sums at 0). Target = the setpoint in force in Phase I
(the mean where no setpoint is recorded).

An alarm puts a stream under run-to-run control: an
:class:`~gigaloop.ml.spc.R2RController` (double EWMA,
one run = one day) learns the day's mean output against the setpoint in force and proposes
the setpoint that puts the next day's output on target (nominal gain 1), clipped to
``target ± max_adjust·|target|`` and sent (a
:class:`~gigaloop.actuate.SetpointChange` from the next day) when
it differs from the setpoint in force by more than ``deadband_sigmas`` σ. Only where a setpoint
demonstrably acts: a stream's first move is an up-and-back probe whose day means give its gain
(:class:`StepTest`); a stream whose setpoint does not move its readings is only charted. Once
the disturbance the controller estimates is back within ``release_sigmas`` σ the setpoint
returns to target and the stream is left alone until its next alarm.

The default design (EWMA λ = 0.5, L = 4.5; CUSUM k = 1.5, h = 3) has, by Markov chain, ARL₀ of
about 148,000 and 24,900 readings and detects a 2σ shift in about 12 and 6 readings; it is
meant for shifts of 2σ or more. Its ARL₀ falls fast with a persistent offset (to a quarter at
0.3σ), which is why the centre follows the day level.

The package: :mod:`.readings` (a day's readings by stream, as arrays), :mod:`.charts` (the
charts over all streams), :mod:`.phase_one` (the 30-day window and its variance components),
:mod:`.step_test` (is a setpoint live?), :mod:`.config` and :mod:`.module` (the decision
module: alarms, run-to-run control, calibrations).
"""

from gigaloop.factory.process_control.charts import RULES, Signals, StreamCharts
from gigaloop.factory.process_control.config import ProcessControlConfig
from gigaloop.factory.process_control.module import ALARM_MODE, ProcessControlModule
from gigaloop.factory.process_control.phase_one import (
    Baseline,
    PhaseOneFit,
    PhaseOneWindow,
    fit_phase_one,
    held_step,
    phase_one_baseline,
    stable_days,
)
from gigaloop.factory.process_control.step_test import StepTest

__all__ = [
    "ALARM_MODE",
    "RULES",
    "Baseline",
    "PhaseOneFit",
    "PhaseOneWindow",
    "ProcessControlConfig",
    "ProcessControlModule",
    "Signals",
    "StepTest",
    "StreamCharts",
    "fit_phase_one",
    "held_step",
    "phase_one_baseline",
    "stable_days",
]
