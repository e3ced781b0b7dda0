"""Accounts and sessions on both databases: argon2 at rest, lockout, password rules, separation of duties, API
keys, access-token expiry and forgery, refresh rotation and reuse detection, console cookies with CSRF, audit."""

from __future__ import annotations

import datetime as dt
import json
from base64 import urlsafe_b64encode
from pathlib import Path

import jwt
import pytest
from sqlalchemy import Engine, select

from xueliang.config import Settings
from xueliang.domain.audit import AuditAction, AuditEvent, AuditUnavailableError
from xueliang.domain.principals import PrincipalKind, Role
from xueliang.sharing.accounts import (
    AccountDisabledError,
    AccountLockedError,
    AccountService,
    ApiKeyInvalidError,
    InvalidAccountError,
    InvalidCredentialsError,
    PasswordRejectedError,
)
from xueliang.sharing.sessions import AuthenticationError, CsrfError, SessionService, load_or_create_key
from xueliang.store.accounts import ApiKey, AuthSession, RefreshToken, UserAccount
from xueliang.store.db import make_session_factory
from xueliang.store.models import Unit

PASSWORD = "Xueliang-2024!"
FAST = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 1, 8, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class ListSink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.fail = False

    def record(self, event: AuditEvent) -> None:
        if self.fail:
            raise AuditUnavailableError("disk full")
        self.events.append(event)

    def actions(self) -> list[AuditAction]:
        return [e.action for e in self.events]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sink() -> ListSink:
    return ListSink()


def make_accounts(engine: Engine, clock: Clock, sink: ListSink | None = None, **settings: object) -> AccountService:
    values: dict[str, object] = {**FAST, **settings}
    return AccountService(make_session_factory(engine), Settings(**values), sink, clock)  # type: ignore[arg-type]


@pytest.fixture
def accounts(engine: Engine, clock: Clock, sink: ListSink) -> AccountService:
    return make_accounts(engine, clock, sink)


@pytest.fixture
def auth(accounts: AccountService, engine: Engine, tmp_path: Path) -> SessionService:
    return SessionService(accounts, make_session_factory(engine), load_or_create_key(tmp_path))


@pytest.fixture
def zhang(accounts: AccountService) -> str:
    accounts.create_user("zhang", PASSWORD, ["operator"], display_name="张三")
    return "zhang"


# accounts
def test_password_is_stored_as_argon2id_never_plaintext(engine: Engine, accounts: AccountService, zhang: str) -> None:
    with engine.connect() as connection:
        stored = connection.scalar(select(UserAccount.password_hash).where(UserAccount.username == zhang))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored


def test_user_without_unit_belongs_to_the_platform_unit(engine: Engine, accounts: AccountService, zhang: str) -> None:
    user = accounts.get_user(zhang)
    assert user.unit_code == "PLATFORM" and user.roles == frozenset({Role.OPERATOR}) and user.display_name == "张三"
    with engine.connect() as connection:
        assert connection.scalar(select(Unit.auto_created).where(Unit.code == "PLATFORM")) is True
    accounts.create_user("li", PASSWORD, ["viewer"])  # the platform unit is created once
    assert {u.unit_code for u in accounts.list_users()} == {"PLATFORM"}
    with pytest.raises(InvalidAccountError, match="No unit JT"):
        accounts.create_user("wang", PASSWORD, ["viewer"], unit_code="JT")


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Short-1", "at least 12 characters"),
        ("alllowercaseletters", "at least 3 of"),
        ("Zhang-Is-Great-1", "must not contain the username"),
        ("gnahz-REVERSED-1", "must not contain the username"),
    ],
)
def test_password_rules(accounts: AccountService, password: str, problem: str) -> None:
    with pytest.raises(PasswordRejectedError) as caught:
        accounts.create_user("zhang", password, ["viewer"])
    assert problem in caught.value.en and caught.value.zh.startswith("密码不符合要求")


def test_password_rules_are_configurable(engine: Engine, clock: Clock) -> None:
    lenient = make_accounts(engine, clock, password_min_length=8, password_min_classes=1)
    lenient.create_user("li", "abcdefgh", ["viewer"])


def test_bad_usernames_roles_and_duplicates(accounts: AccountService, zhang: str) -> None:
    with pytest.raises(InvalidAccountError, match="already exists"):
        accounts.create_user(zhang, PASSWORD, ["viewer"])
    for bad in ("a", "apikey:x", "中文名", " zhang"):
        with pytest.raises(InvalidAccountError, match="username"):
            accounts.create_user(bad, PASSWORD, ["viewer"])
    with pytest.raises(InvalidAccountError, match="Unknown role root"):
        accounts.create_user("li", PASSWORD, ["root"])
    with pytest.raises(InvalidAccountError, match="separate accounts"):
        accounts.create_user("li", PASSWORD, ["sysadmin", "auditor"])


