"""What the app state hands out: roles and plain, frozen records (never ORM objects).

>>> Role("plant_engineer"), sorted(Role)[:2]
(<Role.plant_engineer: 'plant_engineer'>, [<Role.admin: 'admin'>, <Role.device: 'device'>])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal


class Role(StrEnum):
    """What a token may do; every API route names the roles it allows."""

    plant_engineer = "plant_engineer"
    fleet_operations = "fleet_operations"
    marketing_analyst = "marketing_analyst"
    device = "device"
    admin = "admin"


Verdict = Literal["approved", "rejected"]
OutboxState = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True)
class UserRecord:
    user_id: int
    name: str
    created_at: datetime


@dataclass(frozen=True)
class TokenRecord:
    """A token as stored: never its secret, only who holds it and what it may do."""

    token_id: str
    user: str
    role: Role
    source_id: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``token`` is the secret, shown once and stored only as a hash."""

    token: str
    record: TokenRecord


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user behind a valid token, its role and (devices) its source."""

    user: str
    role: Role
    token_id: str
    source_id: str | None = None

    @property
    def label(self) -> str:
        """How the caller is named in logs and quarantine rows (``device:ST-010``)."""
        return f"device:{self.source_id}" if self.role is Role.device else f"user:{self.user}"


@dataclass(frozen=True)
class Review:
    """A verdict on a change request: who, when, on which revision, and why."""

    change_id: str
    revision: int
    verdict: Verdict
    user: str
    reviewed_at: datetime
    comment: str


@dataclass(frozen=True)
class OutboxEntry:
    """An action waiting for (or done with) delivery to an actuator."""

    action_id: str
    kind: str
    payload: dict[str, Any]
    state: OutboxState
    attempts: int
    last_error: str | None
    updated_at: datetime


@dataclass(frozen=True)
class IngestEntry:
    """One payload sent to the ingest endpoint: taken (with its row counts) or refused."""

    table_name: str
    principal: str
    status: Literal["accepted", "refused"]
    http_status: int
    bytes: int
    received: int = 0
    written: int = 0
    unchanged: int = 0
    quarantined: int = 0
    reason: str | None = None
