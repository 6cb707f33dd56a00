"""The app state's tables as SQLAlchemy 2 ORM classes (Alembic migrations follow them).

Times are naive UTC, as everywhere in gigaloop. Tokens are kept as SHA-256 hashes of
their secret (a token is 256 random bits, so a fast hash suffices; a leaked table reveals
no token).

>>> sorted(Base.metadata.tables)  # doctest: +NORMALIZE_WHITESPACE
['actuator_outbox', 'api_tokens', 'change_reviews', 'connector_offsets', 'ingest_log',
 'server_secrets', 'users']
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gigaloop.appstate.records import Role

ROLES = ", ".join(f"'{role.value}'" for role in Role)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    user_id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token: its hash, holder, role, expiry; a device token names its source."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint(f"role IN ({ROLES})", name="known_role"),
        CheckConstraint("(role = 'device') = (source_id IS NOT NULL)",
                        name="device_tokens_have_a_source"),
    )

    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class ChangeReview(Base):
    """The verdict on a change request (one per change): who, when, which revision, why."""

    __tablename__ = "change_reviews"
    __table_args__ = (CheckConstraint("verdict IN ('approved', 'rejected')", name="verdict"),)

    review_id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[str] = mapped_column(String(64), unique=True)
    revision: Mapped[int]
    verdict: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id"))
    reviewed_at: Mapped[datetime]
    comment: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship(lazy="joined")


class ConnectorOffset(Base):
    """The last sequence number a source's connector has acknowledged (never moves back)."""

    __tablename__ = "connector_offsets"

    source_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    acknowledged_at: Mapped[datetime]


class OutboxAction(Base):
    """An action for an actuator, kept until it is delivered (at-least-once delivery)."""

    __tablename__ = "actuator_outbox"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="outbox_state"),
        Index("ix_actuator_outbox_state_created", "state", "created_at"),
    )

    action_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload_json: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IngestBatch(Base):
    """One payload sent to the ingest endpoint: accepted with its row counts, or refused."""

    __tablename__ = "ingest_log"
    __table_args__ = (CheckConstraint("status IN ('accepted', 'refused')", name="ingest_status"),)

    batch_id: Mapped[int] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(String(100), index=True)
    principal: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int]
    bytes: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(default=0)
    written: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str | None] = mapped_column(Text)


class ServerSecret(Base):
    """Secrets the service makes for itself on first start (the pseudonym key)."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
