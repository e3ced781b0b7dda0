"""Repository of SIP devices (IPCs, NVRs, lower platforms), their channels, online history, alarms and the
registrations refused because the device is not in the inventory.

Two faces:

- :class:`DeviceStore` is the contract between the signaling service (asyncio, calls these methods through
  ``asyncio.to_thread``), the API and the database. Every method opens and commits its own transaction through
  the session factory it was given. Hot paths never write per message: ``touch`` takes a batch of last-seen
  times, ``record_online_changes`` a batch of online/offline changes (each change is one ``online_event`` row),
  both as one executemany per statement.
- :class:`DeviceRepository` works inside the caller's transaction: the set-based reads and writes the catalog
  merge (``xueliang.catalog.device_catalog``, where the rules live) is made of: channels of a device, cameras by
  platform ID in chunked IN lists, bulk inserts (DBAPI executemany on SQLite, COPY on PostgreSQL) and grouped
  executemany updates.

``device.channel_count`` is the number of video channels (kind ``camera``, not gone) of the last merged catalog;
before any catalog it is the ``Channel`` count the device gave in DeviceInfo. Secrets: ``device.password`` is
encrypted with the platform's :class:`~xueliang.store.crypto.Cipher` and never leaves this module except
decrypted in :meth:`DeviceStore.lookup` (for digest authentication). Timestamps are naive UTC.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
    Integer,
    Select,
    Table,
    Text,
    any_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from xueliang.domain import ids
from xueliang.protocol.manscdp import AlarmNotify, DeviceInfo
from xueliang.store import keyset
from xueliang.store.crypto import Cipher
from xueliang.store.db import transaction
from xueliang.store.keyset import CursorError, PageRequest
from xueliang.store.models import (
    CATALOG_STATUSES,
    DEVICE_TRANSPORTS,
    Alarm,
    Camera,
    Device,
    DeviceChannel,
    DeviceRejection,
    OnlineEvent,
    utcnow,
)

__all__ = [
    "AlarmPage",
    "AlarmRecord",
    "ArchiveCamera",
    "Binding",
    "ChannelPage",
    "ChannelSummary",
    "CursorError",
    "DeviceAuth",
    "DeviceDetail",
    "DevicePage",
    "DeviceRepository",
    "DeviceStore",
    "DeviceSummary",
    "OnlineChange",
    "OnlineEventInfo",
    "PageRequest",
    "PreparedRows",
    "Registration",
    "Rejection",
    "StoredChannel",
    "naive_utc",
    "wire_dict",
]

DEVICE = cast(Table, Device.__table__)
CHANNEL = cast(Table, DeviceChannel.__table__)
CAMERA = cast(Table, Camera.__table__)
ONLINE_EVENT = cast(Table, OnlineEvent.__table__)
ALARM = cast(Table, Alarm.__table__)
REJECTION = cast(Table, DeviceRejection.__table__)
IN_CHUNK = 1000  # values per IN (...) list (SQLite)
STAGED_UPDATE_ROWS = 1000  # PostgreSQL: from this many rows an update goes through a staging table
ANY_CHUNK = 20_000  # values per = ANY(array) (PostgreSQL: one parameter however many values)
MAX_CHANNEL_ID = 64  # device_channel.channel_id, alarm.channel_id, device_rejection.device_id
EDITIONS = ("2016", "2022")


# ------------------------------------------------------------------------------------------------ contract types


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


_MEDIA_COLUMNS = {  # MediaSettings field -> device column
    "transport": "media_transport",
    "ssrc_check": "ssrc_check",
    "max_streams": "max_streams",
    "stream_number": "stream_number",
}


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


# ----------------------------------------------------------------------------------------------- row helpers


def clip(text: str | None, length: int) -> str | None:
    """Device text for a bounded column: cut, never refused (device input is stored, not rejected)."""
    return None if text is None else text[:length]


_PLAIN_TYPE_WORDS = frozenset({"str", "int", "float", "bool", "None"})
_WORD = re.compile(r"\w+")
_FIELDS: dict[tuple[type, frozenset[str]], tuple[tuple[str, ...], Callable[[Any], Any], tuple[str, ...]]] = {}


def _fields(kind: type, left_out: frozenset[str]) -> tuple[tuple[str, ...], Callable[[Any], Any], tuple[str, ...]]:
    """The field names of a dataclass (less ``left_out``), a getter of their values as one tuple, and the names
    of the fields whose values may need converting for JSON (annotated with more than str/int/float/bool)."""
    key = (kind, left_out)
    found = _FIELDS.get(key)
    if found is None:
        fields = [f for f in dataclasses.fields(kind) if f.name not in left_out]
        names = tuple(f.name for f in fields)
        getter = operator.attrgetter(*names)
        special = tuple(f.name for f in fields if not _PLAIN_TYPE_WORDS.issuperset(_WORD.findall(str(f.type))))
        found = _FIELDS[key] = (names, getter if len(names) > 1 else lambda message: (getter(message),), special)
    return found


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    return value


def wire_dict(message: Any, *, exclude: frozenset[str] = frozenset({"password"})) -> dict[str, Any]:
    """A wire dataclass (catalog item, alarm) as JSON: every field that is set, in field order, except
    ``exclude`` (the password is never stored in clear); empty mappings left out. A catalog merge calls it
    200,000 times: one attrgetter call per message, conversions only for fields not typed plain."""
    names, values, special = _fields(type(message), exclude)
    out = {name: value for name, value in zip(names, values(message), strict=True) if value is not None}
    for name in special:
        if name in out:
            value = _json_value(out[name])
            if value == {}:
                del out[name]
            else:
                out[name] = value
    return out


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _dialect_insert(session: Session, table: Table) -> Any:
    """INSERT with ON CONFLICT for the session's database (SQLite and PostgreSQL share the syntax)."""
    if _dialect(session) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def json_text(value: Any) -> str:
    """Compact JSON with characters as they are (a Chinese name costs 3 bytes, not the 6 of ``\\uXXXX``)."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class PreparedRows:
    """Rows of one table as the database driver takes them (see :func:`prepare_rows`)."""

    table: Table
    columns: list[str]
    params: list[tuple[Any, ...]]


def prepare_rows(dialect: Any, table: Table, rows: Sequence[Mapping[str, Any]]) -> PreparedRows:
    """Plain rows (every dict with the same keys) as driver values: JSON columns as :func:`json_text`, and on
    SQLite the other values in SQLAlchemy's storage format (the column types' own bind processors). Pure: a
    caller may prepare one table's rows in a thread while the database writes another's."""
    columns = list(rows[0]) if rows else []
    processors: list[tuple[int, Callable[[Any], Any]]] = []
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            processors.append((index, json_text))
        elif dialect.name == "sqlite":
            storage = column_type.dialect_impl(dialect).bind_processor(dialect)
            if storage is not None:
                processors.append((index, storage))
    getter = operator.itemgetter(*columns) if len(columns) > 1 else None
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(getter(row)) if getter is not None else [row[c] for c in columns]
        for index, process in processors:
            values[index] = process(values[index])
        params.append(tuple(values))
    return PreparedRows(table, columns, params)


def insert_prepared(session: Session, prepared: PreparedRows, *, into: str | None = None) -> None:
    """Insert prepared rows in the caller's transaction (into their table, or the table named ``into``):
    SQLite one DBAPI executemany, PostgreSQL ``COPY``."""
    if not prepared.params:
        return
    target, columns = into or prepared.table.name, prepared.columns
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        sql = f"INSERT INTO {target} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
        connection.exec_driver_sql(sql, prepared.params)
    elif connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for values in prepared.params:
                copy.write_row(values)
    else:
        session.execute(insert(prepared.table), [dict(zip(columns, v, strict=True)) for v in prepared.params])


def insert_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many plain rows (every dict with the same keys) the fast way each database offers, in the
    caller's transaction. JSON columns take a value or its JSON text (a catalog merge serialises each item
    once, for its digest and its row)."""
    if rows:
        insert_prepared(session, prepare_rows(session.get_bind().dialect, table, rows))


