"""Merging a device's GB/T 28181 catalog into the archive: device input is stored as received and flagged with
the archive validator's findings, never rejected (ARCHITECTURE.md, "one validator").

Every item becomes (or updates) a ``device_channel`` row, its kind read from the ID (:func:`channel_kind`).
A *video channel* (a valid 20-digit ID of a video type, 131/132) is bound to the archive camera with the same
platform ID:

- the camera exists and no other channel (not gone) is bound to it: bind it. A camera from an inventory import
  or an API edit keeps everything the inventory owns (name, address, coordinates, division, units, classes,
  network, use ...); the device updates only what it knows best (:data:`DEVICE_OWNED_FIELDS`: status from
  ``Status``, IP address, manufacturer, model). A camera the device created (source ``device``) takes every
  field a later catalog supplies. The device's own name stays on the channel beside the archive's name.
- no such camera: create one (source ``device``) from the item, with the validator's findings.
- the camera is bound to another channel (vendor default IDs, NVRs numbering channels alike): the channel is
  flagged (``collision``, a ``channel_id_collision`` finding) and left unbound; the other camera is untouched.
  :func:`allocate_platform_id` gives it a compliant unique ID (signalling keeps using the channel ID).

Other items are tree nodes (regions, business groups, virtual organisations, systems), non-video devices, or
flagged channels (IDs that are not valid 20-digit IDs). A complete catalog marks the channels it no longer lists
``gone`` (never deleted: their cameras stay in the archive); a partial one (timed out, cut short) marks nothing.

Performance (a lower platform's catalog has 200,000 items): items whose JSON digest matches the stored one are
skipped; the rest are read in bulk (chunked IN lists), validated and planned in memory with no write lock held,
then written in one short transaction: cameras through ``CameraRepository.insert_many`` (executemany / COPY),
channels through ``store.devices.insert_rows``, updates as grouped executemany. A concurrent writer that gets in
between (another device creating the same camera) makes the write fail on a constraint: the merge is planned
again once. ``bench/bench_device_catalog.py`` measures it.

Errors (:class:`DeviceCatalogError`, a :class:`~xueliang.catalog.errors.CatalogError`)::

    DeviceCatalogError
      +-- ChannelNotFoundError     no such channel of this device (HTTP 404)
      +-- ChannelBoundError        allocate-id for a channel already bound to a camera (HTTP 409)
      +-- AllocationError          no compliant ID can be made for it: not a video channel, ... (HTTP 409)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from xueliang.catalog.errors import CatalogError
from xueliang.catalog.importer import finding_dict
from xueliang.catalog.service import CatalogService
from xueliang.catalog.sheets import collector_paused
from xueliang.domain import divisions, ids
from xueliang.domain.archive import CameraRecord, Finding, ValidationContext, error, warning
from xueliang.domain.validator import check_camera
from xueliang.protocol.manscdp import CatalogEvent, CatalogItem
from xueliang.store.cameras import CAMERA, DERIVED_COLUMNS, CameraRepository, camera_row, columns_for_fields
from xueliang.store.db import create_db_engine, make_session_factory, transaction
from xueliang.store.devices import (
    CHANNEL,
    MAX_CHANNEL_ID,
    ArchiveCamera,
    Binding,
    DeviceRepository,
    OnlineChange,
    StoredChannel,
    json_text,
    prepare_rows,
    wire_dict,
)
from xueliang.store.models import utcnow

__all__ = [
    "DEVICE_OWNED_FIELDS",
    "AllocationError",
    "ChannelBoundError",
    "ChannelNotFoundError",
    "DeviceCatalogError",
    "MergeSummary",
    "allocate_platform_id",
    "apply_catalog_events",
    "channel_kind",
    "item_record",
    "merge_catalog",
    "merge_catalog_job",
]

log = logging.getLogger(__name__)

#: Camera fields a device updates on a camera the inventory owns.
DEVICE_OWNED_FIELDS: tuple[str, ...] = ("status", "ipv4", "ipv6", "manufacturer", "model")
ANALYZE_AFTER_CAMERAS = 1000  # refresh planner statistics after creating this many cameras
SELECTIVE_READ_ITEMS = 5000  # a partial merge of at most this many items reads only their stored channels
_REFRESHED = DERIVED_COLUMNS - {"source"}  # what a camera the device created takes besides the supplied fields
_TREE_KINDS = frozenset({"region", "system", "business_group", "virtual_org"})
_KIND_BY_TYPE = {"200": "system", "215": "business_group", "216": "virtual_org", "134": "alarm", "135": "alarm"}
_STATUS_CODE = {True: "1", False: "2"}  # Status ON -> 在用 (in service), OFF -> 故障 (faulty: no video)
_POINT_CLASSES = frozenset({"1", "2", "3"})  # 2022 PointType 9 (other) has no archive class
_STATE_EVENTS = {
    CatalogEvent.ON: True,
    CatalogEvent.OFF: False,
    CatalogEvent.VLOST: False,
    CatalogEvent.DEFECT: False,
}
#: catalog item attribute -> archive field, where the codes or values mean the same in both (GB/T 28181 Info
#: PTZType 1-7 = camera_type, PositionType 1-10, RoomType, UseType, SupplyLightType, DirectionType alike).
_ITEM_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "name"),
    ("manufacturer", "manufacturer"),
    ("model", "model"),
    ("address", "install_address"),
    ("longitude", "longitude"),
    ("latitude", "latitude"),
    ("ptz_type", "camera_type"),
    ("position_type", "position_type"),
    ("room_type", "room_type"),
    ("use_type", "use"),
    ("supply_light_type", "supply_light"),
    ("direction_type", "direction"),
    ("resolution", "resolution"),
    ("grassroots_code", "grassroots_code"),
    ("point_common_name", "point_common_name"),
    ("mac", "mac"),
    ("install_time", "install_time"),
    ("contact_info", "management_contact"),
    ("record_save_days", "record_save_days"),
    ("horizontal_field_angle", "horizontal_fov"),
    ("vertical_field_angle", "vertical_fov"),
    ("max_view_distance", "view_distance"),
)


# ------------------------------------------------------------------------------------------------------ errors


class DeviceCatalogError(CatalogError):
    pass


class ChannelNotFoundError(DeviceCatalogError):
    def __init__(self, device_id: str, channel_id: str) -> None:
        super().__init__(
            f"设备 {device_id} 没有编码为 {channel_id} 的通道", f"device {device_id} has no channel {channel_id}"
        )
        self.device_id, self.channel_id = device_id, channel_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.device_id, self.channel_id))


class ChannelBoundError(DeviceCatalogError):
    def __init__(self, device_id: str, channel_id: str, platform_id: str) -> None:
        super().__init__(
            f"设备 {device_id} 的通道 {channel_id} 已对应摄像机 {platform_id}，无需分配编码",
            f"channel {channel_id} of device {device_id} is already bound to camera {platform_id}: nothing to allocate",
        )
        self.device_id, self.channel_id, self.platform_id = device_id, channel_id, platform_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.device_id, self.channel_id, self.platform_id))


class AllocationError(DeviceCatalogError):
    pass


# ----------------------------------------------------------------------------------------------- the summary


@dataclass(frozen=True, slots=True)
class MergeSummary:
    """What a merge did. ``flagged``: channels written with an error finding (collisions included);
    ``unchanged``: items identical to the stored ones (skipped); ``skipped``: items whose ID is longer than
    any channel ID can be (64 characters), not stored."""

    received: int = 0
    cameras: int = 0  # video channels (valid 20-digit video IDs) in the catalog
    created: int = 0  # archive cameras created from the catalog
    bound: int = 0  # channels newly bound to a camera already in the archive
    updated: int = 0  # archive cameras whose fields the catalog updated
    collisions: int = 0
    flagged: int = 0
    gone: int = 0
    tree_nodes: int = 0
    unchanged: int = 0
    skipped: int = 0


# ----------------------------------------------------------------------------------------------- item rules


def channel_kind(channel_id: str) -> str:
    """What an item is, from its ID: 2-8 digits a region (civil code), a 20-digit ID by its type digits."""
    if channel_id.isascii() and channel_id.isdigit():
        if 2 <= len(channel_id) <= 8:
            return "region"
        if len(channel_id) == ids.ID_LENGTH:
            type_code = channel_id[10:13]
            if ids.is_video_channel_type(type_code):
                return "camera"
            if type_code in _KIND_BY_TYPE:
                return _KIND_BY_TYPE[type_code]
            if "111" <= type_code <= "130":  # front-end main devices: DVR, NVR, encoder ...
                return "device"
    return "other"


def item_record(values: Mapping[str, Any], platform_id: str, online: bool | None) -> dict[str, object]:
    """The raw archive record a catalog item (as :func:`~xueliang.store.devices.wire_dict` stores it) supplies
    for the camera ``platform_id``; coordinates are taken as WGS-84. ``online``: the item's Status as a flag."""
    raw: dict[str, object] = {
        "platform_id": platform_id,
        "name": values.get("name") or "",
        "access_protocol": "gb28181",
    }
    for attribute, name in _ITEM_FIELDS:
        value = values.get(attribute)
        if value is not None:
            raw[name] = value
    civil_code = values.get("civil_code")
    if isinstance(civil_code, str) and divisions.is_known(civil_code):
        raw["division_code"] = civil_code
    ip = values.get("ip_address")
    if isinstance(ip, str):
        raw["ipv6" if ":" in ip else "ipv4"] = ip
    if values.get("point_type") in _POINT_CLASSES:
        raw["point_class"] = values["point_type"]
    if online is not None:
        raw["status"] = _STATUS_CODE[online]
    return raw


