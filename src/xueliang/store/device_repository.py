"""Devices and channels inside the caller's transaction: the set-based reads and writes the catalog merge
(``xueliang.catalog.device_catalog``, where the rules live) is made of: channels of a device, cameras by platform
ID in chunked IN lists, bulk inserts (DBAPI executemany on SQLite, COPY on PostgreSQL, see
:mod:`xueliang.store.device_rows`) and grouped executemany updates; and the online history that
:meth:`~xueliang.store.devices.DeviceStore.record_online_changes` writes in its own transaction.

``device.channel_count`` is the number of video channels (kind ``camera``, not gone) of the last merged catalog
(:meth:`DeviceRepository.finish_catalog`). Timestamps are naive UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from xueliang.domain import ids
from xueliang.store.device_records import OnlineChange
from xueliang.store.device_rows import (
    ANY_CHUNK,
    PreparedRows,
    chunks,
    clip,
    dialect_insert,
    dialect_name,
    insert_prepared,
    insert_rows,
    update_rows,
)
from xueliang.store.models import Camera, Device, DeviceChannel, OnlineEvent

__all__ = [
    "CAMERA",
    "CHANNEL",
    "DEVICE",
    "MAX_CHANNEL_ID",
    "ONLINE_EVENT",
    "ArchiveCamera",
    "Binding",
    "DeviceRepository",
    "StoredChannel",
    "type_digits",
]

DEVICE = cast(Table, Device.__table__)
CHANNEL = cast(Table, DeviceChannel.__table__)
CAMERA = cast(Table, Camera.__table__)
ONLINE_EVENT = cast(Table, OnlineEvent.__table__)
MAX_CHANNEL_ID = 64  # device_channel.channel_id, alarm.channel_id, device_rejection.device_id


@dataclass(frozen=True, slots=True)
class StoredChannel:
    """What a catalog merge needs of a stored channel (not its item: only the item's digest)."""

    id: int
    device_pk: int
    channel_id: str
    kind: str
    camera_id: int | None
    camera_platform_id: str | None
    camera_source: str | None
    online: bool
    collision: bool
    gone: bool
    item_digest: str


@dataclass(frozen=True, slots=True)
class ArchiveCamera:
    id: int
    platform_id: str
    source: str  # import | api | device


@dataclass(frozen=True, slots=True)
class Binding:
    """A channel (not gone) bound to an archive camera."""

    camera_id: int
    device_pk: int
    device_id: str
    channel_id: str


_CHANNEL_COLUMNS = (
    CHANNEL.c.id,
    CHANNEL.c.device_pk,
    CHANNEL.c.channel_id,
    CHANNEL.c.kind,
    CHANNEL.c.camera_id,
    CAMERA.c.platform_id,
    CAMERA.c.source,
    CHANNEL.c.online,
    CHANNEL.c.collision,
    CHANNEL.c.gone,
    CHANNEL.c.item_digest,
)


def _stored_channel(row: Any) -> StoredChannel:
    return StoredChannel(*row)


class DeviceRepository:
    """Devices and channels inside the caller's transaction (see the module docstring)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return dialect_name(self.session)

    def _matching(self, column: Any, values: Iterable[Any]) -> Iterator[ColumnElement[bool]]:
        """``column`` is one of ``values``, as one condition per chunk: ``IN (...)`` on SQLite, ``= ANY(array)``
        on PostgreSQL (one parameter: no statement with 20,000 placeholders to parse)."""
        wanted = sorted(set(values))
        if self.dialect != "postgresql":
            for chunk in chunks(wanted):
                yield column.in_(chunk)
            return
        for chunk in chunks(wanted, ANY_CHUNK):
            element = Text() if isinstance(chunk[0], str) else Integer()
            yield column == any_(bindparam(None, list(chunk), type_=ARRAY(element)))

    def allocate_ids(self, table: Table, count: int) -> list[int]:
        """``count`` new primary keys of ``table``, so rows can be bulk-inserted with their keys known (no
        lookup afterwards): PostgreSQL draws them from the table's sequence; SQLite counts on from the largest
        key, which is safe because the caller's transaction has written already (SQLite has one writer)."""
        if count <= 0:
            return []
        if self.dialect == "postgresql":
            draw = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)")
            return [int(v) for v in self.session.scalars(draw, {"table": table.name, "count": count})]
        start = int(self.session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0)
        return list(range(start + 1, start + 1 + count))

    # ---- devices

    def device_pk(self, device_id: str) -> int | None:
        return self.session.scalar(select(DEVICE.c.id).where(DEVICE.c.device_id == device_id))

    def ensure_device(self, device_id: str, at: dt.datetime, *, lock: bool = False) -> int:
        """The device's key; a row is created when there is none. ``lock``: hold the row until the transaction
        ends (PostgreSQL; SQLite has one writer anyway), so two merges of one device run one after the other."""
        statement = dialect_insert(self.session, DEVICE).values(
            device_id=device_id, device_type=type_digits(device_id), created_at=at, updated_at=at
        )
        self.session.execute(statement.on_conflict_do_nothing(index_elements=["device_id"]))
        query = select(DEVICE.c.id).where(DEVICE.c.device_id == device_id)
        if lock and self.dialect == "postgresql":
            query = query.with_for_update()
        return int(self.session.execute(query).scalar_one())

    def device_pks(self, device_ids: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(device_ids))
        found: dict[str, int] = {}
        for condition in self._matching(DEVICE.c.device_id, wanted):
            rows = self.session.execute(select(DEVICE.c.device_id, DEVICE.c.id).where(condition))
            found.update({row.device_id: row.id for row in rows})
        return found

    def finish_catalog(self, device_pk: int, *, complete: bool | None, received: int, at: dt.datetime) -> int:
        """Record a merged catalog on the device: status and counts (``complete`` None: a change of some
        channels, not a catalog: only the count), and ``channel_count`` = its video channels, not gone."""
        count = self.session.scalar(
            select(func.count())
            .select_from(CHANNEL)
            .where(CHANNEL.c.device_pk == device_pk, CHANNEL.c.kind == "camera", CHANNEL.c.gone.is_(False))
        )
        values: dict[str, Any] = {"channel_count": int(count or 0), "updated_at": at}
        if complete is not None:
            values.update(
                catalog_status="complete" if complete else "partial", catalog_received=received, catalog_synced_at=at
            )
        if complete:
            values["catalog_expected"] = received
        self.session.execute(update(DEVICE).where(DEVICE.c.id == device_pk).values(values))
        return int(count or 0)

    # ---- channels

    def _channel_query(self) -> Select[Any]:
        return select(*_CHANNEL_COLUMNS).select_from(CHANNEL.outerjoin(CAMERA, CAMERA.c.id == CHANNEL.c.camera_id))

    def channels(self, device_pk: int, channel_ids: Iterable[str] | None = None) -> dict[str, StoredChannel]:
        """The channels of a device by channel ID: all of them, or those of ``channel_ids``."""
        query = self._channel_query().where(CHANNEL.c.device_pk == device_pk)
        if channel_ids is None:
            return {row.channel_id: _stored_channel(row) for row in self.session.execute(query)}
        found: dict[str, StoredChannel] = {}
        for condition in self._matching(CHANNEL.c.channel_id, channel_ids):
            for row in self.session.execute(query.where(condition)):
                found[row.channel_id] = _stored_channel(row)
        return found

    def channel(self, device_id: str, channel_id: str) -> tuple[StoredChannel, dict[str, Any]] | None:
        """One channel of a device with its item as received; None when there is none."""
        query = (
            select(*_CHANNEL_COLUMNS, CHANNEL.c.item)
            .select_from(
                CHANNEL.join(DEVICE, DEVICE.c.id == CHANNEL.c.device_pk).outerjoin(
                    CAMERA, CAMERA.c.id == CHANNEL.c.camera_id
                )
            )
            .where(DEVICE.c.device_id == device_id, CHANNEL.c.channel_id == channel_id)
        )
        row = self.session.execute(query).first()
        if row is None:
            return None
        return _stored_channel(tuple(row)[:-1]), dict(row.item or {})

    def cameras(self, platform_ids: Iterable[str]) -> dict[str, ArchiveCamera]:
        """The archive cameras with these platform IDs (chunked IN lists)."""
        found: dict[str, ArchiveCamera] = {}
        for condition in self._matching(CAMERA.c.platform_id, platform_ids):
            query = select(CAMERA.c.id, CAMERA.c.platform_id, CAMERA.c.source).where(condition)
            for row in self.session.execute(query):
                found[row.platform_id] = ArchiveCamera(row.id, row.platform_id, row.source)
        return found

    def bindings(self, camera_ids: Iterable[int]) -> dict[int, list[Binding]]:
        """The channels (not gone, of any device) bound to these cameras."""
        found: dict[int, list[Binding]] = {}
        for condition in self._matching(CHANNEL.c.camera_id, camera_ids):
            query = (
                select(CHANNEL.c.camera_id, CHANNEL.c.device_pk, DEVICE.c.device_id, CHANNEL.c.channel_id)
                .select_from(CHANNEL.join(DEVICE, DEVICE.c.id == CHANNEL.c.device_pk))
                .where(condition, CHANNEL.c.gone.is_(False))
            )
            for row in self.session.execute(query):
                found.setdefault(row.camera_id, []).append(Binding(*row))
        return found

    def insert_channels(self, rows: Sequence[Mapping[str, Any]] | PreparedRows) -> None:
        if isinstance(rows, PreparedRows):
            insert_prepared(self.session, rows)
        else:
            insert_rows(self.session, CHANNEL, rows)

    def update_channels(self, rows: Sequence[Mapping[str, Any]]) -> None:
        update_rows(self.session, CHANNEL, rows)

    def update_cameras(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Update archive cameras by ``id``, each only in the columns its dict holds."""
        update_rows(self.session, CAMERA, rows)

    def mark_gone(self, channel_pks: Sequence[int], at: dt.datetime) -> None:
        for condition in self._matching(CHANNEL.c.id, channel_pks):
            self.session.execute(update(CHANNEL).where(condition).values(gone=True, online=False, updated_at=at))

    def set_channel_states(self, device_pk: int, states: Sequence[tuple[str, bool, str]], at: dt.datetime) -> None:
        """(channel ID, online, status) for channels of one device (catalog NOTIFY ON/OFF/VLOST/DEFECT)."""
        if not states:
            return
        statement = (
            update(CHANNEL)
            .where(CHANNEL.c.device_pk == device_pk, CHANNEL.c.channel_id == bindparam("b_channel_id"))
            .values(online=bindparam("v_online"), status=bindparam("v_status"), updated_at=at)
        )
        self.session.execute(
            statement, [{"b_channel_id": c, "v_online": online, "v_status": status} for c, online, status in states]
        )

    # ---- online history

    def write_online_changes(self, changes: Sequence[OnlineChange]) -> None:
        """One ``online_event`` row per change; devices take their last change (by time, then by order) unless
        a later one is stored already; channels take their last change."""
        if not changes:
            return
        self.session.execute(
            insert(ONLINE_EVENT),
            [
                {
                    "device_id": c.device_id,
                    "channel_id": clip(c.channel_id, MAX_CHANNEL_ID),
                    "online": c.online,
                    "at": c.at,
                    "reason": clip(c.reason, 32),
                }
                for c in changes
            ],
        )
        devices: dict[str, OnlineChange] = {}
        channels: dict[tuple[str, str], OnlineChange] = {}
        for change in changes:
            if change.channel_id is None:
                previous = devices.get(change.device_id)
                if previous is None or change.at >= previous.at:
                    devices[change.device_id] = change
            else:
                channels[(change.device_id, change.channel_id)] = change
        if devices:
            statement = (
                update(DEVICE)
                .where(
                    DEVICE.c.device_id == bindparam("b_device_id"),
                    or_(DEVICE.c.online_changed_at.is_(None), DEVICE.c.online_changed_at <= bindparam("b_at")),
                )
                .values(online=bindparam("v_online"), online_changed_at=bindparam("b_at"))
            )
            self.session.execute(
                statement,
                [{"b_device_id": c.device_id, "b_at": c.at, "v_online": c.online} for c in devices.values()],
            )
        if channels:
            pks = self.device_pks(device_id for device_id, _channel in channels)
            statement = (
                update(CHANNEL)
                .where(CHANNEL.c.device_pk == bindparam("b_pk"), CHANNEL.c.channel_id == bindparam("b_channel_id"))
                .values(online=bindparam("v_online"))
            )
            params = [
                {"b_pk": pks[device_id], "b_channel_id": channel_id, "v_online": c.online}
                for (device_id, channel_id), c in channels.items()
                if device_id in pks
            ]
            if params:
                self.session.execute(statement, params)


def type_digits(device_id: str) -> str | None:
    """Digits 11-13 of a 20-digit ID (132 IPC, 118 NVR, 200 platform ...)."""
    return device_id[10:13] if len(device_id) == ids.ID_LENGTH and device_id.isdigit() else None
