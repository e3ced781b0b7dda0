"""``xueliang user ...`` and ``xueliang apikey ...`` on both databases: what lands in the database (argon2, never
the password), what a login sees afterwards, and the exit codes (0 done, 1 rejected, 2 usage)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from xueliang.config import Settings
from xueliang.sharing.accounts import (
    AccountLockedError,
    AccountService,
    ApiKeyInvalidError,
    InvalidCredentialsError,
)
from xueliang.store.accounts import UserAccount
from xueliang.store.db import make_session_factory, transaction
from xueliang.store.units import NewUnit, UnitRepository
from xueliang.user_cli import apikey_app, user_app

PASSWORD = "Xueliang-2024!"
runner = CliRunner()
app = typer.Typer()
app.add_typer(user_app, name="user")  # as cli.py registers them
app.add_typer(apikey_app, name="apikey")


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> dict[str, str]:
    return {
        "XUELIANG_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "XUELIANG_DATA_DIR": str(tmp_path / "data"),
        "XUELIANG_ARGON2_MEMORY_KIB": "1024",
        "XUELIANG_ARGON2_TIME_COST": "1",
        "XUELIANG_ARGON2_PARALLELISM": "1",
        "COLUMNS": "200",  # rich tables at full width
    }


@pytest.fixture
def accounts(engine: Engine) -> AccountService:
    return AccountService(
        make_session_factory(engine),
        Settings(argon2_memory_kib=1024, argon2_time_cost=1, argon2_parallelism=1),
    )


def run(env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=env, input=input)
    return result.exit_code, result.output


def test_create_first_administrator(engine: Engine, env: dict[str, str], accounts: AccountService) -> None:
    code, output = run(env, "user", "create", "admin", "--password", PASSWORD, "--role", "sysadmin")
    assert code == 0, output
    assert "admin" in output and "PLATFORM" in output
    with engine.connect() as connection:
        stored = connection.scalar(select(UserAccount.password_hash).where(UserAccount.username == "admin"))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.verify_login("admin", PASSWORD).unit_code == "PLATFORM"


def test_create_in_a_unit_with_a_prompted_password(
    engine: Engine, env: dict[str, str], accounts: AccountService
) -> None:
    with transaction(make_session_factory(engine)) as session:
        UnitRepository(session).create(NewUnit("JT", "六安市交通运输局", "department"))
    code, output = run(
        env, "user", "create", "li.si", "--role", "unit_admin", "--unit", "JT", input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert code == 0, output
    assert PASSWORD not in output
    assert accounts.verify_login("li.si", PASSWORD).unit_code == "JT"
    code, output = run(env, "user", "list", "--unit", "JT")
    assert code == 0 and "li.si" in output and "unit_admin" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--password", "short", "--role", "viewer"), "Password rejected"),
        (("--password", PASSWORD, "--role", "root"), "Unknown role root"),
        (("--password", PASSWORD, "--role", "sysadmin", "--role", "auditor"), "separate accounts"),
        (("--password", PASSWORD, "--role", "viewer", "--unit", "NOPE"), "No unit NOPE"),
    ],
)
def test_rejected_creations_exit_1(env: dict[str, str], args: tuple[str, ...], message: str) -> None:
    code, output = run(env, "user", "create", "zhang", *args)
    assert code == 1 and message in " ".join(output.split())


def test_duplicate_and_usage_errors(env: dict[str, str]) -> None:
    assert run(env, "user", "create", "zhang", "--password", PASSWORD, "--role", "viewer")[0] == 0
    code, output = run(env, "user", "create", "zhang", "--password", PASSWORD, "--role", "viewer")
    assert code == 1 and "already exists" in output
    assert run(env, "user", "create", "wang", "--password", PASSWORD)[0] == 2  # --role is required
    assert run(env, "user", "lock", "nobody")[0] == 1


def test_lock_unlock_passwd(env: dict[str, str], accounts: AccountService) -> None:
    assert run(env, "user", "create", "zhang", "--password", PASSWORD, "--role", "operator")[0] == 0
    code, output = run(env, "user", "lock", "zhang")
    assert code == 0 and "locked" in output
    with pytest.raises(AccountLockedError):
        accounts.verify_login("zhang", PASSWORD)
    assert "locked until" in run(env, "user", "list")[1]
    assert run(env, "user", "unlock", "zhang")[0] == 0
    accounts.verify_login("zhang", PASSWORD)
    assert run(env, "user", "passwd", "zhang", "--password", "New-Password-2025")[0] == 0
    with pytest.raises(InvalidCredentialsError):
        accounts.verify_login("zhang", PASSWORD)
    assert accounts.verify_login("zhang", "New-Password-2025").must_change_password
    assert run(env, "user", "disable", "zhang")[0] == 0
    assert "disabled" in run(env, "user", "list")[1]


def test_apikey_create_list_revoke(env: dict[str, str], accounts: AccountService) -> None:
    assert run(env, "user", "create", "zhang", "--password", PASSWORD, "--role", "operator")[0] == 0
    code, output = run(env, "apikey", "create", "zhang", "--scope", "cameras:read", "--name", "交通局对接")
    assert code == 0, output
    secret = next(line for line in output.splitlines() if line.startswith("xk_"))
    principal = accounts.authenticate_api_key(secret)
    assert principal.scopes == frozenset({"cameras:read"})
    prefix = principal.id.removeprefix("apikey:")
    code, output = run(env, "apikey", "list")
    assert code == 0 and prefix in output and secret not in output
    assert run(env, "apikey", "revoke", prefix)[0] == 0
    with pytest.raises(ApiKeyInvalidError):
        accounts.authenticate_api_key(secret)
    assert run(env, "apikey", "revoke", "000000000000")[0] == 1
    assert run(env, "apikey", "create", "zhang", "--scope", "Bad Scope")[0] == 1
