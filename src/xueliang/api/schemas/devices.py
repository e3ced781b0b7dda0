"""Device, channel, alarm and refused-registration models. No model carries a device password: the API only says
``has_password``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from xueliang.api.schemas.cameras import FindingOut


class ChannelFindingOut(FindingOut):
    other_device_id: str | None = Field(None, description="channel_id_collision: the device whose channel has the ID")
    other_channel_id: str | None = None


MediaTransportName = Literal["udp", "tcp_passive", "tcp_active"]
MAX_STREAMS_LIMIT = 64


class MediaSettingsOut(BaseModel):
    media_transport: MediaTransportName = Field(
        description="how RTP reaches the platform, named from the platform's side: udp | tcp_passive (the platform "
        "listens, the device connects) | tcp_active (the device listens, the platform connects)"
    )
    ssrc_check: bool = Field(description="check the negotiated SSRC (off for devices that ignore it)")
    max_streams: int | None = Field(description="concurrent live streams the device may send; null: node default")
    stream_number: Literal[0, 1] = Field(description="0 main stream, 1 sub-stream (a=streamnumber)")


class MediaSettingsIn(BaseModel):
    """Every field optional: what is absent stays as it is; ``max_streams: null`` means the node's default."""

    model_config = ConfigDict(extra="forbid")

    media_transport: MediaTransportName | None = Field(None, description="udp | tcp_passive | tcp_active")
    ssrc_check: bool | None = None
    max_streams: int | None = Field(None, ge=0, le=MAX_STREAMS_LIMIT, description="null: the node's default")
    stream_number: Literal[0, 1] | None = Field(None, description="0 main stream, 1 sub-stream")


class DeviceOut(BaseModel):
    id: str = Field(description="20-digit device ID (设备编码)")
    name: str | None = Field(description="the device's own name (DeviceInfo), or the one an operator gave")
    online: bool
    transport: str | None = Field(description="udp | tcp, of the last REGISTER")
    charset: str | None = Field(description="GB2312 | GB18030 | UTF-8: what the device sends")
    edition: str | None = Field(description="GB/T 28181 edition it speaks: 2016 | 2022")
    channel_count: int | None = Field(
        description="video channels (not gone) of the last catalog; before any catalog, DeviceInfo's Channel"
    )
    manufacturer: str | None
    model: str | None
    firmware: str | None
    device_type: str | None = Field(description="digits 11-13 of the ID: 132 IPC, 118 NVR, 200 platform ...")
    host: str | None = Field(description="address the device registered from")
    port: int | None
    expires: int | None = Field(description="registration lifetime granted (s)")
    registered_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    online_changed_at: dt.datetime | None
    catalog_status: str = Field(description="none | complete | partial | timeout")
    catalog_received: int
    catalog_expected: int | None
    catalog_synced_at: dt.datetime | None
    pre_registered: bool = Field(description="added by an operator")
    has_password: bool = Field(description="a per-device password is set (stored encrypted, never returned)")
    created_at: dt.datetime
    media: MediaSettingsOut = Field(description="live video settings (issue 4)")


class DevicePageOut(BaseModel):
    items: list[DeviceOut]
    next: str | None = Field(description="pass as cursor to get the next page; null on the last page")


class ChannelOut(BaseModel):
    id: str = Field(description="the channel ID as the device sends it")
    name: str | None = Field(description="the device's name for it")
    archive_name: str | None = Field(description="the bound camera's name in the archive (一机一档)")
    camera_id: str | None = Field(description="platform ID of the bound archive camera")
    online: bool = Field(description="the device and the channel are online")
    kind: str = Field(description="camera | region | system | business_group | virtual_org | device | alarm | other")
    parent_id: str | None
    status: str | None = Field(description="Status as received (ON, OFF) or the last catalog event")
    collision: bool = Field(description="its ID is another device's camera: allocate a platform ID for it")
    gone: bool = Field(description="absent from the last complete catalog, or deleted by the device")
    findings: list[ChannelFindingOut] = Field(description="the archive validator's findings on what the device sent")
    updated_at: dt.datetime


class ChannelPageOut(BaseModel):
    items: list[ChannelOut]
    next: str | None


class OnlineEventOut(BaseModel):
    at: dt.datetime
    online: bool
    reason: str = Field(description="register | unregister | expired | keepalive-timeout | restart | catalog | notify")
    channel_id: str | None = Field(description="null: the device itself")


class DeviceDetailOut(DeviceOut):
    channels: list[ChannelOut] = Field(description="by channel ID; the first channels_limit of them")
    channels_total: int
    online_history: list[OnlineEventOut] = Field(description="latest first")


class DeviceIn(MediaSettingsIn):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="20-digit device ID", examples=["34150200001320000001"])
    name: str | None = Field(None, max_length=200)
    password: str | None = Field(None, min_length=1, max_length=128, description="per-device digest password")


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str | None = Field(
        min_length=1, max_length=128, description="null: no per-device password (the global one applies)"
    )


class DeviceWriteOut(BaseModel):
    created: bool
    device: DeviceOut


class AllocateOut(BaseModel):
    camera_id: str = Field(description="the new platform ID of the channel's camera")


class RejectionOut(BaseModel):
    device_id: str
    reason: str = Field(description="not_in_inventory | bad_password | ...")
    host: str | None
    port: int | None
    first_at: dt.datetime
    last_at: dt.datetime
    attempts: int


class AlarmOut(BaseModel):
    id: int
    device_id: str = Field(description="the device that reported it")
    channel_id: str = Field(description="the alarm's DeviceID: the device or one of its channels")
    priority: int | None = Field(description="1-4 (一级 to 四级警情)")
    method: int | None = Field(description="1 phone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other")
    alarm_type: str | None
    alarm_time: dt.datetime | None = Field(description="as the device wrote it (its local time)")
    description: str | None
    longitude: float | None
    latitude: float | None
    received_at: dt.datetime = Field(description="UTC")
    item: dict[str, Any] = Field(description="the alarm as received")


class AlarmPageOut(BaseModel):
    items: list[AlarmOut]
    next: str | None
