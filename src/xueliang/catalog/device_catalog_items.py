"""Catalog items as the merge reads them: the stored JSON form (*values*), what an item is (its kind from the
ID), the raw archive record it supplies, and the compact form in which items travel to the worker process.

The merge works on values, never on :class:`~xueliang.protocol.manscdp.CatalogItem` objects: a value dict is
what the channel row stores (``device_channel.item``, digested to skip unchanged items), and it can be made
from an item (:func:`item_values`, the same dict as :func:`xueliang.store.device_rows.wire_dict`) or from a packed
row (:class:`PackedItems`), so the worker never rebuilds 200,000 frozen dataclasses.

Why packing: a pickled list of 200,000 frozen slotted dataclasses cost 2.5 s to pickle on the event loop's
side and 3 s to unpickle in the worker (54 MiB; ``bench/bench_catalog_sync.py``); the same items as plain
tuples of their field values cost about a third of that (packing included: 0.49 s against 1.36 s
for 50,000 items), and the tuples turn into value dicts in one comprehension.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from xueliang.domain import divisions, ids
from xueliang.protocol.manscdp import CatalogItem

__all__ = [
    "PackedItems",
    "channel_kind",
    "digest",
    "item_record",
    "item_values",
    "online_of",
    "pack_items",
    "unpack_values",
]

_LEFT_OUT = frozenset({"password"})  # never stored, never sent to the worker
_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(CatalogItem) if f.name not in _LEFT_OUT)
_VALUES = operator.attrgetter(*_NAMES)
_PLAIN_TYPE_WORDS = frozenset({"str", "int", "float", "bool", "None"})
#: fields whose values may not be plain JSON (datetimes, mappings): converted as wire_dict converts them
_SPECIAL: tuple[str, ...] = tuple(
    f.name
    for f in dataclasses.fields(CatalogItem)
    if f.name in _NAMES and not _PLAIN_TYPE_WORDS.issuperset(re.findall(r"\w+", str(f.type)))
)
_KIND_BY_TYPE = {"200": "system", "215": "business_group", "216": "virtual_org", "134": "alarm", "135": "alarm"}
_STATUS_CODE = {True: "1", False: "2"}  # Status ON -> 在用 (in service), OFF -> 故障 (faulty: no video)
_POINT_CLASSES = frozenset({"1", "2", "3"})  # 2022 PointType 9 (other) has no archive class
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


# ----------------------------------------------------------------------------------------------- values


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _values(row: Sequence[Any]) -> dict[str, Any]:
    """One item's field values (in field order) as stored: every field that is set, empty mappings left out."""
    out = {name: value for name, value in zip(_NAMES, row, strict=True) if value is not None}
    for name in _SPECIAL:
        if name in out:
            value = _json_value(out[name])
            if value == {}:
                del out[name]
            else:
                out[name] = value
    return out


def item_values(item: CatalogItem) -> dict[str, Any]:
    """An item as the channel row stores it (the password never): equal to ``store.device_rows.wire_dict(item)``."""
    return _values(_VALUES(item))


@dataclass(frozen=True, slots=True)
class PackedItems:
    """Catalog items as plain tuples of their field values in ``names`` order (the password left out): what
    :func:`~xueliang.catalog.device_catalog.merge_packed_job` takes from the event loop's process."""

    names: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.rows)


def pack_items(items: Iterable[CatalogItem]) -> PackedItems:
    """Items for the worker process: about 1 µs an item, and the pickle and unpickle a third of the dataclasses'."""
    return PackedItems(_NAMES, list(map(_VALUES, items)))


def unpack_values(packed: PackedItems) -> list[dict[str, Any]]:
    """The value dicts of packed items (see :func:`item_values`); packed by another version of the item
    (field names differ), each row is read by name."""
    if packed.names == _NAMES:
        return [_values(row) for row in packed.rows]
    index = {name: position for position, name in enumerate(packed.names)}
    picks = [index.get(name) for name in _NAMES]
    return [_values([None if p is None else row[p] for p in picks]) for row in packed.rows]


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@functools.lru_cache(maxsize=64)
def online_of(status: str | None) -> bool | None:
    """Status as a flag, exactly as :attr:`CatalogItem.online` reads it (a handful of distinct values)."""
    return CatalogItem(device_id="0", status=status).online


# ------------------------------------------------------------------------------------------------ rules


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
    """The raw archive record a catalog item (its stored values) supplies for the camera ``platform_id``;
    coordinates are taken as WGS-84. ``online``: the item's Status as a flag."""
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
