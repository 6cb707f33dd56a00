"""Epidemic change points on build date: the window of days whose rate (or mean) differs most
from the days outside it, by maximum likelihood ratio over every window, with a Monte-Carlo
p-value that accounts for having searched all of them.

Every window [start, stop) with at least ``min_len`` days inside and outside is scored at
once from cumulative sums (O(T²) cells, vectorised); the null distribution of the maximum is
simulated in batches of replicates, seeded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gigaloop.ml._validate import as_vector

MODELS = ("poisson", "binomial")
ALTERNATIVES = ("two-sided", "greater")
MAX_DAYS = 5000
_BATCH_CELLS = 1_000_000


@dataclass(frozen=True)
class ShiftWindow:
    """The most anomalous window [start, stop) of day indices and how strongly it stands out.

    ``inside``/``outside`` are the rates (events per unit of exposure) or means; ``llr`` is the
    log-likelihood ratio of "different inside" vs "same everywhere"; ``p`` its Monte-Carlo
    p-value for the maximum over all windows.
    """

    start: int
    stop: int
    inside: float
    outside: float
    llr: float
    p: float


def _window_pairs(
    days: int, min_len: int, max_len: int | None
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Every [start, stop) with min_len..max_len days inside and at least min_len outside."""
    if days > MAX_DAYS:
        raise ValueError(f"{days} days is more than {MAX_DAYS}; aggregate to weeks first")
    if min_len < 1 or 2 * min_len > days:
        raise ValueError(f"min_len must be in [1, {days // 2}] for {days} days, got {min_len}")
    longest = days - min_len if max_len is None else min(max_len, days - min_len)
    if longest < min_len:
        raise ValueError(f"max_len must be >= min_len ({min_len}), got {max_len}")
    start, stop = np.triu_indices(days + 1, k=min_len)
    keep = stop - start <= longest
    return start[keep], stop[keep]


def _xlogx(upto: int) -> NDArray[np.float64]:
    """x·log(x) for x = 0..upto, with 0·log 0 = 0 (a lookup table for integer counts)."""
    x = np.arange(upto + 1, dtype=np.float64)
    return x * np.log(np.where(x > 0, x, 1.0))


