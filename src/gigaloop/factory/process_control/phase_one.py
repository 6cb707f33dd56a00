"""Phase I of a stream: its first ``phase_one_days`` days of readings, as variance components.

A plant's offsets wander slowly from day to day (common-cause variation a few days cannot
show), so a stream's readings are modelled as *day level + within-day noise*:
``σ² = σ_within² + σ_level²`` (:func:`phase_one_baseline`), with the level forecast by the
moving centre the charts follow. A skewed, positive parameter (isolation resistance) is
charted on the log scale (:func:`is_log_normal`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats


class PhaseOneWindow:
    """A stream's Phase I readings (value, setpoint in force), whole days, until there are at
    least ``readings`` of them over at least ``days`` days — or, from
    :data:`EARLY_STEP_DAYS` days on, until a step of at least :data:`EARLY_STEP_SIGMAS`
    process σ has held (:func:`held_step`): a drift that began inside Phase I is then
    charted days after it began, against the days before it, not on Phase I's last day.

    >>> window = PhaseOneWindow(readings=3, days=2)
    >>> window.add(0, np.array([1.0, 2.0]), np.array([1.5, np.nan]))
    False
    >>> window.add(1, np.array([3.0]), np.array([1.5]))
    True
    >>> window.days_of_readings().tolist()
    [0, 0, 1]
    >>> rng = np.random.default_rng(2)
    >>> window = PhaseOneWindow(readings=200, days=30)
    >>> [day for day in range(30) if window.add(  # a 2 σ step from day 11
    ...     day, rng.standard_normal(40) - 2.0 * (day >= 11), np.zeros(40))][:1]
    [12]
    """

    def __init__(self, readings: int, days: int) -> None:
        self.readings, self.days = readings, days
        self._blocks: list[NDArray[np.float64]] = []
        self._days: list[int] = []

    def add(self, day: int, values: ArrayLike, setpoints: ArrayLike) -> bool:
        """Add a day's readings and the setpoint in force at each (NaN: none recorded);
        whether Phase I is now complete."""
        self._blocks.append(np.column_stack([np.asarray(values, dtype=np.float64),
                                             np.asarray(setpoints, dtype=np.float64)]))
        self._days.append(day)
        count = sum(len(block) for block in self._blocks)
        days = len(set(self._days))
        if count >= self.readings and days >= self.days:
            return True
        if days < EARLY_STEP_DAYS:
            return False
        values, in_force = self.values(), self.setpoints()
        off = values - in_force if not np.isnan(in_force).any() else values
        return held_step(off, self.days_of_readings())

    def values(self) -> NDArray[np.float64]:
        """Every reading added, in order."""
        return np.concatenate([block[:, 0] for block in self._blocks])

    def setpoints(self) -> NDArray[np.float64]:
        """The setpoint in force at each reading (NaN: none recorded)."""
        return np.concatenate([block[:, 1] for block in self._blocks])

    def days_of_readings(self) -> NDArray[np.int64]:
        """The day of each reading."""
        return np.repeat(np.asarray(self._days, dtype=np.int64),
                         [len(block) for block in self._blocks])


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


@dataclass(frozen=True)
class PhaseOneFit:
    """A stream's Phase I: in the parameter's unit its mean (``centre``), standard deviation
    (``spread``) and ``target`` (the setpoint in force, else the mean); whether it is charted
    on the ``log`` scale; its :class:`Baseline` on the chart's scale."""

    centre: float
    spread: float
    target: float
    log: bool
    baseline: Baseline = field(repr=False)


