"""The demo's login on both databases: on first start a unit administrator ``admin`` of the platform's own unit with
a random password the rules accept, kept in <data_dir>/demo/login.txt (mode 0600) and printed at every start; the
same password on later starts; a new one when the file is deleted. The printed login signs in for real (the
console login endpoint). The demo as a running process is tested in tests/e2e/test_demo_login.py."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from xueliang import cli
from xueliang.api.app import create_app
from xueliang.app import Platform
from xueliang.demo import (
    DEMO_ADMIN,
    demo_login_path,
    ensure_demo_cast,
    ensure_demo_login,
    login_lines,
    login_url,
    new_password,
)
from xueliang.domain.principals import Role
from xueliang.sharing.accounts import AccountService


@pytest.fixture
def api(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as client:
        yield client


def sign_in(api: TestClient, username: str, password: str) -> tuple[int, dict[str, Any] | None]:
    """The console login's status in a fresh browser, and who ``/auth/me`` then says is signed in."""
    api.cookies.clear()
    response = api.post("/api/v1/auth/login", json={"username": username, "password": password})
    if response.status_code != 200:
        return response.status_code, None
    me: dict[str, Any] = api.get("/api/v1/auth/me").json()
    return response.status_code, me


def test_first_start_creates_the_unit_administrator_and_keeps_the_password(platform: Platform, api: TestClient) -> None:
    login = ensure_demo_login(platform)
    assert login.created and login.username == DEMO_ADMIN
    user = platform.accounts.get_user(DEMO_ADMIN)
    assert user.roles == frozenset({Role.UNIT_ADMIN})
    assert user.unit_code == platform.settings.platform_unit
    platform.accounts.check_password(login.password, DEMO_ADMIN)  # the configured rules accept it
    path = demo_login_path(platform.settings)
    assert login.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"password: {login.password}" in path.read_text()
    status, me = sign_in(api, DEMO_ADMIN, login.password)
    assert status == 200 and me is not None
    assert (me["id"], me["unit_code"], me["roles"]) == (DEMO_ADMIN, platform.settings.platform_unit, ["unit_admin"])

    again = ensure_demo_login(platform)  # every later start: the same login, nothing changed
    assert (again.password, again.created) == (login.password, False)
    assert sign_in(api, DEMO_ADMIN, login.password)[0] == 200


def test_deleting_the_file_draws_a_new_password(platform: Platform, api: TestClient) -> None:
    first = ensure_demo_login(platform)
    demo_login_path(platform.settings).unlink()
    second = ensure_demo_login(platform)
    assert second.created and second.password != first.password
    assert stat.S_IMODE(second.path.stat().st_mode) == 0o600
    assert sign_in(api, DEMO_ADMIN, first.password)[0] == 401
    assert sign_in(api, DEMO_ADMIN, second.password)[0] == 200


def test_a_kept_password_makes_the_account_again_on_a_new_database(platform: Platform, api: TestClient) -> None:
    path = demo_login_path(platform.settings)
    path.parent.mkdir(parents=True)
    password = new_password(platform.accounts, DEMO_ADMIN)
    path.write_text(f"username: {DEMO_ADMIN}\npassword: {password}\n")
    login = ensure_demo_login(platform)
    assert (login.password, login.created) == (password, True)
    assert sign_in(api, DEMO_ADMIN, password)[0] == 200


@pytest.mark.parametrize("min_length", [8, 12, 40])
def test_new_passwords_meet_stricter_rules(platform: Platform, min_length: int) -> None:
    strict = platform.settings.model_copy(update={"password_min_length": min_length, "password_min_classes": 4})
    accounts = AccountService(platform.sessions, strict)
    drawn = {new_password(accounts, DEMO_ADMIN) for _ in range(20)}
    assert len(drawn) == 20  # random
    for password in drawn:
        assert len(password) >= min_length
        assert accounts.policy.problems(password, DEMO_ADMIN) == []


def test_the_demo_prints_the_login_at_every_start(platform: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    cli._seed_demo(platform, 3)
    first = capsys.readouterr().out
    login = ensure_demo_login(platform)
    assert login_url(platform.settings) in first
    assert f"username: {DEMO_ADMIN}" in first
    assert f"password: {login.password}" in first
    cli._seed_demo(platform, 3)
    second = capsys.readouterr().out
    assert "demo archive already loaded" in second
    assert f"password: {login.password}" in second
    assert login_lines(login, platform.settings)[0] in second


def test_the_login_url_names_a_host_a_browser_can_reach(platform: Platform) -> None:
    settings = platform.settings
    assert login_url(settings.model_copy(update={"http_host": "0.0.0.0", "http_port": 8123})).startswith(
        "http://127.0.0.1:8123/login"
    )
    assert login_url(settings.model_copy(update={"http_host": "::1", "http_port": 80})) == "http://[::1]:80/login"
    assert login_url(settings.model_copy(update={"http_host": "10.1.2.3", "http_port": 80})) == (
        "http://10.1.2.3:80/login"
    )


def test_the_demo_cast_signs_in_and_the_platform_unit_is_published(platform: Platform, api: TestClient) -> None:
    login = ensure_demo_login(platform)
    cast = ensure_demo_cast(platform, login)
    assert {m.username: m.role for m in cast} == {
        "operator": Role.OPERATOR,
        "bureau": Role.UNIT_ADMIN,
        "secadmin": Role.SECADMIN,
        "auditor": Role.AUDITOR,
    }
    requester = next(m for m in cast if m.username == "operator").unit_code
    assert requester not in (platform.settings.platform_unit, platform.settings.bureau_unit)
    for member in cast:
        status, me = sign_in(api, member.username, login.password)
        assert status == 200 and me is not None
        assert (me["unit_code"], me["roles"]) == (member.unit_code, [member.role.value])
    offers = platform.sharing.offers(platform.settings.platform_unit)
    assert [(o.scope.value, sorted(m.value for m in o.modes)) for o in offers] == [
        ("unit", ["desensitised", "live", "snapshot"])
    ]
    again = ensure_demo_cast(platform, ensure_demo_login(platform))  # a later start changes nothing
    assert again == cast and len(platform.sharing.offers(platform.settings.platform_unit)) == 1
    lines = "\n".join(login_lines(login, platform.settings, cast))
    assert "operator (operator" in lines and "auditor (auditor" in lines
