"""GET /login: the sign-in page of the browser pages (issue 5), and GET /login/assets/{name}: its script and style,
and what the browser pages share.

Static like the player page: the script posts ``{username, password}`` to ``POST /api/v1/auth/login`` with fetch,
which sets the HTTP-only session cookie; the page then goes to ``?next=``. ``next`` is checked here, once
(:func:`safe_next`: a path on this origin, nothing that a browser could read as another host), and handed to the
script in ``data-next``. No inline script or style: the page is served under the same kind of
Content-Security-Policy as the player. Served here for every browser page: ``page.css`` (the look the sign-in page
and the player share), ``page.js`` (what their scripts share: the page's language, the platform's error messages,
who is signed in) and ``logout.js``, the sign-out button of the pages that have no script of their own (the landing
page): any ``<button data-logout="/where-to-go">`` ends the session.

Language: ``?lang=en`` or ``?lang=zh-CN`` when given, else the browser's ``Accept-Language``; zh-CN by default.
No route here touches the platform's services, so the page can be served (and tested) without a database.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from string import Template
from typing import Annotated, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Header, Query
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

router = APIRouter(include_in_schema=False)

PAGE_DIR = Path(__file__).resolve().parent.parent / "login"
ASSETS = {
    "login.js": "text/javascript; charset=utf-8",
    "logout.js": "text/javascript; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "login.css": "text/css; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}
LOGIN_PATH = "/login"
DEFAULT_NEXT = "/"
MAX_NEXT_LENGTH = 2048
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Vary": "Accept-Language",
}

Language = Literal["zh-CN", "en"]

# Static labels, rendered on the server so that the page reads right before its script runs.
TEXTS: dict[Language, dict[str, str]] = {
    "zh-CN": {
        "title": "登录",
        "platform": "雪亮平台 · 公共场所视频监控资源整合共享",
        "username": "用户名",
        "password": "密码",
        "submit": "登录",
        "signed_in_as": "当前已登录：",
        "continue": "继续",
        "logout": "退出登录",
        "switch_label": "English",
        "switch_lang": "en",
    },
    "en": {
        "title": "Sign in",
        "platform": "xueliang · public video resource integration and sharing",
        "username": "Username",
        "password": "Password",
        "submit": "Sign in",
        "signed_in_as": "Signed in as ",
        "continue": "Continue",
        "logout": "Sign out",
        "switch_label": "中文",
        "switch_lang": "zh-CN",
    },
}


def safe_next(value: str | None) -> str:
    """Where to go after signing in: ``value`` when it is a path on this origin, else ``/``.

    Refused: anything not starting with one ``/`` (``//evil``, ``http://...``, ``javascript:...``), backslashes
    (browsers read ``/\\evil`` as ``//evil``), control characters (browsers drop tabs and newlines, so
    ``/\\t/evil`` is ``//evil`` too), over-long values, and the login page itself (no loop)."""
    if not value or len(value) > MAX_NEXT_LENGTH:
        return DEFAULT_NEXT
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return DEFAULT_NEXT
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return DEFAULT_NEXT
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return DEFAULT_NEXT
    if parts.path == LOGIN_PATH or parts.path.startswith(LOGIN_PATH + "/"):
        return DEFAULT_NEXT
    return value


def page_language(lang: str | None, accept_language: str | None) -> Language:
    """``lang`` when given (``en...`` is English, anything else Chinese), else the first of Chinese or English
    the browser prefers (highest ``q``, then the earliest), else Chinese."""
    if lang:
        return "en" if lang.lower().startswith("en") else "zh-CN"
    best: Language = "zh-CN"
    best_q = 0.0
    for item in (accept_language or "").split(","):
        tag, _, params = item.partition(";")
        tag = tag.strip().lower()
        if not (tag.startswith("en") or tag.startswith("zh")):
            continue
        q = _quality(params)
        if q > best_q:
            best, best_q = ("en" if tag.startswith("en") else "zh-CN"), q
    return best


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


@router.get("/login/assets/{name}")
def login_asset(name: str) -> Response:
    """The page's script and style, and the shared ``page.*`` and ``logout.js``; nothing else is reachable."""
    content_type = ASSETS.get(name)
    if content_type is None:
        return PlainTextResponse("未找到 / not found\n", status_code=404)
    return FileResponse(PAGE_DIR / name, media_type=content_type, headers={"Cache-Control": "no-cache"})


@router.get("/login", response_class=HTMLResponse)
def login_page(
    lang: Annotated[str | None, Query(description="zh-CN or en; default from Accept-Language")] = None,
    next_path: Annotated[str | None, Query(alias="next", description="Where to go after signing in")] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    language = page_language(lang, accept_language)
    target = safe_next(next_path)
    texts = TEXTS[language]
    switch = {"lang": texts["switch_lang"]} | ({} if target == DEFAULT_NEXT else {"next": target})
    logout_to = f"{LOGIN_PATH}?{urlencode({'lang': language} | ({} if target == DEFAULT_NEXT else {'next': target}))}"
    template = Template((PAGE_DIR / "login.html").read_text(encoding="utf-8"))
    page = template.substitute(
        {key: escape(value) for key, value in texts.items()},
        lang=language,
        next=escape(target, quote=True),
        switch_href=escape("?" + urlencode(switch), quote=True),
        logout_to=escape(logout_to, quote=True),
    )
    return HTMLResponse(page, headers=PAGE_HEADERS)
