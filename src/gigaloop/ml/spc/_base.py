"""What every chart shares: parameters from ``__init__``, alarms named by rule, input checks.

Two families follow one protocol, ``learn_one`` (Phase I) then ``update`` (Phase II):

- a :class:`Chart` watches one stream, one Python float (or one subgroup) at a time;
- a :class:`ChartBank` watches ``n_streams`` streams at once with NumPy arrays of state.

:class:`~gigaloop.ml.spc._restartable.Restartable` banks (EWMA, CUSUM) also serve streams
whose readings come ragged and that start at different times: ``update(x, where=...)`` skips
streams without a reading, ``add_streams`` starts more, ``restart`` and ``recentre`` act per
stream.

The first ``update`` ends Phase I: whatever was not given (``mu``, ``sigma`` …) is estimated
from the Phase I readings and frozen.
"""

from __future__ import annotations

import copy
import inspect
import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gigaloop.errors import ModelError
from gigaloop.ml.spc.constants import D2


class Base(ABC):
    """Parameters are the ``__init__`` arguments, stored under their own names."""

    #: constructor arguments the conformance checks (:mod:`.checks`) build an example with.
    _check_params: ClassVar[dict[str, Any]] = {}

    def _get_params(self) -> dict[str, Any]:
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return {name: getattr(self, name) for name in names}

    def clone(self, **new_params: Any) -> Self:
        """A fresh, unfitted copy with the same parameters (``new_params`` override them)."""
        params = copy.deepcopy(self._get_params())
        return type(self)(**{**params, **new_params})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._get_params().items())
        return f"{type(self).__name__}({args})"

    def _given_or_estimated(self) -> tuple[Any, Any]:
        """``mu`` and ``sigma`` as given; a missing one is estimated from Phase I."""
        mu, sigma = getattr(self, "mu", None), getattr(self, "sigma", None)
        if mu is None or sigma is None:
            mean, spread = self._phase_one.estimate(type(self).__name__)  # type: ignore[attr-defined]
            mu, sigma = (mean if mu is None else mu), (spread if sigma is None else sigma)
        return mu, sigma

    @abstractmethod
    def _trace(self, phase_one: list[Any], phase_two: list[Any]) -> list[Any]:
        """What the component does with Phase I and II readings: alarms, setpoints …"""
        ...

    @classmethod
    @abstractmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        """Phase I and Phase II readings that make the component react (for the checks)."""
        ...


class Chart(Base):
    """One stream. Subclasses set ``RULES`` and implement ``_start`` and ``_step``."""

    RULES: ClassVar[tuple[str, ...]] = ()
    _fired: tuple[str, ...] = ()
    _started: bool = False

    @property
    def alarm(self) -> bool:
        """Whether the last ``update`` signalled."""
        return bool(self._fired)

    @property
    def rule(self) -> str | None:
        """The first rule that fired on the last ``update`` (None when in control)."""
        return self._fired[0] if self._fired else None

    @property
    def rules_fired(self) -> tuple[str, ...]:
        """Every rule that fired on the last ``update``, in ``RULES`` order."""
        return self._fired

    def learn_one(self, x: Any) -> None:
        """Add one in-control Phase I reading."""
        if self._started:
            raise ModelError(f"{type(self).__name__}: Phase I is over; call update() or clone()")
        self._learn(self._reading(x))

    def update(self, x: Any) -> None:
        """Monitor one Phase II reading; ``alarm`` and ``rule`` then describe it."""
        reading = self._reading(x)
        if not self._started:
            self._start()
            self._started = True
        self._fired = self._step(reading)

    def _reading(self, x: Any) -> Any:
        return finite_float(x)

    def _learn(self, x: Any) -> None:
        self._phase_one.add(x)  # type: ignore[attr-defined]

    @abstractmethod
    def _start(self) -> None:
        ...

    @abstractmethod
    def _step(self, x: Any) -> tuple[str, ...]:
        ...

    def _trace(self, phase_one: list[Any], phase_two: list[Any]) -> list[tuple[str, ...]]:
        for x in phase_one:
            self.learn_one(x)
        fired = []
        for x in phase_two:
            self.update(x)
            fired.append(self.rules_fired)
        return fired


