"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from xueliang import __version__
from xueliang.api.deps import get_caller
from xueliang.api.errors import install_error_handlers
from xueliang.api.routers import health
from xueliang.app import Platform


def create_app(platform: Platform) -> FastAPI:
    """An app serving ``platform``'s services; OpenAPI docs at /docs."""
    app = FastAPI(
        title="xueliang 雪亮平台",
        version=__version__,
        description="公共场所视频监控资源整合共享平台 API / Public video resource integration and sharing API",
        docs_url="/docs",
    )
    app.state.platform = platform
    install_error_handlers(app)
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(get_caller)])
    api.include_router(health.router)
    app.include_router(api)
    return app
