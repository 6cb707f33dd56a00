"""Values that may not change within a group: the unit of a station's parameter.

A column declared ``consistent_by=("station_id", "parameter")`` takes, for each group, the
value first stored for it (:class:`FirstValues`); a later row whose value differs is
refused (kA stays kA: a reading in A is quarantined, not stored as if it were kA). Rows of
a group new to the store take the value of the group's first row in the batch. Groups
are few (stations × parameters), so a batch is checked on its distinct combinations.

>>> firsts = FirstValues(("station_id", "parameter"), "unit")
>>> batch = pa.table({"station_id": ["BW-030", "BW-030", "GA-010", "BW-030"],
...                   "parameter": ["weld_current"] * 2 + ["torque", "weld_current"],
...                   "unit": ["kA", "kA", "N·m", "A"]})
>>> firsts.differs(batch).tolist()
[False, False, False, True]
>>> firsts.add(batch.slice(0, 3))
>>> firsts.differs(pa.table({"station_id": ["GA-010"], "parameter": ["torque"],
...                          "unit": ["Nm"]})).tolist(), firsts.expected("GA-010", "torque")
([True], 'N·m')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class FirstValues:
    """The first value of ``column`` stored for each combination of the ``by`` columns."""

    def __init__(self, by: tuple[str, ...], column: str) -> None:
        self.by, self.column = by, column
        self._first: dict[tuple[Any, ...], Any] = {}

    def expected(self, *group: Any) -> Any:
        """The value stored for ``group`` (None: none yet)."""
        return self._first.get(tuple(group))

    def differs(self, rows: pa.Table) -> np.ndarray:
        """True for the rows whose value is not their group's: the stored one, else the
        one of the group's first row in ``rows``. Rows with a null anywhere are left alone."""
        combos = _distinct(rows, (*self.by, self.column))
        chosen = dict(self._first)
        wrong = []
        for combo in combos:
            if any(value is None for value in combo):
                continue
            value = chosen.setdefault(combo[:-1], combo[-1])
            if value != combo[-1]:
                wrong.append(combo)
        if not wrong:
            return np.zeros(rows.num_rows, dtype=bool)
        joined = _joined(rows, (*self.by, self.column))
        bad = pa.array(["\x1f".join(map(str, combo)) for combo in wrong], pa.string())
        return np.asarray(pc.fill_null(pc.is_in(joined, value_set=bad), False)
                          .to_numpy(zero_copy_only=False))

    def add(self, rows: pa.Table) -> None:
        """Remember the groups of ``rows`` (stored rows: the first of each group counts)."""
        for combo in _distinct(rows, (*self.by, self.column)):
            if not any(value is None for value in combo):
                self._first.setdefault(combo[:-1], combo[-1])


def _joined(rows: pa.Table, columns: tuple[str, ...]) -> pa.ChunkedArray:
    parts = [pc.cast(rows[name], pa.string()) for name in columns]
    return pc.binary_join_element_wise(*parts, "\x1f")


def _distinct(rows: pa.Table, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The distinct combinations of ``columns``, in the order they first occur."""
    if rows.num_rows == 0:
        return []
    first = rows.select(list(columns)).append_column(
        "__at", pa.array(np.arange(rows.num_rows))).group_by(list(columns)).aggregate(
        [("__at", "min")]).sort_by("__at_min")
    return list(zip(*(first[name].to_pylist() for name in columns), strict=True))
