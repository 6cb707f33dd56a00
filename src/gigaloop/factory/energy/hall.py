"""The hall's HVAC load as a function of outside and indoor temperature, fitted from readings.

:func:`fit_hall` is non-negative least squares with the two balance offsets searched on a
grid. The grid (17 × 25 cells) is solved in one vectorised pass: each cell's 3 × 3 Gram
matrix is built from the columns' inner products, and its NNLS optimum is the best of the
seven supports whose unconstrained least-squares solution is non-negative (the optimum is
the least-squares solution on its own support, and every other candidate is feasible).
The result is the one :func:`scipy.optimize.nnls` gives cell by cell (to 1e-12 in the
tests) at a fraction of the cost, so the module refits every day rather than deciding
when it may skip a refit.

>>> rng = np.random.default_rng(0)
>>> out, indoor = rng.uniform(0, 38, 240), np.full(240, 22.0)
>>> kwh = 100 + 40 * np.maximum(out - indoor + 2.5, 0) + 25 * np.maximum(indoor - 8.5 - out, 0)
>>> hall = fit_hall({"hvac_kwh": kwh, "outside_temp_c": out, "indoor_temp_c": indoor})
>>> round(hall.cool_per_k, 3), round(hall.heat_per_k, 3), hall.cool_offset_c, hall.heat_offset_c
(40.0, 25.0, 2.5, 8.5)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from itertools import product
from typing import Any

import numpy as np

from gigaloop.errors import ModelError
from gigaloop.factory.energy.config import HOURS, EnergyConfig

COOL_OFFSETS = np.arange(0.0, 8.01, 0.5)  # balance-point offsets searched, °C
HEAT_OFFSETS = np.arange(2.0, 14.01, 0.5)
_SUPPORTS = [np.flatnonzero(mask) for mask in product((0, 1), repeat=3) if any(mask)]


@dataclass(frozen=True)
class HallModel:
    """HVAC kWh per hour = fans·airflow^n + a·max(out − T + d_c, 0) + b·max(T − d_h − out, 0).

    ``capacity_kwh`` is what the coils deliver at design airflow.
    """

    fan_kwh: float
    cool_per_k: float
    heat_per_k: float
    cool_offset_c: float
    heat_offset_c: float
    capacity_kwh: float
    fit_error: float = 0.0  # RMS residual of the fit over its mean HVAC kWh (0: not fitted)
    reading_offset_c: float = 0.0  # indoor reading − setpoint while the HVAC holds it: mean
    reading_sd_c: float = 0.0  # …and standard deviation (production heat, sensor noise)
    envelope_per_k: float = 0.0  # conductance for the thermal mass (0: ``cool_per_k``)

    def band(self, config: EnergyConfig) -> tuple[float, float]:
        """The hall temperatures a plan may use: the comfort band less what readings add.

        A reading is the hall + ``reading_offset_c`` ± noise of ``reading_sd_c``; a hall at
        the returned edge has its readings ``margin_sigmas`` σ inside the band.

        >>> HallModel(1, 1, 1, 2, 8, 10, reading_offset_c=0.5, reading_sd_c=0.3).band(
        ...     EnergyConfig())
        (19.5, 25.15)
        """
        low, high = config.comfort_c
        spread = config.margin_sigmas * self.reading_sd_c
        return (low + max(config.margin_c, spread - self.reading_offset_c),
                high - max(config.margin_c, spread + self.reading_offset_c))

    def mass(self, time_constant_h: float) -> float:
        """Thermal mass (kWh per K) for a time constant: τ × the envelope's conductance,
        ``envelope_per_k`` (the slope that carried more of the fitted load; the cooling one
        if not given).

        >>> HallModel(1, 40, 25, 2, 8, 10).mass(6.0), HallModel(1, 0, 25, 2, 8, 10, 0, 0, 0,
        ...                                                     envelope_per_k=25).mass(6.0)
        (240.0, 150.0)
        """
        return time_constant_h * (self.envelope_per_k or self.cool_per_k)

    def hvac_kwh(self, outside_c: np.ndarray, indoor_c: np.ndarray, airflow: np.ndarray,
                 fan_exponent: float = 2.5) -> np.ndarray:
        """The steady-state law: fans + conditioning at these temperatures and airflows."""
        drive = outside_c - indoor_c
        return (self.fan_kwh * airflow ** fan_exponent
                + self.cool_per_k * np.maximum(drive + self.cool_offset_c, 0.0)
                + self.heat_per_k * np.maximum(-self.heat_offset_c - drive, 0.0))

    def regime(self, outside_c: np.ndarray, indoor_c: float) -> np.ndarray:
        """+1 where the hall needs cooling at ``indoor_c``, −1 heating, 0 neither."""
        cooling = outside_c - indoor_c + self.cool_offset_c > 0
        heating = indoor_c - self.heat_offset_c - outside_c > 0
        return np.where(cooling, 1, np.where(heating, -1, 0))


def fit_hall(readings: Mapping[str, Any], fan_exponent: float = 2.5) -> HallModel:
    """Least-squares HVAC response (non-negative), balance offsets by grid search.

    ``readings`` (column → values: a DataFrame, a dict of arrays) has ``hvac_kwh``,
    ``outside_temp_c`` and ``indoor_temp_c`` per hour, and
    may have ``airflow`` (share of design; 1 if absent) and the ``cooling_setpoint_c`` /
    ``heating_setpoint_c`` in force. With setpoints, only steady hours enter the regression
    (setpoints unchanged since the hour before, the reading within 1 K of one of them): the
    steady-state law only holds there. The readings' offset from the setpoint (and its
    spread) comes from the hours the HVAC held a setpoint unchanged for three hours, neither
    idle nor at capacity: there the hall is at the setpoint, the rest is the reading. The
    law is then refitted without the steady hours it misses by more than 4 robust σ
    (recoveries and floating halls the filter let through), and its balance offsets are
    given for the hall itself, not its readings. The capacity is the largest conditioning
    load of any hour.
    """
    y = np.asarray(readings["hvac_kwh"], dtype=float)
    if len(y) < 3 * HOURS:
        raise ModelError(f"need three days of energy readings, got {len(y)} hours")
    air = np.asarray(readings["airflow"], dtype=float) if "airflow" in readings else np.ones_like(y)
    indoor = np.asarray(readings["indoor_temp_c"], dtype=float)
    outside = np.asarray(readings["outside_temp_c"], dtype=float)
    drive = outside - indoor
    if "cooling_setpoint_c" not in readings:
        return fit_law(y, air, drive, np.ones(len(y), dtype=bool), fan_exponent)
    cooling = np.asarray(readings["cooling_setpoint_c"], dtype=float)
    heating = np.asarray(readings["heating_setpoint_c"], dtype=float)
    nearer = np.where(np.abs(indoor - cooling) <= np.abs(indoor - heating), cooling, heating)
    unchanged = np.zeros(len(y), dtype=bool)
    unchanged[1:] = (np.abs(np.diff(cooling)) < 0.2) & (np.abs(np.diff(heating)) < 0.2)
    steady = unchanged & (np.abs(indoor - nearer) < 1.0)
    if steady.sum() < 2 * HOURS:
        steady[:] = True
    hall = fit_law(y, air, drive, steady, fan_exponent)
    residual = y - hall.hvac_kwh(outside, indoor, air, fan_exponent)
    scale = 1.4826 * np.median(np.abs(residual[steady] - np.median(residual[steady])))
    kept = steady & (np.abs(residual) <= 4.0 * max(scale, 1e-9))
    if kept.sum() >= 2 * HOURS:
        hall = fit_law(y, air, drive, kept, fan_exponent)
    conditioning = (y - hall.fan_kwh * air ** fan_exponent) / air
    held = unchanged & np.roll(unchanged, 1) & np.roll(unchanged, 2)
    held[:2] = False
    held &= (conditioning > 0.05 * hall.capacity_kwh) & (conditioning < 0.9 * hall.capacity_kwh)
    if held.sum() < 2 * HOURS:
        return hall
    offset = indoor[held] - nearer[held]
    mean = float(offset.mean())
    return replace(hall, cool_offset_c=hall.cool_offset_c - mean,
                   heat_offset_c=hall.heat_offset_c - mean, reading_offset_c=mean,
                   reading_sd_c=float(offset.std(ddof=1)))


def fit_law(y: np.ndarray, air: np.ndarray, drive: np.ndarray, use: np.ndarray,
            fan_exponent: float) -> HallModel:
    """The grid-searched non-negative least-squares law on the hours ``use`` marks.

    Ties go to the first cell (smaller cooling, then heating offset), as a loop would.
    """
    yu, drive_u = y[use], drive[use]
    columns = (air[use] ** fan_exponent,
               np.maximum(drive_u[None, :] + COOL_OFFSETS[:, None], 0.0),  # cells × hours
               np.maximum(-HEAT_OFFSETS[:, None] - drive_u[None, :], 0.0))
    cells = (len(COOL_OFFSETS), len(HEAT_OFFSETS))
    gram, moment = np.empty((*cells, 3, 3)), np.empty((*cells, 3))
    for i, j in product(range(3), repeat=2):
        if i <= j:
            gram[..., i, j] = gram[..., j, i] = _inner(columns[i], columns[j], i, j)
        if i == j:
            moment[..., i] = _inner(yu, columns[i], 0, i)
    total = float(yu @ yu)
    best_sq = np.full(cells, total)  # the empty support: 0
    chosen, solutions = np.full(cells, -1), []  # each cell's best support, their solutions
    for k, support in enumerate(_SUPPORTS):
        sub, rhs = gram[..., support[:, None], support], moment[..., support]
        # a singular support (a column the window never exercised) is left to its subsets
        scale = np.prod(np.diagonal(sub, axis1=-2, axis2=-1), axis=-1)
        x: np.ndarray  # each cell's solution on this support
        if len(support) == 1:  # what LAPACK's determinant and solve give for 1 × 1 (exactly)
            solvable = scale > 1e-10 * scale
            x = rhs / np.where(solvable, scale, 1.0)[..., None]
        else:
            solvable = np.linalg.det(sub) > 1e-10 * scale
            usable = np.where(solvable[..., None, None], sub, np.eye(len(support)))
            x = np.linalg.solve(usable, rhs[..., None])[..., 0]
        sq = total - np.einsum("...i,...i", x, rhs)  # at the least-squares solution
        better = solvable & (x >= 0).all(axis=-1) & (sq < best_sq)
        best_sq = np.where(better, sq, best_sq)
        chosen[better] = k
        solutions.append(x)
    ci, hi = np.unravel_index(int(np.argmin(best_sq)), cells)
    c = np.zeros(3)
    if chosen[ci, hi] >= 0:
        c[_SUPPORTS[chosen[ci, hi]]] = solutions[chosen[ci, hi]][ci, hi]
    residual = float(np.sqrt(max(best_sq[ci, hi], 0.0)))
    conditioning = (y - c[0] * air ** fan_exponent) / air
    # a slope the window hardly exercised (no heating in July) is not a conductance: the
    # mass goes with the term that carried more of the load
    cools = c[1] * columns[1][ci].sum() >= c[2] * columns[2][hi].sum()
    return HallModel(
        fan_kwh=float(c[0]), cool_per_k=float(max(c[1], 1e-6 * yu.mean())),
        heat_per_k=float(max(c[2], 1e-6 * yu.mean())), cool_offset_c=float(COOL_OFFSETS[ci]),
        heat_offset_c=float(HEAT_OFFSETS[hi]), capacity_kwh=float(conditioning.max()),
        fit_error=residual / np.sqrt(len(yu)) / max(float(yu.mean()), 1e-9),
        envelope_per_k=float((c[1] if cools else c[2]) or max(c[1:])))


def _inner(a: np.ndarray, b: np.ndarray, i: int, j: int) -> np.ndarray:
    """Inner products of column families ``i`` ≤ ``j`` (0: fans or readings, 1: cooling cells, 2:
    heating cells), shaped to broadcast over the (cooling, heating) grid."""
    if i == 0 and j == 0:
        return np.asarray(a @ b)
    if i == 0:
        return (b @ a)[:, None] if j == 1 else (b @ a)[None, :]
    if i == j:
        products = np.einsum("ch,ch->c", a, b)
        return products[:, None] if i == 1 else products[None, :]
    return a @ b.T  # cooling × heating
