"""Dependencies every router goes through: the caller (authentication lands here) and the platform services."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from xueliang.app import Platform
from xueliang.catalog.service import CatalogService
from xueliang.store.devices import DeviceStore


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling. Until accounts exist (sharing issue) every caller is the anonymous operator."""

    user_id: str
    language: str


def get_caller(request: Request) -> Caller:
    """The one dependency that identifies the caller; every /api/v1 route depends on it."""
    accept = request.headers.get("accept-language", "")
    language = "en" if accept.lower().startswith("en") else "zh-CN"
    return Caller(user_id="anonymous", language=language)


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def get_catalog(request: Request) -> CatalogService:
    return get_platform(request).catalog


def get_device_store(request: Request) -> DeviceStore:
    """Devices, channels, alarms and refused registrations, with the platform's secrets cipher."""
    platform = get_platform(request)
    return DeviceStore(platform.sessions, platform.catalog.cipher())
