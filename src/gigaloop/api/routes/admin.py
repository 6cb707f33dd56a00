"""Users and tokens (``admin`` only): a token's secret is in the answer that issues it,
and nowhere else, ever."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field, model_validator

from gigaloop.api.deps import ServicesDep, allow
from gigaloop.appstate import Role, TokenRecord
from gigaloop.appstate.access import MAX_TOKEN_DAYS

router = APIRouter(prefix="/admin", tags=["admin"])


class UserCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class UserPublic(BaseModel):
    user_id: int
    name: str
    created_at: datetime


class TokenCreate(BaseModel):
    """A token for ``user`` with ``role``; a device token names the ``source_id`` it may
    write for (a machine, station, site or VIN)."""

    user: str = Field(min_length=1, max_length=100)
    role: Role
    days: int = Field(90, ge=1, le=MAX_TOKEN_DAYS)
    source_id: str | None = Field(None, min_length=1, max_length=100)
    create_user: bool = False

    @model_validator(mode="after")
    def _device_has_source(self) -> TokenCreate:
        if (self.role is Role.device) != (self.source_id is not None):
            raise ValueError("a device token names its source_id; other roles name none")
        return self


class TokenPublic(BaseModel):
    token_id: str
    user: str
    role: Role
    source_id: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, record: TokenRecord) -> TokenPublic:
        return cls(**vars(record))


class TokenIssued(TokenPublic):
    token: str = Field(description="the secret: shown once, stored only as a hash")


@router.post("/users", status_code=status.HTTP_201_CREATED, **allow(Role.admin))
def create_user(body: UserCreate, services: ServicesDep) -> UserPublic:
    """A new user (409 if the name is taken)."""
    return UserPublic(**vars(services.state.access.create_user(body.name)))


@router.get("/users", **allow(Role.admin))
def list_users(services: ServicesDep) -> list[UserPublic]:
    return [UserPublic(**vars(u)) for u in services.state.access.users()]


@router.post("/tokens", status_code=status.HTTP_201_CREATED, **allow(Role.admin))
def issue_token(body: TokenCreate, services: ServicesDep) -> TokenIssued:
    """A new token; its secret is in this answer only."""
    issued = services.state.access.issue_token(
        body.user, body.role, days=body.days, source_id=body.source_id,
        create_user=body.create_user)
    return TokenIssued(token=issued.token, **vars(issued.record))


@router.get("/tokens", **allow(Role.admin))
def list_tokens(services: ServicesDep,
                user: Annotated[str | None, Query(max_length=100)] = None) -> list[TokenPublic]:
    """Every token (of ``user``), newest first, without secrets."""
    return [TokenPublic.of(t) for t in services.state.access.tokens(user)]


@router.delete("/tokens/{token_id}", **allow(Role.admin))
def revoke_token(token_id: str, services: ServicesDep) -> TokenPublic:
    """Revoke a token for good; it is refused from the next request on."""
    return TokenPublic.of(services.state.access.revoke(token_id))
