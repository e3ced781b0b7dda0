"""The merge of catalog items into one device's channels (rules in :mod:`xueliang.catalog.device_catalog`):
:meth:`Merge.plan` reads and computes every row, :meth:`Merge.write` writes them in the caller's transaction,
:func:`run` does both, planning again once when a concurrent writer broke the plan.

Per item (200,000 of them for a county's lower platform) the plan costs a JSON serialisation and a digest,
and for a camera that changed, the validator and the camera row; everything else is done once per merge. Where
it counted (``bench/bench_device_catalog.py``, ``python -m cProfile``): one JSON encoder built once instead of
one per ``json.dumps`` call; a finding list serialised once for both the camera and the channel row it goes
to; items carried as their stored values (:mod:`~xueliang.catalog.device_catalog_items`), not dataclasses.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from xueliang.catalog.device_catalog_fork import can_fork, in_two_processes
from xueliang.catalog.device_catalog_items import channel_kind, digest, item_record, online_of
from xueliang.catalog.importer import finding_dict
from xueliang.catalog.service import CatalogService
from xueliang.domain import ids
from xueliang.domain.archive import CameraRecord, Finding, ValidationContext, error, warning
from xueliang.domain.validator import check_camera
from xueliang.protocol.manscdp import looks_garbled
from xueliang.store.cameras import CAMERA, DERIVED_COLUMNS, CameraRepository, camera_row, columns_for_fields
from xueliang.store.db import transaction
from xueliang.store.device_records import OnlineChange
from xueliang.store.device_repository import (
    CHANNEL,
    MAX_CHANNEL_ID,
    ArchiveCamera,
    Binding,
    DeviceRepository,
    StoredChannel,
)
from xueliang.store.device_rows import prepare_rows

__all__ = [
    "DEVICE_OWNED_FIELDS",
    "CatalogPart",
    "Merge",
    "MergeSummary",
    "NoSecrets",
    "garbled",
    "run",
    "validation_context",
]

#: Camera fields a device updates on a camera the inventory owns.
DEVICE_OWNED_FIELDS: tuple[str, ...] = ("status", "ipv4", "ipv6", "manufacturer", "model")
ANALYZE_AFTER_CAMERAS = 1000  # refresh planner statistics after creating this many cameras
SELECTIVE_READ_ITEMS = 5000  # a partial merge of at most this many items reads only their stored channels
PARALLEL_PLAN_ITEMS = 20_000  # from this many items a parallel merge plans half of them in a forked child
_REFRESHED = DERIVED_COLUMNS - {"source"}  # what a camera the device created takes besides the supplied fields
_TREE_KINDS = frozenset({"region", "system", "business_group", "virtual_org"})
#: the item JSON of ``store.device_rows.json_text`` (compact, characters as they are), with one encoder for all
_ITEM_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
#: a finding list as ``store.bulk.json_text`` writes camera findings (one text for the camera and the channel)
_FINDINGS_JSON = json.JSONEncoder(ensure_ascii=False).encode


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

    def __add__(self, other: MergeSummary) -> MergeSummary:
        """The summary of two parts of one catalog merged in parts."""
        return MergeSummary(*(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)))


@dataclass(frozen=True, slots=True)
class CatalogPart:
    """Where a merge's items sit in a catalog merged in parts (handed over while its fragments still arrive).

    Every part reads only its own items' stored channels and commits on its own. ``received``: the catalog's
    items so far, this part's included (recorded on the device). A part that is not ``last`` leaves the device
    ``partial`` and marks nothing gone; the last part records the catalog's outcome and, when the catalog is
    complete, marks gone the stored channels ``listed`` (every channel ID of the catalog) does not hold.
    Planner statistics are refreshed once, by the last part, counting the cameras the parts before ``created``."""

    received: int
    last: bool = False
    listed: Collection[str] = ()
    created: int = 0


# ----------------------------------------------------------------------------------------------- findings


def _finding(rule_error: ids.IdError) -> Finding:
    return error("platform_id", rule_error.rule, rule_error.message_zh, rule_error.message_en, rule_error.value)


def garbled(name: str | None) -> Finding:
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


class NoSecrets:
    """The cipher of device records: they never carry stream credentials."""

    def encrypt(self, plaintext: str) -> str:
        raise AssertionError("device records carry no stream credentials")

    def decrypt(self, token: str) -> str:
        raise AssertionError("device records carry no stream credentials")


def validation_context(sessions: sessionmaker[Session], session: Session) -> ValidationContext:
    """Today's rules (the stored naming rule) for device input, through the catalog service's one reader."""
    context = CatalogService(sessions, data_dir=Path()).validation_context(session)
    return dataclasses.replace(context, id_taken=lambda _id: False, source="device")


def _has_error(findings: Sequence[Mapping[str, Any]]) -> bool:
    return any(f.get("severity") == "error" for f in findings)


def _video(channel_id: str) -> bool:
    """A valid 20-digit ID of a video type: a channel bound to an archive camera."""
    return channel_kind(channel_id) == "camera" and ids.id_error(channel_id) is None


def _others(bound: list[Binding], stored: StoredChannel | None) -> list[Binding]:
    """The bindings of a camera to channels other than this one."""
    own = (stored.device_pk, stored.channel_id) if stored is not None else None
    return [b for b in bound if (b.device_pk, b.channel_id) != own]


# ------------------------------------------------------------------------------------------------ the merge


@dataclass(slots=True)
class _Received:
    """One item of the catalog, ready to store."""

    channel_id: str
    values: dict[str, Any]  # the item as stored
    kind: str
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
    bind_created: list[dict[str, Any]] = field(default_factory=list)  # channel rows of the new cameras, in order
    counts: Counter[str] = field(default_factory=Counter)

    def absorb(self, other: _Plan) -> None:
        """Add the rows of another part of the same merge (planned after this one's, in item order)."""
        for name in _PLAN_LISTS:
            getattr(self, name).extend(getattr(other, name))
        self.counts.update(other.counts)


_PLAN_LISTS = tuple(name for name in _Plan.__dataclass_fields__ if name != "counts")
_Entry = tuple[str, dict[str, Any], "StoredChannel | None"]  # channel ID, its values, its stored channel


class Merge:
    """One merge of items (their stored values, see :func:`~.device_catalog_items.item_values`) into one
    device's channels: :meth:`plan` reads, :meth:`write` writes."""

    def __init__(
        self,
        device_id: str,
        values: Sequence[dict[str, Any]],
        *,
        complete: bool,
        at: dt.datetime,
        parallel: bool = False,
        part: CatalogPart | None = None,
    ) -> None:
        if part is not None and complete and not part.last:
            raise ValueError("only the last part of a catalog can complete it")
        self.device_id, self.values, self.complete, self.at = device_id, values, complete, at
        self.parallel = parallel  # plan half of a large catalog in a forked child (device_catalog_fork)
        self.part = part  # None: the items are the whole catalog (or a NOTIFY's changes)
        self.plan_ = _Plan()

    def plan(self, sessions: sessionmaker[Session]) -> None:
        plan = self.plan_ = _Plan()
        unique: dict[str, dict[str, Any]] = {}
        for values in self.values:
            channel_id = values["device_id"]
            if len(channel_id) > MAX_CHANNEL_ID:
                plan.counts["skipped"] += 1
            else:
                unique[channel_id] = values
        plan.counts["received"] += len(self.values)
        with sessions() as session:  # short reads: no snapshot is held while items are digested and validated
            repository = DeviceRepository(session)
            pk = repository.device_pk(self.device_id)
            stored: dict[str, StoredChannel] = {}
            present: list[tuple[str, int]] = []  # what a complete catalog may mark gone
            # a part of a catalog, or a few changed items of a big device: read only theirs
            selective = self.part is not None or (not self.complete and len(unique) <= SELECTIVE_READ_ITEMS)
            if pk is not None:
                stored = repository.channels(pk, unique if selective else None)
                if self.complete:
                    present = self._present(session, pk, stored, selective)
        # the video channels not bound yet: never unchanged (see _unchanged), so known before any digest
        wanted = [c for c in unique if _video(c) and ((s := stored.get(c)) is None or s.camera_id is None)]
        with sessions() as session:
            repository = DeviceRepository(session)
            cameras = repository.cameras(wanted)
            bindings = repository.bindings(c.id for c in cameras.values())
            context = validation_context(sessions, session)
        entries = [(channel_id, values, stored.get(channel_id)) for channel_id, values in unique.items()]

        def part(chunk: Sequence[_Entry]) -> _Plan:
            return self._plan_part(chunk, cameras, bindings, context)

        if self.parallel and len(entries) >= PARALLEL_PLAN_ITEMS and can_fork():
            half = len(entries) // 2
            parts: Sequence[_Plan] = in_two_processes(part, entries[:half], entries[half:])
        else:
            parts = [part(entries)]
        for done in parts:
            plan.absorb(done)
        if self.complete:
            listed: Collection[str] = unique.keys() if self.part is None else {*self.part.listed, *unique}
            plan.gone = [key for channel_id, key in present if channel_id not in listed]
            plan.counts["gone"] += len(plan.gone)

    @staticmethod
    def _present(
        session: Session, pk: int, stored: Mapping[str, StoredChannel], selective: bool
    ) -> list[tuple[str, int]]:
        """(channel ID, key) of the device's channels not gone: what a complete catalog may mark gone."""
        if not selective:
            return [(c.channel_id, c.id) for c in stored.values() if not c.gone]
        query = select(CHANNEL.c.channel_id, CHANNEL.c.id).where(CHANNEL.c.device_pk == pk, CHANNEL.c.gone.is_(False))
        return [(row.channel_id, row.id) for row in session.execute(query)]

    def _plan_part(
        self,
        entries: Sequence[_Entry],
        cameras: Mapping[str, ArchiveCamera],
        bindings: Mapping[int, list[Binding]],
        context: ValidationContext,
    ) -> _Plan:
        """The rows of some of the items: pure (no database), so half of them may be planned in a child."""
        plan = _Plan()
        received = [self._receive(channel_id, values, stored) for channel_id, values, stored in entries]
        work = [r for r in received if not self._unchanged(r)]
        plan.counts["unchanged"] += len(received) - len(work)
        plan.counts["cameras"] += sum(entry.video for entry in received)
        plan.counts["tree_nodes"] += sum(entry.kind in _TREE_KINDS for entry in received)
        for entry in work:
            self._plan_item(plan, entry, cameras, bindings, context)
        return plan

    @staticmethod
    def _receive(channel_id: str, values: dict[str, Any], stored: StoredChannel | None) -> _Received:
        text = _ITEM_JSON(values)
        kind = channel_kind(channel_id)
        video = kind == "camera" and ids.id_error(channel_id) is None
        return _Received(channel_id, values, kind, text, digest(text), video, stored)

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
        plan: _Plan,
        entry: _Received,
        cameras: Mapping[str, ArchiveCamera],
        bindings: Mapping[int, list[Binding]],
        context: ValidationContext,
    ) -> None:
        values, stored, channel_id = entry.values, entry.stored, entry.channel_id
        name = values.get("name")
        status = values.get("status")
        online = online_of(status)
        findings: list[dict[str, Any]] = []
        camera_id: int | None = None
        collision = False
        camera: dict[str, Any] | None = None  # the row of a camera created for the channel
        if entry.kind == "camera":
            bound = stored is not None and stored.camera_id is not None
            target = stored.camera_platform_id if stored is not None and bound else None
            raw = item_record(values, target or channel_id, online)
            record, found = check_camera(raw, context)
            findings = [finding_dict(f) for f in found]
            if name is not None and looks_garbled(name):
                findings.append(finding_dict(garbled(name)))
            if not entry.video:
                pass  # an invalid ID (flagged by the validator): no camera until one is allocated
            elif stored is not None and stored.camera_id is not None:
                camera_id = stored.camera_id
                self._update_camera(plan, camera_id, stored.camera_source or "", record, raw, findings)
            elif (archived := cameras.get(channel_id)) is None:
                camera = self._camera_row(record, findings)
                plan.cameras_new.append(camera)
                plan.counts["created"] += 1
            elif others := _others(bindings.get(archived.id, []), stored):
                collision = True
                findings.append(_collision(channel_id, others[0]))
                plan.counts["collisions"] += 1
            else:
                camera_id = archived.id
                plan.counts["bound"] += 1
                self._update_camera(plan, archived.id, archived.source, record, raw, findings)
        else:
            if entry.kind == "other" and (problem := ids.id_error(channel_id)) is not None:
                findings.append(finding_dict(_finding(problem)))
            if name is not None and looks_garbled(name):
                findings.append(finding_dict(garbled(name)))
        plan.counts["flagged"] += _has_error(findings)
        if online is None:
            online = stored.online if stored is not None else False
        elif stored is not None and stored.online != online:
            plan.online_changes.append(OnlineChange(self.device_id, online, self.at, "catalog", channel_id))
        row: dict[str, Any] = {
            "kind": entry.kind,
            "name": name,
            "parent_id": values.get("parent_id"),
            "civil_code": values.get("civil_code"),
            "status": status,
            "online": online,
            "camera_id": camera_id,
            "collision": collision,
            "gone": False,
            "item": entry.values,
            "item_digest": entry.digest,
            "findings": findings,
            "updated_at": self.at,
        }
        if stored is None:  # inserted by prepare_rows, which takes JSON text as it is: serialised once here
            text = _FINDINGS_JSON(findings) if findings else "[]"
            row = {"device_pk": 0, "channel_id": channel_id, **row, "item": entry.text, "findings": text}
            if camera is not None:
                camera["findings"] = text
            plan.channels_new.append(row)
        else:  # updated through SQLAlchemy's JSON type: values, not text
            row = {"id": stored.id, **row}
            plan.channels_changed.append(row)
        if camera is not None:
            plan.bind_created.append(row)

    def _camera_row(self, record: CameraRecord, findings: list[dict[str, Any]]) -> dict[str, Any]:
        return camera_row(record, unit_ids={}, cipher=NoSecrets(), findings=findings, source="device", now=self.at)

    def _update_camera(
        self,
        plan: _Plan,
        camera_id: int,
        source: str,
        record: CameraRecord,
        raw: Mapping[str, object],
        findings: list[dict[str, Any]],
    ) -> None:
        """A camera the device created takes every field the item supplied (and read); any other only the
        device-owned ones."""
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
        for camera, key, channel in zip(plan.cameras_new, keys, plan.bind_created, strict=True):
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
        created = len(plan.cameras_new)
        if self.part is not None:  # once per catalog, by its last part
            created = created + self.part.created if self.part.last else 0
        if created >= ANALYZE_AFTER_CAMERAS:
            cameras.analyze()
        return pk

    def summary(self) -> MergeSummary:
        return MergeSummary(**self.plan_.counts)


def run(sessions: sessionmaker[Session], merge: Merge, after: Callable[[Session, int], None]) -> MergeSummary:
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
