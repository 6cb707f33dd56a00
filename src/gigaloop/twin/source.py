"""The twin as a :class:`gigaloop.ingest.Source`: one simulated day's rows, as a plant sends them.

``ingest(TwinDay(twin, day), store, twin.day_end(day))`` simulates ``day`` and writes its
rows through the same path a connector's data takes (validation, quarantine, idempotent
keys), referenced tables first.

>>> import tempfile
>>> from gigaloop.ingest import ingest
>>> from gigaloop.store import Store
>>> from gigaloop.twin import Twin
>>> twin, store = Twin.from_scenario(seed=1), Store(tempfile.mkdtemp())
>>> results = ingest(TwinDay(twin, 0), store, twin.day_end(0))
>>> results["vehicles"].written == store.count("vehicles") > 0
True
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

from gigaloop.schema import write_order

if TYPE_CHECKING:
    from gigaloop.twin.ahead import TwinAhead
    from gigaloop.twin.world import Twin


class TwinDay:
    """The rows of one day of ``twin`` (simulated when first read, once); the twin may run
    in a process of its own (:class:`~gigaloop.twin.ahead.TwinAhead`)."""

    def __init__(self, twin: Twin | TwinAhead, day: int) -> None:
        self.twin = twin
        self.day = day
        self._tables: dict[str, pa.Table] | None = None

    def simulate(self) -> None:
        """Step the twin through the day now (else the first read does)."""
        if self._tables is None:
            self._tables = self.twin.step(self.day)

    def batches(self) -> Iterator[tuple[str, pa.Table]]:
        self.simulate()
        assert self._tables is not None
        for name in write_order(list(self._tables)):
            yield name, self._tables[name]

    def __repr__(self) -> str:
        return "twin"
