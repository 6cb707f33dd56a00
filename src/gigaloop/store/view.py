"""The store as of an instant: what a decision module on day d may see.

>>> import datetime as dt, tempfile
>>> from gigaloop.store import Store
>>> store = Store(tempfile.mkdtemp())
>>> site = [{"site_id": "S1", "name": "F", "region": "CAISO", "timezone": "UTC"}]
>>> _ = store.write("sites", site, ingested_at=dt.datetime(2025, 1, 1))
>>> store.as_of(dt.datetime(2025, 1, 1)).count("sites")
1

Analytics take either through one protocol, :class:`Tables`, so a query written for the
store runs unchanged on the store as of a day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from gigaloop.errors import StoreError
from gigaloop.schema import INGESTED_AT

if TYPE_CHECKING:
    from gigaloop.store.store import Store


class Tables(Protocol):
    """What analytics read: a :class:`~gigaloop.store.Store`, or a :class:`StoreView` of
    one (the store as of an instant)."""

    def table(self, name: str) -> ir.Table: ...

    def execute(self, expr: ir.Expr) -> Any: ...

    def to_pyarrow(self, expr: ir.Expr) -> Any: ...

    def count(self, name: str) -> int: ...

    def totals(self, name: str, columns: list[str]) -> dict[str, float]: ...

    def group_totals(self, name: str, columns: list[str], by: str) -> pd.DataFrame: ...


class StoreView:
    """A read-only view of a store at a cutoff: rows ingested after it are hidden.

    Tables without ``ingested_at`` (sites, lines, …: dimensions) are not filtered.
    """

    def __init__(self, store: Store, cutoff: datetime) -> None:
        self.store = store
        self.cutoff = cutoff

    def table(self, name: str) -> ir.Table:
        table = self.store.table(name)
        if INGESTED_AT in table.columns:
            table = table.filter(table[INGESTED_AT] <= self.cutoff)
        return table

    def quarantine(self) -> ir.Table:
        return self.table("quarantine")

    def count(self, name: str) -> int:
        return int(self.store.execute(self.table(name).count()))

    def ingested_since(self, name: str, after: datetime | None,
                       columns: list[str] | None = None) -> pa.Table:
        """Rows of ``name`` ingested after ``after`` (all when None) and by the cutoff."""
        return self.store.ingested_between(name, after, self.cutoff, columns)

    def totals(self, name: str, columns: list[str]) -> dict[str, float]:
        """Each numeric column's sum over the rows ingested by the cutoff (one query: the
        per-file sums of :meth:`Store.totals` cannot tell rows apart by ingestion)."""
        table = self.table(name)
        sums = self.store.execute(table.aggregate(**{c: table[c].sum() for c in columns}))
        return {c: float(sums[c].iloc[0]) if sums[c].notna().iloc[0] else 0.0 for c in columns}

    def group_totals(self, name: str, columns: list[str], by: str) -> pd.DataFrame:
        """:meth:`totals` per value of ``by`` (a frame indexed by it), by query."""
        table = self.table(name)
        sums = self.store.execute(table.group_by(by).aggregate(
            **{c: table[c].sum() for c in columns}))
        return sums.set_index(by)[columns].astype(float).fillna(0.0)

    def execute(self, expr: ir.Expr) -> Any:
        return self.store.execute(expr)

    def to_pyarrow(self, expr: ir.Expr) -> Any:
        return self.store.to_pyarrow(expr)

    def __repr__(self) -> str:
        return f"StoreView({self.store!r}, cutoff={self.cutoff.isoformat()!r})"


def naive_utc(moment: datetime) -> datetime:
    """``moment`` as the store keeps instants: UTC, without a time zone."""
    if not isinstance(moment, datetime):
        raise StoreError(f"expected a datetime, got {type(moment).__name__}")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
