"""EWMA run-to-run controller (Sachs, Hu & Ingolfsson 1995), with an optional drift term.

The process is ``y_t = a_t + b u_t + noise``: ``u_t`` the setpoint (recipe) of run t, ``b`` the
process gain, ``a_t`` an offset that steps and drifts. After each run the offset estimate is
``â_t = λ (y_t - b u_t) + (1-λ) â_{t-1}`` and the next setpoint ``u_{t+1} = (T - â_t) / b``.
A step is removed; a drift of ``δ`` per run leaves a bounded bias ``δ/λ``. With
``drift_weight = μ`` the double-EWMA (predictor-corrector, Butler & Stefani 1994) also
estimates the drift, ``D_t = μ (y_t - b u_t - â_{t-1}) + (1-μ) D_{t-1}``, sets
``u_{t+1} = (T - â_t - D_t) / b`` and removes that bias. With a gain error ``ξ = b / gain``
the single EWMA loop is stable for ``0 < λ ξ < 2``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from gigaloop.ml.spc._base import Base, finite_float, positive


def _weight(value: float | None, name: str) -> float | None:
    if value is not None and not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return value


class R2RController(Base):
    """EWMA run-to-run controller: ``learn_one(output, setpoint)``, then ``next_setpoint``.

    >>> import random
    >>> rng = random.Random(4)
    >>> controller = R2RController(target=100.0, gain=2.0, lam=0.4)
    >>> offset = 10.0  # unknown to the controller
    >>> for run in range(30):
    ...     u = controller.next_setpoint
    ...     y = offset + 2.0 * u + rng.gauss(0.0, 0.5)
    ...     controller.learn_one(y, u)
    >>> round(controller.offset, 1), round(controller.next_setpoint, 1)
    (10..., 45...)
    """

    def __init__(
        self,
        target: float,
        gain: float,
        lam: float = 0.3,
        drift_weight: float | None = None,
        initial_offset: float = 0.0,
    ) -> None:
        self.target = finite_float(target, "target")
        if gain == 0 or not np.isfinite(gain):
            raise ValueError(f"gain must be finite and non-zero, got {gain!r}")
        self.gain = gain
        self.lam = positive(_weight(lam, "lam"), "lam")
        self.drift_weight = _weight(drift_weight, "drift_weight")
        self.initial_offset = finite_float(initial_offset, "initial_offset")
        self._offset = self.initial_offset
        self._trend = 0.0
        self.runs = 0

    @property
    def offset(self) -> float:
        """The estimated offset ``â``."""
        return self._offset

    @property
    def trend(self) -> float:
        """The estimated drift per run ``D`` (0 without ``drift_weight``)."""
        return self._trend

    @property
    def next_setpoint(self) -> float:
        """The setpoint that brings the next run's output to ``target``."""
        return (self.target - self._offset - self._trend) / self.gain

    def learn_one(self, output: float, setpoint: float) -> None:
        """Record one run: its measured ``output`` and the ``setpoint`` it ran with."""
        observed = finite_float(output, "output") - self.gain * finite_float(setpoint, "setpoint")
        if self.drift_weight is not None:
            w = self.drift_weight
            self._trend = w * (observed - self._offset) + (1.0 - w) * self._trend
        self._offset = self.lam * observed + (1.0 - self.lam) * self._offset
        self.runs += 1

    def _trace(self, phase_one: list[Any], phase_two: list[Any]) -> list[float]:
        setpoints = []
        for output, setpoint in [*phase_one, *phase_two]:
            self.learn_one(output, setpoint)
            setpoints.append(self.next_setpoint)
        return setpoints

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        pairs = rng.normal([5.0, 1.0], 0.5, size=(40, 2))
        return [tuple(p) for p in pairs[:10]], [tuple(p) for p in pairs[10:]]

    _check_params: ClassVar[dict[str, Any]] = {"target": 3.0, "gain": 1.5, "drift_weight": 0.1}