def test_login_and_audit(accounts: AccountService, sink: ListSink, zhang: str) -> None:
    user = accounts.verify_login(zhang, PASSWORD, source_address="10.0.0.8")
    assert user.principal().kind is PrincipalKind.USER and user.principal().id == zhang
    login = sink.events[-1]
    assert (login.action, login.actor, login.actor_unit, login.source_address) == (
        AuditAction.LOGIN,
        zhang,
        "PLATFORM",
        "10.0.0.8",
    )
    with pytest.raises(InvalidCredentialsError):
        accounts.verify_login(zhang, "wrong")
    with pytest.raises(InvalidCredentialsError):
        accounts.verify_login("nobody", PASSWORD)
    failed = [e for e in sink.events if e.action is AuditAction.LOGIN_FAILED]
    assert [(e.actor, e.details["reason"], e.outcome) for e in failed] == [
        (zhang, "bad_password", "refused"),
        ("anonymous", "unknown_user", "refused"),
    ]
    assert all(PASSWORD not in json.dumps(e.details) for e in sink.events)


def test_audit_is_fail_closed(accounts: AccountService, sink: ListSink, zhang: str) -> None:
    sink.fail = True
    with pytest.raises(AuditUnavailableError):
        accounts.verify_login(zhang, PASSWORD)


def test_lockout_after_failures_then_opens_again(
    engine: Engine, clock: Clock, sink: ListSink, accounts: AccountService, zhang: str
) -> None:
    for _ in range(4):
        with pytest.raises(InvalidCredentialsError):
            accounts.verify_login(zhang, "wrong")
    with pytest.raises(AccountLockedError) as caught:  # the fifth failure locks
        accounts.verify_login(zhang, "wrong")
    assert caught.value.until == clock.now + dt.timedelta(minutes=15) and "locked until" in caught.value.en
    with pytest.raises(AccountLockedError):  # even the right password, while locked
        accounts.verify_login(zhang, PASSWORD)
    assert sink.events[-1].details["reason"] == "locked"
    clock.advance(minutes=15, seconds=1)
    with pytest.raises(InvalidCredentialsError):  # a fresh count after the lock ran out, not an instant relock
        accounts.verify_login(zhang, "wrong")
    assert accounts.verify_login(zhang, PASSWORD).failed_attempts == 1  # as read before this success
    assert accounts.get_user(zhang).failed_attempts == 0


def test_administrator_lock_unlock_disable(accounts: AccountService, zhang: str) -> None:
    accounts.lock(zhang, actor="admin", minutes=0)
    with pytest.raises(AccountLockedError):
        accounts.verify_login(zhang, PASSWORD)
    accounts.unlock(zhang, actor="admin")
    accounts.verify_login(zhang, PASSWORD)
    accounts.set_disabled(zhang, True, actor="admin")
    with pytest.raises(AccountDisabledError):
        accounts.verify_login(zhang, PASSWORD)
    with pytest.raises(InvalidCredentialsError):  # a wrong password says nothing about the account
        accounts.verify_login(zhang, "wrong")


def test_hash_upgraded_when_parameters_change(engine: Engine, clock: Clock, zhang: str) -> None:
    stronger = make_accounts(engine, clock, argon2_memory_kib=2048, argon2_time_cost=2)
    stronger.verify_login(zhang, PASSWORD)
    with engine.connect() as connection:
        stored = connection.scalar(select(UserAccount.password_hash).where(UserAccount.username == zhang))
    assert stored is not None and "m=2048,t=2,p=1" in stored
    stronger.verify_login(zhang, PASSWORD)


def test_change_password(accounts: AccountService, zhang: str) -> None:
    with pytest.raises(InvalidCredentialsError):
        accounts.change_password(zhang, "wrong", "Another-Pass-2025")
    with pytest.raises(PasswordRejectedError):
        accounts.change_password(zhang, PASSWORD, PASSWORD)
    accounts.change_password(zhang, PASSWORD, "Another-Pass-2025")
    with pytest.raises(InvalidCredentialsError):
        accounts.verify_login(zhang, PASSWORD)
    accounts.verify_login(zhang, "Another-Pass-2025")


