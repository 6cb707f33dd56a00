"""Ingest: sources of batches, and the one loop that writes them to a store.

A :class:`Source` yields ``(table name, Arrow batch)`` pairs; :func:`ingest` hands each
to the store, which validates and quarantines. Sources that read files, and the mock
used in tests, live beside this module; network connectors follow the same protocol.

>>> import datetime as dt, tempfile
>>> from gigaloop.store import Store
>>> source = MemorySource([("sites", [{"site_id": "S1", "name": "Fremont", "region": "CAISO",
...                                  "timezone": "America/Los_Angeles"}])])
>>> ingest(source, Store(tempfile.mkdtemp()), dt.datetime(2024, 1, 1))["sites"].written
1
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

import pyarrow as pa

from gigaloop.ingest.files import FileSource
from gigaloop.ingest.memory import MemorySource


@runtime_checkable
class Source(Protocol):
    """Anything that yields batches: ``(table name, rows as Arrow)``."""

    def batches(self) -> Iterator[tuple[str, pa.Table]]: ...


class _Summable(Protocol):
    def __add__(self, other: Any, /) -> Any: ...


R = TypeVar("R", bound=_Summable, covariant=True)


class Sink(Protocol[R]):
    """Where batches go: :class:`gigaloop.store.Store` is one."""

    def write(
        self, table: str, rows: pa.Table, *, ingested_at: datetime, source: str | None = None
    ) -> R: ...


def ingest(source: Source, store: Sink[R], ingested_at: datetime) -> dict[str, R]:
    """Write every batch of ``source`` in the order it yields them; results per table.

    Several batches of one table add up into one result. Bad rows are quarantined by
    the store, never raised; a source that cannot be read raises :class:`IngestError`.
    """
    results: dict[str, R] = {}
    label = repr(source)
    for table, rows in source.batches():
        result = store.write(table, rows, ingested_at=ingested_at, source=label)
        results[table] = results[table] + result if table in results else result
    return results


__all__ = ["FileSource", "MemorySource", "Sink", "Source", "ingest"]
