"""The sign-in page (/login) as the platform's app serves it, and the cookie session it leads to, on both databases:
the page's language and its ``next`` (only same-origin paths survive), its assets and CSP (no inline script), and
what the player page relies on: the console cookie gets through with the session's CSRF token on POST and DELETE
and is refused without it. The page in a real browser is tested in tests/e2e/test_login_page.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from tests.conftest import TEST_PASSWORD

from xueliang.api.routers.login_page import safe_next

CAMERA = "34152300001320000001"
UNSAFE_NEXT = [
    "//evil.example/x",
    "///evil.example",
    "http://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "evil.example",
    "/login",
    "/login?next=/x",
    "/" + "a" * 3000,
]
SAFE_NEXT = ["/", "/play/34152300001320000001", "/play/34152300001320000001?format=flv&lang=en", "/a@b/c", "/loginx"]


class _Page(HTMLParser):
    """The tags and attributes of a page, and the text inside <script> and <style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None and data.strip():
            self.inline.append(data)

    def attribute(self, tag_id: str, name: str) -> str | None:
        for _, attrs in self.tags:
            if attrs.get("id") == tag_id:
                return attrs.get(name)
        raise AssertionError(f"no element with id {tag_id}")


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.fixture
def anonymous(client: TestClient) -> TestClient:
    del client.headers["Authorization"]
    return client


def cookie_login(client: TestClient, username: str = "admin") -> str:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": TEST_PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def test_the_page_is_chinese_by_default_english_when_asked(anonymous: TestClient) -> None:
    chinese = anonymous.get("/login")
    assert chinese.status_code == 200
    assert '<html lang="zh-CN">' in chinese.text and "用户名" in chinese.text
    by_header = anonymous.get("/login", headers={"Accept-Language": "en-US,en;q=0.9,zh-CN;q=0.8"})
    assert '<html lang="en">' in by_header.text and "Username" in by_header.text
    preferred_chinese = anonymous.get("/login", headers={"Accept-Language": "en;q=0.5,zh-CN;q=0.9"})
    assert '<html lang="zh-CN">' in preferred_chinese.text
    by_query = anonymous.get("/login?lang=zh-CN", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in by_query.text
    assert '<html lang="en">' in anonymous.get("/login?lang=en").text
    assert by_header.headers["vary"] == "Accept-Language"


def test_the_page_has_no_inline_script_and_a_strict_csp(anonymous: TestClient) -> None:
    response = anonymous.get("/login?next=/play/x")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    page = parse(response.text)
    assert page.inline == []
    scripts = [attrs["src"] for tag, attrs in page.tags if tag == "script"]
    assert scripts == ["/login/assets/page.js", "/login/assets/login.js", "/login/assets/logout.js"]
    handlers = [name for _, attrs in page.tags for name in attrs if name.startswith("on")]
    assert handlers == []
    form = next(attrs for tag, attrs in page.tags if tag == "form")
    assert form["method"] == "post"  # a page without its script must not put the password in a URL
    assert page.attribute("password", "type") == "password"
    assert page.attribute("password", "autocomplete") == "current-password"


@pytest.mark.parametrize("target", UNSAFE_NEXT)
def test_an_unsafe_next_becomes_the_landing_page(anonymous: TestClient, target: str) -> None:
    assert safe_next(target) == "/"
    response = anonymous.get("/login", params={"next": target})
    assert response.status_code == 200
    assert parse(response.text).attribute("continue", "href") == "/"
    assert 'data-next="/"' in response.text


@pytest.mark.parametrize("target", SAFE_NEXT)
def test_a_same_origin_next_is_kept(anonymous: TestClient, target: str) -> None:
    assert safe_next(target) == target
    page = parse(anonymous.get("/login", params={"next": target}).text)
    body = next(attrs for tag, attrs in page.tags if tag == "body")
    assert body["data-next"] == target
    switch = page.attribute("lang-switch", "href")
    assert switch is not None and switch.startswith("?lang=en")
    if target != "/":  # switching the language keeps where to go
        assert re.search(r"[?&]next=", switch)


def test_assets_are_served_and_nothing_else(anonymous: TestClient) -> None:
    assets = ("login.js", "logout.js", "page.js", "login.css", "page.css")
    for name, kind in ((name, "text/css" if name.endswith(".css") else "text/javascript") for name in assets):
        response = anonymous.get(f"/login/assets/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(kind)
    for name in ("login.html", "..%2Fplayer%2Fplayer.js", "secret.key", "login.js.map"):
        assert anonymous.get(f"/login/assets/{name}").status_code == 404, name


def test_the_cookie_session_needs_the_csrf_header_on_post_and_delete(anonymous: TestClient) -> None:
    csrf = cookie_login(anonymous)
    me = anonymous.get("/api/v1/auth/me")  # a safe method: the cookie alone
    assert me.status_code == 200 and me.json()["csrf_token"] == csrf and me.json()["method"] == "cookie"

    refused = anonymous.post(f"/api/v1/cameras/{CAMERA}/play", json={})
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf"
    assert "X-CSRF-Token" in refused.json()["message_en"]
    wrong = anonymous.post(f"/api/v1/cameras/{CAMERA}/play", json={}, headers={"X-CSRF-Token": csrf[::-1]})
    assert wrong.status_code == 403 and wrong.json()["error"] == "csrf"
    gone = anonymous.delete("/api/v1/play-sessions/abc")
    assert gone.status_code == 403 and gone.json()["error"] == "csrf"

    # with the header the request gets past authentication: what answers is the play route itself
    allowed = anonymous.post(f"/api/v1/cameras/{CAMERA}/play", json={}, headers={"X-CSRF-Token": csrf})
    assert allowed.status_code not in (401, 403), allowed.text
    ended = anonymous.delete("/api/v1/play-sessions/abc", headers={"X-CSRF-Token": csrf})
    assert ended.status_code == 404 and ended.json()["error"] == "play_session_not_found"

    assert anonymous.post("/api/v1/auth/logout").status_code == 403  # signing out is unsafe too
    assert anonymous.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert anonymous.get("/api/v1/auth/me").status_code == 401


def test_the_old_cookie_is_dead_after_logout(anonymous: TestClient) -> None:
    csrf = cookie_login(anonymous)
    cookie = anonymous.cookies.get("xueliang_session")
    assert cookie
    assert anonymous.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    anonymous.cookies.set("xueliang_session", cookie)  # a copy kept by someone else
    assert anonymous.get("/api/v1/auth/me").status_code == 401


def test_the_play_form_goes_to_the_player(anonymous: TestClient) -> None:
    response = anonymous.get("/play", params={"camera": f" {CAMERA} "}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/play/{CAMERA}"
    odd = anonymous.get("/play", params={"camera": "a/b?c"}, follow_redirects=False)
    assert odd.headers["location"] == "/play/a%2Fb%3Fc"
    assert anonymous.get("/play", follow_redirects=False).headers["location"] == "/"
