"""The accounts tables (migration 0004b) on both databases: schema as modelled, keys and constraints, the
conditional updates that keep lockout counting and refresh-token rotation right when processes race."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError

from xueliang.store.accounts import AccountRepository, NewUser
from xueliang.store.db import make_session_factory, transaction
from xueliang.store.models import Base, utcnow
from xueliang.store.units import NewUnit, UnitRepository

TABLES = ("user_account", "api_key", "auth_session", "refresh_token")


def _unit(engine: Engine, code: str = "GA") -> int:
    with transaction(make_session_factory(engine)) as session:
        return UnitRepository(session).create(NewUnit(code, "六安市公安局", "department")).id


def _user(engine: Engine, username: str = "zhang", unit_code: str = "GA") -> int:
    unit_id = _unit(engine, unit_code)
    with transaction(make_session_factory(engine)) as session:
        record = AccountRepository(session).create_user(
            NewUser(username, "张三", unit_id, ("operator",), "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA")
        )
    return record.id


def test_migration_builds_the_modelled_tables(engine: Engine) -> None:
    assert set(TABLES) <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert [d for d in diffs if any(table in str(d) for table in TABLES)] == []


def test_user_belongs_to_a_unit_and_reads_back(engine: Engine) -> None:
    user_id = _user(engine)
    with transaction(make_session_factory(engine)) as session:
        repository = AccountRepository(session)
        record = repository.get_user("zhang")
        assert record is not None and record.id == user_id
        assert (record.unit_code, record.roles, record.failed_attempts, record.disabled) == (
            "GA",
            ("operator",),
            0,
            False,
        )
        assert repository.get_user("nobody") is None
        assert [u.username for u in repository.list_users("GA")] == ["zhang"]
        assert repository.list_users("JT") == []


def test_usernames_are_unique_and_units_must_exist(engine: Engine) -> None:
    _user(engine)
    factory = make_session_factory(engine)
    with pytest.raises(IntegrityError), transaction(factory) as session:
        AccountRepository(session).create_user(NewUser("zhang", "x", 1, ("viewer",), "h"))
    with pytest.raises(IntegrityError), transaction(factory) as session:
        AccountRepository(session).create_user(NewUser("li", "x", 999, ("viewer",), "h"))


def test_failures_count_atomically_and_unlock_forgets_them(engine: Engine) -> None:
    user_id = _user(engine)
    factory = make_session_factory(engine)
    for expected in (1, 2, 3):
        with transaction(factory) as session:
            assert AccountRepository(session).add_failure(user_id) == expected
    until = utcnow() + dt.timedelta(minutes=15)
    with transaction(factory) as session:
        AccountRepository(session).set_lock(user_id, until)
    with transaction(factory) as session:
        record = AccountRepository(session).user_by_id(user_id)
        assert record is not None and record.locked_until is not None and record.failed_attempts == 3
        AccountRepository(session).set_lock(user_id, None)
    with transaction(factory) as session:
        record = AccountRepository(session).user_by_id(user_id)
        assert record is not None and (record.locked_until, record.failed_attempts) == (None, 0)


def test_refresh_token_is_used_once_and_sessions_revoke(engine: Engine) -> None:
    user_id = _user(engine)
    factory = make_session_factory(engine)
    later = utcnow() + dt.timedelta(hours=1)
    with transaction(factory) as session:
        repository = AccountRepository(session)
        repository.create_session(session_id="a" * 32, user_id=user_id, kind="token", expires_at=later)
        repository.add_refresh_token("f" * 64, "a" * 32, later)
    with transaction(factory) as session:
        repository = AccountRepository(session)
        token = repository.refresh_token("f" * 64)
        assert token is not None and token.used_at is None
        assert repository.use_refresh_token(token.id, utcnow()) is True
        assert repository.use_refresh_token(token.id, utcnow()) is False  # the second use loses
        assert repository.revoke_session("a" * 32, utcnow(), "refresh_reuse") is True
        assert repository.revoke_session("a" * 32, utcnow(), "logout") is False
        family = repository.get_session("a" * 32)
        assert family is not None and family.revoked_reason == "refresh_reuse"
    with pytest.raises(IntegrityError), transaction(factory) as session:  # one hash, one token
        AccountRepository(session).add_refresh_token("f" * 64, "a" * 32, later)
    with pytest.raises(IntegrityError), transaction(factory) as session:
        AccountRepository(session).create_session(session_id="b" * 32, user_id=user_id, kind="other", expires_at=later)


def test_api_keys_by_prefix_and_revocation(engine: Engine) -> None:
    user_id = _user(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        AccountRepository(session).create_api_key(
            prefix="0123456789ab",
            secret_hash="e" * 64,
            name="交通局对接",
            user_id=user_id,
            scopes=["cameras:read"],
            expires_at=None,
        )
    with transaction(factory) as session:
        repository = AccountRepository(session)
        key = repository.api_key("0123456789ab")
        assert key is not None and (key.owner, key.scopes, key.revoked_at) == ("zhang", ("cameras:read",), None)
        assert repository.revoke_api_key("0123456789ab", utcnow()) is True
        assert repository.revoke_api_key("0123456789ab", utcnow()) is False
        assert repository.revoke_api_key("nope", utcnow()) is False
        assert [k.prefix for k in repository.list_api_keys("zhang")] == ["0123456789ab"]
