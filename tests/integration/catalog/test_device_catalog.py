"""Merging devices' catalogs into the archive, on both databases: device input stored and flagged, never
rejected; inventory fields kept; collisions flagged and resolved by allocating an ID; complete vs partial
catalogs; NOTIFY events."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from xueliang.app import Platform
from xueliang.catalog.device_catalog import (
    AllocationError,
    ChannelBoundError,
    ChannelNotFoundError,
    allocate_platform_id,
    apply_catalog_events,
    channel_kind,
    merge_catalog,
    merge_catalog_job,
)
from xueliang.catalog.importer import ImportOptions
from xueliang.catalog.table import SourceTable
from xueliang.domain import divisions
from xueliang.domain.ids import GbId
from xueliang.protocol.manscdp import CatalogEvent, CatalogItem
from xueliang.store import device_rows as device_store
from xueliang.store.device_records import ChannelSummary
from xueliang.store.devices import DeviceStore
from xueliang.store.models import Camera, DeviceChannel, OnlineEvent

NVR = "34150200001180000001"
OTHER_NVR = "34150200001180000002"
T0 = dt.datetime(2026, 5, 1, 8, 0, 0)
T1 = T0 + dt.timedelta(hours=1)
MakeCamera = Callable[..., dict[str, Any]]
MakeTable = Callable[..., SourceTable]


def centre(county: str = "341502") -> tuple[float, float]:
    box = divisions.bbox(county)
    assert box is not None
    return round((box[0] + box[2]) / 2, 6), round((box[1] + box[3]) / 2, 6)


def camera_item(serial: int, **fields: Any) -> CatalogItem:
    lon, lat = centre()
    values: dict[str, Any] = {
        "device_id": f"34150200001320{serial:06d}",
        "name": f"金安区梅山路{serial}号东",
        "manufacturer": "Hikvision",
        "model": "DS-2CD3T46",
        "civil_code": "341502",
        "address": f"安徽省六安市金安区梅山路{serial}号",
        "parent_id": NVR,
        "ip_address": f"192.168.1.{serial % 250 + 1}",
        "status": "ON",
        "longitude": lon,
        "latitude": lat,
        "ptz_type": "1",
        "direction_type": "1",
    }
    values.update(fields)
    return CatalogItem(**values)


@pytest.fixture
def store(platform: Platform) -> DeviceStore:
    return DeviceStore(platform.sessions, platform.catalog.cipher())


def channels(store: DeviceStore, device_id: str = NVR) -> dict[str, ChannelSummary]:
    detail = store.get_device(device_id)
    assert detail is not None
    return {c.channel_id: c for c in detail.channels}


def camera(platform: Platform, platform_id: str) -> Camera:
    with platform.sessions() as session:
        found = session.scalar(select(Camera).where(Camera.platform_id == platform_id))
    assert found is not None
    return found


def rules(findings: list[dict[str, Any]]) -> set[str]:
    return {f["rule"] for f in findings}


def test_kinds_from_the_id() -> None:
    assert channel_kind("34") == "region" and channel_kind("34150201") == "region"
    assert channel_kind("34150200001320000001") == "camera" and channel_kind("34150200001310000001") == "camera"
    assert channel_kind("34150200002000000001") == "system"
    assert channel_kind("34150200002150000001") == "business_group"
    assert channel_kind("34150200002160000001") == "virtual_org"
    assert channel_kind("34150200001180000001") == "device"
    assert channel_kind("34150200001340000001") == "alarm"
    assert channel_kind("34150200005010000001") == "other"
    assert channel_kind("abc") == "other" and channel_kind("341502000013200000011") == "other"


def test_a_first_catalog_creates_flagged_cameras_and_keeps_everything_it_received(
    platform: Platform, store: DeviceStore
) -> None:
    garbled = "金安区东门路口东".encode().decode("gbk", errors="replace")
    items = [
        CatalogItem(device_id="341502", name="金安区"),
        CatalogItem(device_id="34150200002150000001", name="雪亮工程", parent_id=NVR),
        CatalogItem(device_id="34150200002160000001", name="治安防控", parent_id="34150200002150000001"),
        camera_item(1, password="device-secret", extra={"StreamNum": "2"}),
        camera_item(2, longitude=116.0, latitude=40.0, ip_address="fe80::1"),  # far outside its county
        camera_item(3, name=garbled, civil_code="999999", status="OFF"),
        CatalogItem(device_id="34150200001340000001", name="报警输入1"),
        CatalogItem(device_id="abc-01", name="坏编码"),
        CatalogItem(device_id="00150200001320000009", name="省级编码错误"),
        CatalogItem(device_id="x" * 65, name="超长编码"),
    ]
    summary = merge_catalog(platform.sessions, NVR, items, complete=True, at=T0)
    assert (summary.received, summary.skipped, summary.cameras, summary.created, summary.tree_nodes) == (10, 1, 3, 3, 3)
    assert summary.flagged == 3  # coordinates far away, junk ID, invalid ID

    stored = channels(store)
    assert len(stored) == 9
    assert {c: s.kind for c, s in stored.items() if s.kind != "camera"} == {
        "341502": "region",
        "34150200002150000001": "business_group",
        "34150200002160000001": "virtual_org",
        "34150200001340000001": "alarm",
        "abc-01": "other",
    }
    first = camera(platform, "34150200001320000001")
    assert (first.source, first.name, first.manufacturer, first.ipv4, first.status) == (
        "device",
        "金安区梅山路1号东",
        "Hikvision",
        "192.168.1.2",
        "1",
    )
    assert (first.division_code, first.camera_type, first.direction, first.access_protocol) == (
        "341502",
        "1",
        "1",
        "gb28181",
    )
    assert first.install_address == "安徽省六安市金安区梅山路1号" and first.longitude == centre()[0]
    assert stored["34150200001320000001"].camera_id == "34150200001320000001"
    assert stored["34150200001320000001"].archive_name == "金安区梅山路1号东"

    second = camera(platform, "34150200001320000002")
    assert second.ipv6 == "fe80::1" and second.ipv4 is None
    assert "coords.outside_division" in rules(second.findings)
    assert rules(stored["34150200001320000002"].findings) == rules(second.findings)

    third = camera(platform, "34150200001320000003")
    assert third.name == garbled and third.division_code is None and third.status == "2"  # stored as received
    assert "name.garbled" in rules(stored["34150200001320000003"].findings)
    assert stored["34150200001320000003"].online is False

    junk = stored["abc-01"]
    assert junk.camera_id is None and rules(junk.findings) == {"id.not_digits"}
    invalid = stored["00150200001320000009"]
    assert (invalid.kind, invalid.camera_id) == ("camera", None) and "id.division" in rules(invalid.findings)

    with platform.sessions() as session:
        items_stored = list(session.scalars(select(DeviceChannel.item)))
    assert not any("password" in item for item in items_stored)
    assert {"device_id": "34150200001320000001"}.items() <= next(
        i for i in items_stored if i["device_id"] == "34150200001320000001"
    ).items()
    assert any(i.get("extra") == {"StreamNum": "2"} for i in items_stored)

    detail = store.get_device(NVR)
    assert detail is not None
    device = detail.device
    assert (device.catalog_status, device.catalog_received, device.catalog_expected) == ("complete", 10, 10)
    assert device.channel_count == 4  # video channels: three bound and one with an invalid ID
    assert device.catalog_synced_at == T0


def test_an_imported_camera_keeps_its_archive_while_the_device_updates_what_it_owns(
    platform: Platform, store: DeviceStore, units: dict[str, str], make_camera: MakeCamera, make_table: MakeTable
) -> None:
    raw = make_camera(1, owner_unit="GA", manufacturer="海康威视", status="在用")
    result = platform.catalog.import_table(make_table([raw]), ImportOptions())
    assert result.status == "committed"
    platform_id = raw["platform_id"]
    before = camera(platform, platform_id)

    item = camera_item(
        int(platform_id[-6:]),
        device_id=platform_id,
        name="IPCamera 01",
        address="somewhere else",
        civil_code="341503",
        longitude=116.1,
        latitude=31.1,
        manufacturer="Dahua",
        model="DH-IPC-HFW",
        ip_address="10.20.30.40",
        status="OFF",
        ptz_type="3",
    )
    summary = merge_catalog(platform.sessions, NVR, [item], complete=True, at=T0)
    assert (summary.created, summary.bound, summary.updated, summary.collisions) == (0, 1, 1, 0)
    after = camera(platform, platform_id)
    kept = ("name", "install_address", "longitude", "latitude", "division_code", "camera_type", "owner_unit_id",
            "point_class", "network", "source", "findings", "search_text")  # fmt: skip
    assert {k: getattr(after, k) for k in kept} == {k: getattr(before, k) for k in kept}
    assert (after.manufacturer, after.model, after.ipv4, after.status) == ("Dahua", "DH-IPC-HFW", "10.20.30.40", "2")
    channel = channels(store)[platform_id]
    assert (channel.name, channel.archive_name, channel.camera_id) == ("IPCamera 01", before.name, platform_id)
    assert store.channel_address(platform_id) == (NVR, platform_id)


def test_a_camera_the_device_created_is_refreshed_by_later_catalogs(platform: Platform, store: DeviceStore) -> None:
    merge_catalog(platform.sessions, NVR, [camera_item(7)], complete=True, at=T0)
    renamed = camera_item(7, name="金安区皋城路7号西", address="安徽省六安市金安区皋城路7号", direction_type="2")
    summary = merge_catalog(platform.sessions, NVR, [renamed], complete=True, at=T1)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 0)
    refreshed = camera(platform, "34150200001320000007")
    assert (refreshed.name, refreshed.install_address, refreshed.direction) == (
        "金安区皋城路7号西",
        "安徽省六安市金安区皋城路7号",
        "2",
    )
    assert "皋城" in refreshed.search_text and refreshed.updated_at == T1 and refreshed.source == "device"
    again = merge_catalog(platform.sessions, NVR, [renamed], complete=True, at=T1)
    assert (again.unchanged, again.updated) == (1, 0)


def test_a_colliding_channel_is_flagged_and_an_id_can_be_allocated_for_it(
    platform: Platform, store: DeviceStore
) -> None:
    merge_catalog(platform.sessions, NVR, [camera_item(1)], complete=True, at=T0)
    original = camera(platform, "34150200001320000001")
    alike = camera_item(1, name="另一台NVR的通道1", manufacturer="Uniview", ip_address="10.9.9.9")
    summary = merge_catalog(platform.sessions, OTHER_NVR, [alike], complete=True, at=T1)
    assert (summary.collisions, summary.created, summary.bound, summary.flagged) == (1, 0, 0, 1)

    untouched = camera(platform, "34150200001320000001")
    assert (untouched.name, untouched.manufacturer, untouched.ipv4, untouched.updated_at) == (
        original.name,
        original.manufacturer,
        original.ipv4,
        original.updated_at,
    )
    flagged = channels(store, OTHER_NVR)["34150200001320000001"]
    assert (flagged.collision, flagged.camera_id) == (True, None)
    collision = next(f for f in flagged.findings if f["rule"] == "channel_id_collision")
    assert collision["other_device_id"] == NVR and NVR in collision["message_zh"] and NVR in collision["message_en"]
    assert store.channel_address("34150200001320000001") == (NVR, "34150200001320000001")

    allocated = allocate_platform_id(platform.sessions, OTHER_NVR, "34150200001320000001")
    gb = GbId.parse(allocated)
    assert gb.prefix14 == "34150200001320" and allocated != "34150200001320000001"
    created = camera(platform, allocated)
    assert (created.source, created.name, created.manufacturer) == ("device", "另一台NVR的通道1", "Uniview")
    bound = channels(store, OTHER_NVR)["34150200001320000001"]
    assert (bound.collision, bound.camera_id, bound.archive_name) == (False, allocated, "另一台NVR的通道1")
    assert "channel_id_collision" not in rules(bound.findings)
    assert store.channel_address(allocated) == (OTHER_NVR, "34150200001320000001")  # signalling: the channel ID

    again = merge_catalog(platform.sessions, OTHER_NVR, [alike], complete=True, at=T1)
    assert (again.unchanged, again.collisions) == (1, 0)
    changed = merge_catalog(
        platform.sessions, OTHER_NVR, [dataclasses.replace(alike, ip_address="10.9.9.10")], complete=True, at=T1
    )
    assert (changed.collisions, changed.updated) == (0, 1)
    assert camera(platform, allocated).ipv4 == "10.9.9.10"
    assert camera(platform, "34150200001320000001").ipv4 == original.ipv4

    with pytest.raises(ChannelBoundError) as bound_error:
        allocate_platform_id(platform.sessions, OTHER_NVR, "34150200001320000001")
    assert allocated in bound_error.value.zh and allocated in bound_error.value.en
    with pytest.raises(ChannelNotFoundError):
        allocate_platform_id(platform.sessions, OTHER_NVR, "34150200001320000099")


def test_allocation_for_invalid_ids_and_tree_nodes(platform: Platform, store: DeviceStore) -> None:
    items = [
        CatalogItem(device_id="00150200001320000009", name="坏省码"),
        CatalogItem(device_id="abc-01", name="坏编码"),
        CatalogItem(device_id="341502", name="金安区"),
        CatalogItem(device_id="34150200001340000001", name="报警输入"),
    ]
    merge_catalog(platform.sessions, NVR, items, complete=True, at=T0)
    first = allocate_platform_id(platform.sessions, NVR, "00150200001320000009")
    second = allocate_platform_id(platform.sessions, NVR, "abc-01")
    assert first.startswith("34150200001320") and second.startswith("34150200001320")  # the device's prefix
    assert first != second and GbId.parse(second).serial == f"{int(GbId.parse(first).serial) + 1:06d}"
    assert channels(store)["abc-01"].camera_id == second
    for node in ("341502", "34150200001340000001"):
        with pytest.raises(AllocationError):
            allocate_platform_id(platform.sessions, NVR, node)


def test_partial_catalogs_mark_nothing_gone_complete_ones_do(platform: Platform, store: DeviceStore) -> None:
    items = [camera_item(n) for n in (1, 2, 3)]
    merge_catalog(platform.sessions, NVR, items, complete=True, at=T0)
    partial = merge_catalog(platform.sessions, NVR, items[:1], complete=False, at=T1)
    assert partial.gone == 0 and not any(c.gone for c in channels(store).values())
    detail = store.get_device(NVR)
    assert detail is not None and (detail.device.catalog_status, detail.device.catalog_received) == ("partial", 1)

    complete = merge_catalog(platform.sessions, NVR, items[:1], complete=True, at=T1)
    assert complete.gone == 2
    stored = channels(store)
    assert [c for c, s in stored.items() if s.gone] == ["34150200001320000002", "34150200001320000003"]
    assert camera(platform, "34150200001320000002").source == "device"  # the camera stays in the archive
    detail = store.get_device(NVR)
    assert detail is not None and detail.device.channel_count == 1
    assert store.channel_address("34150200001320000002") is None

    back = merge_catalog(platform.sessions, NVR, items, complete=True, at=T1)
    assert back.gone == 0 and not any(c.gone for c in channels(store).values())


def test_status_changes_in_a_catalog_are_online_changes(platform: Platform, store: DeviceStore) -> None:
    merge_catalog(platform.sessions, NVR, [camera_item(1), camera_item(2)], complete=True, at=T0)
    merge_catalog(platform.sessions, NVR, [camera_item(1, status="OFF"), camera_item(2)], complete=True, at=T1)
    with platform.sessions() as session:
        events = session.execute(select(OnlineEvent.channel_id, OnlineEvent.online, OnlineEvent.reason)).all()
    assert [tuple(e) for e in events] == [("34150200001320000001", False, "catalog")]
    assert camera(platform, "34150200001320000001").status == "2"


def test_notify_events(platform: Platform, store: DeviceStore) -> None:
    merge_catalog(platform.sessions, NVR, [camera_item(n) for n in (1, 2, 3)], complete=True, at=T0)
    events: list[tuple[CatalogEvent | None, CatalogItem]] = [
        (CatalogEvent.OFF, CatalogItem(device_id="34150200001320000001", event="OFF")),
        (CatalogEvent.VLOST, CatalogItem(device_id="34150200001320000003", event="VLOST")),
        (CatalogEvent.DEL, CatalogItem(device_id="34150200001320000002", event="DEL")),
        (CatalogEvent.ADD, camera_item(4, event="ADD")),
        (CatalogEvent.UPDATE, camera_item(3, name="金安区梅山路3号北", direction_type="4", event="UPDATE")),
        (None, CatalogItem(device_id="34150200001320000001", event="REBOOT")),
    ]
    summary = apply_catalog_events(platform.sessions, NVR, events, T1)
    assert (summary.created, summary.updated, summary.gone) == (1, 1, 1)
    stored = channels(store)
    assert (stored["34150200001320000001"].status, stored["34150200001320000001"].gone) == ("OFF", False)
    assert stored["34150200001320000002"].gone is True
    assert stored["34150200001320000004"].camera_id == "34150200001320000004"
    assert camera(platform, "34150200001320000003").name == "金安区梅山路3号北"
    assert camera(platform, "34150200001320000002").source == "device"  # DEL keeps the camera
    with platform.sessions() as session:
        rows = session.execute(
            select(OnlineEvent.channel_id, OnlineEvent.online, OnlineEvent.reason).order_by(OnlineEvent.id)
        ).all()
        online = {
            row.channel_id: row.online
            for row in session.execute(select(DeviceChannel.channel_id, DeviceChannel.online))
        }
    assert [tuple(r) for r in rows] == [
        ("34150200001320000001", False, "notify"),
        ("34150200001320000003", False, "notify"),
    ]
    assert (online["34150200001320000001"], online["34150200001320000004"]) == (False, True)
    # UPDATE after VLOST: the item's Status (ON) decides
    assert stored["34150200001320000003"].status == "ON"

    on = apply_catalog_events(
        platform.sessions, NVR, [(CatalogEvent.ON, CatalogItem(device_id="34150200001320000001"))], T1
    )
    assert on.received == 0 and channels(store)["34150200001320000001"].status == "ON"
    detail = store.get_device(NVR)
    assert detail is not None and detail.device.channel_count == 3  # 1, 3, 4 (2 is gone)


def test_the_worker_entry_point_opens_its_own_engine(platform: Platform, store: DeviceStore) -> None:
    summary = merge_catalog_job(platform.database_url, NVR, [camera_item(1), camera_item(2)], True)
    assert (summary.received, summary.created) == (2, 2)
    assert set(channels(store)) == {"34150200001320000001", "34150200001320000002"}


def test_large_updates_go_through_a_staging_table(
    platform: Platform, store: DeviceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL updates many rows by COPY into a temporary table and one UPDATE ... FROM (forced here from
    the first row); rows whose values did not change are left alone. SQLite runs the same merge by executemany."""
    monkeypatch.setattr(device_store, "STAGED_UPDATE_ROWS", 1)
    items = [camera_item(n) for n in range(1, 7)]
    merge_catalog(platform.sessions, NVR, items, complete=True, at=T0)
    changed = [dataclasses.replace(i, name=f"金安区皋城路{n}号东") if n % 2 else i for n, i in enumerate(items)]
    changed[0] = dataclasses.replace(changed[0], status="OFF")
    summary = merge_catalog(platform.sessions, NVR, changed, complete=True, at=T1)
    assert (summary.updated, summary.unchanged) == (4, 2)
    names = {c.channel_id: (c.name, c.archive_name, c.status) for c in channels(store).values()}
    assert names["34150200001320000002"] == ("金安区皋城路1号东", "金安区皋城路1号东", "ON")
    assert names["34150200001320000001"] == ("金安区梅山路1号东", "金安区梅山路1号东", "OFF")
    assert camera(platform, "34150200001320000001").status == "2"
    assert camera(platform, "34150200001320000003").updated_at == T0  # unchanged: not rewritten
