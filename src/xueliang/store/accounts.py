"""Accounts at rest: users, API keys, login sessions and refresh tokens (issue 5, migration ``0004b``).

Tables:

- ``user_account``: one person. Not ``user``: that word is reserved in PostgreSQL, where ``SELECT * FROM user``
  quietly answers with the database's current role instead of failing. Brute-force state lives on the row
  (``failed_attempts``, ``locked_until``) instead of a separate attempt table: the lockout needs only the count
  since the last success, and every attempt, good or bad, is an audit record anyway.
- ``api_key``: a machine client's key, found by its public ``prefix`` and checked against ``secret_hash``.
- ``auth_session``: one login (API token pair or console cookie). It is the *family* of the refresh tokens issued
  from that login: revoking it (logout, reuse of a rotated refresh token) kills every token of the family, and
  access tokens name it (``sid``) so they die with it.
- ``refresh_token``: one refresh token of a family, by hash; ``used_at`` is set when it is rotated.

Secrets are never stored: passwords as argon2 hashes, API key secrets, refresh tokens and cookie session secrets
as SHA-256 hex digests (they are 256-bit random values; see ``sharing/accounts.py``). Rules (lockout, password
policy, rotation) live in ``sharing``; this module only reads and writes rows, with conditional updates where two
processes may race (failure counts, rotation).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from xueliang.store.models import Base, Unit, _code, utcnow

SESSION_KINDS = ("token", "console")


class UserAccount(Base):
    """A person who logs in. ``roles`` is a JSON list of ``domain.principals.Role`` values."""

    __tablename__ = "user_account"
    __table_args__ = (Index("ix_user_account_unit_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(_code(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(255))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ApiKey(Base):
    """A machine client's key: ``xk_<prefix>_<secret>``; the prefix finds the row, the secret is hashed."""

    __tablename__ = "api_key"
    __table_args__ = (Index("ix_api_key_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(_code(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="RESTRICT"))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AuthSession(Base):
    """One login: the family of its refresh tokens, or a console cookie session (``secret_hash`` set)."""

    __tablename__ = "auth_session"
    __table_args__ = (
        CheckConstraint("kind IN ('token', 'console')", name="kind"),
        Index("ix_auth_session_user_id", "user_id"),
    )

    id: Mapped[str] = mapped_column(_code(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    source_address: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """One refresh token of a session (its family), by hash. Rotation sets ``used_at``; a second use is reuse."""

    __tablename__ = "refresh_token"
    __table_args__ = (Index("ix_refresh_token_session_id", "session_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[str] = mapped_column(_code(32), ForeignKey("auth_session.id", ondelete="CASCADE"))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    display_name: str
    unit_code: str
    roles: tuple[str, ...]
    password_hash: str
    failed_attempts: int
    locked_until: dt.datetime | None
    disabled: bool
    must_change_password: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    display_name: str
    unit_id: int
    roles: tuple[str, ...]
    password_hash: str
    must_change_password: bool = False


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: int
    prefix: str
    secret_hash: str
    name: str
    owner: str  # username
    scopes: tuple[str, ...]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    user_id: int
    kind: str
    created_at: dt.datetime
    expires_at: dt.datetime
    last_seen_at: dt.datetime
    revoked_at: dt.datetime | None
    revoked_reason: str | None


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    id: int
    session_id: str
    expires_at: dt.datetime
    used_at: dt.datetime | None


def _user(row: UserAccount, unit_code: str) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        unit_code=unit_code,
        roles=tuple(row.roles or ()),
        password_hash=row.password_hash,
        failed_attempts=row.failed_attempts,
        locked_until=row.locked_until,
        disabled=row.disabled,
        must_change_password=row.must_change_password,
        last_login_at=row.last_login_at,
        created_at=row.created_at,
    )


def _session(row: AuthSession) -> SessionRecord:
    return SessionRecord(
        row.id,
        row.user_id,
        row.kind,
        row.created_at,
        row.expires_at,
        row.last_seen_at,
        row.revoked_at,
        row.revoked_reason,
    )


def _key(row: ApiKey, owner: str) -> ApiKeyRecord:
    return ApiKeyRecord(
        row.id,
        row.prefix,
        row.secret_hash,
        row.name,
        owner,
        tuple(row.scopes or ()),
        row.created_at,
        row.expires_at,
        row.revoked_at,
    )


class AccountRepository:
    """Rows of users, API keys, sessions and refresh tokens, in the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # users
    def _users(self) -> Select[UserAccount, str]:
        return select(UserAccount, Unit.code).join(Unit, Unit.id == UserAccount.unit_id)

    def get_user(self, username: str) -> UserRecord | None:
        row = self.session.execute(self._users().where(UserAccount.username == username)).first()
        return None if row is None else _user(row[0], row[1])

    def user_by_id(self, user_id: int) -> UserRecord | None:
        row = self.session.execute(self._users().where(UserAccount.id == user_id)).first()
        return None if row is None else _user(row[0], row[1])

    def list_users(self, unit_code: str | None = None) -> list[UserRecord]:
        statement = self._users().order_by(UserAccount.username)
        if unit_code is not None:
            statement = statement.where(Unit.code == unit_code)
        return [_user(row[0], row[1]) for row in self.session.execute(statement)]

    def create_user(self, new: NewUser) -> UserRecord:
        now = utcnow()
        row = UserAccount(
            username=new.username,
            display_name=new.display_name,
            unit_id=new.unit_id,
            roles=list(new.roles),
            password_hash=new.password_hash,
            failed_attempts=0,
            disabled=False,
            must_change_password=new.must_change_password,
            password_changed_at=now,
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        self.session.flush()
        record = self.user_by_id(row.id)
        assert record is not None
        return record

    def _update_user(self, user_id: int, **values: object) -> None:
        self.session.execute(update(UserAccount).where(UserAccount.id == user_id).values(updated_at=utcnow(), **values))

    def set_password_hash(self, user_id: int, password_hash: str, *, must_change: bool | None = None) -> None:
        """A new hash (a changed password, or the same password rehashed with new parameters)."""
        values: dict[str, object] = {"password_hash": password_hash}
        if must_change is not None:
            values.update(must_change_password=must_change, password_changed_at=utcnow())
        self._update_user(user_id, **values)

    def add_failure(self, user_id: int) -> int:
        """Count one failed login (atomically: two processes failing at once both count); the new count."""
        self.session.execute(
            update(UserAccount).where(UserAccount.id == user_id).values(failed_attempts=UserAccount.failed_attempts + 1)
        )
        return int(self.session.scalar(select(UserAccount.failed_attempts).where(UserAccount.id == user_id)) or 0)

    def set_lock(self, user_id: int, until: dt.datetime | None) -> None:
        """Lock until ``until``; ``None`` unlocks and forgets the failures."""
        values: dict[str, object] = {"locked_until": until}
        if until is None:
            values["failed_attempts"] = 0
        self._update_user(user_id, **values)

    def record_login(self, user_id: int, at: dt.datetime) -> None:
        self.session.execute(
            update(UserAccount)
            .where(UserAccount.id == user_id)
            .values(failed_attempts=0, locked_until=None, last_login_at=at)
        )

    def set_disabled(self, user_id: int, disabled: bool) -> None:
        self._update_user(user_id, disabled=disabled)

    # API keys
    def create_api_key(
        self,
        *,
        prefix: str,
        secret_hash: str,
        name: str,
        user_id: int,
        scopes: Sequence[str],
        expires_at: dt.datetime | None,
    ) -> None:
        self.session.add(
            ApiKey(
                prefix=prefix,
                secret_hash=secret_hash,
                name=name,
                user_id=user_id,
                scopes=list(scopes),
                created_at=utcnow(),
                expires_at=expires_at,
            )
        )
        self.session.flush()

    def api_key(self, prefix: str) -> ApiKeyRecord | None:
        row = self.session.execute(
            select(ApiKey, UserAccount.username)
            .join(UserAccount, UserAccount.id == ApiKey.user_id)
            .where(ApiKey.prefix == prefix)
        ).first()
        return None if row is None else _key(row[0], row[1])

    def list_api_keys(self, owner: str | None = None) -> list[ApiKeyRecord]:
        statement = (
            select(ApiKey, UserAccount.username)
            .join(UserAccount, UserAccount.id == ApiKey.user_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
        if owner is not None:
            statement = statement.where(UserAccount.username == owner)
        return [_key(row[0], row[1]) for row in self.session.execute(statement)]

    def revoke_api_key(self, prefix: str, at: dt.datetime) -> bool:
        """Revoke a live key; False when there is no such key or it was already revoked."""
        result = self.session.execute(
            update(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)).values(revoked_at=at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # sessions (refresh-token families and console sessions)
    def create_session(
        self,
        *,
        session_id: str,
        user_id: int,
        kind: str,
        expires_at: dt.datetime,
        secret_hash: str | None = None,
        source_address: str | None = None,
        at: dt.datetime | None = None,
    ) -> None:
        now = at or utcnow()
        self.session.add(
            AuthSession(
                id=session_id,
                user_id=user_id,
                kind=kind,
                secret_hash=secret_hash,
                source_address=source_address,
                created_at=now,
                expires_at=expires_at,
                last_seen_at=now,
            )
        )
        self.session.flush()

    def get_session(self, session_id: str) -> SessionRecord | None:
        row = self.session.get(AuthSession, session_id)
        return None if row is None else _session(row)

    def session_by_secret(self, secret_hash: str) -> SessionRecord | None:
        row = self.session.scalar(select(AuthSession).where(AuthSession.secret_hash == secret_hash))
        return None if row is None else _session(row)

    def touch_session(self, session_id: str, at: dt.datetime) -> None:
        self.session.execute(update(AuthSession).where(AuthSession.id == session_id).values(last_seen_at=at))

    def revoke_session(self, session_id: str, at: dt.datetime, reason: str) -> bool:
        result = self.session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def revoke_user_sessions(self, user_id: int, at: dt.datetime, reason: str) -> int:
        """Every live session of a user (password changed, account disabled)."""
        result = self.session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=at, revoked_reason=reason)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # refresh tokens
    def add_refresh_token(
        self, token_hash: str, session_id: str, expires_at: dt.datetime, at: dt.datetime | None = None
    ) -> None:
        self.session.add(
            RefreshToken(token_hash=token_hash, session_id=session_id, issued_at=at or utcnow(), expires_at=expires_at)
        )
        self.session.flush()

    def refresh_token(self, token_hash: str) -> RefreshRecord | None:
        row = self.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
        return None if row is None else RefreshRecord(row.id, row.session_id, row.expires_at, row.used_at)

    def use_refresh_token(self, token_id: int, at: dt.datetime) -> bool:
        """Mark a refresh token rotated; False when it already was (a concurrent or replayed use)."""
        result = self.session.execute(
            update(RefreshToken).where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None)).values(used_at=at)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