def fit_phase_one(window: PhaseOneWindow, weight: float) -> PhaseOneFit:
    """Fit a stream's Phase I on its stable days (:func:`stable_days`); ``weight``: the
    moving centre's.

    >>> rng = np.random.default_rng(1)
    >>> window = PhaseOneWindow(readings=400, days=20)
    >>> for day in range(20):
    ...     _ = window.add(day, 10 + rng.standard_normal(20), np.full(20, 10.0))
    >>> fit = fit_phase_one(window, weight=0.05)
    >>> fit.target, fit.log, round(fit.baseline.sigma, 1)
    (10.0, False, 1.0)
    """
    values, in_force = window.values(), window.setpoints()
    setpoints = in_force[~np.isnan(in_force)]
    days = window.days_of_readings()
    # a setpoint moved on purpose is no assignable cause: screen what is off the setpoint
    steady = stable_days(values - in_force if len(setpoints) == len(values) else values, days)
    log = is_log_normal(values[steady])
    chart = chart_scale(values, log)
    on = steady & ~np.isnan(chart)
    baseline = phase_one_baseline(chart[on], days[on], weight)
    kept = values[on]
    mean = float(kept.mean())
    target = float(np.median(setpoints)) if len(setpoints) else mean
    return PhaseOneFit(mean, float(kept.std(ddof=1)), target, log, baseline)


#: A Phase I day whose mean is this many robust σ (1.4826 × the median absolute deviation
#: of the day means) from their median had an assignable cause: it is left out of the fit.
UNSTABLE_SIGMAS = 3.5
#: A level that changed inside Phase I and held to its end is a step of the day means: the
#: earlier days are the baseline when they are at least this share of Phase I's days.
STEP_BASELINE_SHARE = 1 / 3


def stable_days(values: ArrayLike, days: ArrayLike) -> NDArray[np.bool_]:
    """Which readings of a Phase I to fit on: Phase I's retrospective check (Montgomery,
    *Introduction to SPC*, §5.4: out-of-control Phase I points with an assignable cause are
    dropped before the limits are set), for a step and for single days.

    A **step**: the day means are split where a step explains most of them (:func:`_step`,
    the earlier days at least :data:`STEP_BASELINE_SHARE` of them and five); when the two
    sides' medians stand :data:`UNSTABLE_SIGMAS` robust σ apart, the days from the split on
    are left out (the change-point view of Phase I, Sullivan & Woodall 1996). A drift that
    began inside Phase I and held is thereby charted against the level before it, however
    many of the days it covers. Then **single days**: those whose mean stands more than
    :data:`UNSTABLE_SIGMAS` robust σ (1.4826 × the median absolute deviation) from the
    median day mean of the days kept.

    >>> rng = np.random.default_rng(3)
    >>> days = np.repeat(np.arange(30), 20)
    >>> for start in (12, 20):  # a step covering most of Phase I, and a third of it
    ...     values = rng.standard_normal(600) - 6.0 * (days >= start)
    ...     print(sorted(set(days[~stable_days(values, days)].tolist())) == list(range(start, 30)))
    True
    True
    >>> bool(stable_days(rng.standard_normal(600), days).all())
    True
    """
    x, d = np.asarray(values, dtype=np.float64), np.asarray(days)
    _, group = np.unique(d, return_inverse=True)
    means = np.bincount(group, weights=x) / np.bincount(group)
    kept = np.ones(len(means), dtype=bool)
    split = _step(means)
    if split is not None:
        kept[split:] = False
    deviation = np.abs(means - np.median(means[kept]))
    scale = _robust_sigma(deviation[kept])
    if kept.sum() >= 3 and scale > 0:
        kept &= deviation <= UNSTABLE_SIGMAS * scale
    return kept[group]


#: Phase I closes early, on the days before a step, once it has this many days …
EARLY_STEP_DAYS = 7
#: … and a step that held to the last of them stands :data:`UNSTABLE_SIGMAS` robust σ of
#: the day means apart and at least this many within-day σ of the process. A step looked
#: for every day is many looks, and a few days' means tell their own spread badly: on
#: simulated streams whose level wanders as the twin's does (AR(1) offsets, 0.05 σ steps,
#: 20–40 readings a day), the robust bar alone closed 36–39 % of faultless Phase Is early;
#: with this floor (and every day of the step past its midpoint) 1 of 6,000 (20, 40 and
#: 80 readings a day), while steps of 1 σ from day 11 closed it by day 12 in 72–74 % of
#: streams, of 2 σ in all.
EARLY_STEP_SIGMAS = 1.0