class ChartBank(Base):
    """Many streams. ``update(x)`` takes one reading per stream; ``process`` a block of steps."""

    RULES: ClassVar[tuple[str, ...]] = ()
    #: trailing shape of one stream's reading: () for a value, (size,) for a subgroup.
    _reading_shape: tuple[int, ...] = ()
    _started: bool = False
    _check_params: ClassVar[dict[str, Any]] = {"n_streams": 4}
    #: whether ``update(x, where=...)`` may leave streams without a reading.
    takes_missing: ClassVar[bool] = False

    def __init__(self, n_streams: int) -> None:
        if int(n_streams) != n_streams or n_streams < 1:
            raise ValueError(f"n_streams must be a positive integer, got {n_streams!r}")
        self.n_streams = n_streams

    @property
    @abstractmethod
    def codes(self) -> NDArray[np.uint8]:
        """Per stream, bit ``i`` set when ``RULES[i]`` fired on the last ``update``."""
        ...

    @property
    def alarm(self) -> NDArray[np.bool_]:
        """Per stream, whether the last ``update`` signalled."""
        return self.codes != 0

    def rules_fired(self, stream: int) -> tuple[str, ...]:
        """The names of the rules that fired for one stream on the last ``update``."""
        code = int(self.codes[stream])
        return tuple(name for i, name in enumerate(self.RULES) if code >> i & 1)

    def learn_one(self, x: ArrayLike) -> None:
        """Add one Phase I reading per stream."""
        if self._started:
            raise ModelError(f"{type(self).__name__}: Phase I is over; call update() or clone()")
        self._learn(self._readings(x, copy=True))

    def learn(self, block: ArrayLike) -> None:
        """Phase I over a block of shape ``(n_steps, n_streams, ...)``."""
        for row in self._block(block):
            self.learn_one(row)

    def update(self, x: ArrayLike, where: ArrayLike | None = None) -> None:
        """Monitor one Phase II reading per stream; ``alarm`` and ``codes`` then describe it.

        ``where`` (a bank with ``takes_missing`` only, which overrides this): per stream,
        whether it has a reading; the others keep their state and do not alarm, and their
        entries of ``x`` (NaN allowed) are ignored.
        """
        if where is not None:
            raise ValueError(f"{type(self).__name__} needs a reading for every stream")
        readings = self._readings(x)
        self._start_once()
        self._step(readings)

    def _start_once(self) -> None:
        if not self._started:
            self._start()
            self._started = True

    def process(self, block: ArrayLike) -> NDArray[np.intp]:
        """Run ``update`` over each step of ``block``; per stream, the first alarm's step or -1."""
        rows = self._block(block)
        self._start_once()
        hits = np.empty((len(rows), self.n_streams), dtype=np.bool_)
        for t, row in enumerate(rows):
            self._step(row)
            self._alarm_into(hits[t])
        if not len(rows):
            return np.full(self.n_streams, -1, dtype=np.intp)
        return np.where(hits.any(axis=0), hits.argmax(axis=0), -1)

    def _alarm_into(self, out: NDArray[np.bool_]) -> None:
        np.not_equal(self.codes, 0, out=out)

    def _set_stream_params(self) -> None:
        """``mu_`` and ``sigma_`` per stream, from the given values or Phase I."""
        mu, sigma = self._given_or_estimated()
        n = self.n_streams
        self.mu_, self.sigma_ = stream_param(mu, n, "mu"), stream_param(sigma, n, "sigma")
        positive(self.sigma_, "sigma")

    def _readings(self, x: ArrayLike, copy: bool = False) -> NDArray[np.float64]:
        shape = (self.n_streams, *self._reading_shape)
        array = finite_array(x, "x")
        if array.shape != shape:
            raise ValueError(f"x must have shape {shape} (a reading per stream), got {array.shape}")
        return array.copy() if copy else array

    def _readings_where(self, x: ArrayLike,
                        where: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        on = np.asarray(where, dtype=np.bool_)
        array = np.asarray(x)
        if array.dtype.kind not in "biuf":
            raise ValueError(f"x must be numeric, got dtype {array.dtype}")
        array = array.astype(np.float64, copy=False)
        if array.shape != (self.n_streams,) or on.shape != array.shape:
            raise ValueError(f"x and where must have shape ({self.n_streams},) (a reading per "
                             f"stream), got {array.shape} and {on.shape}")
        if not (np.isfinite(array) | ~on).all():
            raise ValueError("x has NaN or infinite values where `where` is True; set it False "
                             "for streams without a reading")
        return array, on

    def _block(self, block: ArrayLike) -> NDArray[np.float64]:
        array = finite_array(block, "block")
        if array.shape[1:] != (self.n_streams, *self._reading_shape):
            shape = ("n_steps", self.n_streams, *self._reading_shape)
            raise ValueError(f"block must have shape {shape}, got {array.shape}")
        return array

    def _learn(self, x: NDArray[np.float64]) -> None:
        self._phase_one.add(x)  # type: ignore[attr-defined]

    @abstractmethod
    def _start(self) -> None:
        ...

    @abstractmethod
    def _step(self, x: NDArray[np.float64]) -> None:
        ...

    def _trace(self, phase_one: list[Any], phase_two: list[Any]) -> list[tuple[str, ...]]:
        for x in phase_one:
            self.learn_one(x)
        fired: list[tuple[str, ...]] = []
        for x in phase_two:
            self.update(x)
            fired.extend(self.rules_fired(s) for s in range(self.n_streams))
        return fired


class PhaseOne:
    """Running sums for the Phase I mean and MR̄/d2; the same code serves floats and arrays.

    >>> est = PhaseOne()
    >>> for x in (10.0, 12.0, 11.0):
    ...     est.add(x)
    >>> est.estimate("chart")
    (11.0, 1.3293...)
    """

    def __init__(self) -> None:
        self.count = 0
        self.total: Any = 0.0
        self.range_total: Any = 0.0
        self.last: Any = None

    def add(self, x: Any) -> None:
        if self.last is not None:
            self.range_total = self.range_total + abs(x - self.last)
        self.total = self.total + x
        self.count += 1
        self.last = x

    def estimate(self, chart: str) -> tuple[Any, Any]:
        """``(mean, MR̄ / d2)``, or ModelError when there is too little to estimate from."""
        if self.count < 2:
            raise ModelError(
                f"{chart}: Phase I needs at least 2 readings (learn_one) or mu and sigma given",
                readings=self.count,
            )
        sigma = self.range_total / (self.count - 1) / D2[2]
        if np.any(np.asarray(sigma) <= 0):
            raise ModelError(f"{chart}: Phase I readings do not vary, sigma cannot be estimated")
        return self.total / self.count, sigma


def read_only(array: NDArray[Any]) -> NDArray[Any]:
    """A view of ``array`` that cannot be written through."""
    view = array.view()
    view.flags.writeable = False
    return view


def pack(*flags: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """Boolean arrays as one uint8 code each: bit ``i`` set where ``flags[i]`` is True."""
    codes = np.zeros(flags[0].shape, dtype=np.uint8)
    for bit, flag in enumerate(flags):
        codes |= flag.view(np.uint8) << np.uint8(bit)
    return codes


def finite_float(x: Any, name: str = "x") -> float:
    """``x`` as a finite float, or ValueError saying what was wrong."""
    try:
        value = float(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number, got {x!r}") from exc
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}; drop or impute missing readings")
    return value


def finite_array(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """``x`` as a finite float64 array, or ValueError saying what was wrong."""
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} has NaN or infinite values; drop or impute missing readings")
    return array


def positive(value: Any, name: str) -> Any:
    """``value`` when every entry is finite and > 0, else ValueError."""
    array = np.asarray(value, dtype=np.float64)
    if not (np.isfinite(array).all() and (array > 0).all()):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def stream_param(value: Any, n_streams: int, name: str) -> NDArray[np.float64]:
    """A scalar or per-stream parameter as a float64 array of shape ``(n_streams,)``."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim > 1 or (array.ndim == 1 and array.shape != (n_streams,)):
        raise ValueError(f"{name} must be a scalar or have shape ({n_streams},), got {array.shape}")
    return np.broadcast_to(array, (n_streams,)).copy()
