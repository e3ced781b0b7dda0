"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from xueliang import __version__
from xueliang.api.auth_deps import install_auth_errors
from xueliang.api.deps import get_caller
from xueliang.api.errors import install_error_handlers
from xueliang.api.redaction import install_token_redaction
from xueliang.api.routers import (
    alarms,
    audit,
    auth,
    cameras,
    device_control,
    devices,
    governance,
    health,
    home,
    ids,
    inventory,
    live,
    login_page,
    play,
    player,
    sharing,
    units,
)
from xueliang.app import Platform

log = logging.getLogger(__name__)


def create_app(platform: Platform) -> FastAPI:
    """An app serving ``platform``'s services; OpenAPI docs at /docs."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if platform.signaling is not None:
            await platform.signaling.start()  # the SIP endpoint shares the server's event loop (uvloop)
        if platform.media is not None:
            await platform.media.start()  # RTP receivers and viewer outputs on the same loop
        platform.audit.start()  # the audit writer drains the outbox into the hash chain
        expiry = asyncio.create_task(expire_grants(platform), name="grant-expiry")
        try:
            yield
        finally:
            expiry.cancel()
            if platform.media is not None:
                await platform.media.stop()  # BYE to every device while signaling still runs
            if platform.signaling is not None:
                await platform.signaling.stop()
        platform.jobs.shutdown()  # the worker processes stop with the app (a later job would start them again)
        platform.audit.close()  # writes what is still queued

    app = FastAPI(
        lifespan=lifespan,
        title="xueliang 雪亮平台",
        version=__version__,
        description="公共场所视频监控资源整合共享平台 API / Public video resource integration and sharing API",
        docs_url="/docs",
    )
    app.state.platform = platform
    install_token_redaction()  # viewer URLs carry play tokens; the access log must not
    install_error_handlers(app)
    install_auth_errors(app)
    public = APIRouter(prefix="/api/v1")  # what needs no credential: health, and login itself
    public.include_router(health.router)
    public.include_router(auth.router)
    api = APIRouter(prefix="/api/v1", dependencies=[Depends(get_caller)])  # everything else: 401 without one
    api.include_router(cameras.router)
    api.include_router(inventory.router)
    api.include_router(governance.router)
    api.include_router(units.router)
    api.include_router(ids.router)
    api.include_router(device_control.router)
    api.include_router(devices.router)
    api.include_router(alarms.router)
    api.include_router(play.router)
    api.include_router(sharing.router)
    api.include_router(audit.router)
    app.include_router(public)
    app.include_router(api)
    app.include_router(home.router)
    app.include_router(live.router)  # /media/v1: token-authenticated viewer outputs
    app.include_router(player.router)  # /play/{camera_id}: the minimal live player
    app.include_router(login_page.router)  # /login: the sign-in page of the browser pages
    return app


async def expire_grants(platform: Platform, interval: float = 30.0) -> None:
    """Grants past their window become expired (and their streams stop) within ``interval`` seconds."""
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(platform.sharing.expire_due)
        except Exception:
            log.exception("grant expiry failed; retrying")
