"""Nelson's eight run rules (Nelson 1984), for one stream or many; each alarm names its rule.

With ``z = (x - μ)/σ``:

1. one point beyond 3σ (``|z| > 3``);
2. nine points in a row on one side of the centre line (``same_side_run``; 8 for the
   Western Electric form);
3. six points in a row steadily increasing or decreasing (five rises or five falls);
4. fourteen points in a row alternating up and down (thirteen sign changes);
5. two of three points in a row beyond 2σ on the same side;
6. four of five points in a row beyond 1σ on the same side;
7. fifteen points in a row within 1σ (``|z| < 1``), i.e. too little variation;
8. eight points in a row beyond 1σ on either side (``|z| > 1``).

The Western Electric rules are ``rules=(1, 2, 5, 6), same_side_run=8``. Ties (a point
exactly on the centre line, two equal points) break a run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from gigaloop.ml.spc._base import (
    Chart,
    ChartBank,
    PhaseOne,
    pack,
    positive,
    stream_param,
)

ALL_RULES = (1, 2, 3, 4, 5, 6, 7, 8)
_POPCOUNT = np.array([bin(i).count("1") for i in range(32)], dtype=np.int64)


def _check_rules(rules: tuple[int, ...], same_side_run: int) -> tuple[int, ...]:
    rules = tuple(rules)
    if not rules or not set(rules) <= set(ALL_RULES):
        raise ValueError(f"rules must be a non-empty subset of {ALL_RULES}, got {rules!r}")
    if int(same_side_run) != same_side_run or same_side_run < 2:
        raise ValueError(f"same_side_run must be an integer >= 2, got {same_side_run!r}")
    return rules


def _estimate(chart: Any) -> tuple[Any, Any]:
    mu, sigma = chart.mu, chart.sigma
    if mu is None or sigma is None:
        mean, spread = chart._phase_one.estimate(type(chart).__name__)
        mu, sigma = (mean if mu is None else mu), (spread if sigma is None else sigma)
    return mu, sigma


class NelsonRules(Chart):
    """Nelson's run rules on one stream; ``rules_fired`` lists every rule that fired.

    >>> chart = NelsonRules(mu=0.0, sigma=1.0)
    >>> for x in (0.2, 0.5, 0.9, 1.2, 1.6, 2.1):
    ...     chart.update(x)
    >>> chart.rules_fired
    ('nelson_3',)
    >>> chart.update(2.6)
    >>> chart.rules_fired
    ('nelson_3', 'nelson_5', 'nelson_6')
    """

    RULES = tuple(f"nelson_{rule}" for rule in ALL_RULES)

    def __init__(
        self,
        mu: float | None = None,
        sigma: float | None = None,
        rules: tuple[int, ...] = ALL_RULES,
        same_side_run: int = 9,
    ) -> None:
        self.mu = mu
        self.sigma = sigma if sigma is None else positive(sigma, "sigma")
        self.rules = _check_rules(rules, same_side_run)
        self.same_side_run = same_side_run
        self._phase_one = PhaseOne()


    def _start(self) -> None:
        mu, sigma = _estimate(self)
        self.mu_, self.sigma_ = float(mu), float(sigma)
        self._prev: float | None = None
        self._above = self._below = self._rising = self._falling = self._alternating = 0
        self._last_sign = self._inside = self._outside = 0
        self._a_up = self._a_down = self._b_up = self._b_down = 0

    def _step(self, x: float) -> tuple[str, ...]:
        z = (x - self.mu_) / self.sigma_
        diff = z - (z if self._prev is None else self._prev)
        self._prev = z
        sign = (diff > 0) - (diff < 0)
        self._above = self._above + 1 if z > 0 else 0
        self._below = self._below + 1 if z < 0 else 0
        self._rising = self._rising + 1 if sign > 0 else 0
        self._falling = self._falling + 1 if sign < 0 else 0
        flips = sign != 0 and sign == -self._last_sign
        self._alternating = self._alternating + 1 if flips else int(sign != 0)
        self._last_sign = sign
        self._a_up = (self._a_up << 1 | (z > 2)) & 0b111
        self._a_down = (self._a_down << 1 | (z < -2)) & 0b111
        self._b_up = (self._b_up << 1 | (z > 1)) & 0b11111
        self._b_down = (self._b_down << 1 | (z < -1)) & 0b11111
        self._inside = self._inside + 1 if abs(z) < 1 else 0
        self._outside = self._outside + 1 if abs(z) > 1 else 0
        hits = (
            abs(z) > 3,
            max(self._above, self._below) >= self.same_side_run,
            max(self._rising, self._falling) >= 5,
            self._alternating >= 13,
            max(self._a_up.bit_count(), self._a_down.bit_count()) >= 2,
            max(self._b_up.bit_count(), self._b_down.bit_count()) >= 4,
            self._inside >= 15,
            self._outside >= 8,
        )
        return tuple(f"nelson_{r}" for r, hit in zip(ALL_RULES, hits, strict=True)
                     if hit and r in self.rules)

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        drift = np.linspace(0.0, 3.0, 60)
        return list(rng.normal(size=30)), list(rng.normal(drift, 1.0))


class NelsonRulesBank(ChartBank):
    """Nelson's run rules over ``n_streams`` streams; bit ``r-1`` of ``codes`` is rule r.

    >>> import numpy as np
    >>> bank = NelsonRulesBank(n_streams=2, mu=0.0, sigma=1.0)
    >>> for x in (0.2, 0.5, 0.9, 1.2, 1.6, 2.1):
    ...     bank.update([x, -x])
    >>> bank.rules_fired(0), bank.rules_fired(1)
    (('nelson_3',), ('nelson_3',))
    """

    RULES = NelsonRules.RULES

    def __init__(
        self,
        n_streams: int,
        mu: Any = None,
        sigma: Any = None,
        rules: tuple[int, ...] = ALL_RULES,
        same_side_run: int = 9,
    ) -> None:
        super().__init__(n_streams)
        self.mu = mu
        self.sigma = sigma if sigma is None else positive(sigma, "sigma")
        self.rules = _check_rules(rules, same_side_run)
        self.same_side_run = same_side_run
        self._phase_one = PhaseOne()

    @property
    def codes(self) -> NDArray[np.uint8]:
        return self._codes.copy()


    def _start(self) -> None:
        mu, sigma = _estimate(self)
        n = self.n_streams
        self.mu_, self.sigma_ = stream_param(mu, n, "mu"), stream_param(sigma, n, "sigma")
        positive(self.sigma_, "sigma")
        self._prev: NDArray[np.float64] | None = None
        names = ("above", "below", "rising", "falling", "alternating", "last_sign",
                 "inside", "outside", "a_up", "a_down", "b_up", "b_down")
        self._state = {name: np.zeros(n, dtype=np.int64) for name in names}
        self._mask = np.uint8(sum(1 << (r - 1) for r in self.rules))
        self._codes = np.zeros(n, dtype=np.uint8)

    def _step(self, x: NDArray[np.float64]) -> None:
        s = self._state
        z = (x - self.mu_) / self.sigma_
        sign = np.sign(z - (z if self._prev is None else self._prev)).astype(np.int64)
        self._prev = z

        def run(name: str, condition: NDArray[np.bool_]) -> NDArray[np.int64]:
            s[name] = (s[name] + 1) * condition
            return s[name]

        def window(name: str, condition: NDArray[np.bool_], bits: int) -> NDArray[np.int64]:
            s[name] = (s[name] << 1 | condition) & bits
            return _POPCOUNT[s[name]]

        flips = (sign != 0) & (sign == -s["last_sign"])
        s["alternating"] = np.where(flips, s["alternating"] + 1, sign != 0)
        s["last_sign"] = sign
        hits = (
            np.abs(z) > 3,
            np.maximum(run("above", z > 0), run("below", z < 0)) >= self.same_side_run,
            np.maximum(run("rising", sign > 0), run("falling", sign < 0)) >= 5,
            s["alternating"] >= 13,
            np.maximum(window("a_up", z > 2, 0b111), window("a_down", z < -2, 0b111)) >= 2,
            np.maximum(window("b_up", z > 1, 0b11111), window("b_down", z < -1, 0b11111)) >= 4,
            run("inside", np.abs(z) < 1) >= 15,
            run("outside", np.abs(z) > 1) >= 8,
        )
        self._codes = pack(*hits) & self._mask

    @classmethod
    def _check_readings(cls, rng: np.random.Generator) -> tuple[list[Any], list[Any]]:
        drift = np.linspace(0.0, 3.0, 60)[:, None]
        return list(rng.normal(size=(30, 4))), list(rng.normal(drift, 1.0, size=(60, 4)))
