"""GET /: the landing page until the web console arrives (issue 7): what is loaded, and where to go next."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from xueliang import __version__
from xueliang.api.deps import get_catalog, get_device_store
from xueliang.catalog.service import CameraQuery, CatalogService
from xueliang.store.cameras import PageRequest
from xueliang.store.devices import DeviceStore

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>xueliang 雪亮平台</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;
color:#1f2937}}h1{{font-size:1.6rem}}.n{{font-size:2.4rem;font-weight:700;color:#1d4ed8}}
li{{margin:.4rem 0}}code{{background:#f3f4f6;padding:.1rem .3rem}}</style></head>
<body><h1>雪亮平台 · 公共场所视频监控资源整合共享</h1>
<p>一机一档 / camera archive: <span class="n" id="camera-count">{count}</span> 路摄像机 cameras</p>
<ul>
<li><a href="/docs">接口文档 API reference (OpenAPI)</a></li>
<li><a href="/api/v1/cameras?q=%E8%B7%AF%E5%8F%A3&amp;limit=20">摄像机查询 Cameras: <code>q=路口</code></a></li>
<li><a href="/api/v1/governance/report">档案治理报告 Governance report</a></li>
<li><a href="/api/v1/inventory/export?format=xlsx">导出资源清单 Export the resource list (xlsx)</a></li>
<li><a href="/api/v1/devices?online=true">在线设备 Online devices</a> ·
<a href="/api/v1/streams">实时流 Live streams</a></li>
</ul>
<h2>实时视频 Live video</h2>
<form id="play-form" onsubmit="location.href='/play/'+encodeURIComponent(this.camera.value.trim());return false">
<input name="camera" placeholder="摄像机编号 camera ID (20 digits)" size="30" pattern="\\d{{20}}" required>
<button>播放 Play</button></form>
<ul id="live-cameras">{live}</ul>
<p>Web 控制台随后提供 / the web console follows. xueliang {version}</p></body></html>"""


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


@router.get("/", response_class=HTMLResponse)
def home(
    catalog: Annotated[CatalogService, Depends(get_catalog)],
    devices: Annotated[DeviceStore, Depends(get_device_store)],
) -> HTMLResponse:
    page = catalog.list_cameras(CameraQuery(), PageRequest(limit=1, with_total=True))
    return HTMLResponse(
        _PAGE.format(count=escape(str(page.total or 0)), version=escape(__version__), live=live_links(devices))
    )
