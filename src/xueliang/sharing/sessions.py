"""Sessions: who is calling, from an access token, an API key or a console cookie (issue 5).

- **Access tokens** are short-lived JWTs (15 min by default), HS256 with a 384-bit key in
  ``<data_dir>/auth-token.key``. Why not EdDSA like play tokens: play tokens are verified by media nodes that
  must not be able to mint them, so they need a public key; access tokens are minted and checked by API processes
  only, which hold the user database anyway, so a private/public split buys nothing, and HS256 pinned as the one
  accepted algorithm leaves no ``alg`` to confuse (``none`` and every other algorithm are refused). Each token
  names its login (``sid``); a revoked login kills its access tokens at once, not at expiry, and roles and unit
  are read fresh from the account on every request.
- **Refresh tokens** are opaque random strings stored as SHA-256, rotated on every use. A login is the *family*
  of its refresh tokens: presenting a token that was already rotated means it was copied, so the whole family
  (and every access token of it) is revoked and the event audited.
- **Console sessions** are an HTTP-only, ``SameSite=Lax`` cookie holding a random secret (stored hashed) with an
  idle and an absolute timeout. CSRF: a synchronizer token derived from the session, ``HMAC(key, session id)``:
  nothing extra to store, bound to the session (unlike a plain double-submit cookie, a cookie planted by a
  sibling subdomain cannot forge it), and required in the ``X-CSRF-Token`` header on every unsafe method. The
  console reads it from the login answer, from ``GET /auth/me``, or from the readable ``xueliang_csrf`` cookie.

Errors::

    AuthenticationError     401: no valid credential (``reason`` is for logs and audit, never secret)
    └── CsrfError           403: a cookie-authenticated unsafe request without the session's CSRF token
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy.orm import Session, sessionmaker

from xueliang.config import Settings
from xueliang.domain.audit import AuditAction, AuditSink
from xueliang.domain.principals import Principal
from xueliang.sharing.accounts import AccountService, UserView, sha256_hex, user_view
from xueliang.store.accounts import AccountRepository, SessionRecord
from xueliang.store.crypto import read_or_create_secret_file
from xueliang.store.db import transaction

KEY_FILE_NAME = "auth-token.key"
ALGORITHM = "HS256"
ISSUER = "xueliang"
AUDIENCE = "xueliang-api"
LEEWAY_S = 5  # clock skew between API processes
COOKIE_NAME = "xueliang_session"
CSRF_COOKIE_NAME = "xueliang_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCH_EVERY = dt.timedelta(seconds=60)  # a console session's last_seen is written at most once a minute
MAX_TOKEN_LENGTH = 4096


class AuthenticationError(Exception):
    status = 401

    def __init__(
        self, reason: str, zh: str = "未登录或登录已失效", en: str = "Not signed in, or the login expired"
    ) -> None:
        super().__init__(f"{en} ({reason})")
        self.reason, self.zh, self.en = reason, zh, en


class CsrfError(AuthenticationError):
    status = 403

    def __init__(self) -> None:
        super().__init__(
            "csrf",
            f"缺少或错误的 CSRF 令牌（请求头 {CSRF_HEADER}）",
            f"Missing or wrong CSRF token (header {CSRF_HEADER})",
        )


@dataclass(frozen=True, slots=True)
class TokenPair:
    """The answer to a password or refresh grant (OAuth2 field names)."""

    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)


@dataclass(frozen=True, slots=True)
class ConsoleLogin:
    """A console login: ``cookie`` goes in the HTTP-only cookie, ``csrf_token`` to the page."""

    cookie: str
    csrf_token: str
    max_age: int
    session_id: str
    user: UserView


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A principal with the login it came through (``session_id`` None for API keys)."""

    principal: Principal
    session_id: str | None
    method: str  # bearer | api_key | cookie


def load_or_create_key(data_dir: Path) -> bytes:
    key = read_or_create_secret_file(data_dir / KEY_FILE_NAME, lambda: secrets.token_urlsafe(48).encode()).strip()
    if len(key) < 32:
        raise ValueError(f"{data_dir / KEY_FILE_NAME} holds a key shorter than 32 bytes")
    return key


