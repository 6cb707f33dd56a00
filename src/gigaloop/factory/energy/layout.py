"""The plan's linear programme laid out once: its columns, and every row it may have.

A day's programme (:func:`.plan.plan_day`) has the same columns every day and rows drawn
from one fixed list: which rows an hour has depends on the day (cooling, heating or neither;
whether the hot, stress and cold days need conditioning), their coefficients on the hall
and the config, their bounds on the forecast. :class:`Layout` holds that list — each row's
hour, the condition it needs, its bounds and its entries, by name — in the order the rows are
numbered (hour by hour), and :meth:`Layout.matrix` keeps a day's rows and fills in its
numbers: a few array operations instead of building the matrix entry by entry.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy.sparse import csc_array

from gigaloop.factory.energy.config import HOURS

# blocks of HOURS columns: T, cool, heat, shift_in, shift_out, slack_hi, slack_lo, fan,
# airflow, hot-day T, hot-day cooling, hot slack, cold-day T, cold-day heating, cold slack,
# stress-day T, stress-day cooling, stress slack; then the day's peak
(T, COOL, HEAT, S_IN, S_OUT, HI, LO, FAN, AIR, TH, COOLH, HIH, TC, HEATC, LOC, TS, COOLS,
 HIS) = (k * HOURS for k in range(18))
PEAK = 18 * HOURS
SIZE = PEAK + 1
CONDITIONS = ("always", "cool", "heat", "float", "hot", "not_hot", "stress", "not_stress",
              "cold", "not_cold")
SCALAR_BOUNDS = ("zero", "inf", "-inf", "top", "bottom")  # then one per fan tangent
HOURLY_BOUNDS = ("cool_rhs", "heat_rhs", "known", "stress_cap", "load")  # then per mass:
# hot_rhs, stress_rhs, cold_rhs


class Layout:
    """Every row of the plan for ``masses`` time constants and ``tangents`` fan tangents.

    Coefficients and bounds are named; :meth:`coefficient_names` and :meth:`bound_names`
    give the order a day's values come in.
    """

    def __init__(self, masses: int, tangents: int) -> None:
        self.masses, self.tangents = masses, tangents
        self.coefficients = {name: i for i, name in enumerate(self.coefficient_names())}
        self.bounds = {name: i for i, name in enumerate(self.bound_names())}
        self._rows: list[tuple[int, int, int, int, int, int]] = []  # hour, slot, …
        self._entries: list[tuple[int, int, int]] = []  # row, column, coefficient
        self._build()
        rows = np.array(self._rows, dtype=np.int64).reshape(-1, 6)
        order = np.lexsort((rows[:, 1], rows[:, 0]))  # hour by hour, slot by slot
        number = np.empty(len(order), dtype=np.int64)
        number[order] = np.arange(len(order))
        rows = rows[order]
        self.row_hour, self.row_condition = rows[:, 2], rows[:, 3]
        self.row_low, self.row_high = rows[:, 4], rows[:, 5]
        entries = np.array(self._entries, dtype=np.int64).reshape(-1, 3)
        entries[:, 0] = number[entries[:, 0]]
        entries = entries[np.lexsort((entries[:, 0], entries[:, 1]))]  # by column, then row
        self.entry_row, self.entry_column, self.entry_coefficient = entries.T

    def coefficient_names(self) -> list[str]:
        return (["one", "minus_one", "mass", "cool_previous", "heat_previous", "minus_cap"]
                + [f"{name}{i}" for i in range(self.masses)
                   for name in ("mass", "cool_previous", "heat_previous")]
                + [f"fan{k}" for k in range(self.tangents)])

    def bound_names(self) -> list[str]:
        hourly = [*HOURLY_BOUNDS, *(f"{name}{i}" for i in range(self.masses)
                                    for name in ("hot_rhs", "stress_rhs", "cold_rhs"))]
        return ([*SCALAR_BOUNDS, *(f"fan{k}" for k in range(self.tangents))]
                + [f"{name}@{h}" for name in hourly for h in range(HOURS)])

    def matrix(self, conditions: np.ndarray, coefficients: np.ndarray,
               bounds: np.ndarray) -> tuple[csc_array, np.ndarray, np.ndarray]:
        """The day's constraint matrix (by column, then row) and its row bounds:
        ``conditions`` (``CONDITIONS`` × hours) keeps rows, ``coefficients`` and ``bounds``
        (in the order of their names) fill them in."""
        kept = conditions[self.row_condition, self.row_hour]
        number = np.cumsum(kept) - 1
        used = kept[self.entry_row]
        columns = self.entry_column[used]
        start = np.zeros(SIZE + 1, dtype=np.int64)
        np.cumsum(np.bincount(columns, minlength=SIZE), out=start[1:])
        matrix = csc_array((coefficients[self.entry_coefficient[used]],
                            number[self.entry_row[used]], start), shape=(int(kept.sum()), SIZE))
        return matrix, bounds[self.row_low[kept]], bounds[self.row_high[kept]]

    def _add(self, hour: int, slot: int, condition: str, low: str, high: str,
             entries: dict[int, str]) -> None:
        def bound(name: str) -> int:
            return self.bounds[name if name in self.bounds else f"{name}@{hour}"]

        row = len(self._rows)
        self._rows.append((hour, slot, min(hour, HOURS - 1), CONDITIONS.index(condition),
                           bound(low), bound(high)))
        self._entries += [(row, column, self.coefficients[name])
                          for column, name in entries.items()]

    def _build(self) -> None:
        """The rows of :func:`.plan.plan_day`, hour by hour (slots in the order written)."""
        masses = range(self.masses)
        width = self.masses + 3  # the rows one warmer day's bound takes in an hour
        for h in range(HOURS):
            def prev(block: int, name: str, h: int = h) -> dict[int, str]:
                return {} if h == 0 else {block + h - 1: name}

            add = self._add
            # the planned hall: C T_h − (C − a) T_h−1 + cool_h = a (out + d_c) when cooling,
            # C T_h − (C − b) T_h−1 − heat_h = b (out + d_h) when heating, else it holds
            add(h, 0, "cool", "cool_rhs", "cool_rhs",
                {T + h: "mass", COOL + h: "one", **prev(T, "cool_previous")})
            add(h, 0, "heat", "heat_rhs", "heat_rhs",
                {T + h: "mass", HEAT + h: "minus_one", **prev(T, "heat_previous")})
            add(h, 0, "float", "known", "known", {T + h: "one", **prev(T, "minus_one")})
            add(h, 1, "always", "-inf", "top", {T + h: "one", HI + h: "minus_one"})
            add(h, 2, "always", "bottom", "inf", {T + h: "one", LO + h: "one"})
            add(h, 3, "always", "-inf", "zero",
                {COOL + h: "one", HEAT + h: "one", AIR + h: "minus_cap"})
            for k in range(self.tangents):  # fans: airflow^n from below by its tangents
                add(h, 4 + k, "always", f"fan{k}", "inf", {FAN + h: "one", AIR + h: f"fan{k}"})
            first = 4 + self.tangents
            # the hot and the stress day: upper bounds of the hall, cooled at most to T_h
            for temp, cooling, slack, day, limit in ((TH, COOLH, HIH, "hot", "top"),
                                                     (TS, COOLS, HIS, "stress", "stress_cap")):
                add(h, first, "always", "zero", "inf", {temp + h: "one", T + h: "minus_one"})
                for i in masses:
                    add(h, first + 1 + i, day, f"{day}_rhs{i}", "inf",
                        {temp + h: f"mass{i}", cooling + h: "one",
                         **prev(temp, f"cool_previous{i}")})
                add(h, first + 1 + self.masses, day, "-inf", "zero",
                    {cooling + h: "one", AIR + h: "minus_cap"})
                add(h, first + 1, f"not_{day}", "known", "inf",
                    {temp + h: "one", **prev(temp, "minus_one")})
                add(h, first + 2 + self.masses, "always", "-inf", limit,
                    {temp + h: "one", slack + h: "minus_one"})
                first += width
            # the cold day: a lower bound, heated at most to T_h
            add(h, first, "always", "-inf", "zero", {TC + h: "one", T + h: "minus_one"})
            for i in masses:
                add(h, first + 1 + i, "cold", "-inf", f"cold_rhs{i}",
                    {TC + h: f"mass{i}", HEATC + h: "minus_one",
                     **prev(TC, f"heat_previous{i}")})
            add(h, first + 1 + self.masses, "cold", "-inf", "zero",
                {HEATC + h: "one", AIR + h: "minus_cap"})
            add(h, first + 1, "not_cold", "-inf", "known",
                {TC + h: "one", **prev(TC, "minus_one")})
            add(h, first + 2 + self.masses, "always", "bottom", "inf",
                {TC + h: "one", LOC + h: "one"})
        # the shifted load balances; the demand charge bills the day's largest hour
        self._add(HOURS, 0, "always", "zero", "zero",
                  {**{S_IN + h: "one" for h in range(HOURS)},
                   **{S_OUT + h: "minus_one" for h in range(HOURS)}})
        for h in range(HOURS):
            self._add(HOURS + 1 + h, 0, "always", f"load@{h}", "inf",
                      {PEAK: "one", COOL + h: "minus_one", HEAT + h: "minus_one",
                       S_IN + h: "minus_one", S_OUT + h: "one", FAN + h: "minus_one"})


@cache
def layout(masses: int, tangents: int) -> Layout:
    """The layout for this many time constants and fan tangents (built once)."""
    return Layout(masses, tangents)
