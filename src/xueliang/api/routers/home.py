"""GET /: the landing page until the web console arrives (issue 7): who is signed in, what is loaded, where to go.

Signed in (the console cookie, or a Bearer token or API key for scripts): the archive's size, links to the API,
the play form and links to the player for cameras of online devices, and a sign-out button (``logout.js`` of the
login page). Nobody signed in: a sign-in link, nothing of the archive. The play form is a plain GET form
(``/play?camera=`` redirects to the player): the page has no script of its own, and says so in its CSP.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from xueliang import __version__
from xueliang.api.auth_deps import AuthApiError, Sessions, current_principal
from xueliang.api.deps import get_catalog, get_device_store
from xueliang.catalog.service import CameraQuery, CatalogService
from xueliang.domain.principals import Principal
from xueliang.store.cameras import PageRequest
from xueliang.store.devices import DeviceStore

router = APIRouter(include_in_schema=False)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)
HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": CONTENT_SECURITY_POLICY}

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>xueliang 雪亮平台</title>
<link rel="icon" href="data:,">
<script src="/login/assets/logout.js" defer></script>
<style>body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;
color:#1f2937}}h1{{font-size:1.6rem}}.n{{font-size:2.4rem;font-weight:700;color:#1d4ed8}}
li{{margin:.4rem 0}}code{{background:#f3f4f6;padding:.1rem .3rem}}
#session{{display:flex;gap:.8rem;align-items:center;border-bottom:1px solid #e5e7eb;padding-bottom:.6rem}}
#session button{{font:inherit}}</style></head>
<body><h1>雪亮平台 · 公共场所视频监控资源整合共享</h1>
{session}
{content}
<p>Web 控制台随后提供 / the web console follows. xueliang {version}</p></body></html>"""

_SIGNED_IN = """<p id="session">当前用户 Signed in as <strong id="current-user">{name}</strong>
<span id="current-unit">{unit}</span>
<button type="button" id="logout" data-logout="/login">退出登录 Sign out</button></p>"""

_SIGNED_OUT = """<p id="session"><a id="sign-in" href="/login?next=%2F">登录 Sign in</a>
查看摄像机与实时视频 / to see cameras and live video</p>"""

_CONTENT = """<p>一机一档 / camera archive: <span class="n" id="camera-count">{count}</span> 路摄像机 cameras</p>
<ul>
<li><a href="/docs">接口文档 API reference (OpenAPI)</a></li>
<li><a href="/api/v1/cameras?q=%E8%B7%AF%E5%8F%A3&amp;limit=20">摄像机查询 Cameras: <code>q=路口</code></a></li>
<li><a href="/api/v1/governance/report">档案治理报告 Governance report</a></li>
<li><a href="/api/v1/inventory/export?format=xlsx">导出资源清单 Export the resource list (xlsx)</a></li>
<li><a href="/api/v1/devices?online=true">在线设备 Online devices</a> ·
<a href="/api/v1/streams">实时流 Live streams</a></li>
</ul>
<h2>实时视频 Live video</h2>
<form id="play-form" action="/play" method="get">
<input name="camera" placeholder="摄像机编号 camera ID (20 digits)" size="30" pattern="\\d{{20}}" required>
<button>播放 Play</button></form>
<ul id="live-cameras">{live}</ul>"""

_ANONYMOUS = """<ul><li><a href="/docs">接口文档 API reference (OpenAPI)</a></li></ul>"""

LIVE_LINKS = 8


def live_links(devices: DeviceStore) -> str:
    """Links to the player for the first channel of a few online devices (the demo's simulated cameras)."""
    items = []
    for summary in devices.list_devices(PageRequest(limit=LIVE_LINKS), online=True).items:
        detail = devices.get_device(summary.device_id, history_limit=0, channel_limit=1)
        channel = detail.channels[0] if detail is not None and detail.channels else None
        if channel is not None and channel.camera_id:
            label = escape(channel.archive_name or channel.name or channel.camera_id)
            camera = escape(channel.camera_id)
            items.append(f'<li><a href="/play/{camera}">{label}</a> <code>{camera}</code></li>')
    return "".join(items) or "<li>暂无在线摄像机 / no camera online yet</li>"


def signed_in(request: Request, sessions: Sessions) -> Principal | None:
    """The caller when signed in (cookie, Bearer token or API key), else None: the page is public."""
    try:
        return current_principal(request, sessions)
    except AuthApiError:
        return None


@router.get("/", response_class=HTMLResponse)
def home(
    catalog: Annotated[CatalogService, Depends(get_catalog)],
    devices: Annotated[DeviceStore, Depends(get_device_store)],
    principal: Annotated[Principal | None, Depends(signed_in)],
) -> HTMLResponse:
    if principal is None:
        page = _PAGE.format(session=_SIGNED_OUT, content=_ANONYMOUS, version=escape(__version__))
        return HTMLResponse(page, headers=HEADERS)
    cameras = catalog.list_cameras(CameraQuery(), PageRequest(limit=1, with_total=True))
    content = _CONTENT.format(count=escape(str(cameras.total or 0)), live=live_links(devices))
    session = _SIGNED_IN.format(name=escape(principal.name), unit=escape(principal.unit_code))
    return HTMLResponse(_PAGE.format(session=session, content=content, version=escape(__version__)), headers=HEADERS)
