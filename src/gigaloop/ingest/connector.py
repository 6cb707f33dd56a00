"""What the streaming connectors (MQTT, OPC UA) share: the store they write to, their
counts per source, and waiting on those counts.

A connector reads on its own thread and writes through one writer thread;
:class:`StreamConnector` gives it the context manager, a consistent copy of its
:class:`~gigaloop.ingest.sequence.ConnectorStats` and :meth:`StreamConnector.wait_until`.
:func:`counted` turns one ``Store.write`` result into the update of a source's counts.
"""

from __future__ import annotations

import copy
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, Self

from gigaloop.errors import IngestError
from gigaloop.ingest.sequence import ConnectorStats


class WriteCounts(Protocol):
    """What a write answers (:class:`gigaloop.store.WriteResult` is one)."""

    @property
    def written(self) -> int: ...
    @property
    def unchanged(self) -> int: ...
    @property
    def quarantined(self) -> int: ...
    @property
    def reasons(self) -> Mapping[str, int]: ...


class StoreSink(Protocol):
    """Where a connector writes (:class:`gigaloop.store.Store` is one)."""

    def write(self, table: str, rows: Any, *, ingested_at: datetime,
              source: str | None = None) -> WriteCounts: ...


class StreamConnector(ABC):
    """Base of the connectors: ``start``/``stop`` are theirs; they keep ``_stats`` under
    ``_lock`` and set ``error`` when their writer dies."""

    _lock: threading.Lock
    _stats: ConnectorStats
    error: BaseException | None

    @abstractmethod
    def start(self) -> Self:
        """Connect and begin reading; returns the connector."""

    @abstractmethod
    def stop(self, timeout_s: float = 30.0) -> None:
        """Write and acknowledge what has arrived, then disconnect."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def stats(self) -> ConnectorStats:
        """A copy of the counts so far."""
        with self._lock:
            return copy.deepcopy(self._stats)

    def wait_until(self, done: Callable[[ConnectorStats], bool], timeout_s: float) -> bool:
        """Wait until ``done(stats)`` holds (True) or ``timeout_s`` passed (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.error is not None:
                raise IngestError(f"the connector stopped: {self.error}") from self.error
            if done(self.stats):
                return True
            time.sleep(0.02)
        return done(self.stats)


def counted(source: str, result: WriteCounts, rows: int = 0) -> Callable[[ConnectorStats], None]:
    """The update of ``source``'s counts after a write of ``rows`` received rows (0: the
    connector counts them as they arrive)."""
    def update(stats: ConnectorStats) -> None:
        one = stats.source(source)
        one.rows_received += rows
        one.written += result.written
        one.unchanged += result.unchanged
        one.quarantined += result.quarantined
        for reason, n in result.reasons.items():
            one.count_reason(reason, n)
    return update


def refused(source: str, reason: str, *, whole_message: bool = False
            ) -> Callable[[ConnectorStats], None]:
    """The update of ``source``'s counts for a row (or, ``whole_message``, a message that
    gave no rows) refused before the store, with its reason."""
    def update(stats: ConnectorStats) -> None:
        one = stats.source(source)
        if whole_message:
            one.messages += 1
            one.rejected_messages += 1
        else:
            one.rows_received += 1
            one.rejected += 1
        one.count_reason(reason)
    return update