def _epoch(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.UTC).timestamp())


class SessionService:
    """Logins, token refresh, logout, and turning a credential into a :class:`Principal`."""

    def __init__(self, accounts: AccountService, sessions: sessionmaker[Session], key: bytes) -> None:
        self.accounts = accounts
        self.settings: Settings = accounts.settings
        self._sessions = sessions
        self._key = key

    def __repr__(self) -> str:
        return "SessionService(<key hidden>)"

    # logins
    def login_tokens(self, username: str, password: str, *, source_address: str | None = None) -> TokenPair:
        """The OAuth2 password grant: a new login (refresh-token family) with its first token pair."""
        user = self.accounts.verify_login(username, password, source_address=source_address, method="token")
        now = self.accounts.now()
        session_id = uuid.uuid4().hex
        refresh = secrets.token_urlsafe(32)
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            record = repository.get_user(user.username)
            assert record is not None
            expires = now + dt.timedelta(seconds=self.settings.session_max_age)
            repository.create_session(
                session_id=session_id,
                user_id=record.id,
                kind="token",
                expires_at=expires,
                source_address=source_address,
                at=now,
            )
            repository.add_refresh_token(sha256_hex(refresh), session_id, self._refresh_expiry(now, expires), now)
        return TokenPair(
            self._access_token(user.username, session_id), refresh, self.settings.access_token_ttl, session_id
        )

    def refresh(self, refresh_token: str, *, source_address: str | None = None) -> TokenPair:
        """Rotate: the presented token is spent and a new pair issued. A spent token presented again revokes
        its whole family (someone holds a copy)."""
        now = self.accounts.now()
        new_refresh = secrets.token_urlsafe(32)
        failure: AuthenticationError | None = None
        username = ""
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            record = repository.refresh_token(sha256_hex(refresh_token[:MAX_TOKEN_LENGTH]))
            family = None if record is None else repository.get_session(record.session_id)
            if record is None or family is None:
                failure = AuthenticationError("refresh_unknown")
            elif family.revoked_at is not None:
                failure = AuthenticationError("refresh_revoked")
            elif record.used_at is not None or not repository.use_refresh_token(record.id, now):
                repository.revoke_session(family.id, now, "refresh_reuse")
                failure = AuthenticationError("refresh_reuse")
            elif record.expires_at <= now or family.expires_at <= now:
                failure = AuthenticationError("refresh_expired")
            else:
                user = repository.user_by_id(family.user_id)
                if user is None or user.disabled:
                    failure = AuthenticationError("user_disabled")
                else:
                    username = user.username
                    repository.add_refresh_token(
                        sha256_hex(new_refresh), family.id, self._refresh_expiry(now, family.expires_at), now
                    )
        if failure is not None:
            if failure.reason == "refresh_reuse":
                self.accounts.record(
                    AuditAction.LOGIN_FAILED,
                    "anonymous",
                    outcome="refused",
                    details={"reason": "refresh_token_reuse", "session": family.id if family else ""},
                    source_address=source_address,
                )
            raise failure
        assert family is not None
        return TokenPair(
            self._access_token(username, family.id), new_refresh, self.settings.access_token_ttl, family.id
        )

    def login_console(self, username: str, password: str, *, source_address: str | None = None) -> ConsoleLogin:
        user = self.accounts.verify_login(username, password, source_address=source_address, method="console")
        now = self.accounts.now()
        session_id = uuid.uuid4().hex
        cookie = secrets.token_urlsafe(32)
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            record = repository.get_user(user.username)
            assert record is not None
            repository.create_session(
                session_id=session_id,
                user_id=record.id,
                kind="console",
                expires_at=now + dt.timedelta(seconds=self.settings.console_max_age),
                secret_hash=sha256_hex(cookie),
                source_address=source_address,
                at=now,
            )
        return ConsoleLogin(cookie, self.csrf_token(session_id), self.settings.console_max_age, session_id, user)

    def logout(self, session_id: str, *, actor: str, source_address: str | None = None) -> None:
        """End a login: its refresh tokens, access tokens or cookie stop working at once."""
        with transaction(self._sessions) as session:
            AccountRepository(session).revoke_session(session_id, self.accounts.now(), "logout")
        self.accounts.record(AuditAction.LOGOUT, actor, details={"session": session_id}, source_address=source_address)

    def csrf_token(self, session_id: str) -> str:
        return hmac.new(self._key, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()

    # authentication
    def authenticate_bearer(self, token: str) -> Principal:
        return self.bearer(token).principal

    def authenticate_api_key(self, key: str) -> Principal:
        return self.accounts.authenticate_api_key(key[:MAX_TOKEN_LENGTH])

    def authenticate_cookie(self, cookie: str, csrf_header: str | None, method: str) -> Principal:
        return self.cookie(cookie, csrf_header, method).principal

    def bearer(self, token: str) -> Authenticated:
        claims = self._decode(token)
        now = self.accounts.now()
        if int(claims["exp"]) + LEEWAY_S <= _epoch(now):
            raise AuthenticationError("token_expired", "登录已过期，请刷新或重新登录", "The token expired; refresh it")
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            family = repository.get_session(str(claims["sid"]))
            user = None if family is None else repository.user_by_id(family.user_id)
        self._check_session(family, now, kind="token")
        if user is None or user.disabled or user.username != claims["sub"]:
            raise AuthenticationError("user_disabled")
        return Authenticated(user_view(user).principal(), str(claims["sid"]), "bearer")

    def cookie(self, cookie: str, csrf_header: str | None, method: str) -> Authenticated:
        now = self.accounts.now()
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            family = repository.session_by_secret(sha256_hex(cookie[:MAX_TOKEN_LENGTH]))
            user = None if family is None else repository.user_by_id(family.user_id)
            self._check_session(family, now, kind="console")
            assert family is not None
            if now - family.last_seen_at > dt.timedelta(seconds=self.settings.console_idle_timeout):
                raise AuthenticationError(
                    "session_idle", "长时间未操作，请重新登录", "Idle for too long; sign in again"
                )
            if method.upper() not in SAFE_METHODS and not hmac.compare_digest(
                (csrf_header or "").encode(), self.csrf_token(family.id).encode()
            ):
                raise CsrfError()
            if user is None or user.disabled:
                raise AuthenticationError("user_disabled")
            if now - family.last_seen_at >= TOUCH_EVERY:
                repository.touch_session(family.id, now)
        return Authenticated(user_view(user).principal(), family.id, "cookie")

    def api_key(self, key: str) -> Authenticated:
        return Authenticated(self.authenticate_api_key(key), None, "api_key")

    # internals
    def _check_session(self, family: SessionRecord | None, now: dt.datetime, *, kind: str) -> None:
        if family is None or family.kind != kind:
            raise AuthenticationError("session_unknown")
        if family.revoked_at is not None:
            raise AuthenticationError(f"session_revoked:{family.revoked_reason}")
        if family.expires_at <= now:
            raise AuthenticationError("session_expired")

    def _refresh_expiry(self, now: dt.datetime, family_expires: dt.datetime) -> dt.datetime:
        return min(now + dt.timedelta(seconds=self.settings.refresh_token_ttl), family_expires)

    def _access_token(self, username: str, session_id: str) -> str:
        now = _epoch(self.accounts.now())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": username,
            "sid": session_id,
            "typ": "access",
            "iat": now,
            "exp": now + self.settings.access_token_ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)

    def _decode(self, token: str) -> dict[str, Any]:
        """Signature, algorithm (HS256 only), issuer, audience and claim presence; expiry is checked by the caller
        against the service clock (PyJWT would read the wall clock)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise AuthenticationError("token_malformed")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "sid", "typ"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationError("token_invalid") from exc
        if claims.get("typ") != "access" or not isinstance(claims.get("exp"), int):
            raise AuthenticationError("token_invalid")
        return claims


def build_session_service(
    settings: Settings,
    sessions: sessionmaker[Session],
    *,
    audit: AuditSink | None = None,
    auth_settings: Settings | None = None,
) -> SessionService:
    """Accounts and sessions of one process, the key read from (or created in) the data directory."""
    accounts = AccountService(sessions, auth_settings or settings, audit)
    return SessionService(accounts, sessions, load_or_create_key(settings.data_dir))
