"""SQLAlchemy models. The schema itself changes only through migrations under ``migrations/versions``.

Tables: ``unit`` (建设单位/管理单位), ``camera`` (the archive, 一机一档), ``setting`` (operational settings such as
the naming rule) and ``import_job`` (one row per inventory import, with its counts and report paths); for GB/T 28181
devices (migration 0002): ``device``, ``device_channel`` (a device's catalog, each video channel bound to the
archive camera it is), ``online_event`` (append-only online history), ``alarm`` and ``device_rejection``
(registrations refused: the governance finding "device not in inventory").

Codes (IDs, division codes, code-table values) are short strings compared byte-wise: on PostgreSQL they carry
``COLLATE "C"`` so that prefix ranges (``division_code >= '3415' AND division_code < '3415:'``) and keyset
pagination order the same way as SQLite's BINARY collation and Python's ``sorted``.

Timestamps are naive UTC (``utcnow``) on both databases, so cursors and comparisons read the same everywhere.

Not in this metadata, created by the migration for one dialect each (see ``store/search.py``):
SQLite's FTS5 table ``camera_search`` with its triggers, and PostgreSQL's GIN index ``ix_camera_search_grams``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UNIT_KINDS = ("department", "enterprise", "other")
CAMERA_SOURCES = ("import", "api", "device")
IMPORT_MODES = ("create", "upsert")
IMPORT_STATUSES = ("running", "rejected", "validated", "committed", "failed")


def utcnow() -> dt.datetime:
    """Now, as naive UTC (how every timestamp column stores it)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _code(length: int) -> TypeEngine[str]:
    """A short code compared byte-wise on both databases."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Unit(Base):
    """A unit that builds (建设单位) or manages (管理单位) cameras: a department, an enterprise, ..."""

    __tablename__ = "unit"
    __table_args__ = (CheckConstraint("kind IN ('department', 'enterprise', 'other')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(_code(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="other")
    division_code: Mapped[str | None] = mapped_column(_code(12))
    auto_created: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Camera(Base):
    """One camera's archive. ``id`` is the surrogate key; ``platform_id`` the 20-digit ID API paths use."""

    __tablename__ = "camera"
    __table_args__ = (
        CheckConstraint("source IN ('import', 'api', 'device')", name="source"),
        # division filter + sort: one (division_code, sort key, id) index per sort key (see CameraRepository.list)
        Index("ix_camera_division_code_platform_id", "division_code", "platform_id"),
        Index("ix_camera_division_code_name_id", "division_code", "name", "id"),
        Index("ix_camera_division_code_install_time_id", "division_code", "install_time", "id"),
        Index("ix_camera_division_code_updated_at_id", "division_code", "updated_at", "id"),
        Index("ix_camera_owner_unit_id", "owner_unit_id"),
        Index("ix_camera_management_unit_id", "management_unit_id"),
        Index("ix_camera_network", "network"),
        Index("ix_camera_camera_type", "camera_type"),
        Index("ix_camera_point_class", "point_class"),
        Index("ix_camera_longitude_latitude", "longitude", "latitude"),
        Index("ix_camera_name_id", "name", "id"),
        Index("ix_camera_install_time_id", "install_time", "id"),
        Index("ix_camera_updated_at_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[str] = mapped_column(_code(20), unique=True)
    name: Mapped[str] = mapped_column(_code(200))
    division_code: Mapped[str | None] = mapped_column(_code(8))
    grassroots_code: Mapped[str | None] = mapped_column(_code(12))
    point_class: Mapped[str | None] = mapped_column(_code(4))
    point_common_name: Mapped[str | None] = mapped_column(String(200))
    manufacturer: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    ipv4: Mapped[str | None] = mapped_column(String(15))
    ipv6: Mapped[str | None] = mapped_column(String(45))
    mac: Mapped[str | None] = mapped_column(String(17))
    camera_type: Mapped[str | None] = mapped_column(_code(4))
    function_type: Mapped[str | None] = mapped_column(_code(4))
    supply_light: Mapped[str | None] = mapped_column(_code(4))
    encoding: Mapped[str | None] = mapped_column(_code(8))
    storage_location: Mapped[str | None] = mapped_column(_code(4))
    install_address: Mapped[str | None] = mapped_column(String(300))
    longitude: Mapped[float | None] = mapped_column(Float)  # WGS-84
    latitude: Mapped[float | None] = mapped_column(Float)
    submitted_longitude: Mapped[float | None] = mapped_column(Float)  # as submitted, in submitted_crs
    submitted_latitude: Mapped[float | None] = mapped_column(Float)
    submitted_crs: Mapped[str | None] = mapped_column(_code(8))
    position_type: Mapped[str | None] = mapped_column(_code(4))
    room_type: Mapped[str | None] = mapped_column(_code(4))
    direction: Mapped[str | None] = mapped_column(_code(4))
    network: Mapped[str | None] = mapped_column(_code(20))
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    management_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    management_contact: Mapped[str | None] = mapped_column(String(100))
    install_time: Mapped[dt.date | None] = mapped_column(Date)
    record_save_days: Mapped[int | None] = mapped_column(Integer)
    use: Mapped[str | None] = mapped_column(_code(4))
    status: Mapped[str | None] = mapped_column(_code(4))
    resolution: Mapped[str | None] = mapped_column(String(64))
    shared: Mapped[bool | None] = mapped_column(Boolean)
    upper_connected: Mapped[bool | None] = mapped_column(Boolean)
    construction_category: Mapped[str | None] = mapped_column(_code(4))
    install_height: Mapped[float | None] = mapped_column(Float)
    view_distance: Mapped[float | None] = mapped_column(Float)
    horizontal_fov: Mapped[float | None] = mapped_column(Float)
    vertical_fov: Mapped[float | None] = mapped_column(Float)
    access_protocol: Mapped[str | None] = mapped_column(_code(16))
    stream_url: Mapped[str | None] = mapped_column(String(500))  # never with credentials
    stream_credentials: Mapped[str | None] = mapped_column(Text)  # "user:password", encrypted (store/crypto.py)
    remark: Mapped[str | None] = mapped_column(String(500))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # warnings at the last write
    source: Mapped[str] = mapped_column(String(16), default="import")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    search_text: Mapped[str] = mapped_column(Text, default="")
    search_grams: Mapped[str] = mapped_column(Text, default="")


class Setting(Base):
    """An operational setting operators change at run time (``naming_rule``, ...), as JSON."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ImportJob(Base):
    """One inventory import: what was submitted, how it went, where its error report is."""

    __tablename__ = "import_job"
    __table_args__ = (
        CheckConstraint("mode IN ('create', 'upsert')", name="mode"),
        CheckConstraint("status IN ('running', 'rejected', 'validated', 'committed', 'failed')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex: not guessable
    filename: Mapped[str] = mapped_column(String(300))
    unit_code: Mapped[str | None] = mapped_column(_code(64))
    mode: Mapped[str] = mapped_column(String(8))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="running")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_created: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    warning_count: Mapped[int] = mapped_column(Integer, default=0)
    created_units: Mapped[list[str]] = mapped_column(JSON, default=list)
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    report_xlsx: Mapped[str | None] = mapped_column(String(500))
    report_json: Mapped[str | None] = mapped_column(String(500))


# --------------------------------------------------------------------------------------------------------------
# GB/T 28181 devices (migration 0002)

DEVICE_TRANSPORTS = ("udp", "tcp")
CATALOG_STATUSES = ("none", "complete", "partial", "timeout")
CHANNEL_KINDS = ("camera", "region", "system", "business_group", "virtual_org", "device", "alarm", "other")


class Device(Base):
    """A device that registers over SIP (IPC, NVR, lower platform). ``password`` is its digest password,
    encrypted (``store/crypto.py``) and never returned by the API."""

    __tablename__ = "device"
    __table_args__ = (
        CheckConstraint("transport IN ('udp', 'tcp')", name="transport"),
        CheckConstraint("catalog_status IN ('none', 'complete', 'partial', 'timeout')", name="catalog_status"),
        CheckConstraint("media_transport IN ('udp', 'tcp_passive', 'tcp_active')", name="media_transport"),
        CheckConstraint("max_streams IS NULL OR max_streams >= 0", name="max_streams"),
        CheckConstraint("stream_number IN (0, 1)", name="stream_number"),
        Index("ix_device_online_device_id", "online", "device_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(_code(20), unique=True)
    name: Mapped[str | None] = mapped_column(Text)  # the device's own name (DeviceInfo), or the operator's
    manufacturer: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    firmware: Mapped[str | None] = mapped_column(Text)
    device_type: Mapped[str | None] = mapped_column(_code(3))  # digits 11-13 of the ID: 132 IPC, 118 NVR, 200 ...
    transport: Mapped[str | None] = mapped_column(String(3))
    charset: Mapped[str | None] = mapped_column(String(16))  # GB2312 | GB18030 | UTF-8: what it sends
    edition: Mapped[str | None] = mapped_column(String(4))  # 2016 | 2022
    remote_host: Mapped[str | None] = mapped_column(String(64))
    remote_port: Mapped[int | None] = mapped_column(Integer)
    contact: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    expires: Mapped[int | None] = mapped_column(Integer)  # seconds granted at the last REGISTER
    password: Mapped[str | None] = mapped_column(Text)  # encrypted
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    online_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    channel_count: Mapped[int | None] = mapped_column(Integer)  # video channels of the last catalog, else DeviceInfo
    catalog_status: Mapped[str] = mapped_column(String(16), default="none")
    catalog_received: Mapped[int] = mapped_column(Integer, default=0)
    catalog_expected: Mapped[int | None] = mapped_column(Integer)
    catalog_synced_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    pre_registered: Mapped[bool] = mapped_column(Boolean, default=False)  # added by an operator
    # live video (issue 4): how RTP reaches the media node, whether its SSRC is checked, how many streams it
    # may send at once (None: the node's default), main (0) or sub (1) stream
    media_transport: Mapped[str] = mapped_column(String(16), default="udp", server_default="udp")
    ssrc_check: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    max_streams: Mapped[int | None] = mapped_column(Integer)
    stream_number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DeviceChannel(Base):
    """One item of a device's catalog: a video channel (bound to an archive camera), a tree node (region,
    business group, virtual organisation, system) or anything else the device listed, as received."""

    __tablename__ = "device_channel"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('camera', 'region', 'system', 'business_group', 'virtual_org', 'device', 'alarm', 'other')",
            name="kind",
        ),
        UniqueConstraint("device_pk", "channel_id"),
        Index("ix_device_channel_camera_id", "camera_id"),
        Index("ix_device_channel_channel_id", "channel_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(_code(64))  # usually 20 digits; devices send junk too
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(Text)  # the device's name for it, as received
    parent_id: Mapped[str | None] = mapped_column(Text)  # raw ParentID ("a/b" in 2022)
    civil_code: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text)  # raw Status (ON, OFF) or the last NOTIFY event
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("camera.id", ondelete="SET NULL"))
    collision: Mapped[bool] = mapped_column(Boolean, default=False)  # its ID is another device's camera
    gone: Mapped[bool] = mapped_column(Boolean, default=False)  # absent from the last complete catalog, or DEL
    item: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # as received, without the password
    item_digest: Mapped[str] = mapped_column(String(32), default="")  # of ``item``: unchanged items are skipped
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class OnlineEvent(Base):
    """One online/offline change of a device (``channel_id`` NULL) or a channel. Append-only history."""

    __tablename__ = "online_event"
    __table_args__ = (Index("ix_online_event_device_id_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(_code(20))
    channel_id: Mapped[str | None] = mapped_column(_code(64))
    online: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(String(32))


class Alarm(Base):
    """An alarm a device reported (Notify CmdType Alarm)."""

    __tablename__ = "alarm"
    __table_args__ = (
        Index("ix_alarm_received_at_id", "received_at", "id"),
        Index("ix_alarm_device_id_received_at_id", "device_id", "received_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(_code(20))  # the device that sent it
    channel_id: Mapped[str] = mapped_column(_code(64))  # the alarm's DeviceID (the device or one of its channels)
    priority: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[int | None] = mapped_column(Integer)
    alarm_type: Mapped[str | None] = mapped_column(Text)
    alarm_time: Mapped[dt.datetime | None] = mapped_column(DateTime)  # as the device wrote it (its local time)
    description: Mapped[str | None] = mapped_column(Text)
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime)
    item: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the alarm as received


class DeviceRejection(Base):
    """A REGISTER refused: the governance finding "device not in inventory" (or a wrong password)."""

    __tablename__ = "device_rejection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(_code(64), unique=True)
    reason: Mapped[str] = mapped_column(String(32))  # not_in_inventory | bad_password | ...
    host: Mapped[str | None] = mapped_column(String(64))
    port: Mapped[int | None] = mapped_column(Integer)
    first_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_at: Mapped[dt.datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=1)


# Feature tables defined beside their repositories join the one metadata here, so the schema check and the test
# truncation see every table whichever modules a process imported first.
from xueliang.store import accounts as _account_tables  # noqa: E402, F401
from xueliang.store import audit as _audit_tables  # noqa: E402, F401
from xueliang.store import sharing as _sharing_tables  # noqa: E402, F401
