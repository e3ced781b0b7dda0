"""The sign-in page in headless Chromium, against the platform's own app (``create_app``) on a real database.

A person signs in with the form: a wrong password shows the server's message and leaves them on the page; a locked
account says when it unlocks; signing in goes to ``?next=`` when it is a path on this origin and to the landing
page when it is not; signing out (landing page or player) ends the session, and the player then asks to sign in
again. The landing page shows who is signed in, and live links only then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect
from tests.conftest import TEST_PASSWORD, Users

from xueliang.api.app import create_app
from xueliang.app import Platform

from .conftest import SQLITE_ONLY, LiveServer, open_signed_in, sign_in, start_server

pytestmark = [pytest.mark.slow, SQLITE_ONLY]

USER = "wang"
CAMERA = "34150200001320000001"
WRONG_PASSWORD = "Not-The-Password-1"
UNSAFE_NEXT = ["//evil.example/", "http://evil.example/", "/\\evil.example/", "javascript:alert(1)", "/login"]


@pytest.fixture
def site(platform: Platform, users: Users) -> Iterator[LiveServer]:
    """The platform's app served for real (its lifespan off: no SIP, no media node), with one unit administrator
    of the platform's unit."""
    users.create(USER, "unit_admin")
    server = start_server(create_app(platform))
    yield server
    server.stop()


def login_url(site: LiveServer, **query: str) -> str:
    return f"{site.url}/login?{urlencode(query)}" if query else f"{site.url}/login"


def test_a_wrong_password_shows_the_message_and_stays(site: LiveServer, page: Page) -> None:
    url = login_url(site, next=f"/play/{CAMERA}", lang="zh-CN")
    page.goto(url)
    with page.expect_response(f"{site.url}/api/v1/auth/login") as answer:
        sign_in(page, USER, WRONG_PASSWORD)
    assert answer.value.status == 401
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_have_text(answer.value.json()["message_zh"])
    expect(error).to_have_text("用户名或密码错误")
    expect(page.locator("body")).to_have_attribute("data-state", "refused")
    assert page.url == url
    expect(page.locator("#password")).to_have_value("")  # typed again, not resent
    expect(page.locator("#username")).to_have_value(USER)
    assert page.request.get(f"{site.url}/api/v1/auth/me").status == 401


def test_a_locked_account_says_when_it_unlocks(site: LiveServer, page: Page, platform: Platform) -> None:
    """Five wrong passwords in a row (the default) lock the account; the page shows the server's message and the
    moment it unlocks, in the browser's time zone."""
    page.goto(login_url(site, lang="en"))
    statuses = []
    for _ in range(platform.settings.login_max_failures):
        with page.expect_response(f"{site.url}/api/v1/auth/login") as answer:
            sign_in(page, USER, WRONG_PASSWORD)
        statuses.append(answer.value.status)
        expect(page.locator("#submit")).to_be_enabled()
    assert statuses == [401] * (platform.settings.login_max_failures - 1) + [423]
    locked_until = platform.accounts.get_user(USER).locked_until
    assert locked_until is not None
    expect(page.locator("#error")).to_contain_text("locked until")
    unlock = page.locator("#unlock")
    expect(unlock).to_be_visible()
    expect(unlock).to_contain_text("Unlocks at")
    shown = dt.datetime.fromisoformat(str(unlock.get_attribute("data-until")).replace("Z", "+00:00"))
    assert shown.replace(tzinfo=None) == locked_until
    with page.expect_response(f"{site.url}/api/v1/auth/login") as answer:  # the right password, still locked
        sign_in(page, USER, TEST_PASSWORD)
    assert answer.value.status == 423
    expect(unlock).to_be_visible()
    assert page.url == login_url(site, lang="en")


def test_signing_in_goes_to_next(site: LiveServer, page: Page, vendored: None) -> None:
    target = f"/play/{CAMERA}?format=flv"
    page.goto(login_url(site, next=target))
    sign_in(page, USER, TEST_PASSWORD)
    page.wait_for_url(site.url + target)
    expect(page.locator("#user")).to_contain_text(USER)  # the player knows who is signed in
    expect(page.locator("body")).not_to_have_attribute("data-state", "signed-out")


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_an_unsafe_next_is_ignored(site: LiveServer, page: Page, target: str) -> None:
    page.goto(login_url(site, next=target))
    assert page.locator("body").get_attribute("data-next") == "/"
    sign_in(page, USER, TEST_PASSWORD)
    page.wait_for_url(site.url + "/")
    expect(page.locator("#current-user")).to_have_text(USER)


def test_the_landing_page_signs_in_and_out(site: LiveServer, page: Page, vendored: None) -> None:
    page.goto(site.url + "/")
    expect(page.locator("#camera-count")).to_have_count(0)  # nothing of the archive before signing in
    page.locator("#sign-in").click()
    page.wait_for_url(login_url(site, next="/"))
    sign_in(page, USER, TEST_PASSWORD)
    page.wait_for_url(site.url + "/")
    expect(page.locator("#current-user")).to_have_text(USER)
    expect(page.locator("#camera-count")).to_be_visible()
    expect(page.locator("#live-cameras")).to_be_visible()

    page.goto(login_url(site))  # signed in: the sign-in page says who
    expect(page.locator("#signed-in")).to_be_visible()
    expect(page.locator("#current-user")).to_contain_text(USER)
    page.goto(site.url + "/")

    page.locator("#logout").click()
    page.wait_for_url(login_url(site))
    expect(page.locator("#signed-in")).to_be_hidden()
    assert page.request.get(f"{site.url}/api/v1/auth/me").status == 401
    page.goto(site.url + "/")
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#live-cameras")).to_have_count(0)
    page.goto(f"{site.url}/play/{CAMERA}")  # the player sends the signed-out browser to sign in
    page.wait_for_url(login_url(site, next=f"/play/{CAMERA}"))


def test_the_player_signs_out_to_the_sign_in_page(site: LiveServer, page: Page, vendored: None) -> None:
    url = f"{site.url}/play/{CAMERA}?lang=en"
    open_signed_in(page, url, USER, TEST_PASSWORD)
    expect(page.locator("#user")).to_contain_text(USER)
    page.locator("#logout").click()
    page.wait_for_url(login_url(site, next=f"/play/{CAMERA}?lang=en", lang="en"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.request.get(f"{site.url}/api/v1/auth/me").status == 401
    page.goto(url)
    page.wait_for_url(login_url(site, next=f"/play/{CAMERA}?lang=en", lang="en"))
