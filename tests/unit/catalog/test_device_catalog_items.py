"""The value form of catalog items the merge works on, and the packed form they travel to the worker in: the
same dict as the store's wire_dict (so the stored digests of unchanged items still match), never the password."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle

import pytest

from xueliang.catalog.device_catalog_items import (
    PackedItems,
    item_values,
    online_of,
    pack_items,
    unpack_values,
)
from xueliang.protocol.manscdp import CatalogItem
from xueliang.store.device_rows import wire_dict

FULL = CatalogItem(
    device_id="34150200001320000001",
    name="金安区梅山路1号东",
    manufacturer="Hikvision",
    civil_code="341502",
    parent_id="34150200002000000001/34150200002160000001",
    end_time=dt.datetime(2027, 1, 31, 23, 59, 59),
    ip_address="192.168.1.2",
    port=8000,
    password="secret",
    status="ON",
    longitude=116.5,
    latitude=31.75,
    record_save_days=30,
    horizontal_field_angle=92.5,
    extra={"Info/Vendor": "x"},
    malformed={"Longitude": "east"},
)
BARE = CatalogItem(device_id="341502", name="金安区")


@pytest.mark.parametrize("item", [FULL, BARE, CatalogItem(device_id="x", extra={}, malformed={})])
def test_values_are_the_stored_wire_dict_without_the_password(item: CatalogItem) -> None:
    values = item_values(item)
    assert values == wire_dict(item)
    assert "password" not in values
    assert list(values) == list(wire_dict(item))  # same order: the same JSON text, the same digest


def test_packed_items_survive_pickling_and_unpack_to_the_same_values() -> None:
    items = [FULL, BARE, dataclasses.replace(FULL, device_id="34150200001320000002", status="OFF")]
    packed = pickle.loads(pickle.dumps(pack_items(items), protocol=pickle.HIGHEST_PROTOCOL))
    assert len(packed) == 3
    assert "secret" not in repr(packed.rows)
    assert unpack_values(packed) == [wire_dict(item) for item in items]


def test_items_packed_by_another_version_are_read_by_field_name() -> None:
    packed = pack_items([FULL])
    names = (*reversed(packed.names), "field_of_a_newer_version")
    older = PackedItems(names, [(*reversed(row), "ignored") for row in packed.rows])
    assert unpack_values(older) == [wire_dict(FULL)]


@pytest.mark.parametrize("status", [None, "ON", "OFF", "on", "Online", "OFFLINE", "OK", "1", "0", "VLOST", ""])
def test_online_reads_status_as_the_item_does(status: str | None) -> None:
    assert online_of(status) is CatalogItem(device_id="1", status=status).online