def _finding(rule_error: ids.IdError) -> Finding:
    return error("platform_id", rule_error.rule, rule_error.message_zh, rule_error.message_en, rule_error.value)


def _garbled(name: str | None) -> Finding:
    return warning(
        "name",
        "name.garbled",
        f"设备上报的名称疑似乱码（字符集错误），已按原样保存：{name}",
        f"the name the device sent looks garbled (wrong character set); stored as received: {name}",
        name,
    )


def _collision(channel_id: str, other: Binding) -> dict[str, Any]:
    finding = error(
        "platform_id",
        "channel_id_collision",
        f"通道编码 {channel_id} 已被设备 {other.device_id} 的通道 {other.channel_id} 使用，未关联摄像机；"
        "可为其分配新的平台编码",
        f"channel ID {channel_id} is already used by channel {other.channel_id} of device {other.device_id}; "
        "not bound to a camera: allocate a platform ID for it",
        channel_id,
    )
    return {**finding_dict(finding), "other_device_id": other.device_id, "other_channel_id": other.channel_id}


class _NoSecrets:
    """The cipher of device records: they never carry stream credentials."""

    def encrypt(self, plaintext: str) -> str:
        raise AssertionError("device records carry no stream credentials")

    def decrypt(self, token: str) -> str:
        raise AssertionError("device records carry no stream credentials")


