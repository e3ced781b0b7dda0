"""``xueliang demo``: a demo city on the embedded SQLite database.

Steps: 1. a data directory of its own (``./xueliang-demo`` unless told otherwise)  2. the platform built as
``serve`` builds it  3. on first start, a sample Lu'an inventory written as a department's xlsx and imported
through the real import pipeline  4. on first start, the unit administrator ``admin`` of the platform's own unit
(which owns every demo camera) with a random password kept in ``<data_dir>/demo/login.txt`` (mode 0600); its
login is printed at every start  5. simulated NVRs register over GB/T 28181 (a child process running
``xueliang sim devices``)  6. serve the API and console. What the demo shows grows with the product.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from xueliang.app import Platform
from xueliang.catalog.importer import ImportOptions, ImportResult
from xueliang.catalog.service import error_report_paths
from xueliang.config import Settings
from xueliang.domain.grants import ShareScope
from xueliang.domain.principals import Mode, Role
from xueliang.sharing.accounts import AccountService, PasswordRejectedError, UserNotFoundError
from xueliang.sim.inventory import write_xlsx
from xueliang.store.crypto import read_or_create_secret_file

DEMO_FILE = "六安市示例资源清单.xlsx"
DEMO_SIP_PASSWORD = "xueliang-demo-12345"  # noqa: S105 - the demo's device password, printed at start


def archive_is_empty(platform: Platform) -> bool:
    from xueliang.catalog.service import CameraQuery
    from xueliang.store.cameras import PageRequest

    return not platform.catalog.list_cameras(CameraQuery(), PageRequest(limit=1)).items


def seed_demo(platform: Platform, count: int) -> ImportResult | None:
    """Import the sample inventory once; None when the archive already has cameras."""
    if not archive_is_empty(platform):
        return None
    source = platform.settings.data_dir / "demo" / DEMO_FILE
    write_xlsx(source, count)
    report_xlsx, report_json = error_report_paths(source)
    return platform.catalog.import_file(
        source.read_bytes(), source.name, ImportOptions(), report_xlsx=report_xlsx, report_json=report_json
    )


DEMO_NVRS = 8
DEMO_NVR_CHANNELS = 16


def start_demo_devices(settings: Settings, nvrs: int = DEMO_NVRS) -> subprocess.Popen[bytes] | None:
    """Simulated NVRs (``xueliang sim devices`` in a child process) that register with the demo's SIP endpoint,
    keep alive and hand over their catalogs: the demo's devices page fills with them. None without SIP."""
    if not settings.sip_enabled or nvrs <= 0 or not settings.sip_password:
        return None
    host = "127.0.0.1" if settings.sip_host in ("0.0.0.0", "") else settings.sip_host  # noqa: S104
    command = [
        sys.executable, "-m", "xueliang.sim.cli", "devices",
        "--server", f"{host}:{settings.sip_port}",
        "--server-id", settings.sip_id,
        "--password", settings.sip_password,
        "--count", str(nvrs),
        "--channels", str(DEMO_NVR_CHANNELS),
        "--video", "h264",  # every channel answers INVITE with real video (a PyAV-encoded loop)
        "--quiet",
    ]  # fmt: skip
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)  # noqa: S603 - our own interpreter and module


DEMO_ADMIN = "admin"
DEMO_REQUESTER_UNIT = "CGJ"
DEMO_ADMIN_NAME = "演示管理员 / demo administrator"
LOGIN_FILE = "login.txt"
PASSWORD_GROUPS = 4  # four groups of five: about 110 bits, and easy to read aloud
PASSWORD_GROUP = 5
# letters and digits that cannot be mistaken for each other (no 0/O, 1/l/I), hyphens between groups
PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105 - an alphabet


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """The demo administrator's login, and whether this start made the account or its password."""

    username: str
    password: str
    path: Path
    created: bool


def demo_login_path(settings: Settings) -> Path:
    return settings.data_dir / "demo" / LOGIN_FILE


def new_password(accounts: AccountService, username: str) -> str:
    """A random password the configured rules accept (groups are added while the rules ask for more length)."""
    while True:
        groups = PASSWORD_GROUPS
        while groups * (PASSWORD_GROUP + 1) - 1 < accounts.settings.password_min_length:
            groups += 1
        password = "-".join(
            "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_GROUP)) for _ in range(groups)
        )
        try:
            accounts.check_password(password, username)
        except PasswordRejectedError:
            continue  # a draw without an upper case letter or a digit, or holding the username: draw again
        return password


def _render(username: str, password: str) -> bytes:
    return (
        "# xueliang demo login, made on the first start (delete this file for a new password)\n"
        f"username: {username}\npassword: {password}\n"
    ).encode()