# API keys
def test_api_key_secret_shown_once_stored_hashed_scoped_revocable(
    engine: Engine, clock: Clock, auth: SessionService, accounts: AccountService, zhang: str
) -> None:
    created = accounts.create_api_key(zhang, "交通局对接", ["cameras:read", "play"])
    assert created.secret.startswith(f"xk_{created.key.prefix}_")
    with engine.connect() as connection:
        stored = connection.scalar(select(ApiKey.secret_hash))
    assert stored is not None and created.secret.split("_", 2)[2] not in stored and len(stored) == 64
    principal = auth.authenticate_api_key(created.secret)
    assert principal.kind is PrincipalKind.API_KEY and principal.id == f"apikey:{created.key.prefix}"
    assert principal.scopes == frozenset({"cameras:read", "play"}) and principal.unit_code == "PLATFORM"
    assert principal.roles == frozenset({Role.OPERATOR})
    tampered = created.secret[:-1] + ("A" if created.secret[-1] != "A" else "B")
    for bad in (tampered, "xk_nothing", "", created.secret + "x"):
        with pytest.raises(ApiKeyInvalidError):
            auth.authenticate_api_key(bad)
    accounts.revoke_api_key(created.key.prefix, actor="admin")
    with pytest.raises(ApiKeyInvalidError) as caught:
        auth.authenticate_api_key(created.secret)
    assert caught.value.reason == "revoked"
    with pytest.raises(InvalidAccountError, match="scopes"):
        accounts.create_api_key(zhang, "bad", ["Cameras Read"])
    for bad in (".share", "share.", "share..read", "share.Read"):
        with pytest.raises(InvalidAccountError, match="scopes"):
            accounts.create_api_key(zhang, "bad", [bad])
    # the policy's action names are scopes too (share.read, grant.revoke, archive.read ...)
    dotted = accounts.create_api_key(zhang, "sharing bot", ["share.read", "live"])
    assert auth.authenticate_api_key(dotted.secret).scopes == frozenset({"share.read", "live"})


def test_api_key_expiry_and_disabled_owner(clock: Clock, accounts: AccountService, zhang: str) -> None:
    expiring = accounts.create_api_key(zhang, "temp", ["cameras:read"], expires_at=clock.now + dt.timedelta(days=1))
    accounts.authenticate_api_key(expiring.secret)
    clock.advance(days=1)
    with pytest.raises(ApiKeyInvalidError, match="revoked"):
        accounts.authenticate_api_key(expiring.secret)
    other = accounts.create_api_key(zhang, "other", ["cameras:read"])
    accounts.set_disabled(zhang, True, actor="admin")
    with pytest.raises(ApiKeyInvalidError):
        accounts.authenticate_api_key(other.secret)


# access and refresh tokens
def test_access_token_carries_the_user_and_expires(clock: Clock, auth: SessionService, zhang: str) -> None:
    pair = auth.login_tokens(zhang, PASSWORD)
    assert (pair.token_type, pair.expires_in) == ("bearer", 900)
    principal = auth.authenticate_bearer(pair.access_token)
    assert (principal.id, principal.unit_code, principal.roles) == (zhang, "PLATFORM", frozenset({Role.OPERATOR}))
    clock.advance(seconds=899)
    auth.authenticate_bearer(pair.access_token)
    clock.advance(seconds=10)
    with pytest.raises(AuthenticationError) as caught:
        auth.authenticate_bearer(pair.access_token)
    assert caught.value.reason == "token_expired"


def _b64(data: dict[str, object]) -> str:
    return urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_tokens_are_refused(auth: SessionService, tmp_path: Path, zhang: str) -> None:
    pair = auth.login_tokens(zhang, PASSWORD)
    claims = jwt.decode(pair.access_token, options={"verify_signature": False})
    other_key = load_or_create_key(tmp_path / "elsewhere")
    forgeries = {
        "other key": jwt.encode(claims, other_key, algorithm="HS256"),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "tampered": ".".join(
            [pair.access_token.split(".")[0], _b64({**claims, "sub": "admin"}), pair.access_token.split(".")[2]]
        ),
        "refresh as access": pair.refresh_token,
        "garbage": "not-a-token",
        "huge": "a" * 10000,
    }
    for name, token in forgeries.items():
        with pytest.raises(AuthenticationError):
            auth.authenticate_bearer(token)
            pytest.fail(name)