def _validation_context(sessions: sessionmaker[Session], session: Session) -> ValidationContext:
    """Today's rules (the stored naming rule) for device input, through the catalog service's one reader."""
    context = CatalogService(sessions, data_dir=Path()).validation_context(session)
    return dataclasses.replace(context, id_taken=lambda _id: False, source="device")


def _has_error(findings: Sequence[Mapping[str, Any]]) -> bool:
    return any(f.get("severity") == "error" for f in findings)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


# ------------------------------------------------------------------------------------------------ the merge


@dataclass(slots=True)
class _Received:
    """One item of the catalog, ready to store."""

    item: CatalogItem
    kind: str
    values: dict[str, Any]  # the item as stored (wire_dict)
    text: str  # ... as JSON
    digest: str
    video: bool  # a valid 20-digit video channel ID: bound to a camera
    stored: StoredChannel | None


@dataclass(slots=True)
class _Plan:
    """Everything a merge writes, computed before the write transaction."""

    channels_new: list[dict[str, Any]] = field(default_factory=list)
    channels_changed: list[dict[str, Any]] = field(default_factory=list)
    cameras_new: list[dict[str, Any]] = field(default_factory=list)
    camera_updates: list[dict[str, Any]] = field(default_factory=list)  # by id, each in the columns it holds
    gone: list[int] = field(default_factory=list)
    online_changes: list[OnlineChange] = field(default_factory=list)
    bind_created: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # channel rows, their new camera
    counts: Counter[str] = field(default_factory=Counter)


