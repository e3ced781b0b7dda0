"""What the device store takes and gives: frozen dataclasses with no database in them, shared by the signaling
service (registrations, online changes), the API (summaries, pages, details) and the media settings of issue 4.

``DeviceSummary.channel_count`` is the number of video channels (kind ``camera``, not gone) of the last merged
catalog; before any catalog it is the ``Channel`` count the device gave in DeviceInfo. Never a password: only
:attr:`DeviceSummary.has_password`. Timestamps are naive UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MEDIA_TRANSPORTS",
    "STREAM_NUMBERS",
    "AlarmPage",
    "AlarmRecord",
    "ChannelPage",
    "ChannelSummary",
    "DeviceAuth",
    "DeviceDetail",
    "DevicePage",
    "DeviceSummary",
    "MediaSettings",
    "OnlineChange",
    "OnlineEventInfo",
    "Registration",
    "Rejection",
]


@dataclass(frozen=True, slots=True)
class DeviceAuth:
    """What REGISTER needs to know about a device ID."""

    device_id: str
    in_archive: bool  # a device row exists, or a camera whose platform ID is this ID
    password: str | None  # the per-device digest password (decrypted); None: use the global one


@dataclass(frozen=True, slots=True)
class Registration:
    """A successful REGISTER (or refresh)."""

    device_id: str
    transport: str  # "udp" | "tcp"
    host: str  # where the device was heard from (not its Contact)
    port: int
    contact: str | None
    expires: int  # seconds granted
    edition: str  # "2016" | "2022"
    user_agent: str | None
    at: dt.datetime  # naive UTC


@dataclass(frozen=True, slots=True)
class OnlineChange:
    """One online/offline change of a device (``channel_id`` None) or of one channel."""

    device_id: str
    online: bool
    at: dt.datetime  # naive UTC
    reason: str  # register | unregister | expired | keepalive-timeout | restart | catalog | notify
    channel_id: str | None = None


MEDIA_TRANSPORTS = ("udp", "tcp_passive", "tcp_active")
STREAM_NUMBERS = (0, 1)


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """How a device's live video is fetched (issue 4): ``transport`` named from the platform's side
    (``tcp_passive``: the platform listens), ``ssrc_check`` off for devices that ignore the negotiated SSRC,
    ``max_streams`` None for the media node's default, ``stream_number`` 0 main / 1 sub-stream."""

    transport: str = "udp"
    ssrc_check: bool = True
    max_streams: int | None = None
    stream_number: int = 0

    def __post_init__(self) -> None:
        if self.transport not in MEDIA_TRANSPORTS:
            raise ValueError(f"media transport must be one of {', '.join(MEDIA_TRANSPORTS)}: {self.transport!r}")
        if self.max_streams is not None and self.max_streams < 0:
            raise ValueError(f"max_streams must be at least 0: {self.max_streams}")
        if self.stream_number not in STREAM_NUMBERS:
            raise ValueError(f"stream_number must be 0 (main) or 1 (sub): {self.stream_number}")


@dataclass(frozen=True, slots=True)
class DeviceSummary:
    """A device as lists show it. ``channel_count``: see the module docstring. Never the password."""

    device_id: str
    name: str | None
    online: bool
    transport: str | None
    charset: str | None
    edition: str | None
    channel_count: int | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    device_type: str | None
    host: str | None
    port: int | None
    expires: int | None
    registered_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    online_changed_at: dt.datetime | None
    catalog_status: str
    catalog_received: int
    catalog_expected: int | None
    catalog_synced_at: dt.datetime | None
    pre_registered: bool
    has_password: bool
    created_at: dt.datetime
    media: MediaSettings = MediaSettings()


@dataclass(frozen=True, slots=True)
class DevicePage:
    items: list[DeviceSummary]
    next: str | None  # cursor of the next page; None on the last


@dataclass(frozen=True, slots=True)
class ChannelSummary:
    """One channel of a device: its own name beside the bound archive camera's."""

    channel_id: str
    name: str | None  # the device's name for it
    archive_name: str | None  # the bound camera's name in the archive
    camera_id: str | None  # the bound camera's platform ID
    online: bool  # the device is online and the channel is
    kind: str
    parent_id: str | None
    status: str | None
    collision: bool
    gone: bool
    findings: list[dict[str, Any]]
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ChannelPage:
    items: list[ChannelSummary]
    next: str | None


@dataclass(frozen=True, slots=True)
class OnlineEventInfo:
    at: dt.datetime
    online: bool
    reason: str
    channel_id: str | None


@dataclass(frozen=True, slots=True)
class DeviceDetail:
    device: DeviceSummary
    channels: list[ChannelSummary]  # by channel ID, at most ``channel_limit`` (see channels_total)
    channels_total: int
    online_history: list[OnlineEventInfo]  # latest first


@dataclass(frozen=True, slots=True)
class Rejection:
    device_id: str
    reason: str
    host: str | None
    port: int | None
    first_at: dt.datetime
    last_at: dt.datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    id: int
    device_id: str
    channel_id: str
    priority: int | None
    method: int | None
    alarm_type: str | None
    alarm_time: dt.datetime | None  # as the device wrote it (its local time, no zone)
    description: str | None
    longitude: float | None
    latitude: float | None
    received_at: dt.datetime
    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AlarmPage:
    items: list[AlarmRecord]
    next: str | None
