"""The channels of a simulated device as the platform sees them now, and the edits the simulator's API makes.

A device's channels are generated (:mod:`xueliang.sim.catalog_gen`) and not stored; :class:`ChannelEdits`,
created on a device's first edit, holds only what differs: items changed or added, IDs removed. Each edit
sends a Catalog NOTIFY to the device's subscribers: ON/OFF and DEL carry the ID only, ADD and UPDATE the item.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from xueliang.protocol.manscdp import CatalogEvent, CatalogItem
from xueliang.sim.catalog_gen import CHANNEL_TYPE
from xueliang.sim.config import MAX_SERIAL
from xueliang.sim.effects import Effect
from xueliang.sim.subscriptions import notify_catalog

if TYPE_CHECKING:
    from xueliang.sim.device_core import Device

__all__ = ["ChannelEdits", "add", "catalog_items", "channel", "remove", "set_online", "update"]


class ChannelEdits:
    """How a device's channels differ from the generated ones."""

    __slots__ = ("changed", "removed")

    def __init__(self) -> None:
        self.changed: dict[str, CatalogItem] = {}  # channel ID -> the item now (changed or added)
        self.removed: set[str] = set()


def channel(device: Device, channel_id: str) -> CatalogItem | None:
    """The item of one of the device's channels as it is now, or None."""
    edits = device.edits
    if edits is not None:
        if channel_id in edits.removed:
            return None
        if channel_id in edits.changed:
            return edits.changed[channel_id]
    content = device.ctx.content
    found = content.channel_of(channel_id)
    if found is None or found.device_index != device.index:
        return None
    return content.channel_item(device.index, found.number)


def catalog_items(device: Device) -> list[CatalogItem]:
    """Every item the device's Catalog answer holds: a platform's tree, then the channels as they are now."""
    content = device.ctx.content
    items = content.tree_items(device.index)
    edits = device.edits or ChannelEdits()
    for number in range(device.ctx.config.channels):
        channel_id = content.channel_id(device.index, number)
        if channel_id not in edits.removed:
            item = edits.changed.get(channel_id)
            items.append(item if item is not None else content.channel_item(device.index, number))
    items.extend(item for key, item in edits.changed.items() if content.channel_of(key) is None)
    return items


def set_online(device: Device, channel_id: str, online: bool, now: float) -> list[Effect]:
    _change(device, dataclasses.replace(_require(device, channel_id), status="ON" if online else "OFF"))
    event = CatalogEvent.ON if online else CatalogEvent.OFF
    return notify_catalog(device, [CatalogItem(device_id=channel_id, event=event.value)], now)


def update(device: Device, channel_id: str, now: float, **changes: object) -> list[Effect]:
    item = dataclasses.replace(_require(device, channel_id), **changes)  # type: ignore[arg-type]
    _change(device, item)
    return notify_catalog(device, [dataclasses.replace(item, event=CatalogEvent.UPDATE.value)], now)


def add(device: Device, now: float, item: CatalogItem | None = None) -> tuple[CatalogItem, list[Effect]]:
    """A new channel (``item``, or a copy of the first generated one under a fresh ID) and the ADD NOTIFYs."""
    ctx = device.ctx
    if item is None:
        template = ctx.content.channel_item(device.index, 0)
        item = dataclasses.replace(template, device_id=_free_channel_id(device), name=f"{template.name}新增")
    elif ctx.content.channel_of(item.device_id) is None:
        ctx.claim(item.device_id, device.index)
    edits = _change(device, item)
    edits.removed.discard(item.device_id)
    return item, notify_catalog(device, [dataclasses.replace(item, event=CatalogEvent.ADD.value)], now)


def remove(device: Device, channel_id: str, now: float) -> list[Effect]:
    _require(device, channel_id)
    edits = _edits(device)
    edits.changed.pop(channel_id, None)
    if device.ctx.content.channel_of(channel_id) is not None:
        edits.removed.add(channel_id)
    return notify_catalog(device, [CatalogItem(device_id=channel_id, event=CatalogEvent.DEL.value)], now)


def _require(device: Device, channel_id: str) -> CatalogItem:
    item = channel(device, channel_id)
    if item is None:
        raise KeyError(f"{device.device_id} has no channel {channel_id}")
    return item


def _edits(device: Device) -> ChannelEdits:
    if device.edits is None:
        device.edits = ChannelEdits()
    return device.edits


def _change(device: Device, item: CatalogItem) -> ChannelEdits:
    edits = _edits(device)
    edits.changed[item.device_id] = item
    return edits


def _free_channel_id(device: Device) -> str:
    """An ID for an added channel: serials counted down from the top, clear of the generated ones and of the
    channels added to any device of the run."""
    content = device.ctx.content
    serial = MAX_SERIAL
    while True:
        candidate = f"{content.prefix}{CHANNEL_TYPE}{content.network}{serial:06d}"
        if content.channel_of(candidate) is None and device.ctx.claim(candidate, device.index):
            return candidate
        serial -= 1