def test_refresh_rotates_and_reuse_revokes_the_family(
    engine: Engine, sink: ListSink, auth: SessionService, zhang: str
) -> None:
    first = auth.login_tokens(zhang, PASSWORD)
    second = auth.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token and second.session_id == first.session_id
    third = auth.refresh(second.refresh_token)
    auth.authenticate_bearer(third.access_token)
    with pytest.raises(AuthenticationError) as caught:  # the first token again: a copy is in use somewhere
        auth.refresh(first.refresh_token)
    assert caught.value.reason == "refresh_reuse"
    assert sink.events[-1].details["reason"] == "refresh_token_reuse"
    for token in (third.refresh_token, second.refresh_token):
        with pytest.raises(AuthenticationError):
            auth.refresh(token)
    with pytest.raises(AuthenticationError):  # the family's access tokens die with it
        auth.authenticate_bearer(third.access_token)
    other = auth.login_tokens(zhang, PASSWORD)  # another login is another family
    auth.authenticate_bearer(auth.refresh(other.refresh_token).access_token)
    with engine.connect() as connection:
        hashes = list(connection.scalars(select(RefreshToken.token_hash)))
    assert first.refresh_token not in hashes and all(len(h) == 64 for h in hashes)


def test_refresh_token_expires(clock: Clock, auth: SessionService, zhang: str) -> None:
    pair = auth.login_tokens(zhang, PASSWORD)
    clock.advance(days=1, seconds=1)
    with pytest.raises(AuthenticationError, match="refresh_expired"):
        auth.refresh(pair.refresh_token)
    with pytest.raises(AuthenticationError, match="refresh_unknown"):
        auth.refresh("never-issued")


def test_logout_and_password_change_end_sessions(accounts: AccountService, auth: SessionService, zhang: str) -> None:
    pair = auth.login_tokens(zhang, PASSWORD)
    auth.logout(pair.session_id, actor=zhang)
    with pytest.raises(AuthenticationError):
        auth.authenticate_bearer(pair.access_token)
    with pytest.raises(AuthenticationError):
        auth.refresh(pair.refresh_token)
    again = auth.login_tokens(zhang, PASSWORD)
    accounts.set_password(zhang, "Reset-By-Admin-1", actor="admin", must_change=True)
    with pytest.raises(AuthenticationError):
        auth.authenticate_bearer(again.access_token)
    assert accounts.get_user(zhang).must_change_password


# console cookie sessions
def test_cookie_session_needs_csrf_on_unsafe_methods(
    engine: Engine, clock: Clock, auth: SessionService, zhang: str
) -> None:
    login = auth.login_console(zhang, PASSWORD)
    with engine.connect() as connection:
        stored = connection.scalar(select(AuthSession.secret_hash).where(AuthSession.id == login.session_id))
    assert stored is not None and login.cookie not in stored
    assert auth.authenticate_cookie(login.cookie, None, "GET").id == zhang
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(CsrfError):
            auth.authenticate_cookie(login.cookie, None, method)
        with pytest.raises(CsrfError):
            auth.authenticate_cookie(login.cookie, auth.csrf_token("another-session"), method)
    assert auth.authenticate_cookie(login.cookie, login.csrf_token, "POST").id == zhang
    with pytest.raises(AuthenticationError):
        auth.authenticate_cookie("forged-cookie", login.csrf_token, "GET")


def test_cookie_session_idle_and_absolute_timeouts(clock: Clock, auth: SessionService, zhang: str) -> None:
    login = auth.login_console(zhang, PASSWORD)
    clock.advance(minutes=29)
    auth.authenticate_cookie(login.cookie, None, "GET")  # activity keeps it alive
    clock.advance(minutes=29)
    auth.authenticate_cookie(login.cookie, None, "GET")
    clock.advance(minutes=31)
    with pytest.raises(AuthenticationError, match="session_idle"):
        auth.authenticate_cookie(login.cookie, None, "GET")
    late = auth.login_console(zhang, PASSWORD)
    for _ in range(12 * 4):
        clock.advance(minutes=15)
        try:
            auth.authenticate_cookie(late.cookie, None, "GET")
        except AuthenticationError as exc:
            assert exc.reason == "session_expired"
            break
    else:
        pytest.fail("the console session outlived its absolute lifetime")


def test_cookie_is_not_a_bearer_token(auth: SessionService, zhang: str) -> None:
    pair = auth.login_tokens(zhang, PASSWORD)
    login = auth.login_console(zhang, PASSWORD)
    with pytest.raises(AuthenticationError):
        auth.authenticate_cookie(pair.refresh_token, None, "GET")
    with pytest.raises(AuthenticationError):
        auth.authenticate_bearer(login.cookie)
