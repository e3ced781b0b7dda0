"""/api/v1/devices: GB/T 28181 devices as the archive knows them (list, detail with channels and online history),
pre-registration and per-device passwords (written, never read back), per-device media settings for live video
(``PATCH /devices/{id}``, or with the pre-registration), allocating a platform ID for a colliding
channel, and the registrations refused because the device is not in the inventory (a governance finding).

Live operations on devices (catalog sync, DeviceStatus, recordings, PTZ) are in ``device_control``.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from xueliang.api.auth_deps import ARCHIVE_MANAGE, ARCHIVE_READ
from xueliang.api.deps import get_device_store, get_platform
from xueliang.api.errors import ApiError
from xueliang.api.schemas.devices import (
    AllocateOut,
    ChannelOut,
    ChannelPageOut,
    DeviceDetailOut,
    DeviceIn,
    DevicePageOut,
    DeviceWriteOut,
    MediaSettingsIn,
    PasswordIn,
    RejectionOut,
)
from xueliang.app import Platform
from xueliang.catalog import device_catalog
from xueliang.domain.ids import IdError
from xueliang.store.device_records import ChannelSummary, DeviceSummary
from xueliang.store.devices import DeviceStore
from xueliang.store.keyset import CursorError, PageRequest

router = APIRouter(tags=["devices"], dependencies=[ARCHIVE_READ])
Devices = Annotated[DeviceStore, Depends(get_device_store)]
MAX_PAGE = 500
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str | None, Query(description="next of the previous page")]


def invalid_cursor(exc: CursorError) -> ApiError:
    return ApiError(
        422,
        "invalid_parameter",
        "分页游标无效：请使用上一页返回的 next，且其他参数保持不变",
        "the cursor is not valid: pass the next of the previous page with the same parameters",
        {"parameter": "cursor"},
    )


def device_not_found(device_id: str) -> ApiError:
    return ApiError(
        404,
        "device_not_found",
        f"没有编码为 {device_id} 的设备",
        f"no device with the ID {device_id}",
        {"id": device_id},
    )


def device_out(device: DeviceSummary) -> dict[str, Any]:
    return {
        "id": device.device_id,
        "name": device.name,
        "online": device.online,
        "transport": device.transport,
        "charset": device.charset,
        "edition": device.edition,
        "channel_count": device.channel_count,
        "manufacturer": device.manufacturer,
        "model": device.model,
        "firmware": device.firmware,
        "device_type": device.device_type,
        "host": device.host,
        "port": device.port,
        "expires": device.expires,
        "registered_at": device.registered_at,
        "last_seen_at": device.last_seen_at,
        "online_changed_at": device.online_changed_at,
        "catalog_status": device.catalog_status,
        "catalog_received": device.catalog_received,
        "catalog_expected": device.catalog_expected,
        "catalog_synced_at": device.catalog_synced_at,
        "pre_registered": device.pre_registered,
        "has_password": device.has_password,
        "created_at": device.created_at,
        "media": {
            "media_transport": device.media.transport,
            "ssrc_check": device.media.ssrc_check,
            "max_streams": device.media.max_streams,
            "stream_number": device.media.stream_number,
        },
    }


_MEDIA_FIELDS = {  # MediaSettingsIn field -> MediaSettings field
    "media_transport": "transport",
    "ssrc_check": "ssrc_check",
    "max_streams": "max_streams",
    "stream_number": "stream_number",
}


def apply_media_settings(devices: DeviceStore, device_id: str, body: MediaSettingsIn) -> bool:
    """Write the media settings ``body`` names (absent fields unchanged); False: no such device."""
    given = {_MEDIA_FIELDS[name]: getattr(body, name) for name in body.model_fields_set if name in _MEDIA_FIELDS}
    if not given:
        return devices.media_settings(device_id) is not None
    current = devices.media_settings(device_id)
    if current is None:
        return False
    if given.get("ssrc_check", True) is None or given.get("transport", "") is None:
        raise ApiError(
            422,
            "invalid_parameter",
            "media_transport 与 ssrc_check 不能为 null",
            "media_transport and ssrc_check cannot be null",
            {},
        )
    if given.get("stream_number", 0) is None:
        given["stream_number"] = 0
    return devices.set_media_settings(device_id, dataclasses.replace(current, **given))


def channel_out(channel: ChannelSummary) -> ChannelOut:
    return ChannelOut(
        id=channel.channel_id,
        name=channel.name,
        archive_name=channel.archive_name,
        camera_id=channel.camera_id,
        online=channel.online,
        kind=channel.kind,
        parent_id=channel.parent_id,
        status=channel.status,
        collision=channel.collision,
        gone=channel.gone,
        findings=channel.findings,  # dicts, validated by the model
        updated_at=channel.updated_at,
    )


@router.get("/devices", response_model=DevicePageOut, summary="Devices / 设备列表")
def list_devices(
    devices: Devices,
    online: Annotated[bool | None, Query(description="only online (true) or offline (false) devices")] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="ID prefix, text in the name, or host prefix / 编码、名称或地址")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Devices by ID, keyset-paginated."""
    try:
        page = devices.list_devices(PageRequest(limit=limit, cursor=cursor), online=online, q=q)
    except CursorError as exc:
        raise invalid_cursor(exc) from exc
    return {"items": [device_out(d) for d in page.items], "next": page.next}


