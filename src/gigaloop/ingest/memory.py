"""A source of batches held in memory: rows a decision module emits, tests, examples.

>>> source = MemorySource([("sites", [{"site_id": "S1", "name": "Fremont"}])])
>>> [(name, rows.num_rows) for name, rows in source.batches()]
[('sites', 1)]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import pandas as pd
import pyarrow as pa

Batch: TypeAlias = pa.Table | pd.DataFrame | Sequence[Mapping[str, Any]]


class MemorySource:
    """Replays the batches it was given, in that order, every time it is read.

    Rows may be Arrow tables, DataFrames or lists of dicts; a list column whose values
    have mixed types arrives as text (as a CSV would), for the store to validate.
    """

    def __init__(self, batches: Iterable[tuple[str, Batch]] | Mapping[str, Batch], *,
                 name: str | None = None) -> None:
        pairs = batches.items() if isinstance(batches, Mapping) else batches
        self._batches = [(table, _as_arrow(rows)) for table, rows in pairs]
        self.name = name

    def batches(self) -> Iterator[tuple[str, pa.Table]]:
        yield from self._batches

    def __repr__(self) -> str:
        return self.name or f"MemorySource({len(self._batches)} batches)"


def _as_arrow(rows: Batch) -> pa.Table:
    if isinstance(rows, pa.Table):
        return rows
    if isinstance(rows, pd.DataFrame):
        return pa.Table.from_pandas(rows, preserve_index=False)
    names = list(dict.fromkeys(name for row in rows for name in row))
    return pa.table({name: arrow_column([row.get(name) for row in rows]) for name in names})


def arrow_column(values: list[Any]) -> pa.Array:
    """``values`` as an Arrow array; mixed types become text (for the store to check)."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())