def held_step(values: ArrayLike, days: ArrayLike) -> bool:
    """Whether the day means of ``values`` end in a step that held (:func:`_step`'s bar,
    and every day from the split on past the midpoint of the two sides' medians) of at
    least :data:`EARLY_STEP_SIGMAS` within-day σ.

    >>> rng = np.random.default_rng(5)
    >>> days = np.repeat(np.arange(10), 30)
    >>> held_step(rng.standard_normal(300) + 1.5 * (days >= 7), days)
    True
    >>> held_step(rng.standard_normal(300) + 0.4 * (days >= 7), days)  # under a σ: no
    False
    """
    x, d = np.asarray(values, dtype=np.float64), np.asarray(days)
    _, group = np.unique(d, return_inverse=True)
    counts = np.bincount(group)
    means = np.bincount(group, weights=x) / counts
    found = _split(means)
    if found is None:
        return False
    split, step, scale = found
    spread = np.bincount(group, weights=(x - means[group]) ** 2)
    within = math.sqrt(spread.sum() / max(int((counts - 1).sum()), 1))
    early, late = float(np.median(means[:split])), float(np.median(means[split:]))
    held = bool(np.all((means[split:] - (early + late) / 2) * np.sign(late - early) > 0))
    return held and step >= UNSTABLE_SIGMAS * scale and step >= EARLY_STEP_SIGMAS * within > 0


def _step(means: NDArray[np.float64]) -> int | None:
    """The first day of a step in ``means`` that held to their end (see
    :func:`stable_days`), or None: :func:`_split`'s, when the medians of the two sides are
    :data:`UNSTABLE_SIGMAS` robust σ apart."""
    found = _split(means)
    if found is None:
        return None
    split, step, scale = found
    return split if step >= UNSTABLE_SIGMAS * scale else None


def _split(means: NDArray[np.float64]) -> tuple[int, float, float] | None:
    """Where a step explains most of ``means``' squares (binary segmentation's statistic),
    the earlier side at least :data:`STEP_BASELINE_SHARE` of them and five: the split, the
    distance between the two sides' medians, and the robust σ of the days around their own
    side's median (None where too few days, or no spread)."""
    first = max(5, math.ceil(STEP_BASELINE_SHARE * len(means)))
    if len(means) - first < 2:
        return None
    splits = np.arange(first, len(means) - 1)
    total, n = np.cumsum(means), len(means)
    before = total[splits - 1] / splits
    after = (total[-1] - total[splits - 1]) / (n - splits)
    split = int(splits[np.argmax(splits * (n - splits) * (after - before) ** 2)])
    early, late = means[:split], means[split:]
    scale = _robust_sigma(np.concatenate([early - np.median(early), late - np.median(late)]))
    step = abs(float(np.median(late) - np.median(early)))
    return (split, step, scale) if scale > 0 else None


def _robust_sigma(deviations: NDArray[np.float64]) -> float:
    """σ from deviations around a median: 1.4826 × their median absolute value."""
    return 1.4826 * float(np.median(np.abs(deviations)))


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


def is_log_normal(values: NDArray[np.float64]) -> bool:
    """Positive Phase I readings, significantly right-skewed (D'Agostino, p < 0.05), whose
    logs are less skewed: charted on the log scale.

    >>> rng = np.random.default_rng(2)
    >>> is_log_normal(800 * np.exp(0.2 * rng.standard_normal(200)))
    True
    >>> is_log_normal(10 + 0.1 * rng.standard_normal(200))
    False
    """
    if len(values) < 20 or (values <= 0).any():
        return False
    return bool(stats.skewtest(values).pvalue < 0.05 and stats.skew(values) > 0
                and abs(stats.skew(np.log(values))) < abs(stats.skew(values)))


def chart_scale(values: NDArray[np.float64], log: bool) -> NDArray[np.float64]:
    """Readings as charted: their logs on a log-scale stream (NaN, no reading, where ≤ 0)."""
    if not log:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
