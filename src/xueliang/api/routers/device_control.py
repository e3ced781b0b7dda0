"""Live operations on devices over GB/T 28181: catalog sync, DeviceInfo/DeviceStatus, recordings, PTZ, TeleBoot,
alarm reset. Each goes to the device through the signaling service of this process; a device that is offline
or silent gets a 409 or 504 with a message a person can act on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from xueliang.api.auth_deps import ARCHIVE_MANAGE, ARCHIVE_READ, audit_unavailable
from xueliang.api.deps import Caller, get_caller, get_platform
from xueliang.api.errors import ApiError
from xueliang.app import Platform
from xueliang.domain.audit import AuditAction, AuditUnavailableError
from xueliang.domain.policy import AdminAction
from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import PtzAction, PtzCmd
from xueliang.sharing.video_access import AccessDeniedError
from xueliang.signaling.commands import DeviceUnavailableError
from xueliang.signaling.service import SignalingService
from xueliang.signaling.sync import SyncResult

router = APIRouter(tags=["devices"], dependencies=[ARCHIVE_READ])


def get_signaling(request: Request) -> SignalingService:
    signaling = get_platform(request).signaling
    if signaling is None:
        raise ApiError(
            503,
            "sip_not_running",
            "本进程未运行 SIP 信令服务",
            "the SIP endpoint does not run in this process",
        )
    return signaling


Signaling = Annotated[SignalingService, Depends(get_signaling)]
PlatformDep = Annotated[Platform, Depends(get_platform)]
CallerDep = Annotated[Caller, Depends(get_caller)]


def unavailable(exc: DeviceUnavailableError) -> ApiError:
    """The answer when a device cannot be reached: 409 offline, 504 silent, 502 refused."""
    detail = {"device_id": exc.device_id, "reason": exc.reason}
    if exc.reason == "not_registered":
        return ApiError(
            409, "device_offline", f"设备 {exc.device_id} 未注册或离线", f"device {exc.device_id} is offline", detail
        )
    if exc.reason == "timeout":
        return ApiError(
            504, "device_timeout", f"设备 {exc.device_id} 未应答", f"device {exc.device_id} did not answer", detail
        )
    return ApiError(
        502, "device_refused", f"设备 {exc.device_id} 拒绝了请求", f"device {exc.device_id} refused the request", detail
    )


class SipMetricsOut(BaseModel):
    address: str
    registered: int
    online: int
    counters: dict[str, int] = Field(description="requests_in, keepalives, dropped_malformed, dropped_flood, ...")


@router.get("/sip/metrics", response_model=SipMetricsOut, summary="SIP endpoint counters / 信令统计")
def sip_metrics(signaling: Signaling) -> SipMetricsOut:
    """What the SIP endpoint of this process counted since it started: traffic, refusals and every kind of bad
    input it dropped (malformed, oversized, flood, broken MANSCDP)."""
    host, port = signaling.address
    return SipMetricsOut(
        address=f"{host}:{port}",
        registered=len(signaling.presence),
        online=signaling.presence.online_count(),
        counters=dict(sorted(signaling.metrics.items())),
    )


class SyncOut(BaseModel):
    device_id: str
    status: str = Field(description="queued | complete | partial | failed")
    expected: int | None = None
    received: int = 0
    fragments: int = 0
    duplicates: int = 0
    notes: list[str] = []
    merged: dict[str, Any] | None = None
    error: str | None = None


def _sync_out(result: SyncResult) -> SyncOut:
    merged = result.merged
    summary = {name: getattr(merged, name) for name in getattr(merged, "__dataclass_fields__", {})}
    return SyncOut(
        device_id=result.device_id,
        status=result.status,
        expected=result.expected,
        received=result.received,
        fragments=result.fragments,
        duplicates=result.duplicates,
        notes=list(result.notes),
        merged=summary or None,
        error=result.error,
    )


@router.post(
    "/devices/{device_id}/catalog-sync",
    dependencies=[ARCHIVE_MANAGE],
    response_model=SyncOut,
    summary="Query and merge a catalog / 目录同步",
)
async def catalog_sync(
    device_id: str,
    signaling: Signaling,
    response: Response,
    wait: Annotated[bool, Query(description="wait for the catalog and return the result")] = False,
) -> SyncOut:
    """Ask the device for DeviceInfo and its catalog and merge the catalog into the archive. Without ``wait`` the
    sync is queued (202) and its outcome shows on the device (``catalog_status``)."""
    try:
        signaling.session(device_id)
        if wait:
            return _sync_out(await signaling.catalog_sync(device_id))
    except DeviceUnavailableError as exc:
        raise unavailable(exc) from exc
    signaling.sync.enqueue(device_id)
    response.status_code = 202
    return SyncOut(device_id=device_id, status="queued")


class StatusOut(BaseModel):
    device_id: str
    online: str | None
    status: str | None
    result: str
    reason: str | None
    encode: str | None
    record: str | None
    device_time: dt.datetime | None
    alarm_status: list[dict[str, str]]


@router.get("/devices/{device_id}/status", response_model=StatusOut, summary="Live DeviceStatus / 设备状态查询")
async def device_status(device_id: str, signaling: Signaling) -> StatusOut:
    try:
        status = await signaling.device_status(device_id)
    except DeviceUnavailableError as exc:
        raise unavailable(exc) from exc
    return StatusOut(
        device_id=status.device_id,
        online=status.online,
        status=status.status,
        result=status.result.value,
        reason=status.reason,
        encode=status.encode_status,
        record=status.record_status,
        device_time=status.device_time,
        alarm_status=[{"device_id": a.device_id, "duty_status": a.duty_status} for a in status.alarm_status],
    )


class InfoOut(BaseModel):
    device_id: str
    name: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    channels: int | None


@router.get("/devices/{device_id}/info", response_model=InfoOut, summary="Live DeviceInfo / 设备信息查询")
async def device_info(device_id: str, signaling: Signaling) -> InfoOut:
    try:
        info = await signaling.device_info(device_id)
    except DeviceUnavailableError as exc:
        raise unavailable(exc) from exc
    return InfoOut(
        device_id=info.device_id,
        name=info.device_name,
        manufacturer=info.manufacturer,
        model=info.model,
        firmware=info.firmware,
        channels=info.channel,
    )


class RecordOut(BaseModel):
    channel_id: str
    name: str | None
    file_path: str | None
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    type: str | None
    file_size: int | None
    secrecy: int | None
    recorder_id: str | None


class RecordsOut(BaseModel):
    device_id: str
    channel_id: str
    status: str = Field(description="complete | partial")
    expected: int | None
    received: int
    notes: list[str]
    items: list[RecordOut]


@router.get("/devices/{device_id}/records", response_model=RecordsOut, summary="Recordings on a device / 录像查询")
async def records(
    device_id: str,
    signaling: Signaling,
    start: Annotated[dt.datetime, Query(description="from (device local time, ISO 8601)")],
    end: Annotated[dt.datetime, Query(description="to (device local time, ISO 8601)")],
    channel: Annotated[str | None, Query(description="channel ID; default: the device itself")] = None,
    record_type: Annotated[str, Query(alias="type", description="all | time | alarm | manual")] = "all",
) -> RecordsOut:
    """The recordings a device (IPC or NVR) holds for one channel in a time range, fragments assembled."""
    if end <= start:
        raise ApiError(
            422, "invalid_parameter", "结束时间须晚于开始时间", "end must be after start", {"parameter": "end"}
        )
    channel_id = channel or device_id
    try:
        assembly = await signaling.records(
            device_id, channel_id, start.replace(tzinfo=None), end.replace(tzinfo=None), record_type
        )
    except DeviceUnavailableError as exc:
        raise unavailable(exc) from exc
    return RecordsOut(
        device_id=device_id,
        channel_id=channel_id,
        status=assembly.status.value,
        expected=assembly.expected,
        received=assembly.received,
        notes=[f"{note.code}: {note.detail}" for note in assembly.notes],
        items=[
            RecordOut(
                channel_id=item.device_id,
                name=item.name,
                file_path=item.file_path,
                start_time=item.start_time,
                end_time=item.end_time,
                type=item.type,
                file_size=item.file_size,
                secrecy=item.secrecy,
                recorder_id=item.recorder_id,
            )
            for item in sorted(assembly.items, key=lambda r: r.start_time or dt.datetime.min)
        ],
    )


@router.post(
    "/devices/{device_id}/teleboot",
    dependencies=[ARCHIVE_MANAGE],
    status_code=202,
    summary="Reboot a device / 远程重启",
)
async def teleboot(device_id: str, signaling: Signaling) -> dict[str, str]:
    try:
        await signaling.control(device_id, device_id, lambda sn: manscdp.DeviceControl(sn, device_id, tele_boot=True))
    except DeviceUnavailableError as exc:
        raise unavailable(exc) from exc
    return {"device_id": device_id, "status": "sent"}


@router.post(
    "/devices/{device_id}/channels/{channel_id}/reset-alarm",
    dependencies=[ARCHIVE_MANAGE],
    summary="Reset an alarm (ResetAlarm) / 报警复位",
)
async def reset_alarm(device_id: str, channel_id: str, signaling: Signaling) -> dict[str, str]:
    try:
        answer = await signaling.control_with_response(
            device_id, channel_id, lambda sn: manscdp.DeviceControl(sn, channel_id, alarm_cmd="ResetAlarm")
        )
    except DeviceUnavailableError as exc:
        raise unavailable(exc) from exc
    return {"device_id": device_id, "channel_id": channel_id, "result": answer.result.value}


class PtzIn(BaseModel):
    action: PtzAction = Field(description="up, down, left, right, up_left, ..., zoom_in, zoom_out, stop, preset_*")
    speed: int = Field(default=128, ge=0, le=255, description="pan/tilt speed 0-255 (zoom uses the top 4 bits)")
    preset: int | None = Field(default=None, ge=1, le=255, description="preset number for preset_* actions")


class PtzOut(BaseModel):
    camera_id: str
    device_id: str
    channel_id: str
    command: str = Field(description="the PTZCmd sent, 16 hex digits")


@router.post("/cameras/{camera_id}/ptz", response_model=PtzOut, summary="Pan, tilt, zoom, presets / 云台控制")
async def ptz(camera_id: str, body: PtzIn, signaling: Signaling, platform: PlatformDep, caller: CallerDep) -> PtzOut:
    """Move the camera (it keeps moving until ``stop``), zoom, or set/call/delete a preset. Who may: an operator
    or unit administrator who may watch the camera live in full (the policy's PTZ rule); every move is an audit
    record, written before the command is sent."""
    if body.action.startswith("preset") and body.preset is None:
        raise ApiError(
            422, "invalid_parameter", "预置位操作需要预置位号 preset", "preset actions need a preset number",
            {"parameter": "preset"},
        )  # fmt: skip
    address = await _channel_of(platform, camera_id)
    camera = await asyncio.to_thread(platform.access.camera, camera_id)
    if camera is None:
        raise ApiError(404, "camera_not_found", f"摄像机 {camera_id} 不在档案中", f"camera {camera_id} is not archived")
    try:
        ticket = await asyncio.to_thread(
            platform.access.authorise, caller.principal, AdminAction.PTZ, camera, caller.source_address
        )
        await asyncio.to_thread(platform.access.record, AuditAction.PTZ, ticket, command=body.action)
    except AccessDeniedError as exc:
        raise ApiError(403, "forbidden", exc.zh, exc.en) from exc
    except AuditUnavailableError as exc:
        raise audit_unavailable() from exc
    command = PtzCmd.for_action(body.action, speed=body.speed, preset=body.preset)
    device_id, channel_id = address
    try:
        await signaling.control(device_id, channel_id, lambda sn: manscdp.DeviceControl(sn, channel_id, ptz=command))
    except DeviceUnavailableError as exc:
        raise unavailable(exc) from exc
    return PtzOut(camera_id=camera_id, device_id=device_id, channel_id=channel_id, command=command.hex)


async def _channel_of(platform: Platform, camera_id: str) -> tuple[str, str]:
    address = await asyncio.to_thread(platform.devices.channel_address, camera_id)
    if address is None:
        raise ApiError(
            404,
            "camera_not_on_device",
            f"摄像机 {camera_id} 没有接入的国标设备通道",
            f"camera {camera_id} is not a channel of any registered GB/T 28181 device",
            {"camera_id": camera_id},
        )
    return address