class _Merge:
    """One merge of items into one device's channels: :meth:`plan` reads, :meth:`write` writes."""

    def __init__(self, device_id: str, items: Sequence[CatalogItem], *, complete: bool, at: dt.datetime) -> None:
        self.device_id, self.items, self.complete, self.at = device_id, items, complete, at
        self.plan_ = _Plan()

    def plan(self, sessions: sessionmaker[Session]) -> None:
        plan = self.plan_ = _Plan()
        unique: dict[str, CatalogItem] = {}
        for item in self.items:
            if len(item.device_id) > MAX_CHANNEL_ID:
                plan.counts["skipped"] += 1
            else:
                unique[item.device_id] = item
        plan.counts["received"] += len(self.items)
        with sessions() as session:  # short reads: no snapshot is held while items are digested and validated
            repository = DeviceRepository(session)
            pk = repository.device_pk(self.device_id)
            stored: dict[str, StoredChannel] = {}
            if pk is not None:  # a few changed items of a big device: read only theirs
                selective = not self.complete and len(unique) <= SELECTIVE_READ_ITEMS
                stored = repository.channels(pk, unique if selective else None)
        received = [self._receive(item, stored.get(channel_id)) for channel_id, item in unique.items()]
        work = [r for r in received if not self._unchanged(r)]
        plan.counts["unchanged"] += len(received) - len(work)
        wanted = [r.item.device_id for r in work if r.video and (r.stored is None or r.stored.camera_id is None)]
        with sessions() as session:
            repository = DeviceRepository(session)
            cameras = repository.cameras(wanted)
            bindings = repository.bindings(c.id for c in cameras.values())
            context = _validation_context(sessions, session)
        for entry in received:
            plan.counts["cameras"] += entry.video
            plan.counts["tree_nodes"] += entry.kind in _TREE_KINDS
        for entry in work:
            self._plan_item(entry, cameras, bindings, context)
        if self.complete:
            listed = set(unique)
            plan.gone = [c.id for c in stored.values() if not c.gone and c.channel_id not in listed]
            plan.counts["gone"] += len(plan.gone)

    @staticmethod
    def _receive(item: CatalogItem, stored: StoredChannel | None) -> _Received:
        values = wire_dict(item)
        text = json_text(values)
        kind = channel_kind(item.device_id)
        video = kind == "camera" and ids.id_error(item.device_id) is None
        return _Received(item, kind, values, text, _digest(text), video, stored)

    @staticmethod
    def _unchanged(entry: _Received) -> bool:
        stored = entry.stored
        return (
            stored is not None
            and stored.item_digest == entry.digest
            and not stored.gone
            and not stored.collision
            and (stored.camera_id is not None or not entry.video)
        )

    def _plan_item(
        self,
        entry: _Received,
        cameras: Mapping[str, ArchiveCamera],
        bindings: Mapping[int, list[Binding]],
        context: ValidationContext,
    ) -> None:
        plan, item, stored = self.plan_, entry.item, entry.stored
        channel_id = item.device_id
        findings: list[dict[str, Any]] = []
        camera_id: int | None = None
        collision = create = False
        if entry.kind == "camera":
            bound = stored is not None and stored.camera_id is not None
            target = stored.camera_platform_id if stored is not None and bound else None
            raw = item_record(entry.values, target or channel_id, item.online)
            record, found = check_camera(raw, context)
            findings = [finding_dict(f) for f in found]
            if item.name_garbled:
                findings.append(finding_dict(_garbled(item.name)))
            if not entry.video:
                pass  # an invalid ID (flagged by the validator): no camera until one is allocated
            elif stored is not None and stored.camera_id is not None:
                camera_id = stored.camera_id
                self._update_camera(camera_id, stored.camera_source or "", record, raw, findings)
            elif (camera := cameras.get(channel_id)) is None:
                create = True
                plan.cameras_new.append(self._camera_row(record, findings))
                plan.counts["created"] += 1
            elif others := _others(bindings.get(camera.id, []), stored):
                collision = True
                findings.append(_collision(channel_id, others[0]))
                plan.counts["collisions"] += 1
            else:
                camera_id = camera.id
                plan.counts["bound"] += 1
                self._update_camera(camera.id, camera.source, record, raw, findings)
        else:
            if entry.kind == "other" and (problem := ids.id_error(channel_id)) is not None:
                findings.append(finding_dict(_finding(problem)))
            if item.name_garbled:
                findings.append(finding_dict(_garbled(item.name)))
        plan.counts["flagged"] += _has_error(findings)
        online = item.online
        if online is None:
            online = stored.online if stored is not None else False
        elif stored is not None and stored.online != online:
            plan.online_changes.append(OnlineChange(self.device_id, online, self.at, "catalog", channel_id))
        row: dict[str, Any] = {
            "kind": entry.kind,
            "name": item.name,
            "parent_id": item.parent_id,
            "civil_code": item.civil_code,
            "status": item.status,
            "online": online,
            "camera_id": camera_id,
            "collision": collision,
            "gone": False,
            "item": entry.values,
            "item_digest": entry.digest,
            "findings": findings,
            "updated_at": self.at,
        }
        if stored is None:
            row = {"device_pk": 0, "channel_id": channel_id, **row, "item": entry.text}
            plan.channels_new.append(row)
        else:
            row = {"id": stored.id, **row}
            plan.channels_changed.append(row)
        if create:
            plan.bind_created.append((row, channel_id))

    def _camera_row(self, record: CameraRecord, findings: list[dict[str, Any]]) -> dict[str, Any]:
        return camera_row(record, unit_ids={}, cipher=_NoSecrets(), findings=findings, source="device", now=self.at)

    def _update_camera(
        self,
        camera_id: int,
        source: str,
        record: CameraRecord,
        raw: Mapping[str, object],
        findings: list[dict[str, Any]],
    ) -> None:
        """A camera the device created takes every field the item supplied (and read); any other only the
        device-owned ones."""
        plan = self.plan_
        if source == "device":
            supplied = [name for name in raw if getattr(record, name, None) not in (None, "")]
            row = self._camera_row(record, findings)
            columns = columns_for_fields(supplied) | _REFRESHED
            plan.camera_updates.append({"id": camera_id, **{name: row[name] for name in columns}})
        else:
            owned = {name: getattr(record, name) for name in DEVICE_OWNED_FIELDS if getattr(record, name) is not None}
            if not owned:
                return
            plan.camera_updates.append({"id": camera_id, **owned, "updated_at": self.at})
        plan.counts["updated"] += 1

    def write(self, session: Session) -> int:
        """Write the plan in the caller's transaction; returns the device's key. The channel rows are turned
        into driver values in a thread while the database inserts the cameras (SQLite releases the GIL)."""
        plan = self.plan_
        repository = DeviceRepository(session)
        cameras = CameraRepository(session)
        pk = repository.ensure_device(self.device_id, self.at, lock=True)
        keys = repository.allocate_ids(CAMERA, len(plan.cameras_new))
        for camera, key, (channel, _channel_id) in zip(plan.cameras_new, keys, plan.bind_created, strict=True):
            camera["id"] = channel["camera_id"] = key
        for row in plan.channels_new:
            row["device_pk"] = pk
        with ThreadPoolExecutor(max_workers=1) as pool:
            channels = pool.submit(prepare_rows, session.get_bind().dialect, CHANNEL, plan.channels_new)
            cameras.insert_many(plan.cameras_new)
            repository.update_cameras(plan.camera_updates)
            repository.insert_channels(channels.result())
        repository.update_channels(plan.channels_changed)
        repository.mark_gone(plan.gone, self.at)
        repository.write_online_changes(plan.online_changes)
        if len(plan.cameras_new) >= ANALYZE_AFTER_CAMERAS:
            cameras.analyze()
        return pk

    def summary(self) -> MergeSummary:
        return MergeSummary(**self.plan_.counts)


