"""What the service records as it runs: verdicts on change requests, connector offsets,
the actuator outbox and the ingest log.

>>> from gigaloop.appstate import AppState
>>> state = AppState("sqlite://")
>>> _ = state.access.create_user("ana")
>>> state.reviews.record("C001", 2, "approved", user="ana", comment="lot contained").verdict
'approved'
>>> state.offsets.acknowledge("mqtt:ST-010", 41), state.offsets.acknowledge("mqtt:ST-010", 7)
(41, 41)
>>> state.outbox.enqueue("A1", "maintenance_order", {"machine_id": "M1"}).state
'pending'
>>> state.outbox.mark_failed("A1", "CMMS answered 503").attempts
1
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gigaloop.appstate.clock import utcnow
from gigaloop.appstate.models import (
    ChangeReview,
    ConnectorOffset,
    IngestBatch,
    OutboxAction,
    User,
)
from gigaloop.appstate.records import IngestEntry, OutboxEntry, Review, Verdict
from gigaloop.errors import ConfigError, ConflictError, NotFoundError


class Reviews:
    """One verdict per change request: approved or rejected, by whom, when, why."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, change_id: str, revision: int, verdict: Verdict, *, user: str,
               comment: str = "", now: datetime | None = None) -> Review:
        """Record ``user``'s verdict on ``change_id`` as of ``revision``; a second verdict on
        the same change request is a :class:`ConflictError` naming the first."""
        if verdict not in ("approved", "rejected"):
            raise ConfigError(f"a verdict is 'approved' or 'rejected', not {verdict!r}")
        try:
            with self._sessions.begin() as session:
                reviewer = session.scalar(select(User).where(User.name == user))
                if reviewer is None:
                    raise NotFoundError(f"no user {user!r}", user=user)
                row = ChangeReview(change_id=change_id, revision=revision, verdict=verdict,
                                   user=reviewer, reviewed_at=now or utcnow(), comment=comment)
                session.add(row)
                session.flush()
                return _review(row)
        except IntegrityError as exc:
            first = self.of([change_id])[change_id]
            raise ConflictError(
                f"change request {change_id} was already {first.verdict} by {first.user} "
                f"at {first.reviewed_at:%Y-%m-%d %H:%M} UTC", change_id=change_id) from exc

    def of(self, change_ids: Iterable[str] | None = None) -> dict[str, Review]:
        """The verdicts on ``change_ids`` (on every change request when None), by id."""
        with self._sessions() as session:
            query = select(ChangeReview)
            if change_ids is not None:
                query = query.where(ChangeReview.change_id.in_(list(change_ids)))
            return {r.change_id: _review(r) for r in session.scalars(query)}


class Offsets:
    """Per source, the last sequence number its connector acknowledged."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def get(self, source_id: str) -> int | None:
        with self._sessions() as session:
            row = session.get(ConnectorOffset, source_id)
            return None if row is None else row.sequence

    def acknowledge(self, source_id: str, sequence: int, *, now: datetime | None = None) -> int:
        """Move the offset to ``sequence`` unless it is already further (a replayed message
        never moves it back); the offset now stored."""
        with self._sessions.begin() as session:
            row = session.get(ConnectorOffset, source_id, with_for_update=True)
            if row is None:
                session.add(ConnectorOffset(source_id=source_id, sequence=sequence,
                                            acknowledged_at=now or utcnow()))
                return sequence
            if sequence > row.sequence:
                row.sequence, row.acknowledged_at = sequence, now or utcnow()
            return row.sequence


class Outbox:
    """Actions waiting for an actuator: enqueued once, retried until delivered."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def enqueue(self, action_id: str, kind: str, payload: dict[str, Any], *,
                now: datetime | None = None) -> OutboxEntry:
        """Add an action; enqueuing the same id with the same payload again changes nothing,
        with another payload it is a :class:`ConflictError`."""
        text = json.dumps(payload, sort_keys=True, default=str)
        with self._sessions.begin() as session:
            row = session.get(OutboxAction, action_id)
            if row is not None:
                if row.kind != kind or row.payload_json != text:
                    raise ConflictError(f"action {action_id} is queued with another payload",
                                        action_id=action_id)
                return _entry(row)
            now = now or utcnow()
            row = OutboxAction(action_id=action_id, kind=kind, payload_json=text, state="pending",
                               attempts=0, created_at=now, updated_at=now)
            session.add(row)
            return _entry(row)

    def pending(self, limit: int = 100) -> list[OutboxEntry]:
        """Actions not delivered yet (pending or failed), oldest first."""
        with self._sessions() as session:
            rows = session.scalars(select(OutboxAction).where(OutboxAction.state != "delivered")
                                   .order_by(OutboxAction.created_at).limit(limit))
            return [_entry(r) for r in rows]

    def mark_delivered(self, action_id: str, *, now: datetime | None = None) -> OutboxEntry:
        return self._attempted(action_id, None, now)

    def mark_failed(self, action_id: str, error: str, *,
                    now: datetime | None = None) -> OutboxEntry:
        return self._attempted(action_id, error, now)

    def _attempted(self, action_id: str, error: str | None, now: datetime | None) -> OutboxEntry:
        with self._sessions.begin() as session:
            row = session.get(OutboxAction, action_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no action {action_id!r} in the outbox", action_id=action_id)
            row.attempts += 1
            row.state, row.last_error = ("failed", error) if error else ("delivered", None)
            row.updated_at = now or utcnow()
            return _entry(row)


class IngestLog:
    """Every payload sent to ``POST /ingest``: taken with its counts, or refused and why."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(self, entry: IngestEntry, *, now: datetime | None = None) -> None:
        with self._sessions.begin() as session:
            session.add(IngestBatch(received_at=now or utcnow(), **asdict(entry)))

    def totals(self, table_name: str | None = None) -> dict[str, int]:
        """Payloads accepted and refused, and the rows of the accepted ones."""
        columns = [IngestBatch.received, IngestBatch.written, IngestBatch.unchanged,
                   IngestBatch.quarantined]
        with self._sessions() as session:
            query = select(IngestBatch.status, func.count(), *(func.sum(c) for c in columns))
            if table_name is not None:
                query = query.where(IngestBatch.table_name == table_name)
            out = dict.fromkeys(("payloads_accepted", "payloads_refused", "received",
                                 "written", "unchanged", "quarantined"), 0)
            for status, payloads, *rows in session.execute(query.group_by(IngestBatch.status)):
                out[f"payloads_{status}"] = int(payloads)
                for column, value in zip(columns, rows, strict=True):
                    out[column.key] += int(value or 0)
            return out

    def refusals(self, table_name: str | None = None, limit: int = 100) -> list[IngestEntry]:
        """The latest refused payloads (newest first), with the reason each got."""
        with self._sessions() as session:
            query = select(IngestBatch).where(IngestBatch.status == "refused")
            if table_name is not None:
                query = query.where(IngestBatch.table_name == table_name)
            rows = session.scalars(query.order_by(IngestBatch.batch_id.desc()).limit(limit))
            return [IngestEntry(r.table_name, r.principal, "refused", r.http_status, r.bytes,
                                reason=r.reason) for r in rows]


def _review(row: ChangeReview) -> Review:
    return Review(row.change_id, row.revision, row.verdict,  # type: ignore[arg-type]
                  row.user.name, row.reviewed_at, row.comment)


def _entry(row: OutboxAction) -> OutboxEntry:
    return OutboxEntry(row.action_id, row.kind, json.loads(row.payload_json),
                       row.state, row.attempts, row.last_error,  # type: ignore[arg-type]
                       row.updated_at)