def _read_password(content: bytes) -> str | None:
    for line in content.decode("utf-8", errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "password" and value.strip():
            return value.strip()
    return None


def ensure_demo_login(platform: Platform) -> DemoLogin:
    """The demo administrator: a unit administrator of the platform's own unit named ``admin``.

    The password is drawn once and kept in ``<data_dir>/demo/login.txt`` (mode 0600). Without the file (first
    start, or someone deleted it for a new password) a new one is drawn and, when the account exists already, set
    on it. With the file and the account both there, nothing changes."""
    accounts = platform.accounts
    path = demo_login_path(platform.settings)
    password = _read_password(path.read_bytes()) if path.is_file() else None
    drawn = password is None
    if drawn:
        path.unlink(missing_ok=True)  # absent, or without a password line: a new password
        content = read_or_create_secret_file(path, lambda: _render(DEMO_ADMIN, new_password(accounts, DEMO_ADMIN)))
        password = _read_password(content)
    if password is None:
        raise ValueError(f"{path} holds no password line")
    try:
        accounts.get_user(DEMO_ADMIN)
    except UserNotFoundError:
        accounts.create_user(DEMO_ADMIN, password, [Role.UNIT_ADMIN.value], display_name=DEMO_ADMIN_NAME, actor="demo")
        return DemoLogin(DEMO_ADMIN, password, path, created=True)
    if drawn:
        accounts.set_password(DEMO_ADMIN, password, actor="demo")  # its sessions end: the old password is gone
    return DemoLogin(DEMO_ADMIN, password, path, created=drawn)


@dataclass(frozen=True, slots=True)
class CastMember:
    username: str
    role: Role
    unit_code: str
    what: str


def _requesting_unit(platform: Platform) -> str:
    """The unit that asks for video in the demo (the sample inventory's units carry generated codes)."""
    platform.accounts.ensure_unit(DEMO_REQUESTER_UNIT, "六安市城市管理局（演示） / city management bureau (demo)")
    return DEMO_REQUESTER_UNIT


def demo_cast(platform: Platform) -> list[CastMember]:
    """Who else the demo signs in as, to walk a share request end to end: an operator of another unit asks, the
    platform unit's ``admin`` and the data bureau approve, the auditor watches, the security administrator
    oversees."""
    settings = platform.settings
    return [
        CastMember("operator", Role.OPERATOR, _requesting_unit(platform), "申请调阅 / files share requests"),
        CastMember("bureau", Role.UNIT_ADMIN, settings.bureau_unit, "数管局审批 / approves for the data bureau"),
        CastMember("secadmin", Role.SECADMIN, settings.platform_unit, "安全管理员 / grants and revocation"),
        CastMember("auditor", Role.AUDITOR, settings.platform_unit, "审计员 / reads the audit log"),
    ]


def ensure_demo_cast(platform: Platform, login: DemoLogin) -> list[CastMember]:
    """The cast's accounts with the demo administrator's password (a demo, not a deployment: one password to
    remember), and, on first start, the platform unit's cameras published for live, snapshot and desensitised
    use, so the operator has something to ask for."""
    accounts = platform.accounts
    cast = demo_cast(platform)
    for member in cast:
        try:
            accounts.get_user(member.username)
        except UserNotFoundError:
            accounts.create_user(
                member.username, login.password, [member.role.value], unit_code=member.unit_code, actor="demo"
            )
            continue
        if login.created:
            accounts.set_password(member.username, login.password, actor="demo")
    if not platform.sharing.offers(platform.settings.platform_unit):
        admin = accounts.get_user(DEMO_ADMIN).principal()
        modes = frozenset({Mode.LIVE, Mode.SNAPSHOT, Mode.DESENSITISED})
        platform.sharing.publish(admin, ShareScope.UNIT, None, modes)
    return cast


def login_url(settings: Settings) -> str:
    """The sign-in page as a browser on this machine reaches it."""
    host = settings.http_host
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - listening everywhere: this machine is reachable on loopback
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.http_port}/login"


def login_lines(login: DemoLogin, settings: Settings, cast: list[CastMember] | None = None) -> list[str]:
    """What the demo prints at start: where to sign in, and with what."""
    lines = [
        f"演示登录 / demo login: {login_url(settings)}",
        f"  用户名 / username: {login.username}",
        f"  密码 / password: {login.password}",
        f"  (单位管理员，本平台单位 / unit administrator of the platform's unit; kept in {login.path})",
    ]
    if cast:
        lines.append("  同一密码的其他演示账号 / other demo accounts, same password:")
        lines.extend(f"    {m.username} ({m.role.value}, {m.unit_code}): {m.what}" for m in cast)
    return lines
