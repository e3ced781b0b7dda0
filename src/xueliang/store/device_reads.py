"""The read side of :class:`~xueliang.store.devices.DeviceStore` for the API and signalling: device and channel
lists (keyset-paginated), a device's detail with its online history, alarms, and where signalling reaches a
camera. Each method opens its own session from the store's session factory; nothing here writes.

Never a password: a summary says only whether the device has one. Timestamps are naive UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from xueliang.store import keyset
from xueliang.store.device_records import (
    AlarmPage,
    AlarmRecord,
    ChannelPage,
    ChannelSummary,
    DeviceDetail,
    DevicePage,
    DeviceSummary,
    MediaSettings,
    OnlineEventInfo,
)
from xueliang.store.device_repository import CAMERA, CHANNEL, DEVICE
from xueliang.store.keyset import CursorError, PageRequest
from xueliang.store.models import Alarm, Camera, Device, DeviceChannel, OnlineEvent

__all__ = ["DeviceReads"]


def _summary(device: Device) -> DeviceSummary:
    return DeviceSummary(
        device_id=device.device_id,
        name=device.name,
        online=device.online,
        transport=device.transport,
        charset=device.charset,
        edition=device.edition,
        channel_count=device.channel_count,
        manufacturer=device.manufacturer,
        model=device.model,
        firmware=device.firmware,
        device_type=device.device_type,
        host=device.remote_host,
        port=device.remote_port,
        expires=device.expires,
        registered_at=device.registered_at,
        last_seen_at=device.last_seen_at,
        online_changed_at=device.online_changed_at,
        catalog_status=device.catalog_status,
        catalog_received=device.catalog_received,
        catalog_expected=device.catalog_expected,
        catalog_synced_at=device.catalog_synced_at,
        pre_registered=device.pre_registered,
        has_password=device.password is not None,
        created_at=device.created_at,
        media=MediaSettings(device.media_transport, device.ssrc_check, device.max_streams, device.stream_number),
    )


def _alarm_record(alarm: Alarm) -> AlarmRecord:
    return AlarmRecord(
        id=alarm.id,
        device_id=alarm.device_id,
        channel_id=alarm.channel_id,
        priority=alarm.priority,
        method=alarm.method,
        alarm_type=alarm.alarm_type,
        alarm_time=alarm.alarm_time,
        description=alarm.description,
        longitude=alarm.longitude,
        latitude=alarm.latitude,
        received_at=alarm.received_at,
        item=dict(alarm.item or {}),
    )


class DeviceReads:
    """Reading devices, channels and alarms (the read half of :class:`~xueliang.store.devices.DeviceStore`)."""

    sessions: sessionmaker[Session]

    # --- alarms -------------------------------------------------------------------------------------------
    def list_alarms(
        self,
        page: PageRequest,
        device_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> AlarmPage:
        """Alarms received in [since, until), newest first, keyset-paginated (``page.cursor``, ``page.limit``;
        the sort of ``page`` is ignored). Raises CursorError for a cursor this list did not make."""
        conditions: list[ColumnElement[bool]] = []
        if device_id:
            conditions.append(Alarm.device_id == device_id)
        if since is not None:
            conditions.append(Alarm.received_at >= since)
        if until is not None:
            conditions.append(Alarm.received_at < until)
        if page.cursor:
            value, pk = keyset.decode_cursor(page.cursor, "received_at", "desc")
            try:
                received = dt.datetime.fromisoformat(str(value))
            except ValueError as exc:
                raise CursorError("malformed cursor value") from exc
            conditions.append(keyset.after(Alarm, "received_at", "desc", received, pk))
        query = (
            select(Alarm).where(*conditions).order_by(Alarm.received_at.desc(), Alarm.id.desc()).limit(page.limit + 1)
        )
        with self.sessions() as session:
            alarms = list(session.scalars(query))
        items = [_alarm_record(a) for a in alarms[: page.limit]]
        next_cursor = None
        if len(alarms) > page.limit and items:
            next_cursor = keyset.encode_cursor("received_at", "desc", items[-1].received_at, items[-1].id)
        return AlarmPage(items, next_cursor)

    # --- reading for the API and signalling ----------------------------------------------------------------
    def channel_address(self, camera_platform_id: str) -> tuple[str, str] | None:
        """Where signalling reaches a camera: (device ID, channel ID) of the channel bound to it (not gone;
        an online device first), else of a channel (not gone) whose channel ID is the platform ID."""
        base = select(DEVICE.c.device_id, CHANNEL.c.channel_id).select_from(
            CHANNEL.join(DEVICE, DEVICE.c.id == CHANNEL.c.device_pk)
        )
        order = (DEVICE.c.online.desc(), CHANNEL.c.updated_at.desc(), CHANNEL.c.id.desc())
        bound = (
            base.join(CAMERA, CAMERA.c.id == CHANNEL.c.camera_id)
            .where(CAMERA.c.platform_id == camera_platform_id, CHANNEL.c.gone.is_(False))
            .order_by(*order)
            .limit(1)
        )
        by_id = (
            base.where(CHANNEL.c.channel_id == camera_platform_id, CHANNEL.c.gone.is_(False)).order_by(*order).limit(1)
        )
        with self.sessions() as session:
            row = session.execute(bound).first() or session.execute(by_id).first()
        return None if row is None else (row.device_id, row.channel_id)

    def list_devices(self, page: PageRequest, online: bool | None = None, q: str | None = None) -> DevicePage:
        """Devices by ID, keyset-paginated (``page.cursor``, ``page.limit``; the sort of ``page`` is ignored).
        ``q``: the start of the ID, or text in the name or the host. Raises CursorError for a foreign cursor."""
        conditions: list[ColumnElement[bool]] = []
        if online is not None:
            conditions.append(Device.online.is_(online))
        text = (q or "").strip()
        if text:
            conditions.append(
                or_(
                    Device.device_id.startswith(text, autoescape=True),
                    Device.name.icontains(text, autoescape=True),
                    Device.remote_host.startswith(text, autoescape=True),
                )
            )
        if page.cursor:
            value, pk = keyset.decode_cursor(page.cursor, "device_id", "asc")
            conditions.append(keyset.after(Device, "device_id", "asc", value, pk))
        query = select(Device).where(*conditions).order_by(Device.device_id, Device.id).limit(page.limit + 1)
        with self.sessions() as session:
            devices = list(session.scalars(query))
        items = [_summary(d) for d in devices[: page.limit]]
        next_cursor = None
        if len(devices) > page.limit and items:
            last = devices[page.limit - 1]
            next_cursor = keyset.encode_cursor("device_id", "asc", last.device_id, last.id)
        return DevicePage(items, next_cursor)

    def _channels(
        self, session: Session, device: Device, conditions: Sequence[ColumnElement[bool]], limit: int
    ) -> list[tuple[int, ChannelSummary]]:
        query = (
            select(DeviceChannel, Camera.platform_id, Camera.name)
            .outerjoin(Camera, Camera.id == DeviceChannel.camera_id)
            .where(DeviceChannel.device_pk == device.id, *conditions)
            .order_by(DeviceChannel.channel_id, DeviceChannel.id)
            .limit(limit)
        )
        out: list[tuple[int, ChannelSummary]] = []
        for channel, platform_id, archive_name in session.execute(query):
            summary = ChannelSummary(
                channel_id=channel.channel_id,
                name=channel.name,
                archive_name=archive_name,
                camera_id=platform_id,
                online=device.online and channel.online,
                kind=channel.kind,
                parent_id=channel.parent_id,
                status=channel.status,
                collision=channel.collision,
                gone=channel.gone,
                findings=list(channel.findings or []),
                updated_at=channel.updated_at,
            )
            out.append((channel.id, summary))
        return out

    def get_device(self, device_id: str, history_limit: int = 50, channel_limit: int = 1000) -> DeviceDetail | None:
        """A device with its first ``channel_limit`` channels (by channel ID; :meth:`list_channels` pages
        through all of them) and its latest ``history_limit`` online changes."""
        with self.sessions() as session:
            device = session.scalar(select(Device).where(Device.device_id == device_id))
            if device is None:
                return None
            channels = [c for _pk, c in self._channels(session, device, (), channel_limit)]
            total = session.scalar(select(func.count()).select_from(CHANNEL).where(CHANNEL.c.device_pk == device.id))
            history = session.execute(
                select(OnlineEvent.at, OnlineEvent.online, OnlineEvent.reason, OnlineEvent.channel_id)
                .where(OnlineEvent.device_id == device_id)
                .order_by(OnlineEvent.at.desc(), OnlineEvent.id.desc())
                .limit(history_limit)
            )
            events = [OnlineEventInfo(*row) for row in history]
            return DeviceDetail(_summary(device), channels, int(total or 0), events)

    def list_channels(self, device_id: str, page: PageRequest) -> ChannelPage | None:
        """A device's channels by channel ID, keyset-paginated; None when there is no such device."""
        conditions: list[ColumnElement[bool]] = []
        if page.cursor:
            value, pk = keyset.decode_cursor(page.cursor, "channel_id", "asc")
            conditions.append(keyset.after(DeviceChannel, "channel_id", "asc", value, pk))
        with self.sessions() as session:
            device = session.scalar(select(Device).where(Device.device_id == device_id))
            if device is None:
                return None
            rows = self._channels(session, device, conditions, page.limit + 1)
        items = [c for _pk, c in rows[: page.limit]]
        next_cursor = None
        if len(rows) > page.limit and items:
            pk, last = rows[page.limit - 1]
            next_cursor = keyset.encode_cursor("channel_id", "asc", last.channel_id, pk)
        return ChannelPage(items, next_cursor)
