"""``xueliang user ...`` and ``xueliang apikey ...``: accounts from the command line (the first administrator,
locked-out users, machine keys). Exit codes as the rest of the CLI: 0 success, 1 rejected, 2 usage error.

Opens only the database (migrated first: ``user create`` is how an installation gets its first administrator,
before ``serve`` has ever run). Changes are audited as the actor ``system`` when the platform has an audit sink.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from xueliang.config import load_settings
from xueliang.domain.principals import Role
from xueliang.sharing.accounts import AccountError, AccountService, UserView
from xueliang.store.db import create_db_engine, make_session_factory, migrate
from xueliang.store.models import utcnow

EXIT_REJECTED = 1
ACTOR = "system"
ROLES = ", ".join(r.value for r in Role)

user_app = typer.Typer(help="用户账号 / user accounts", no_args_is_help=True)
apikey_app = typer.Typer(help="API 密钥 / API keys for machine clients", no_args_is_help=True)
unit_app = typer.Typer(help="单位 / units that users and cameras belong to", no_args_is_help=True)
console = Console()

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (env XUELIANG_DATA_DIR)")]
Username = Annotated[str, typer.Argument(help="用户名 / username")]


@contextmanager
def _accounts(data_dir: Path | None) -> Iterator[AccountService]:
    """The account service on the configured database; account errors become exit code 1 with both messages."""
    settings = load_settings(data_dir=data_dir)
    engine = create_db_engine(settings.resolved_database_url())
    try:
        migrate(engine)
        yield AccountService(make_session_factory(engine), settings)
    except AccountError as exc:
        console.print(f"[red]{exc.zh}[/red]\n{exc.en}", soft_wrap=True)
        raise typer.Exit(EXIT_REJECTED) from exc
    finally:
        engine.dispose()


def _password(value: str | None) -> str:
    """The password from ``--password``, else asked twice without echo (keeps it out of shell history)."""
    if value is not None:
        return value
    answer: str = typer.prompt("密码 / password", hide_input=True, confirmation_prompt=True)
    return answer


def _status(user: UserView) -> str:
    if user.disabled:
        return "停用 / disabled"
    if user.locked_until is not None and user.locked_until > utcnow():
        return f"锁定至 / locked until {user.locked_until:%Y-%m-%d %H:%M} UTC"
    return "正常 / active"


@user_app.command("create")
def user_create(
    username: Username,
    role: Annotated[list[str], typer.Option("--role", help=f"角色，可重复 / role, repeatable: {ROLES}")],
    password: Annotated[
        str | None, typer.Option("--password", help="密码；省略则提示输入 / prompted if absent")
    ] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", help="单位代码；默认本平台单位 / unit code; default the platform's unit")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="显示名 / display name")] = None,
    must_change: Annotated[
        bool, typer.Option("--must-change/--no-must-change", help="首次登录须改密 / change at first login")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a user (the first administrator: ``--role sysadmin``)."""
    with _accounts(data_dir) as accounts:
        user = accounts.create_user(
            username,
            _password(password),
            role,
            unit_code=unit,
            display_name=name,
            must_change_password=must_change,
            actor=ACTOR,
        )
    roles = ", ".join(sorted(r.value for r in user.roles))
    console.print(f"已创建用户 / created user {user.username} ({roles}) in unit {user.unit_code}")


