"""Users, bearer tokens and the service's own secrets.

A token is ``glp_`` and 43 URL-safe characters (256 random bits). Only its SHA-256 hash
is stored; the secret is returned once, when issued. A token has one role and an expiry;
a ``device`` token is bound to one source id (a machine, station, site or VIN) and any
other role has none.

>>> from gigaloop.appstate import AppState
>>> state = AppState("sqlite://")
>>> issued = state.access.issue_token("ops", Role.fleet_operations, create_user=True)
>>> state.access.authenticate(issued.token).role
<Role.fleet_operations: 'fleet_operations'>
>>> _ = state.access.revoke(issued.record.token_id)
>>> state.access.authenticate(issued.token)
Traceback (most recent call last):
gigaloop.errors.AuthError: token revoked
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gigaloop.appstate.clock import utcnow
from gigaloop.appstate.models import ApiToken, ServerSecret, User
from gigaloop.appstate.records import IssuedToken, Principal, Role, TokenRecord, UserRecord
from gigaloop.errors import AuthError, ConfigError, ConflictError, NotFoundError

TOKEN_PREFIX = "glp_"
MAX_TOKEN_DAYS = 3650


def hash_token(token: str) -> str:
    """The stored form of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class Access:
    """Users and their tokens, in the app-state database behind ``sessions``."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # ---- users ---------------------------------------------------------------------------
    def create_user(self, name: str, *, now: datetime | None = None) -> UserRecord:
        """A new user; :class:`ConflictError` if the name is taken."""
        name = name.strip()
        if not name or len(name) > 100:
            raise ConfigError("a user name is 1 to 100 characters", user=name)
        try:
            with self._sessions.begin() as session:
                user = User(name=name, created_at=now or utcnow())
                session.add(user)
                session.flush()
                return _user(user)
        except IntegrityError as exc:
            raise ConflictError(f"user {name!r} exists", user=name) from exc

    def user(self, name: str) -> UserRecord:
        with self._sessions() as session:
            return _user(self._find_user(session, name))

    def users(self) -> list[UserRecord]:
        with self._sessions() as session:
            return [_user(u) for u in session.scalars(select(User).order_by(User.name))]

    # ---- tokens --------------------------------------------------------------------------
    def issue_token(self, user: str, role: Role | str, *, days: int = 90,
                    source_id: str | None = None, create_user: bool = False,
                    now: datetime | None = None) -> IssuedToken:
        """A new token for ``user`` (created first when ``create_user``); the secret is in
        the result only."""
        if role not in set(Role):
            raise ConfigError(f"unknown role {role!r}; roles: {', '.join(Role)}", role=role)
        role = Role(role)
        if (role is Role.device) != (source_id is not None):
            raise ConfigError("a device token names its source id; other roles name none",
                              role=role.value, source_id=source_id)
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise ConfigError(f"a token lasts 1 to {MAX_TOKEN_DAYS} days", days=days)
        now = now or utcnow()
        if create_user:
            with contextlib.suppress(ConflictError):  # an existing user is fine
                self.create_user(user, now=now)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            row = ApiToken(token_id=secrets.token_hex(8), token_hash=hash_token(token),
                           user=self._find_user(session, user), role=role.value,
                           source_id=source_id, created_at=now,
                           expires_at=now + timedelta(days=days))
            session.add(row)
            session.flush()
            return IssuedToken(token, _token(row))

    def authenticate(self, token: str, *, now: datetime | None = None) -> Principal:
        """Who holds ``token``; :class:`AuthError` if it is unknown, expired or revoked."""
        if not token.startswith(TOKEN_PREFIX):
            raise AuthError("not a gigaloop token (they start with 'glp_')")
        with self._sessions() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
            if row is None:
                raise AuthError("unknown token")
            if row.revoked_at is not None:
                raise AuthError("token revoked", token_id=row.token_id)
            if row.expires_at <= (now or utcnow()):
                raise AuthError(f"token expired at {row.expires_at:%Y-%m-%d %H:%M} UTC",
                                token_id=row.token_id)
            return Principal(row.user.name, Role(row.role), row.token_id, row.source_id)

    def revoke(self, token_id: str, *, now: datetime | None = None) -> TokenRecord:
        """Revoke a token for good (revoking twice keeps the first time)."""
        with self._sessions.begin() as session:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise NotFoundError(f"no token {token_id!r}", token_id=token_id)
            row.revoked_at = row.revoked_at or now or utcnow()
            return _token(row)

    def tokens(self, user: str | None = None) -> list[TokenRecord]:
        """Every token (of ``user``), newest first: never their secrets."""
        with self._sessions() as session:
            query = select(ApiToken).order_by(ApiToken.created_at.desc())
            if user is not None:
                query = query.where(ApiToken.user_id == self._find_user(session, user).user_id)
            return [_token(t) for t in session.scalars(query)]

    # ---- the service's secrets -----------------------------------------------------------
    def secret(self, name: str) -> str:
        """The secret called ``name``, made (256 random bits) the first time it is asked for."""
        with self._sessions() as session:
            found = session.get(ServerSecret, name)
            if found is not None:
                return found.value
        try:
            with self._sessions.begin() as session:
                session.add(ServerSecret(name=name, value=secrets.token_hex(32)))
        except IntegrityError:  # another process made it first: use theirs
            pass
        with self._sessions() as session:
            return session.get_one(ServerSecret, name).value

    @staticmethod
    def _find_user(session: Session, name: str) -> User:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFoundError(f"no user {name!r}", user=name)
        return user


def _user(user: User) -> UserRecord:
    return UserRecord(user.user_id, user.name, user.created_at)


def _token(row: ApiToken) -> TokenRecord:
    return TokenRecord(row.token_id, row.user.name, Role(row.role), row.source_id,
                       row.created_at, row.expires_at, row.revoked_at)