def _others(bound: list[Binding], stored: StoredChannel | None) -> list[Binding]:
    """The bindings of a camera to channels other than this one."""
    own = (stored.device_pk, stored.channel_id) if stored is not None else None
    return [b for b in bound if (b.device_pk, b.channel_id) != own]


def _run(sessions: sessionmaker[Session], merge: _Merge, after: Callable[[Session, int], None]) -> MergeSummary:
    """Plan, then write in one transaction; planned again once when a concurrent writer broke the plan."""
    for attempt in range(2):
        merge.plan(sessions)
        try:
            with transaction(sessions) as session:
                pk = merge.write(session)
                after(session, pk)
        except IntegrityError:
            if attempt:
                raise
            continue
        break
    return merge.summary()


@collector_paused()  # hundreds of thousands of short-lived objects, none in cycles
def merge_catalog(
    sessions: sessionmaker[Session], device_id: str, items: Sequence[CatalogItem], *, complete: bool, at: dt.datetime
) -> MergeSummary:
    """Merge a device's catalog (see the module docstring); ``complete``: the whole catalog arrived, so the
    channels it does not list are gone. Records the catalog's status and the device's channel count."""
    started = time.perf_counter()
    merge = _Merge(device_id, items, complete=complete, at=at)

    def finish(session: Session, pk: int) -> None:
        DeviceRepository(session).finish_catalog(pk, complete=complete, received=len(items), at=at)

    summary = _run(sessions, merge, finish)
    log.info("catalog of %s merged in %.1f s: %s", device_id, time.perf_counter() - started, summary)
    return summary