@router.get(
    "/devices/rejections",
    response_model=list[RejectionOut],
    summary="Devices refused registration / 未入档设备注册记录",
)
def list_rejections(devices: Devices) -> list[RejectionOut]:
    """Devices that tried to register and were refused, latest first: ``not_in_inventory`` is the governance
    finding "device not in the inventory" (it disappears once the device or a camera with its ID is in the
    archive); ``bad_password`` a wrong digest password."""
    return [
        RejectionOut(
            device_id=r.device_id,
            reason=r.reason,
            host=r.host,
            port=r.port,
            first_at=r.first_at,
            last_at=r.last_at,
            attempts=r.attempts,
        )
        for r in devices.list_rejections()
    ]


@router.post(
    "/devices",
    dependencies=[ARCHIVE_MANAGE],
    response_model=DeviceWriteOut,
    status_code=201,
    summary="Pre-register a device / 预注册设备",
    responses={200: {"description": "the device existed and was updated"}, 422: {"description": "invalid ID"}},
)
def add_device(body: DeviceIn, devices: Devices, response: Response) -> dict[str, Any]:
    """The device may then register (it is "in the archive"). A password given is its digest password, stored
    encrypted and never returned; without one the global password applies."""
    try:
        created = devices.add_device(body.id, name=body.name, password=body.password)
    except IdError as exc:
        raise ApiError(422, exc.rule, exc.message_zh, exc.message_en, {"id": body.id}) from exc
    apply_media_settings(devices, body.id.strip(), body)
    detail = devices.get_device(body.id.strip(), history_limit=0, channel_limit=0)
    assert detail is not None
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return {"created": created, "device": device_out(detail.device)}


@router.get("/devices/{device_id}", response_model=DeviceDetailOut, summary="One device / 设备详情")
def get_device(
    device_id: str,
    devices: Devices,
    channels_limit: Annotated[int, Query(ge=0, le=10_000, description="channels listed at most")] = 1000,
    history_limit: Annotated[int, Query(ge=0, le=1000, description="online changes listed at most")] = 50,
) -> dict[str, Any]:
    """The device, its channels (each beside the archive camera it is bound to) and its latest online changes.
    A platform with more channels than ``channels_limit``: page through ``/devices/{id}/channels``."""
    detail = devices.get_device(device_id, history_limit=history_limit, channel_limit=channels_limit)
    if detail is None:
        raise device_not_found(device_id)
    return {
        **device_out(detail.device),
        "channels": [channel_out(c) for c in detail.channels],
        "channels_total": detail.channels_total,
        "online_history": [
            {"at": e.at, "online": e.online, "reason": e.reason, "channel_id": e.channel_id}
            for e in detail.online_history
        ],
    }


@router.get("/devices/{device_id}/channels", response_model=ChannelPageOut, summary="Channels / 设备通道")
def list_channels(device_id: str, devices: Devices, cursor: Cursor = None, limit: Limit = 200) -> ChannelPageOut:
    try:
        page = devices.list_channels(device_id, PageRequest(limit=limit, cursor=cursor))
    except CursorError as exc:
        raise invalid_cursor(exc) from exc
    if page is None:
        raise device_not_found(device_id)
    return ChannelPageOut(items=[channel_out(c) for c in page.items], next=page.next)


@router.patch(
    "/devices/{device_id}",
    dependencies=[ARCHIVE_MANAGE],
    response_model=DeviceWriteOut,
    summary="Media settings / 设备取流设置",
)
def update_device(device_id: str, body: MediaSettingsIn, devices: Devices) -> dict[str, Any]:
    """Change how the device's live video is fetched: transport (udp, tcp_passive, tcp_active), the SSRC check,
    the concurrent stream limit (null: the node's default) and the stream number (0 main, 1 sub). Fields left out
    keep their values. Streams already playing keep their settings until they are opened again."""
    if not apply_media_settings(devices, device_id, body):
        raise device_not_found(device_id)
    detail = devices.get_device(device_id, history_limit=0, channel_limit=0)
    if detail is None:
        raise device_not_found(device_id)
    return {"created": False, "device": device_out(detail.device)}


@router.put(
    "/devices/{device_id}/password",
    dependencies=[ARCHIVE_MANAGE],
    status_code=204,
    summary="Set a device's password / 设置设备密码",
)
def set_password(device_id: str, body: PasswordIn, devices: Devices) -> Response:
    """null removes the per-device password (the global one applies). The password is never returned."""
    if not devices.set_password(device_id, body.password):
        raise device_not_found(device_id)
    return Response(status_code=204)


@router.post(
    "/devices/{device_id}/channels/{channel_id}/allocate-id",
    dependencies=[ARCHIVE_MANAGE],
    response_model=AllocateOut,
    status_code=201,
    summary="Allocate a platform ID for a channel / 为通道分配平台编码",
    responses={404: {"description": "no such channel"}, 409: {"description": "bound already, or not a video channel"}},
)
def allocate_id(device_id: str, channel_id: str, platform: Annotated[Platform, Depends(get_platform)]) -> AllocateOut:
    """For a channel whose ID collides with another device's camera (or is not a valid ID): a compliant,
    unique 20-digit ID is allocated, a camera created with it and bound to the channel. Signalling keeps
    addressing the channel by (device, channel ID)."""
    try:
        camera_id = device_catalog.allocate_platform_id(platform.sessions, device_id, channel_id)
    except device_catalog.ChannelNotFoundError as exc:
        raise ApiError(404, "channel_not_found", exc.zh, exc.en, {"id": device_id, "channel_id": channel_id}) from exc
    except device_catalog.ChannelBoundError as exc:
        raise ApiError(409, "channel_bound", exc.zh, exc.en, {"camera_id": exc.platform_id}) from exc
    except device_catalog.AllocationError as exc:
        raise ApiError(409, "allocation_impossible", exc.zh, exc.en, {"channel_id": channel_id}) from exc
    return AllocateOut(camera_id=camera_id)
