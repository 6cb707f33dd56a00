"""The service's daily decision cycle: :class:`DecisionSchedule` runs ``gigaloop decide``
over the served store on a timer.

Every ``every_s`` seconds (and once at start) it decides each day that has ended since the
last one decided (:func:`gigaloop.decide.decide`, resuming from ``decide-state.json``),
**one day per hold of the store**, so ingest and queries wait a day's cycle at most, never
a backlog's. Change requests wait for a person's verdict unless the settings say
``approval="automatic"`` (the twin's setting). A failing day is not skipped: the error is
kept in :attr:`DecisionSchedule.status` (``GET /decide/status``) and the day is tried
again at the next tick.

>>> import tempfile
>>> from gigaloop.api.deps import StoreHandle
>>> from gigaloop.store import Store
>>> folder = tempfile.mkdtemp()
>>> handle = StoreHandle(Store(f"{folder}/store"))
>>> schedule = DecisionSchedule(handle, every_s=3600)
>>> schedule.tick()  # an empty store: nothing to decide, and it says why
0
>>> schedule.status.last_error
'... holds no ingested data; run gigaloop ingest first'
>>> handle.close()
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gigaloop.api.deps import StoreHandle
from gigaloop.decide import DecideOptions, decide
from gigaloop.errors import GigaloopError

log = logging.getLogger(__name__)


@dataclass
class ScheduleStatus:
    """What the schedule has done: when its last tick ended, the last day decided (the store's day
    number, ``None`` before the first), the days and findings of this process's life, and
    the last error (cleared by a tick that decides without one)."""

    every_s: float
    approval: str
    last_tick_at: datetime | None = None
    last_day: int | None = None
    days_decided: int = 0
    findings_reported: int = 0
    last_error: str | None = None


class DecisionSchedule:
    """Decide the store's ended days on a timer, in a background thread (:meth:`start`,
    :meth:`stop`), or a tick at a time (:meth:`tick`, what the thread calls)."""

    def __init__(self, store: StoreHandle, every_s: float, *, approval: str = "reviewed",
                 max_days_per_tick: int = 366) -> None:
        if every_s <= 0:
            raise ValueError(f"every_s must be positive, got {every_s}")
        self.store = store
        self.max_days_per_tick = max_days_per_tick
        self.status = ScheduleStatus(every_s=every_s, approval=approval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int:
        """Decide every ended day not decided yet, a day per hold of the store; returns the
        days decided."""
        options = DecideOptions(store=Path(self.store.root), approval=self.status.approval,
                                max_days=1)
        done = 0
        while done < self.max_days_per_tick and not self._stop.is_set():
            try:
                with self.store.use() as store:
                    summary = decide(options, store=store)
            except GigaloopError as exc:
                self.status.last_error = str(exc)
                log.warning("decision cycle: %s", exc)
                break
            except Exception as exc:  # keep serving; the day is tried again next tick
                self.status.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("decision cycle failed")
                break
            days = summary["decide"]["days"]
            if not days:
                break
            done += 1
            self.status.last_day = days[-1]
            self.status.days_decided += 1
            self.status.findings_reported += sum(
                m["findings_reported"] for m in summary["decide"]["decisions"].values())
            self.status.last_error = None
        self.status.last_tick_at = datetime.now(UTC)
        return done

    def start(self) -> None:
        """Tick now and then every ``every_s`` seconds, until :meth:`stop`."""
        self._thread = threading.Thread(target=self._run, name="gigaloop-decide", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop after the day being decided (if any) is done."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.status.every_s)


__all__ = ["DecisionSchedule", "ScheduleStatus"]