def _maximise(
    statistic: Callable[[NDArray], NDArray], samples: NDArray, n_pairs: int
) -> NDArray[np.float64]:
    """The maximum of ``statistic`` over windows for each row of ``samples``, in batches."""
    batch = max(1, _BATCH_CELLS // max(n_pairs, 1))
    return np.concatenate([
        statistic(samples[i : i + batch]).max(axis=1) for i in range(0, len(samples), batch)
    ])


def _maximise_by_length(
    llr_of: Callable[[NDArray, dict[str, NDArray]], NDArray], samples: NDArray,
    start: NDArray[np.intp], stop: NDArray[np.intp], per_pair: dict[str, NDArray],
) -> NDArray[np.float64]:
    """The maximum score over windows for each row of ``samples``, one window length at a
    time: the windows of a length are (mostly) consecutive starts, so their event counts
    are a difference of two slices of the cumulative counts — no gather over every window,
    and each step stays in cache. Scores are the same numbers as window by window."""
    cum = np.zeros((len(samples), samples.shape[1] + 1), dtype=np.int64)
    np.cumsum(samples, axis=1, out=cum[:, 1:])
    length = stop - start
    order = np.argsort(length, kind="stable")  # by length, then start
    bounds = np.flatnonzero(np.diff(length[order])) + 1
    best = np.zeros(len(samples))
    for pairs in np.split(order, bounds):
        first, last, span = int(start[pairs[0]]), int(start[pairs[-1]]), int(length[pairs[0]])
        if last - first + 1 == pairs.size:  # consecutive starts: two slices
            inside = cum[:, first + span : last + span + 1] - cum[:, first : last + 1]
        else:
            inside = cum[:, start[pairs] + span] - cum[:, start[pairs]]
        scores = llr_of(inside, {k: v[pairs] for k, v in per_pair.items()})
        np.maximum(best, scores.max(axis=1), out=best)
    return best


def _p_value(observed: float, null: NDArray[np.float64]) -> float:
    return float((1 + np.count_nonzero(null >= observed * (1 - 1e-12))) / (1 + null.size))


def rate_window(
    counts: ArrayLike,
    exposure: ArrayLike,
    *,
    min_len: int = 3,
    max_len: int | None = None,
    model: str = "poisson",
    alternative: str = "two-sided",
    n_sim: int = 199,
    seed: int = 0,
) -> ShiftWindow:
    """The build-day window whose event rate differs most from the rest (epidemic change point).

    ``counts`` (T,) events among units built each day, ``exposure`` (T,) their exposure:
    unit-days in service for ``model="poisson"``, or units built for ``model="binomial"``
    (then integer, >= counts). Days with zero exposure are allowed. ``alternative="greater"``
    looks only for windows with a higher rate. The p-value simulates the null conditionally on
    the total count (multinomial for Poisson, multivariate hypergeometric for binomial), so it
    is exact up to Monte-Carlo error with ``n_sim`` replicates. ``max_len`` caps the window
    length (fewer windows, faster: cost grows with T × (max_len − min_len)).

    >>> rng = np.random.default_rng(7)
    >>> built = rng.integers(800, 1200, 120)
    >>> rate = np.where((np.arange(120) >= 40) & (np.arange(120) < 55), 0.02, 0.01)
    >>> window = rate_window(rng.binomial(built, rate), built, model="binomial")
    >>> window.start, window.stop, window.p
    (40, 54, 0.005)
    """
    count = as_vector("counts", counts, nonnegative=True)
    exposed = as_vector("exposure", exposure, nonnegative=True)
    if count.size != exposed.size:
        raise ValueError(f"counts and exposure differ in length: {count.size} vs {exposed.size}")
    if model not in MODELS or alternative not in ALTERNATIVES:
        raise ValueError(f"model must be in {MODELS}, alternative in {ALTERNATIVES}")
    if n_sim < 1:
        raise ValueError(f"n_sim must be >= 1, got {n_sim}")
    if (count != np.round(count)).any():
        raise ValueError("counts must be whole numbers of events")
    if ((exposed == 0) & (count > 0)).any():
        raise ValueError("a day with zero exposure has events; check the exposure column")
    if model == "binomial" and ((exposed != np.round(exposed)).any() or (count > exposed).any()):
        raise ValueError("binomial exposure must be whole units, at least the day's count")
    if count.sum() == 0:
        raise ValueError("no events at all: there is no rate to compare")
    start, stop = _window_pairs(count.size, min_len, max_len)
    cum_exposure = np.concatenate([[0.0], np.cumsum(exposed)])
    exposure_in = cum_exposure[stop] - cum_exposure[start]
    exposure_out = cum_exposure[-1] - exposure_in
    usable = (exposure_in > 0) & (exposure_out > 0)
    start, stop, exposure_in, exposure_out = (
        start[usable], stop[usable], exposure_in[usable], exposure_out[usable]
    )
    total = int(count.sum())
    if model == "poisson":
        table = _xlogx(total)
        log_in, log_out = np.log(exposure_in), np.log(exposure_out)
        constant = total * log_out + table[total] - total * np.log(cum_exposure[-1])
        slope = log_in - log_out
    else:
        units = int(cum_exposure[-1])
        table = _xlogx(units)
        units_in, units_out = exposure_in.astype(np.int64), exposure_out.astype(np.int64)
        constant = table[units_in] + table[units_out] + table[total] + table[units - total]
        constant -= table[units]

    if model == "poisson":
        per_pair = {"slope": slope, "constant": constant}
    else:
        per_pair = {"units_in": units_in, "units_out": units_out, "constant": constant}
    per_pair |= {"exposure_in": exposure_in, "exposure_out": exposure_out}

    def llr_of(inside: NDArray, pairs: dict[str, NDArray]) -> NDArray:
        """The score of each window given the events ``inside`` it (rows × windows)."""
        outside = total - inside
        llr = table[inside] + table[outside]
        if model == "poisson":
            llr -= inside * pairs["slope"] + pairs["constant"]
        else:
            llr += table[pairs["units_in"] - inside] + table[pairs["units_out"] - outside]
            llr -= pairs["constant"]
        if alternative == "greater":
            llr[inside * pairs["exposure_out"] <= outside * pairs["exposure_in"]] = 0.0
        return np.maximum(llr, 0.0, out=llr)

    observed = count.astype(np.int64)
    cum_count = np.concatenate([[0], np.cumsum(observed)])
    scores = llr_of(cum_count[stop] - cum_count[start], per_pair)
    best = int(np.argmax(scores))
    rng = np.random.default_rng(seed)
    if model == "poisson":
        null = rng.multinomial(total, exposed / exposed.sum(), size=n_sim)
    else:
        null = rng.multivariate_hypergeometric(exposed.astype(np.int64), total, size=n_sim)
    null_max = _maximise_by_length(llr_of, null, start, stop, per_pair)
    n_in = float(count[start[best] : stop[best]].sum())
    return ShiftWindow(
        start=int(start[best]),
        stop=int(stop[best]),
        inside=float(n_in / exposure_in[best]),
        outside=float((total - n_in) / exposure_out[best]),
        llr=float(scores[best]),
        p=_p_value(float(scores[best]), null_max),
    )


def mean_shift_window(
    values: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    min_len: int = 3,
    max_len: int | None = None,
    alternative: str = "two-sided",
    n_sim: int = 199,
    seed: int = 0,
) -> ShiftWindow:
    """The window of days whose mean differs most from the rest (Gaussian epidemic change).

    ``values`` (T,) a daily mean of a process reading, ``weights`` (T,) > 0 its number of
    readings (the day's variance is taken as σ²/weight). The score of a window is the weighted
    between-window sum of squares, ``llr`` = that / 2σ̂² with σ̂² the weighted variance under no
    shift; ``min_len``/``max_len`` as in :func:`rate_window`. The p-value permutes whole days
    ((value, weight) pairs), so it needs no normality: it asks whether build-day order carries
    information. Pass only days with readings; ``start``/``stop`` index the array you pass.

    >>> rng = np.random.default_rng(3)
    >>> torque = rng.normal(50.0, 1.0, 90)
    >>> torque[30:42] += 2.0
    >>> window = mean_shift_window(torque, alternative="greater")
    >>> window.start, window.stop, round(window.inside - window.outside, 1), window.p
    (29, 42, 1.8, 0.005)
    """
    value = as_vector("values", values)
    weight = np.ones_like(value) if weights is None else as_vector("weights", weights)
    if weight.size != value.size:
        raise ValueError(f"values and weights differ in length: {value.size} vs {weight.size}")
    if (weight <= 0).any():
        raise ValueError("weights must be > 0; drop days without readings")
    if alternative not in ALTERNATIVES or n_sim < 1:
        raise ValueError(f"alternative must be in {ALTERNATIVES} and n_sim >= 1")
    start, stop = _window_pairs(value.size, min_len, max_len)
    total_weight = weight.sum()
    mean = float(value @ weight / total_weight)
    centred = value - mean
    variance = float(weight @ centred**2) / (value.size - 1)
    if variance == 0:
        raise ValueError("values are constant: there is no shift to find")

    def statistic(samples: NDArray) -> NDArray:
        cum_sum = np.zeros((len(samples), value.size + 1))
        cum_weight = np.zeros_like(cum_sum)
        np.cumsum(weight[samples] * centred[samples], axis=1, out=cum_sum[:, 1:])
        np.cumsum(weight[samples], axis=1, out=cum_weight[:, 1:])
        sum_in = np.take(cum_sum, stop, axis=1)
        sum_in -= np.take(cum_sum, start, axis=1)
        weight_in = np.take(cum_weight, stop, axis=1)
        weight_in -= np.take(cum_weight, start, axis=1)
        between = sum_in**2
        between *= total_weight / (2 * variance)
        between /= weight_in * (total_weight - weight_in)
        if alternative == "greater":
            between[sum_in <= 0] = 0.0
        return between

    scores = statistic(np.arange(value.size)[None, :])[0]
    best = int(np.argmax(scores))
    rng = np.random.default_rng(seed)
    null = rng.permuted(np.tile(np.arange(value.size), (n_sim, 1)), axis=1)
    null_max = _maximise(statistic, null, start.size)
    inside = slice(start[best], stop[best])
    weight_in = weight[inside].sum()
    sum_in = weight[inside] @ value[inside]
    return ShiftWindow(
        start=int(start[best]),
        stop=int(stop[best]),
        inside=float(sum_in / weight_in),
        outside=float((mean * total_weight - sum_in) / (total_weight - weight_in)),
        llr=float(scores[best]),
        p=_p_value(float(scores[best]), null_max),
    )


__all__ = ["ShiftWindow", "mean_shift_window", "rate_window"]
