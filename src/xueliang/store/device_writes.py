"""The write side of :class:`~xueliang.store.devices.DeviceStore`, the contract with the signaling service (which
calls these methods through ``asyncio.to_thread``) and the operator: registrations and the lookup REGISTER needs,
refused registrations, online changes and last-seen times, DeviceInfo, catalog status, alarms, passwords and
media settings. Every method opens and commits its own transaction through the store's session factory. Hot
paths never write per message: ``touch`` takes a batch of last-seen times, ``record_online_changes`` a batch of
online/offline changes (each change is one ``online_event`` row), both as one executemany per statement.

Secrets: ``device.password`` is encrypted with the platform's :class:`~xueliang.store.crypto.Cipher` and never
leaves the store except decrypted in :meth:`DeviceWrites.lookup` (for digest authentication). Timestamps are
naive UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from xueliang.domain import ids
from xueliang.protocol.manscdp import AlarmNotify, DeviceInfo
from xueliang.store.crypto import Cipher
from xueliang.store.db import transaction
from xueliang.store.device_records import DeviceAuth, MediaSettings, OnlineChange, Registration, Rejection
from xueliang.store.device_repository import CAMERA, DEVICE, MAX_CHANNEL_ID, DeviceRepository, type_digits
from xueliang.store.device_rows import clip, dialect_insert, naive_utc, wire_dict
from xueliang.store.models import CATALOG_STATUSES, DEVICE_TRANSPORTS, Alarm, DeviceRejection, utcnow

__all__ = ["EDITIONS", "DeviceWrites", "check_device_id"]

ALARM = cast(Table, Alarm.__table__)
REJECTION = cast(Table, DeviceRejection.__table__)
EDITIONS = ("2016", "2022")

_MEDIA_COLUMNS = {  # MediaSettings field -> device column
    "transport": "media_transport",
    "ssrc_check": "ssrc_check",
    "max_streams": "max_streams",
    "stream_number": "stream_number",
}


def check_device_id(device_id: str) -> str:
    """The ID, stripped, when it is a valid 20-digit ID; a :class:`~xueliang.domain.ids.IdError` (a ValueError
    with the reason in Chinese and English) otherwise."""
    return ids.GbId.parse(device_id).text


class DeviceWrites:
    """Registrations, online changes, device info, catalog status, alarms, refused registrations, passwords and
    media settings (the write half of :class:`~xueliang.store.devices.DeviceStore`)."""

    sessions: sessionmaker[Session]
    cipher: Cipher

    # --- registration -------------------------------------------------------------------------------------
    def lookup(self, device_id: str) -> DeviceAuth:
        with self.sessions() as session:
            row = session.execute(select(DEVICE.c.password).where(DEVICE.c.device_id == device_id)).first()
            if row is not None:
                password = self.cipher.decrypt(row.password) if row.password else None
                return DeviceAuth(device_id, True, password)
            camera = session.scalar(select(exists().where(CAMERA.c.platform_id == device_id)))
        return DeviceAuth(device_id, bool(camera), None)

    def add_device(self, device_id: str, *, name: str | None = None, password: str | None = None) -> bool:
        """Pre-register a device (operator action): it becomes 'in the archive'; the password is encrypted.

        An existing device is marked pre-registered, and takes ``name`` and ``password`` when given (None keeps
        what it has). Clears a refused registration of the ID. True when the device row was created. Raises
        :class:`~xueliang.domain.ids.IdError` (a ValueError) for an ID that is not a valid 20-digit ID."""
        device_id = check_device_id(device_id)
        now = utcnow()
        values: dict[str, Any] = {"pre_registered": True, "updated_at": now}
        if name is not None:
            values["name"] = name
        if password is not None:
            values["password"] = self.cipher.encrypt(password)
        with transaction(self.sessions) as session:
            updated = session.execute(update(DEVICE).where(DEVICE.c.device_id == device_id).values(values))
            created = not getattr(updated, "rowcount", 0)
            if created:
                session.execute(
                    insert(DEVICE).values(
                        device_id=device_id, device_type=type_digits(device_id), created_at=now, **values
                    )
                )
            session.execute(delete(REJECTION).where(REJECTION.c.device_id == device_id))
        return created

    # --- media settings (issue 4) ----------------------------------------------------------------------------
    def media_settings(self, device_id: str) -> MediaSettings | None:
        """A device's media settings; None when there is no such device."""
        columns = [DEVICE.c[name] for name in _MEDIA_COLUMNS.values()]
        with self.sessions() as session:
            row = session.execute(select(*columns).where(DEVICE.c.device_id == device_id)).first()
        if row is None:
            return None
        return MediaSettings(row[0], bool(row[1]), row[2], row[3])

    def set_media_settings(self, device_id: str, settings: MediaSettings) -> bool:
        """Replace a device's media settings (validated by :class:`MediaSettings`); False: no such device."""
        values: dict[str, Any] = {column: getattr(settings, field) for field, column in _MEDIA_COLUMNS.items()}
        with transaction(self.sessions) as session:
            result = session.execute(
                update(DEVICE).where(DEVICE.c.device_id == device_id).values(**values, updated_at=utcnow())
            )
            return bool(getattr(result, "rowcount", 0))

    def set_password(self, device_id: str, password: str | None) -> bool:
        """Set (or with None, clear: the global password applies) a device's password; False: no such device."""
        value = None if password is None else self.cipher.encrypt(password)
        with transaction(self.sessions) as session:
            result = session.execute(
                update(DEVICE).where(DEVICE.c.device_id == device_id).values(password=value, updated_at=utcnow())
            )
            return bool(getattr(result, "rowcount", 0))

    def record_rejection(self, device_id: str, host: str, port: int, reason: str, at: dt.datetime) -> None:
        """A refused REGISTER: one row per device ID, counting attempts."""
        values = {
            "device_id": clip(device_id, MAX_CHANNEL_ID),
            "reason": clip(reason, 32),
            "host": clip(host, 64),
            "port": port,
            "first_at": at,
            "last_at": at,
            "attempts": 1,
        }
        with transaction(self.sessions) as session:
            statement = dialect_insert(session, REJECTION).values(values)
            statement = statement.on_conflict_do_update(
                index_elements=["device_id"],
                set_={
                    "reason": statement.excluded.reason,
                    "host": statement.excluded.host,
                    "port": statement.excluded.port,
                    "last_at": statement.excluded.last_at,
                    "attempts": REJECTION.c.attempts + 1,
                },
            )
            session.execute(statement)

    def list_rejections(self) -> list[Rejection]:
        """Refused registrations, latest first; "not in inventory" ones whose ID is in the archive by now (a
        device or a camera with that ID) are left out: the finding no longer holds."""
        in_archive = or_(
            exists().where(DEVICE.c.device_id == REJECTION.c.device_id),
            exists().where(CAMERA.c.platform_id == REJECTION.c.device_id),
        )
        query = (
            select(REJECTION)
            .where(~((REJECTION.c.reason == "not_in_inventory") & in_archive))
            .order_by(REJECTION.c.last_at.desc(), REJECTION.c.id.desc())
        )
        with self.sessions() as session:
            return [
                Rejection(r.device_id, r.reason, r.host, r.port, r.first_at, r.last_at, r.attempts)
                for r in session.execute(query)
            ]

    def clear_rejection(self, device_id: str) -> bool:
        with transaction(self.sessions) as session:
            result = session.execute(delete(REJECTION).where(REJECTION.c.device_id == device_id))
            return bool(getattr(result, "rowcount", 0))

    def save_registration(self, registration: Registration) -> None:
        """Create or update the device row from a REGISTER; ``online`` is left to record_online_changes."""
        r = registration
        values = {
            "transport": r.transport.lower() if r.transport.lower() in DEVICE_TRANSPORTS else None,
            "remote_host": clip(r.host, 64),
            "remote_port": r.port,
            "contact": r.contact,
            "expires": r.expires,
            "edition": r.edition if r.edition in EDITIONS else None,
            "user_agent": r.user_agent,
            "registered_at": r.at,
            "last_seen_at": r.at,
            "updated_at": r.at,
        }
        with transaction(self.sessions) as session:
            statement = dialect_insert(session, DEVICE).values(
                device_id=r.device_id, device_type=type_digits(r.device_id), created_at=r.at, **values
            )
            statement = statement.on_conflict_do_update(
                index_elements=["device_id"], set_={name: statement.excluded[name] for name in values}
            )
            session.execute(statement)
            session.execute(delete(REJECTION).where(REJECTION.c.device_id == r.device_id))

    def record_online_changes(self, changes: Sequence[OnlineChange]) -> None:
        """Write a batch of changes in one transaction (see :meth:`DeviceRepository.write_online_changes`)."""
        if not changes:
            return
        with transaction(self.sessions) as session:
            DeviceRepository(session).write_online_changes(changes)

    def touch(self, seen: Mapping[str, dt.datetime]) -> None:
        """Last-seen times of many devices in one executemany (a time never moves back)."""
        if not seen:
            return
        statement = (
            update(DEVICE)
            .where(
                DEVICE.c.device_id == bindparam("b_device_id"),
                or_(DEVICE.c.last_seen_at.is_(None), DEVICE.c.last_seen_at < bindparam("b_at")),
            )
            .values(last_seen_at=bindparam("b_at"))
        )
        with transaction(self.sessions) as session:
            session.execute(statement, [{"b_device_id": d, "b_at": at} for d, at in seen.items()])

    def online_device_ids(self) -> list[str]:
        with self.sessions() as session:
            query = select(DEVICE.c.device_id).where(DEVICE.c.online.is_(True)).order_by(DEVICE.c.device_id)
            return list(session.scalars(query))

    def save_device_info(self, device_id: str, info: DeviceInfo, *, charset: str) -> None:
        """The DeviceInfo answer: name, manufacturer, model, firmware (what it sent; absent values keep the
        stored ones), the channel count (until a catalog has been merged) and the charset it speaks."""
        values: dict[str, Any] = {"charset": clip(charset, 16), "updated_at": utcnow()}
        for column, value in (
            ("name", info.device_name),
            ("manufacturer", info.manufacturer),
            ("model", info.model),
            ("firmware", info.firmware),
        ):
            if value is not None:
                values[column] = value
        with transaction(self.sessions) as session:
            pk = DeviceRepository(session).ensure_device(device_id, utcnow())
            if info.channel is not None:  # the catalog's count wins once there is one
                values["channel_count"] = func.coalesce(
                    select(DEVICE.c.channel_count)
                    .where(DEVICE.c.id == pk, DEVICE.c.catalog_status != "none")
                    .scalar_subquery(),
                    info.channel,
                )
            session.execute(update(DEVICE).where(DEVICE.c.id == pk).values(values))

    def mark_catalog(self, device_id: str, status: str, received: int, expected: int | None, at: dt.datetime) -> None:
        """The outcome of a catalog query (``timeout``: no answer; ``partial``, ``complete``)."""
        if status not in CATALOG_STATUSES:
            raise ValueError(f"catalog status must be one of {CATALOG_STATUSES}: {status}")
        with transaction(self.sessions) as session:
            session.execute(
                update(DEVICE)
                .where(DEVICE.c.device_id == device_id)
                .values(
                    catalog_status=status,
                    catalog_received=received,
                    catalog_expected=expected,
                    catalog_synced_at=at,
                    updated_at=at,
                )
            )

    # --- alarms -------------------------------------------------------------------------------------------
    def record_alarm(self, device_id: str, alarm: AlarmNotify, at: dt.datetime) -> int:
        values = {
            "device_id": device_id,
            "channel_id": clip(alarm.device_id, MAX_CHANNEL_ID),
            "priority": alarm.priority,
            "method": alarm.method,
            "alarm_type": alarm.alarm_type,
            "alarm_time": naive_utc(alarm.time),
            "description": alarm.description,
            "longitude": alarm.longitude,
            "latitude": alarm.latitude,
            "received_at": at,
            "item": wire_dict(alarm),
        }
        with transaction(self.sessions) as session:
            return int(session.execute(insert(ALARM).values(values).returning(ALARM.c.id)).scalar_one())
