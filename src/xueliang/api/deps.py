"""Dependencies every router goes through: the caller (who, authenticated, and in which language) and the platform
services. ``get_caller`` depends on ``auth_deps.current_principal``: a route taking a Caller is authenticated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from xueliang.api.auth_deps import current_principal
from xueliang.app import Platform
from xueliang.catalog.service import CatalogService
from xueliang.domain.principals import Principal
from xueliang.store.devices import DeviceStore


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling (authenticated) and the language they read."""

    principal: Principal
    language: str
    source_address: str | None = None

    @property
    def user_id(self) -> str:
        return self.principal.id


def request_language(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    return "en" if accept.lower().startswith("en") else "zh-CN"


def get_caller(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Caller:
    """The one dependency that identifies the caller; every /api/v1 route but health and login depends on it."""
    source = request.client.host if request.client is not None else None
    return Caller(principal=principal, language=request_language(request), source_address=source)


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def get_catalog(request: Request) -> CatalogService:
    return get_platform(request).catalog


def get_device_store(request: Request) -> DeviceStore:
    """Devices, channels, alarms and refused registrations, with the platform's secrets cipher."""
    platform = get_platform(request)
    return DeviceStore(platform.sessions, platform.catalog.cipher())