def merge_catalog_job(database_url: str, device_id: str, items: list[CatalogItem], complete: bool) -> MergeSummary:
    """:func:`merge_catalog` in a worker process: its own engine (the schema is migrated already), disposed."""
    engine = create_db_engine(database_url)
    try:
        return merge_catalog(make_session_factory(engine), device_id, items, complete=complete, at=utcnow())
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------------- events


@dataclass(slots=True)
class _Fold:
    """The outcome of a batch of NOTIFY events for one channel, in event order."""

    item: CatalogItem | None = None  # ADD/UPDATE: merge this item
    deleted: bool = False  # DEL after the last ADD/UPDATE
    state: tuple[bool, str] | None = None  # ON/OFF/VLOST/DEFECT after the last ADD/UPDATE/DEL


@collector_paused()
def apply_catalog_events(
    sessions: sessionmaker[Session],
    device_id: str,
    events: Sequence[tuple[CatalogEvent | None, CatalogItem]],
    at: dt.datetime,
) -> MergeSummary:
    """A Catalog NOTIFY: ADD/UPDATE merge the item as a catalog would (nothing else is marked gone), DEL marks
    the channel gone (its camera stays), ON/OFF/VLOST/DEFECT set the channel's online flag and status and are
    recorded as online changes (reason ``notify``). Unknown events are ignored. One transaction."""
    folds: dict[str, _Fold] = {}
    changes: list[OnlineChange] = []
    for event, item in events:
        if event is None or len(item.device_id) > MAX_CHANNEL_ID:
            continue
        fold = folds.setdefault(item.device_id, _Fold())
        if event in (CatalogEvent.ADD, CatalogEvent.UPDATE):
            fold.item, fold.deleted, fold.state = item, False, None
        elif event is CatalogEvent.DEL:
            fold.deleted, fold.state = True, None
        else:
            online = _STATE_EVENTS[event]
            fold.state = (online, event.value)
            changes.append(OnlineChange(device_id, online, at, "notify", item.device_id))
    merge = _Merge(device_id, [f.item for f in folds.values() if f.item is not None], complete=False, at=at)
    deleted = [channel_id for channel_id, fold in folds.items() if fold.deleted]
    states = [(channel_id, *fold.state) for channel_id, fold in folds.items() if fold.state is not None]

    def after(session: Session, pk: int) -> None:
        repository = DeviceRepository(session)
        stored = repository.channels(pk, deleted) if deleted else {}
        gone = [stored[c].id for c in deleted if c in stored and not stored[c].gone]
        repository.mark_gone(gone, at)
        merge.plan_.counts["gone"] += len(gone)
        repository.write_online_changes(changes)
        repository.set_channel_states(pk, states, at)
        repository.finish_catalog(pk, complete=None, received=0, at=at)

    return _run(sessions, merge, after)


