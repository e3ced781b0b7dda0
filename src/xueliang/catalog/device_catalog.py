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
channels through ``store.device_rows.insert_rows``, updates as grouped executemany. A concurrent writer that gets in
between (another device creating the same camera) makes the write fail on a constraint: the merge is planned
again once (:mod:`~xueliang.catalog.device_catalog_merge`). The worker process takes the items packed as tuples
(:func:`pack_items`, :func:`merge_packed_job`): pickling the dataclasses cost more than a tenth of the merge.
A large catalog arrives in parts, each merged and committed as it comes
(:mod:`~xueliang.catalog.device_catalog_parts`, :class:`CatalogPart`): the merge overlaps the transfer.
``bench/bench_device_catalog.py`` and ``bench/bench_catalog_sync.py`` measure it.

Errors (:class:`DeviceCatalogError`, a :class:`~xueliang.catalog.errors.CatalogError`)::

    DeviceCatalogError
      +-- ChannelNotFoundError     no such channel of this device (HTTP 404)
      +-- ChannelBoundError        allocate-id for a channel already bound to a camera (HTTP 409)
      +-- AllocationError          no compliant ID can be made for it: not a video channel, ... (HTTP 409)
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from xueliang.catalog.device_catalog_items import (
    PackedItems,
    channel_kind,
    item_record,
    item_values,
    pack_items,
    unpack_values,
)
from xueliang.catalog.device_catalog_merge import (
    DEVICE_OWNED_FIELDS,
    CatalogPart,
    Merge,
    MergeSummary,
    NoSecrets,
    garbled,
    run,
    validation_context,
)
from xueliang.catalog.errors import CatalogError
from xueliang.catalog.importer import finding_dict
from xueliang.catalog.sheets import collector_paused
from xueliang.domain import ids
from xueliang.domain.validator import check_camera
from xueliang.protocol.manscdp import CatalogEvent, CatalogItem
from xueliang.store.cameras import CameraRepository, camera_row
from xueliang.store.db import create_db_engine, make_session_factory, transaction
from xueliang.store.device_records import OnlineChange
from xueliang.store.device_repository import MAX_CHANNEL_ID, DeviceRepository, StoredChannel
from xueliang.store.models import utcnow

__all__ = [
    "DEVICE_OWNED_FIELDS",
    "AllocationError",
    "CatalogPart",
    "ChannelBoundError",
    "ChannelNotFoundError",
    "DeviceCatalogError",
    "MergeSummary",
    "PackedItems",
    "allocate_platform_id",
    "apply_catalog_events",
    "channel_kind",
    "item_record",
    "merge_catalog",
    "merge_catalog_job",
    "merge_packed_job",
    "pack_items",
]

log = logging.getLogger(__name__)

WORKER_NICENESS = 10  # a worker process merging catalogs gives way to the platform's event loop (see _give_way)
_STATE_EVENTS = {
    CatalogEvent.ON: True,
    CatalogEvent.OFF: False,
    CatalogEvent.VLOST: False,
    CatalogEvent.DEFECT: False,
}


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


# ------------------------------------------------------------------------------------------------ the merge


def _merge_values(
    sessions: sessionmaker[Session],
    device_id: str,
    values: Sequence[dict[str, Any]],
    *,
    complete: bool,
    at: dt.datetime,
    parallel: bool,
    part: CatalogPart | None = None,
) -> MergeSummary:
    started = time.perf_counter()
    merge = Merge(device_id, values, complete=complete, at=at, parallel=parallel, part=part)
    received = len(values) if part is None else part.received

    def finish(session: Session, pk: int) -> None:
        DeviceRepository(session).finish_catalog(pk, complete=complete, received=received, at=at)

    summary = run(sessions, merge, finish)
    what = "catalog" if part is None or part.last else "catalog part"
    log.info("%s of %s merged in %.1f s: %s", what, device_id, time.perf_counter() - started, summary)
    return summary


@collector_paused()  # hundreds of thousands of short-lived objects, none in cycles
def merge_catalog(
    sessions: sessionmaker[Session],
    device_id: str,
    items: Sequence[CatalogItem],
    *,
    complete: bool,
    at: dt.datetime,
    parallel: bool = False,
    part: CatalogPart | None = None,
) -> MergeSummary:
    """Merge a device's catalog (see the module docstring); ``complete``: the whole catalog arrived, so the
    channels it does not list are gone. Records the catalog's status and the device's channel count.
    ``parallel``: a large catalog's items are planned half in a forked child, when this process has a single
    thread (:mod:`~xueliang.catalog.device_catalog_fork`): what the worker-process entry points ask for.
    ``part``: the items are one part of a catalog merged in parts (:class:`CatalogPart`), not all of it."""
    values = [item_values(item) for item in items]
    return _merge_values(sessions, device_id, values, complete=complete, at=at, parallel=parallel, part=part)


def merge_catalog_job(database_url: str, device_id: str, items: list[CatalogItem], complete: bool) -> MergeSummary:
    """:func:`merge_catalog` in a worker process: its own engine (the schema is migrated already), disposed.
    :func:`merge_packed_job` takes the same items for about a third of the pickling cost."""
    engine = create_db_engine(database_url)
    try:
        sessions = make_session_factory(engine)
        return merge_catalog(sessions, device_id, items, complete=complete, at=utcnow(), parallel=True)
    finally:
        engine.dispose()


def _give_way() -> None:
    """Lower the priority of this worker process, once: a catalog merged in parts competes for the CPU with the
    event loop receiving its fragments (and answering every other device), which must come first; when nothing
    else runs, the merge gets the CPU all the same. Never the caller's own process (an inline job runner)."""
    if multiprocessing.parent_process() is None or os.getpriority(os.PRIO_PROCESS, 0) >= WORKER_NICENESS:
        return
    try:
        os.nice(WORKER_NICENESS - os.getpriority(os.PRIO_PROCESS, 0))
    except OSError as exc:  # not permitted here: merge at the priority there is
        log.debug("catalog worker keeps its priority: %s", exc)


@collector_paused()
def merge_packed_job(
    database_url: str, device_id: str, items: PackedItems, complete: bool, part: CatalogPart | None = None
) -> MergeSummary:
    """:func:`merge_catalog` in a worker process, the items packed by :func:`pack_items` in the caller's
    process (about a third of the pickling cost of the dataclasses). Its own engine (the schema is migrated
    already), disposed. ``part``: see :func:`merge_catalog` and :mod:`~xueliang.catalog.device_catalog_parts`.
    The worker process gives way to the event loop (:func:`_give_way`)."""
    _give_way()
    engine = create_db_engine(database_url)
    try:
        sessions = make_session_factory(engine)
        values = unpack_values(items)
        return _merge_values(sessions, device_id, values, complete=complete, at=utcnow(), parallel=True, part=part)
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
    merge = Merge(device_id, [item_values(f.item) for f in folds.values() if f.item is not None], complete=False, at=at)
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

    return run(sessions, merge, after)


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
    record, found_findings = check_camera(raw, validation_context(sessions, session))
    findings = [finding_dict(f) for f in found_findings]
    if item.name_garbled:
        findings.append(finding_dict(garbled(item.name)))
    row = camera_row(record, unit_ids={}, cipher=NoSecrets(), findings=findings, source="device", now=now)
    cameras.insert_many([row])
    camera = repository.cameras([platform_id])[platform_id]
    repository.update_channels(
        [{"id": channel.id, "camera_id": camera.id, "collision": False, "findings": findings, "updated_at": now}]
    )
    repository.finish_catalog(channel.device_pk, complete=None, received=0, at=now)
    return platform_id
