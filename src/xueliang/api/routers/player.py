"""GET /play/{camera_id}: a minimal live player page, and GET /play/assets/{path}: its script, style and players.

The page exists so that live video can be checked in a browser before the web console does (issue 4). It is
static: the script asks ``GET /api/v1/auth/me`` who is signed in (nobody: it goes to ``/login?next=``, see
``login_page.py``), calls ``POST /api/v1/cameras/{id}/play`` itself with the session's CSRF token and plays the
returned FLV URL with mpegts.js or the HLS URL with hls.js. Those two players come from npm and are copied into
``xueliang/web_dist/player/vendor`` by ``scripts/build-web`` (build output, not committed); without them the page
answers 503 and says what to run. The page's own sources (``api/player/``) are committed; the look and the script
helpers it shares with the sign-in page come from ``/login/assets/page.css`` and ``page.js`` (``login_page.py``).
No route here touches the platform's services, so the page can be served (and tested) without a database.
``GET /play?camera=`` sends the landing page's play form on to the camera's page.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path, PurePosixPath
from string import Template
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response

import xueliang

router = APIRouter(include_in_schema=False)

PAGE_DIR = Path(__file__).resolve().parent.parent / "player"
VENDOR_DIR = Path(xueliang.__file__).resolve().parent / "web_dist" / "player" / "vendor"
REQUIRED_VENDOR_FILES = ("mpegts.js", "hls.min.js")
PAGE_FILES = frozenset({"player.js", "player.css"})
VENDOR_PREFIX = "vendor"
MISSING_VENDOR_MESSAGE = (
    "播放器资源未构建，请运行 scripts/bootstrap\n"
    "The player assets are not built; run scripts/bootstrap (it runs scripts/build-web: npm ci + build).\n"
)
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".LICENSE": "text/plain; charset=utf-8",
}
# The media node is another origin (its own host/port): media, snapshots and fetch/XHR/WebSocket go there.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; "
    "media-src 'self' blob: http: https:; connect-src 'self' http: https: ws: wss:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)
NO_CACHE = {"Cache-Control": "no-cache"}

Language = Literal["zh-CN", "en"]

# Static labels of the page, rendered on the server so that the page reads right before its script runs.
TEXTS: dict[Language, dict[str, str]] = {
    "zh-CN": {
        "title": "实时视频",
        "camera": "摄像机",
        "format": "格式",
        "variant": "码流",
        "snapshot": "抓图",
        "retry": "重新播放",
        "status": "状态",
        "switch_label": "English",
        "switch_lang": "en",
        "loading": "正在加载…",
        "signed_in": "当前用户",
        "logout": "退出登录",
        "masked": "已脱敏",
        "masked_title": "按授权要求，人脸、车牌和隐私区域已模糊处理",
    },
    "en": {
        "title": "Live video",
        "camera": "Camera",
        "format": "Format",
        "variant": "Variant",
        "snapshot": "Snapshot",
        "retry": "Play again",
        "status": "Status",
        "switch_label": "中文",
        "switch_lang": "zh-CN",
        "loading": "Loading…",
        "signed_in": "Signed in as",
        "logout": "Sign out",
        "masked": "desensitised",
        "masked_title": "As the grant requires, faces, licence plates and privacy masks are blurred",
    },
}


@dataclass(frozen=True, slots=True)
class PlayerAssets:
    """Where the page's committed sources and the vendored players live (a dependency, so tests can move them)."""

    page_dir: Path
    vendor_dir: Path

    def vendor_ready(self) -> bool:
        return all((self.vendor_dir / name).is_file() for name in REQUIRED_VENDOR_FILES)


def player_assets() -> PlayerAssets:
    return PlayerAssets(page_dir=PAGE_DIR, vendor_dir=VENDOR_DIR)


Assets = Annotated[PlayerAssets, Depends(player_assets)]


def _missing_vendor() -> PlainTextResponse:
    return PlainTextResponse(MISSING_VENDOR_MESSAGE, status_code=503, headers=NO_CACHE)


def _not_found() -> PlainTextResponse:
    return PlainTextResponse("未找到 / not found\n", status_code=404)


def _inside(root: Path, relative: PurePosixPath) -> Path | None:
    """``root/relative`` when it is a file under ``root`` (symlinks resolved), else None."""
    candidate = (root / relative).resolve()
    base = root.resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate


def _content_type(name: str) -> str | None:
    for suffix, content_type in CONTENT_TYPES.items():
        if name.endswith(suffix):
            return content_type
    return None


@router.get("/play/assets/{asset_path:path}")
def player_asset(asset_path: str, assets: Assets) -> Response:
    """The page's script and style, and the vendored players under ``vendor/``; nothing else is reachable."""
    relative = PurePosixPath(asset_path)
    parts = relative.parts
    if not parts or relative.is_absolute() or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return _not_found()
    content_type = _content_type(parts[-1])
    if content_type is None:
        return _not_found()
    if len(parts) == 1 and parts[0] in PAGE_FILES:
        found = _inside(assets.page_dir, relative)
    elif len(parts) == 2 and parts[0] == VENDOR_PREFIX:
        if not assets.vendor_ready():
            return _missing_vendor()
        found = _inside(assets.vendor_dir, PurePosixPath(parts[1]))
    else:
        found = None
    if found is None:
        return _not_found()
    return FileResponse(found, media_type=content_type, headers=NO_CACHE)


@router.get("/play")
def player_for(camera: Annotated[str, Query(max_length=64, description="The camera to play")] = "") -> Response:
    """The landing page's "play" form (a plain GET form, no script): on to ``/play/{camera}``."""
    camera = camera.strip()
    return RedirectResponse(f"/play/{quote(camera, safe='')}" if camera else "/", status_code=303)


@router.get("/play/{camera_id}", response_class=HTMLResponse)
def player_page(
    camera_id: str,
    assets: Assets,
    lang: Annotated[str | None, Query(description="zh-CN (default) or en")] = None,
) -> Response:
    """The player page for one camera; the script starts playing as soon as it loads."""
    if not assets.vendor_ready():
        return _missing_vendor()
    language: Language = "en" if (lang or "").lower().startswith("en") else "zh-CN"
    template = Template((assets.page_dir / "player.html").read_text(encoding="utf-8"))
    values = {key: escape(value) for key, value in TEXTS[language].items()}
    page = template.substitute(values, lang=language, camera_id=escape(camera_id, quote=True))
    headers = {**NO_CACHE, "Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff"}
    return HTMLResponse(page, headers=headers)
