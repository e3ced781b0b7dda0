"""GET /: the landing page until the web console arrives (issue 7): what is loaded, and where to go next."""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from xueliang import __version__
from xueliang.api.deps import get_catalog
from xueliang.catalog.service import CameraQuery, CatalogService
from xueliang.store.cameras import PageRequest

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
</ul>
<p>Web 控制台随后提供 / the web console follows. xueliang {version}</p></body></html>"""


@router.get("/", response_class=HTMLResponse)
def home(catalog: Annotated[CatalogService, Depends(get_catalog)]) -> HTMLResponse:
    page = catalog.list_cameras(CameraQuery(), PageRequest(limit=1, with_total=True))
    return HTMLResponse(_PAGE.format(count=escape(str(page.total or 0)), version=escape(__version__)))