@unit_app.command("create")
def unit_create(
    code: Annotated[str, typer.Argument(help="单位代码 / unit code")],
    name: Annotated[str, typer.Option("--name", help="单位名称 / unit name")],
    kind: Annotated[str, typer.Option("--kind", help="department | enterprise | other")] = "department",
    division: Annotated[str | None, typer.Option("--division", help="行政区划代码 / division code")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a unit (a department, the data bureau, an enterprise) that users and cameras can belong to."""
    with _accounts(data_dir) as accounts:
        unit = accounts.create_unit(code, name, kind, division, actor=ACTOR)
    console.print(f"已创建单位 / created unit {unit.code} ({unit.name})")


@user_app.command("list")
def user_list(
    unit: Annotated[str | None, typer.Option("--unit", help="只列此单位 / only this unit")] = None,
    data_dir: DataDir = None,
) -> None:
    """List users with their unit, roles and status."""
    with _accounts(data_dir) as accounts:
        users = accounts.list_users(unit)
    table = Table(
        "用户名 / username", "显示名 / name", "单位 / unit", "角色 / roles", "状态 / status", "最近登录 / last login"
    )
    for user in users:
        last = "" if user.last_login_at is None else f"{user.last_login_at:%Y-%m-%d %H:%M}"
        roles = ", ".join(sorted(r.value for r in user.roles))
        table.add_row(user.username, user.display_name, user.unit_code, roles, _status(user), last)
    console.print(table)


@user_app.command("lock")
def user_lock(
    username: Username,
    minutes: Annotated[
        int | None, typer.Option("--minutes", min=0, help="锁定分钟数，0 为直至解锁 / 0: until unlocked")
    ] = 0,
    data_dir: DataDir = None,
) -> None:
    """Lock an account now; its sessions end."""
    with _accounts(data_dir) as accounts:
        until = accounts.lock(username, actor=ACTOR, minutes=minutes)
    console.print(f"已锁定 / locked {username} until {until:%Y-%m-%d %H:%M} UTC")


@user_app.command("unlock")
def user_unlock(username: Username, data_dir: DataDir = None) -> None:
    """Unlock an account and forget its failed logins."""
    with _accounts(data_dir) as accounts:
        accounts.unlock(username, actor=ACTOR)
    console.print(f"已解锁 / unlocked {username}")


@user_app.command("disable")
def user_disable(username: Username, data_dir: DataDir = None) -> None:
    """Switch an account off (its sessions and API keys stop working)."""
    with _accounts(data_dir) as accounts:
        accounts.set_disabled(username, True, actor=ACTOR)
    console.print(f"已停用 / disabled {username}")


@user_app.command("enable")
def user_enable(username: Username, data_dir: DataDir = None) -> None:
    """Switch a disabled account back on."""
    with _accounts(data_dir) as accounts:
        accounts.set_disabled(username, False, actor=ACTOR)
    console.print(f"已启用 / enabled {username}")


@user_app.command("passwd")
def user_passwd(
    username: Username,
    password: Annotated[
        str | None, typer.Option("--password", help="新密码；省略则提示输入 / prompted if absent")
    ] = None,
    must_change: Annotated[
        bool, typer.Option("--must-change/--no-must-change", help="下次登录须改密 / change at next login")
    ] = True,
    data_dir: DataDir = None,
) -> None:
    """Set a user's password (an administrator's reset); the user's sessions end."""
    with _accounts(data_dir) as accounts:
        accounts.set_password(username, _password(password), actor=ACTOR, must_change=must_change)
    console.print(f"已重置密码 / password set for {username}")


@apikey_app.command("create")
def apikey_create(
    owner: Annotated[str, typer.Argument(help="所属用户 / owning user")],
    scope: Annotated[list[str], typer.Option("--scope", help="权限范围，可重复 / scope, repeatable (cameras:read)")],
    name: Annotated[str, typer.Option("--name", help="用途 / what the key is for")] = "",
    expires_days: Annotated[int | None, typer.Option("--expires-days", min=1, help="有效天数 / days valid")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create an API key. The key is printed once: it is stored only as a hash."""
    expires = None if expires_days is None else utcnow() + dt.timedelta(days=expires_days)
    with _accounts(data_dir) as accounts:
        created = accounts.create_api_key(owner, name, scope, expires_at=expires, actor=ACTOR)
    console.print(f"API 密钥（仅显示一次）/ API key (shown once), send as X-API-Key:\n{created.secret}", soft_wrap=True)


@apikey_app.command("list")
def apikey_list(
    owner: Annotated[str | None, typer.Option("--owner", help="只列此用户 / only this user's")] = None,
    data_dir: DataDir = None,
) -> None:
    """List API keys (prefixes only; secrets are never shown again)."""
    with _accounts(data_dir) as accounts:
        keys = accounts.list_api_keys(owner)
    table = Table("前缀 / prefix", "用途 / name", "所属 / owner", "范围 / scopes", "到期 / expires", "吊销 / revoked")
    for key in keys:
        expires = "" if key.expires_at is None else f"{key.expires_at:%Y-%m-%d}"
        revoked = "" if key.revoked_at is None else f"{key.revoked_at:%Y-%m-%d %H:%M}"
        table.add_row(key.prefix, key.name, key.owner, ", ".join(sorted(key.scopes)), expires, revoked)
    console.print(table)


@apikey_app.command("revoke")
def apikey_revoke(
    prefix: Annotated[str, typer.Argument(help="密钥前缀 / the key's prefix (or the whole key)")],
    data_dir: DataDir = None,
) -> None:
    """Revoke an API key at once."""
    with _accounts(data_dir) as accounts:
        revoked = accounts.revoke_api_key(prefix, actor=ACTOR)
    console.print(f"已吊销 / revoked {revoked}")
