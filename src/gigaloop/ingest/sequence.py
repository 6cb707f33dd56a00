"""Loss detection: sequence numbers per source, and what a connector counts per source.

Every publisher numbers its messages per source (Sparkplug B: ``seq`` 0–255 per edge
node, wrapping; gigaloop's JSON: an unbounded ``seq`` per source). A broker that drops
messages (Mosquitto's stock queue limits do, silently) leaves holes in those numbers:
:class:`SequenceTracker` finds them. A number seen again is a *duplicate* (a QoS 1
redelivery); one behind the newest that fills a hole is *recovered* (late, not lost).

>>> tracker = SequenceTracker()
>>> [tracker.see(n) for n in (0, 1, 4, 2, 4)]
['first', 'ok', 'gap', 'recovered', 'duplicate']
>>> tracker.gaps, tracker.missing, tracker.duplicates
(1, 1, 1)
>>> wrapping = SequenceTracker(modulus=256)
>>> [wrapping.see(n) for n in (254, 255, 0, 2)], wrapping.missing
(['first', 'ok', 'ok', 'gap'], 1)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Seen = Literal["first", "ok", "gap", "duplicate", "recovered", "late"]

#: Holes remembered per source (to tell a late message from a duplicate).
MAX_REMEMBERED = 10_000


class SequenceTracker:
    """The sequence numbers of one source: holes, duplicates and late arrivals.

    ``modulus`` wraps the numbers (256 for Sparkplug B); a step of more than half of it
    backwards counts as behind, not ahead. The first number seen (and any number after
    :meth:`restart`) sets the baseline: nothing before it is known.
    """

    def __init__(self, modulus: int | None = None) -> None:
        self.modulus = modulus
        self.gaps = 0  # holes opened
        self.missing = 0  # numbers skipped and not (yet) seen
        self.duplicates = 0
        self.late = 0  # behind the newest, neither a known hole nor a duplicate
        self._newest: int | None = None  # unwrapped position of the newest number
        self._holes: set[int] = set()
        self._seen_recently: set[int] = set()

    def restart(self) -> None:
        """A new session of the source (a Sparkplug NBIRTH): the next number is a baseline."""
        self._newest = None
        self._holes.clear()
        self._seen_recently.clear()

    def resume(self, number: int) -> None:
        """Continue after ``number``, the last one acknowledged before a restart of the
        connector: the next number is checked against it, so a hole across the restart
        counts.

        >>> tracker = SequenceTracker()
        >>> tracker.resume(41)
        >>> tracker.see(45), tracker.missing, tracker.newest
        ('gap', 3, 45)
        """
        self.restart()
        self._newest = number
        self._seen_recently = {number}

    @property
    def newest(self) -> int | None:
        """The newest number seen (unwrapped: it keeps counting past the modulus)."""
        return self._newest

    def see(self, number: int) -> Seen:
        """Record one message's sequence number; what it was."""
        if self._newest is None:
            self._newest = number
            self._seen_recently = {number}
            return "first"
        step = number - self._newest
        if self.modulus is not None:
            step %= self.modulus
            if step > self.modulus // 2:
                step -= self.modulus
        position = self._newest + step
        if step > 0:
            self._newest = position
            self._remember(position)
            if step == 1:
                return "ok"
            skipped = range(position - step + 1, position)
            self.gaps += 1
            self.missing += len(skipped)
            if len(self._holes) < MAX_REMEMBERED:
                self._holes.update(skipped)
            return "gap"
        if position in self._holes:
            self._holes.discard(position)
            self.missing -= 1
            self._remember(position)
            return "recovered"
        if position in self._seen_recently or step == 0:
            self.duplicates += 1
            return "duplicate"
        self.late += 1
        return "late"

    def _remember(self, position: int) -> None:
        if len(self._seen_recently) >= MAX_REMEMBERED:
            self._seen_recently = {p for p in self._seen_recently if p > position - 1000}
        self._seen_recently.add(position)


@dataclass
class SourceStats:
    """What one source sent and what became of it, in rows and messages.

    ``rows_received == written + unchanged + quarantined + rejected``: rejected rows never
    reached the store (their message was malformed); quarantined ones did, with a reason.
    """

    messages: int = 0
    rejected_messages: int = 0
    rows_received: int = 0
    written: int = 0
    unchanged: int = 0
    quarantined: int = 0
    rejected: int = 0
    gaps: int = 0
    missing: int = 0
    duplicates: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def count_reason(self, reason: str, n: int = 1) -> None:
        self.reasons[reason] = self.reasons.get(reason, 0) + n


@dataclass
class ConnectorStats:
    """Per-source counts of a connector, and its totals (:meth:`total`)."""

    sources: dict[str, SourceStats] = field(default_factory=dict)

    def source(self, name: str) -> SourceStats:
        if name not in self.sources:
            self.sources[name] = SourceStats()
        return self.sources[name]

    def total(self) -> SourceStats:
        """Every source's counts added up.

        >>> stats = ConnectorStats()
        >>> stats.source("a").written, stats.source("b").written = 2, 3
        >>> stats.total().written
        5
        """
        total = SourceStats()
        for one in self.sources.values():
            for name, value in asdict(one).items():
                if name == "reasons":
                    for reason, n in value.items():
                        total.count_reason(reason, n)
                else:
                    setattr(total, name, getattr(total, name) + value)
        return total

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for JSON): ``{"total": {...}, "sources": {name: {...}}}``."""
        return {"total": asdict(self.total()),
                "sources": {name: asdict(s) for name, s in sorted(self.sources.items())}}
