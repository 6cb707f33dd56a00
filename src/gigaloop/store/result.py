"""What became of a batch written to the store.

>>> WriteResult("lines", 2, 1, 0, 1, {"site_id: missing": 1}) + WriteResult("lines", 1, 1, 0, 0)
WriteResult(table='lines', received=3, written=2, unchanged=0, quarantined=1,
            reasons={'site_id: missing': 1})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gigaloop.errors import StoreError


@dataclass(frozen=True)
class WriteResult:
    """What became of a batch: ``received == written + unchanged + quarantined``.

    ``reasons`` counts rows per rejection reason (a row may have several).
    """

    table: str
    received: int
    written: int
    unchanged: int
    quarantined: int
    reasons: Mapping[str, int] = field(default_factory=dict)

    def __add__(self, other: WriteResult) -> WriteResult:
        """Two results for the same table, summed (several batches of one source)."""
        if other.table != self.table:
            raise StoreError("cannot add results of different tables", table=self.table)
        reasons = dict(self.reasons)
        for reason, count in other.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
        return WriteResult(
            self.table,
            self.received + other.received,
            self.written + other.written,
            self.unchanged + other.unchanged,
            self.quarantined + other.quarantined,
            reasons,
        )
