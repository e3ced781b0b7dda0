"""Accounts: users with roles in a unit, argon2 passwords, lockout, password rules, scoped API keys (issue 5).

Why these choices:

- Passwords are argon2id hashes (argon2-cffi). A hash made with older parameters is rehashed at the next good
  login, so raising the cost in the settings reaches every account without a reset.
- Brute force: after ``login_max_failures`` bad passwords in a row the account is locked for
  ``login_lockout_minutes``. While locked the password is not even checked (no oracle, no CPU for the attacker);
  an unknown username costs the same argon2 verification as a known one, so timing does not reveal accounts.
- API keys are ``xk_<prefix>_<secret>``: the prefix (public, shown in lists and audit records) finds the row in
  one indexed lookup, and the secret is 256 random bits stored as its SHA-256. A slow hash protects guessable
  secrets; nobody can guess 256 random bits, so SHA-256 is as safe here and costs microseconds per API call,
  where argon2 would cost tens of milliseconds and megabytes per request (an easy denial of service).
- Separation of duties (等保 2.0 三员分立): one account cannot be two of system administrator, security
  administrator and auditor.

Every login, failure and account change is an :class:`~xueliang.domain.audit.AuditEvent` on the optional sink;
the sink is fail-closed, so when it raises, the login is refused with it.

Errors::

    AccountError                    zh/en message, an HTTP-like status hint
    ├── InvalidCredentialsError     unknown user or wrong password (never says which)
    ├── AccountLockedError          too many failures; ``until`` says when it opens again
    ├── AccountDisabledError        switched off by an administrator
    ├── PasswordRejectedError       the password breaks the rules (``problems``: zh/en pairs)
    ├── InvalidAccountError         bad username, role, scope, duplicate user, unknown unit
    ├── UserNotFoundError
    └── ApiKeyInvalidError          unknown, malformed, revoked or expired key, or its owner is disabled
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from xueliang.config import Settings
from xueliang.domain.audit import AuditAction, AuditEvent, AuditSink
from xueliang.domain.principals import Principal, PrincipalKind, Role
from xueliang.store.accounts import AccountRepository, ApiKeyRecord, NewUser, UserRecord
from xueliang.store.db import transaction
from xueliang.store.models import utcnow
from xueliang.store.units import NewUnit, UnitInfo, UnitRepository

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{1,63}$")  # no ':' (API key principals are "apikey:<prefix>")
SCOPE = re.compile(r"^[a-z][a-z0-9_]*([.:][a-z][a-z0-9_]*)*$")  # live, cameras:read, share.read
API_KEY = re.compile(r"^xk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes any length; a megabyte "password" is a denial of service
UNIT_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
UNIT_KINDS = frozenset({"department", "enterprise", "other"})
EXCLUSIVE_ROLES = frozenset({Role.SYSADMIN, Role.SECADMIN, Role.AUDITOR})


class AccountError(Exception):
    status = 400

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


class InvalidCredentialsError(AccountError):
    status = 401

    def __init__(self) -> None:
        super().__init__("用户名或密码错误", "Wrong username or password")


class AccountLockedError(AccountError):
    status = 423

    def __init__(self, until: dt.datetime) -> None:
        stamp = until.strftime("%Y-%m-%d %H:%M:%S UTC")
        super().__init__(
            f"登录失败次数过多，账号已锁定至 {stamp}", f"Too many failed logins: the account is locked until {stamp}"
        )
        self.until = until


class AccountDisabledError(AccountError):
    status = 403

    def __init__(self) -> None:
        super().__init__("账号已停用，请联系系统管理员", "The account is disabled; ask the system administrator")


class PasswordRejectedError(AccountError):
    status = 422

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        super().__init__(
            "密码不符合要求：" + "；".join(p[0] for p in problems),
            "Password rejected: " + "; ".join(p[1] for p in problems),
        )
        self.problems = list(problems)


class InvalidAccountError(AccountError):
    status = 422


class UserNotFoundError(AccountError):
    status = 404

    def __init__(self, username: str) -> None:
        super().__init__(f"用户 {username} 不存在", f"No user {username}")


class UnitExistsError(AccountError):
    status = 409

    def __init__(self, code: str) -> None:
        super().__init__(f"单位 {code} 已存在", f"Unit {code} already exists")


class ApiKeyInvalidError(AccountError):
    status = 401

    def __init__(self, reason: str) -> None:
        super().__init__("API 密钥无效或已吊销", "The API key is not valid or has been revoked")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The configurable password rules: length, character classes, not the username."""

    min_length: int = 12
    min_classes: int = 3

    def problems(self, password: str, username: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if len(password) < self.min_length:
            found.append((f"至少 {self.min_length} 个字符", f"at least {self.min_length} characters"))
        if len(password) > MAX_PASSWORD_LENGTH:
            found.append((f"至多 {MAX_PASSWORD_LENGTH} 个字符", f"at most {MAX_PASSWORD_LENGTH} characters"))
        classes = sum(
            (
                any(c.islower() for c in password),
                any(c.isupper() for c in password),
                any(c.isdigit() for c in password),
                any(not c.isalnum() for c in password) or any(c.isalpha() and not c.isascii() for c in password),
            )
        )
        if classes < self.min_classes:
            found.append(
                (
                    f"至少包含小写字母、大写字母、数字、其他字符中的 {self.min_classes} 类",
                    f"at least {self.min_classes} of: lower case, upper case, digits, other characters",
                )
            )
        lowered, name = password.casefold(), username.casefold()
        # containment for names of 3+ characters ("li" is in half of all Chinese pinyin passwords)
        contains = name in lowered or name[::-1] in lowered if len(name) >= 3 else lowered in (name, name[::-1])
        if name and contains:
            found.append(("不得包含用户名", "must not contain the username"))
        return found


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as callers see it (never the hash)."""

    username: str
    display_name: str
    unit_code: str
    roles: frozenset[Role]
    disabled: bool
    locked_until: dt.datetime | None
    failed_attempts: int
    must_change_password: bool
    last_login_at: dt.datetime | None
    created_at: dt.datetime

    def principal(self) -> Principal:
        return Principal(PrincipalKind.USER, self.username, self.display_name, self.unit_code, self.roles)


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    prefix: str
    name: str
    owner: str
    scopes: frozenset[str]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def principal_id(self) -> str:
        return f"apikey:{self.prefix}"


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    """A new key: ``secret`` is the whole key, shown once and never stored."""

    key: ApiKeyView
    secret: str


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Roles from their names, checked for separation of duties (三员分立)."""
    roles: set[Role] = set()
    for value in values:
        try:
            roles.add(Role(value))
        except ValueError as exc:
            known = ", ".join(r.value for r in Role)
            raise InvalidAccountError(f"未知角色 {value}（可用：{known}）", f"Unknown role {value} ({known})") from exc
    if not roles:
        raise InvalidAccountError("至少需要一个角色", "At least one role is required")
    if len(roles & EXCLUSIVE_ROLES) > 1:
        raise InvalidAccountError(
            "系统管理员、安全管理员、审计员不得由同一账号兼任（三员分立）",
            "System administrator, security administrator and auditor must be separate accounts",
        )
    return frozenset(roles)


def user_view(record: UserRecord) -> UserView:
    return UserView(
        username=record.username,
        display_name=record.display_name,
        unit_code=record.unit_code,
        roles=frozenset(Role(r) for r in record.roles if r in Role.__members__.values()),
        disabled=record.disabled,
        locked_until=record.locked_until,
        failed_attempts=record.failed_attempts,
        must_change_password=record.must_change_password,
        last_login_at=record.last_login_at,
        created_at=record.created_at,
    )


def _key_view(record: ApiKeyRecord) -> ApiKeyView:
    return ApiKeyView(
        record.prefix,
        record.name,
        record.owner,
        frozenset(record.scopes),
        record.created_at,
        record.expires_at,
        record.revoked_at,
    )


class AccountService:
    """Users, passwords, lockout and API keys. ``clock`` returns naive UTC (the store's convention)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings | None = None,
        audit: AuditSink | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.settings = settings or Settings()
        self._sessions = sessions
        self._audit = audit
        self._clock = clock
        self.policy = PasswordPolicy(self.settings.password_min_length, self.settings.password_min_classes)
        self._hasher = PasswordHasher(
            time_cost=self.settings.argon2_time_cost,
            memory_cost=self.settings.argon2_memory_kib,
            parallelism=self.settings.argon2_parallelism,
        )
        self._dummy_hash: str | None = None

    def now(self) -> dt.datetime:
        return self._clock()

    def record(
        self,
        action: AuditAction,
        actor: str,
        *,
        details: Mapping[str, object] | None = None,
        outcome: str = "ok",
        actor_unit: str | None = None,
        source_address: str | None = None,
    ) -> None:
        """One audit record on the sink (fail-closed: its error propagates to the caller)."""
        if self._audit is None:
            return
        event = AuditEvent(
            action=action,
            at=self.now(),
            actor=actor,
            actor_unit=actor_unit,
            source_address=source_address,
            outcome=outcome,
            details={key: str(value) for key, value in (details or {}).items()},
        )
        self._audit.record(event)

    # users
    def create_user(
        self,
        username: str,
        password: str,
        roles: Iterable[str],
        *,
        unit_code: str | None = None,
        display_name: str | None = None,
        must_change_password: bool = False,
        actor: str = "system",
    ) -> UserView:
        if not USERNAME.match(username):
            raise InvalidAccountError(
                "用户名须为 2-64 位字母、数字或 _ . @ -，以字母或数字开头",
                "A username is 2-64 letters, digits or _ . @ -, starting with a letter or digit",
            )
        parsed = parse_roles(roles)
        self.check_password(password, username)
        password_hash = self._hasher.hash(password)
        try:
            with transaction(self._sessions) as session:
                unit_id = self._unit_id(session, unit_code)
                repository = AccountRepository(session)
                if repository.get_user(username) is not None:
                    raise _duplicate(username)
                record = repository.create_user(
                    NewUser(
                        username,
                        display_name or username,
                        unit_id,
                        tuple(sorted(r.value for r in parsed)),
                        password_hash,
                        must_change_password,
                    )
                )
        except IntegrityError as exc:  # created by someone else between the check and the insert
            raise _duplicate(username) from exc
        view = user_view(record)
        self.record(AuditAction.USER_CHANGE, actor, details={"change": "create", "user": username})
        return view

    def platform_unit_code(self) -> str:
        return self.settings.platform_unit

    def _unit_id(self, session: Session, unit_code: str | None) -> int:
        """The unit's key; without a code, the platform's own unit (created on first use when absent)."""
        units = UnitRepository(session)
        if unit_code is not None:
            unit = units.get_by_code(unit_code)
            if unit is None:
                raise InvalidAccountError(f"单位 {unit_code} 不存在", f"No unit {unit_code}")
            return unit.id
        code = self.settings.platform_unit
        unit = units.get_by_code(code)
        if unit is None:
            unit = units.create(NewUnit(code, "平台运营单位 / platform operator", "department", auto_created=True))
        return unit.id

    def create_unit(
        self, code: str, name: str, kind: str = "department", division_code: str | None = None, *, actor: str
    ) -> UnitInfo:
        """A unit users can belong to (a department, the data bureau, an enterprise); 409 when it exists."""
        if not UNIT_CODE.match(code) or not name.strip() or kind not in UNIT_KINDS:
            raise InvalidAccountError(
                "单位代码为 1-64 位字母、数字或 _ -，名称必填，类型为 department/enterprise/other",
                "A unit code is 1-64 letters, digits, _ or -; the name is required; kind is department, "
                "enterprise or other",
            )
        with transaction(self._sessions) as session:
            units = UnitRepository(session)
            if units.get_by_code(code) is not None:
                raise UnitExistsError(code)
            unit = units.create(NewUnit(code, name.strip(), kind, division_code))
        self.record(AuditAction.USER_CHANGE, actor, details={"change": "unit_create", "unit": code})
        return unit

    def ensure_unit(self, code: str, name: str) -> None:
        """Create the unit unless it exists (the platform's and the data bureau's own units, at start)."""
        with transaction(self._sessions) as session:
            units = UnitRepository(session)
            if units.get_by_code(code) is None:
                units.create(NewUnit(code, name, "department", auto_created=True))

    def get_user(self, username: str) -> UserView:
        with transaction(self._sessions) as session:
            record = AccountRepository(session).get_user(username)
        if record is None:
            raise UserNotFoundError(username)
        return user_view(record)

    def list_users(self, unit_code: str | None = None) -> list[UserView]:
        with transaction(self._sessions) as session:
            return [user_view(r) for r in AccountRepository(session).list_users(unit_code)]

    def check_password(self, password: str, username: str) -> None:
        problems = self.policy.problems(password, username)
        if problems:
            raise PasswordRejectedError(problems)

    def change_password(self, username: str, old_password: str, new_password: str) -> None:
        """The user changes their own password: the old one is checked (and counts towards lockout)."""
        self.verify_login(username, old_password, method="password_change")
        if old_password == new_password:
            raise PasswordRejectedError([("新密码不得与原密码相同", "the new password must differ from the old one")])
        self.set_password(username, new_password, actor=username, must_change=False)

    def set_password(self, username: str, new_password: str, *, actor: str, must_change: bool = False) -> None:
        """Set a password (an administrator's reset: ``must_change`` makes the user pick a new one). Every live
        session of the user ends: a stolen session must not outlive the password that opened it."""
        self.check_password(new_password, username)
        password_hash = self._hasher.hash(new_password)
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            record = self._existing(repository, username)
            repository.set_password_hash(record.id, password_hash, must_change=must_change)
            repository.revoke_user_sessions(record.id, self.now(), "password_changed")
        self.record(AuditAction.USER_CHANGE, actor, details={"change": "password", "user": username})

    def lock(self, username: str, *, actor: str, minutes: int | None = None) -> dt.datetime:
        """Lock an account now (for ``minutes``, default the lockout setting; 0 is "until unlocked", 100 years)."""
        span = dt.timedelta(minutes=self.settings.login_lockout_minutes if minutes is None else minutes)
        until = self.now() + (span if span else dt.timedelta(days=36500))
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            record = self._existing(repository, username)
            repository.set_lock(record.id, until)
            repository.revoke_user_sessions(record.id, self.now(), "locked")
        self.record(AuditAction.USER_CHANGE, actor, details={"change": "lock", "user": username, "until": until})
        return until

    def unlock(self, username: str, *, actor: str) -> None:
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            repository.set_lock(self._existing(repository, username).id, None)
        self.record(AuditAction.USER_CHANGE, actor, details={"change": "unlock", "user": username})

    def set_disabled(self, username: str, disabled: bool, *, actor: str) -> None:
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            record = self._existing(repository, username)
            repository.set_disabled(record.id, disabled)
            if disabled:
                repository.revoke_user_sessions(record.id, self.now(), "disabled")
        change = "disable" if disabled else "enable"
        self.record(AuditAction.USER_CHANGE, actor, details={"change": change, "user": username})

    @staticmethod
    def _existing(repository: AccountRepository, username: str) -> UserRecord:
        record = repository.get_user(username)
        if record is None:
            raise UserNotFoundError(username)
        return record

    # login
    def verify_login(
        self, username: str, password: str, *, source_address: str | None = None, method: str = "password"
    ) -> UserView:
        """The user, when ``password`` is theirs and the account may log in; raises otherwise (audited)."""
        now = self.now()
        failure: AccountError | None = None
        reason = ""
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            record = repository.get_user(username) if len(password) <= MAX_PASSWORD_LENGTH else None
            if record is None:
                self._verify_dummy(password)
                failure, reason = InvalidCredentialsError(), "unknown_user"
            elif record.locked_until is not None and record.locked_until > now:
                failure, reason = AccountLockedError(record.locked_until), "locked"
            else:
                if record.locked_until is not None:  # the lock ran out: a fresh count
                    repository.set_lock(record.id, None)
                failure, reason = self._check_password(repository, record, password, now)
        if failure is not None:
            self.record(
                AuditAction.LOGIN_FAILED,
                "anonymous" if reason == "unknown_user" else username,
                outcome="refused",
                details={"username": username, "reason": reason, "method": method},
                source_address=source_address,
            )
            raise failure
        assert record is not None
        self.record(
            AuditAction.LOGIN,
            username,
            actor_unit=record.unit_code,
            details={"method": method},
            source_address=source_address,
        )
        return user_view(record)

    def _check_password(
        self, repository: AccountRepository, record: UserRecord, password: str, now: dt.datetime
    ) -> tuple[AccountError | None, str]:
        try:
            self._hasher.verify(record.password_hash, password)
        except (VerificationError, InvalidHashError):
            count = repository.add_failure(record.id)
            if count >= self.settings.login_max_failures:
                until = now + dt.timedelta(minutes=self.settings.login_lockout_minutes)
                repository.set_lock(record.id, until)
                return AccountLockedError(until), "bad_password_locked"
            return InvalidCredentialsError(), "bad_password"
        if record.disabled:
            return AccountDisabledError(), "disabled"
        if self._hasher.check_needs_rehash(record.password_hash):
            repository.set_password_hash(record.id, self._hasher.hash(password))
        repository.record_login(record.id, now)
        return None, ""

    def _verify_dummy(self, password: str) -> None:
        """Spend what a real verification costs, so an unknown username is not faster to refuse."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        with contextlib.suppress(VerifyMismatchError):
            self._hasher.verify(self._dummy_hash, password)

    # API keys
    def create_api_key(
        self,
        owner: str,
        name: str,
        scopes: Iterable[str],
        *,
        expires_at: dt.datetime | None = None,
        actor: str = "system",
    ) -> CreatedApiKey:
        wanted = sorted(set(scopes))
        bad = [s for s in wanted if not SCOPE.match(s)]
        if not wanted or bad:
            raise InvalidAccountError(
                f"API 密钥的权限范围无效：{', '.join(bad) or '（空）'}（形如 cameras:read）",
                f"Invalid API key scopes: {', '.join(bad) or '(none)'} (like cameras:read)",
            )
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            record = self._existing(repository, owner)
            repository.create_api_key(
                prefix=prefix,
                secret_hash=sha256_hex(secret),
                name=name or prefix,
                user_id=record.id,
                scopes=wanted,
                expires_at=expires_at,
            )
            created = repository.api_key(prefix)
        assert created is not None
        view = _key_view(created)
        self.record(AuditAction.USER_CHANGE, actor, details={"change": "api_key_create", "key": prefix, "user": owner})
        return CreatedApiKey(view, f"xk_{prefix}_{secret}")

    def revoke_api_key(self, prefix: str, *, actor: str) -> str:
        """Revoke a key by its prefix (or the whole key); the prefix. Revoking a revoked key changes nothing."""
        prefix = prefix.removeprefix("apikey:").removeprefix("xk_")[:12]
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            if repository.api_key(prefix) is None:
                raise InvalidAccountError(f"API 密钥 {prefix} 不存在", f"No API key {prefix}")
            repository.revoke_api_key(prefix, self.now())
        self.record(AuditAction.USER_CHANGE, actor, details={"change": "api_key_revoke", "key": prefix})
        return prefix

    def list_api_keys(self, owner: str | None = None) -> list[ApiKeyView]:
        with transaction(self._sessions) as session:
            return [_key_view(r) for r in AccountRepository(session).list_api_keys(owner)]

    def authenticate_api_key(self, key: str) -> Principal:
        """The principal a key acts as: its owner's unit and roles, limited to the key's scopes."""
        match = API_KEY.match(key)
        if match is None:
            raise ApiKeyInvalidError("malformed")
        prefix, secret = match.groups()
        with transaction(self._sessions) as session:
            repository = AccountRepository(session)
            record = repository.api_key(prefix)
            owner = None if record is None else repository.get_user(record.owner)
        if record is None or owner is None or not hmac.compare_digest(record.secret_hash, sha256_hex(secret)):
            raise ApiKeyInvalidError("unknown")
        if record.revoked_at is not None:
            raise ApiKeyInvalidError("revoked")
        if record.expires_at is not None and record.expires_at <= self.now():
            raise ApiKeyInvalidError("expired")
        if owner.disabled:
            raise ApiKeyInvalidError("owner_disabled")
        view = user_view(owner)
        return Principal(
            PrincipalKind.API_KEY,
            f"apikey:{prefix}",
            record.name,
            view.unit_code,
            view.roles,
            frozenset(record.scopes),
        )


def _duplicate(username: str) -> InvalidAccountError:
    return InvalidAccountError(f"用户 {username} 已存在", f"User {username} already exists")