def update_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Update rows by ``id``, each in the columns its dict holds, one statement per column set: an executemany,
    or on PostgreSQL from :data:`STAGED_UPDATE_ROWS` rows on, ``COPY`` into a temporary table and one
    ``UPDATE ... FROM`` it (an executemany of 200,000 updates takes 17 s there, this 2)."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(k for k in row if k != "id")), []).append(row)
    dialect = session.get_bind().dialect
    for names, group in groups.items():
        if not names:
            continue
        if dialect.name == "postgresql" and len(group) >= STAGED_UPDATE_ROWS:
            _staged_update(session, table, names, group)
            continue
        statement = update(table).where(table.c.id == bindparam("b_id")).values({n: bindparam(f"v_{n}") for n in names})
        session.execute(statement, [{"b_id": row["id"], **{f"v_{n}": row[n] for n in names}} for row in group])


def _staged_update(session: Session, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    staging = f"staging_{table.name}"  # column names come from the table, never from input
    columns = ["id", *names]
    listed = ", ".join(f'"{c}"' for c in columns)
    session.execute(
        text(f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS SELECT {listed} FROM {table.name} WITH NO DATA")  # noqa: S608
    )
    prepared = prepare_rows(session.get_bind().dialect, table, [{c: row[c] for c in columns} for row in rows])
    insert_prepared(session, prepared, into=staging)
    assignments = ", ".join(f'"{n}" = s."{n}"' for n in names)
    # rows whose values are the same are left alone: an update writes a new version of the row into every index
    as_text = {n: "::text" if isinstance(table.c[n].type, JSON) else "" for n in names if n != "updated_at"}
    changed = " OR ".join(f't."{n}"{cast} IS DISTINCT FROM s."{n}"{cast}' for n, cast in as_text.items()) or "TRUE"
    session.execute(
        text(f"UPDATE {table.name} AS t SET {assignments} FROM {staging} AS s WHERE t.id = s.id AND ({changed})")  # noqa: S608
    )
    session.execute(text(f"DROP TABLE {staging}"))


# ------------------------------------------------------------------------------------- the caller's transaction


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
        return _dialect(self.session)

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
        statement = _dialect_insert(self.session, DEVICE).values(
            device_id=device_id, device_type=_type_digits(device_id), created_at=at, updated_at=at
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


def _type_digits(device_id: str) -> str | None:
    """Digits 11-13 of a 20-digit ID (132 IPC, 118 NVR, 200 platform ...)."""
    return device_id[10:13] if len(device_id) == ids.ID_LENGTH and device_id.isdigit() else None


# ------------------------------------------------------------------------------------------ one transaction each


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


def naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    """A time as the columns hold it: naive UTC (aware times converted, naive ones taken as UTC already)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def check_device_id(device_id: str) -> str:
    """The ID, stripped, when it is a valid 20-digit ID; a :class:`~xueliang.domain.ids.IdError` (a ValueError
    with the reason in Chinese and English) otherwise."""
    return ids.GbId.parse(device_id).text


class DeviceStore:
    """Devices, channels, online history, alarms, refused registrations."""

    def __init__(self, sessions: sessionmaker[Session], cipher: Cipher) -> None:
        self.sessions = sessions
        self.cipher = cipher

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
                        device_id=device_id, device_type=_type_digits(device_id), created_at=now, **values
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
            statement = _dialect_insert(session, REJECTION).values(values)
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
            statement = _dialect_insert(session, DEVICE).values(
                device_id=r.device_id, device_type=_type_digits(r.device_id), created_at=r.at, **values
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