# ------------------------------------------------------------------------------------------------ allocation


def _allocation_prefix(device_id: str, channel: StoredChannel) -> str:
    """Digits 1-14 of the ID to allocate: the channel's own when it is a valid ID, else the device's division,
    industry and network with type 132 (IPC)."""
    if ids.id_error(channel.channel_id) is None:
        if channel.kind != "camera":
            raise AllocationError(
                f"通道 {channel.channel_id} 不是视频通道（类型码 {channel.channel_id[10:13]}），不能分配摄像机编码",
                f"channel {channel.channel_id} is not a video channel (type {channel.channel_id[10:13]}): "
                "no camera ID can be allocated for it",
            )
        return channel.channel_id[:14]
    if channel.kind not in ("camera", "other"):
        raise AllocationError(
            f"通道 {channel.channel_id} 是目录节点（{channel.kind}），不能分配摄像机编码",
            f"channel {channel.channel_id} is a tree node ({channel.kind}): no camera ID can be allocated for it",
        )
    problem = ids.id_error(device_id)
    if problem is not None:
        raise AllocationError(
            f"设备编码无效，无法据此分配通道编码：{problem.message_zh}",
            f"the device ID is not valid, so no channel ID can be derived from it: {problem.message_en}",
        )
    return f"{device_id[:10]}132{device_id[13]}"


def allocate_platform_id(sessions: sessionmaker[Session], device_id: str, channel_id: str) -> str:
    """Give an unbound channel (a collision, or a channel with an invalid ID) a compliant unique platform ID:
    a camera (source ``device``) is created under the next free serial of the prefix (see
    :func:`_allocation_prefix`) and bound to the channel; signalling keeps addressing (device, channel ID).
    Raises ChannelNotFoundError, ChannelBoundError, AllocationError."""
    for attempt in range(2):
        try:
            with transaction(sessions) as session:
                return _allocate(sessions, session, device_id, channel_id)
        except IntegrityError:  # another allocation took the same serial at the same moment
            if attempt:
                raise
    raise AssertionError("unreachable")


def _allocate(sessions: sessionmaker[Session], session: Session, device_id: str, channel_id: str) -> str:
    repository, cameras = DeviceRepository(session), CameraRepository(session)
    found = repository.channel(device_id, channel_id)
    if found is None:
        raise ChannelNotFoundError(device_id, channel_id)
    channel, values = found
    if channel.camera_id is not None:
        raise ChannelBoundError(device_id, channel_id, channel.camera_platform_id or "")
    prefix = _allocation_prefix(device_id, channel)
    try:
        platform_id = ids.next_free_serial(prefix, cameras.ids_with_prefix(prefix))
    except ids.IdError as exc:
        raise AllocationError(exc.message_zh, exc.message_en) from exc
    now = utcnow()
    item = CatalogItem(device_id=channel_id, name=values.get("name"), status=values.get("status"))
    raw = item_record(values, platform_id, item.online)
    record, found_findings = check_camera(raw, _validation_context(sessions, session))
    findings = [finding_dict(f) for f in found_findings]
    if item.name_garbled:
        findings.append(finding_dict(_garbled(item.name)))
    row = camera_row(record, unit_ids={}, cipher=_NoSecrets(), findings=findings, source="device", now=now)
    cameras.insert_many([row])
    camera = repository.cameras([platform_id])[platform_id]
    repository.update_channels(
        [{"id": channel.id, "camera_id": camera.id, "collision": False, "findings": findings, "updated_at": now}]
    )
    repository.finish_catalog(channel.device_pk, complete=None, received=0, at=now)
    return platform_id
