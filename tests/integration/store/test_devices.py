"""DeviceStore on both databases: passwords at rest, lookups, refused registrations, registrations, batched online
changes and last-seen times, DeviceInfo, alarms, channel addresses, and the keyset-paginated lists."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from xueliang.domain.archive import CameraRecord
from xueliang.domain.ids import IdError
from xueliang.protocol.manscdp import AlarmNotify, CatalogItem, DeviceInfo
from xueliang.store.cameras import CameraRepository, camera_row
from xueliang.store.crypto import cipher_for
from xueliang.store.db import make_session_factory, transaction
from xueliang.store.device_records import OnlineChange, Registration
from xueliang.store.device_repository import DeviceRepository
from xueliang.store.device_rows import wire_dict
from xueliang.store.devices import DeviceStore
from xueliang.store.keyset import CursorError, PageRequest
from xueliang.store.models import Camera, Device, DeviceChannel, OnlineEvent, utcnow

NVR = "34150200001180000001"
IPC = "34150200001320000077"
T0 = dt.datetime(2026, 5, 1, 8, 0, 0)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def store(sessions: sessionmaker[Session], tmp_path: Path) -> DeviceStore:
    return DeviceStore(sessions, cipher_for(tmp_path))


def add_camera(sessions: sessionmaker[Session], platform_id: str, name: str = "金安区梅山路东") -> None:
    record = CameraRecord(platform_id=platform_id, name=name, division_code="341502")
    with transaction(sessions) as session:
        row = camera_row(record, unit_ids={}, cipher=cipher_for(Path("/nonexistent")), findings=[], source="import",
                         now=utcnow())  # fmt: skip
        CameraRepository(session).insert_many([row])


def registration(device_id: str = NVR, at: dt.datetime = T0, **changes: object) -> Registration:
    values: dict[str, object] = {
        "device_id": device_id,
        "transport": "udp",
        "host": "10.1.2.3",
        "port": 5060,
        "contact": f"<sip:{device_id}@10.1.2.3:5060>",
        "expires": 3600,
        "edition": "2016",
        "user_agent": "IP Camera",
        "at": at,
    }
    values.update(changes)
    return Registration(**values)  # type: ignore[arg-type]


def add_channels(sessions: sessionmaker[Session], device_id: str, channel_ids: list[str], **row: object) -> None:
    with transaction(sessions) as session:
        repository = DeviceRepository(session)
        pk = repository.ensure_device(device_id, T0)
        repository.insert_channels(
            [
                {
                    "device_pk": pk,
                    "channel_id": channel_id,
                    "kind": "camera",
                    "name": f"通道{channel_id[-2:]}",
                    "online": True,
                    "collision": False,
                    "gone": False,
                    "item": wire_dict(CatalogItem(device_id=channel_id, password="never")),
                    "item_digest": "",
                    "findings": [],
                    "updated_at": T0,
                    **row,
                }
                for channel_id in channel_ids
            ]
        )


# ------------------------------------------------------------------------------------------------ registration


def test_password_is_encrypted_at_rest_and_decrypted_for_lookup(
    store: DeviceStore, sessions: sessionmaker[Session]
) -> None:
    assert store.add_device(NVR, name="一号NVR", password="S3cret!pw") is True
    with sessions() as session:
        stored = session.scalar(select(Device.password).where(Device.device_id == NVR))
    assert stored is not None and "S3cret!pw" not in stored
    auth = store.lookup(NVR)
    assert (auth.in_archive, auth.password) == (True, "S3cret!pw")

    assert store.add_device(NVR, name="改名") is False  # None keeps the password
    assert store.lookup(NVR).password == "S3cret!pw"
    assert store.set_password(NVR, None) is True
    assert store.lookup(NVR).password is None
    assert store.set_password(NVR, "new-one") is True and store.lookup(NVR).password == "new-one"
    assert store.set_password("34150200001180000999", "x") is False
    detail = store.get_device(NVR)
    assert detail is not None and detail.device.name == "改名" and detail.device.pre_registered
    assert detail.device.has_password and detail.device.device_type == "118"


@pytest.mark.parametrize("bad", ["1234", "3415020000118000000A", "341502000011800000011", "00150200001180000001"])
def test_add_device_refuses_an_invalid_id(store: DeviceStore, bad: str) -> None:
    with pytest.raises(IdError) as caught:
        store.add_device(bad)
    assert isinstance(caught.value, ValueError) and "/" in str(caught.value)  # zh / en


def test_lookup_knows_devices_and_cameras_by_platform_id(store: DeviceStore, sessions: sessionmaker[Session]) -> None:
    assert store.lookup(IPC).in_archive is False
    add_camera(sessions, IPC)
    auth = store.lookup(IPC)
    assert (auth.device_id, auth.in_archive, auth.password) == (IPC, True, None)


def test_refused_registrations_count_attempts_and_clear(store: DeviceStore, sessions: sessionmaker[Session]) -> None:
    store.record_rejection(NVR, "10.0.0.9", 5060, "not_in_inventory", T0)
    store.record_rejection(NVR, "10.0.0.10", 5061, "not_in_inventory", T0 + dt.timedelta(minutes=5))
    store.record_rejection(IPC, "10.0.0.11", 5060, "bad_password", T0 + dt.timedelta(minutes=1))
    rejections = store.list_rejections()
    assert [r.device_id for r in rejections] == [NVR, IPC]  # latest first
    first = rejections[0]
    assert (first.attempts, first.first_at, first.last_at) == (2, T0, T0 + dt.timedelta(minutes=5))
    assert (first.host, first.port) == ("10.0.0.10", 5061)

    add_camera(sessions, NVR)  # the inventory now has it: the finding no longer holds
    assert [r.device_id for r in store.list_rejections()] == [IPC]
    store.add_device(IPC)  # adding a device clears its refusal
    assert store.list_rejections() == []
    assert store.clear_rejection(NVR) is True and store.clear_rejection(NVR) is False


def test_save_registration_upserts_without_touching_online(store: DeviceStore) -> None:
    store.save_registration(registration())
    store.record_online_changes([OnlineChange(NVR, True, T0, "register")])
    later = T0 + dt.timedelta(hours=1)
    store.save_registration(registration(at=later, transport="TCP", host="10.9.9.9", port=15060, edition="2022"))
    detail = store.get_device(NVR)
    assert detail is not None
    device = detail.device
    assert (device.transport, device.host, device.port, device.edition) == ("tcp", "10.9.9.9", 15060, "2022")
    assert (device.registered_at, device.last_seen_at, device.online, device.pre_registered) == (
        later,
        later,
        True,
        False,
    )
    store.save_registration(registration(transport="sctp", edition="2011"))
    detail = store.get_device(NVR)
    assert detail is not None and (detail.device.transport, detail.device.edition) == (None, None)


# ------------------------------------------------------------------------------------------ online and last seen


def test_online_changes_write_events_and_the_last_change_wins(
    store: DeviceStore, sessions: sessionmaker[Session]
) -> None:
    devices = [f"341502000011800{n:05d}" for n in range(1, 1501)]
    for device_id in devices[:3]:
        store.save_registration(registration(device_id))
    add_channels(sessions, devices[0], [IPC])
    changes = [OnlineChange(d, True, T0, "register") for d in devices]
    changes += [
        OnlineChange(devices[0], False, T0 + dt.timedelta(seconds=180), "keepalive-timeout"),
        OnlineChange(devices[1], False, T0 + dt.timedelta(seconds=30), "expired"),
        OnlineChange(devices[1], True, T0 + dt.timedelta(seconds=20), "register"),  # older: loses
        OnlineChange(devices[0], False, T0 + dt.timedelta(seconds=1), "notify", channel_id=IPC),
    ]
    store.record_online_changes(changes)
    with sessions() as session:
        assert session.scalar(select(OnlineEvent.id).order_by(OnlineEvent.id.desc()).limit(1)) == len(changes)
        flags = {row.device_id: row.online for row in session.execute(select(Device.device_id, Device.online))}
        channel_online = session.scalar(select(DeviceChannel.online).where(DeviceChannel.channel_id == IPC))
    assert flags == {devices[0]: False, devices[1]: False, devices[2]: True}
    assert channel_online is False
    assert store.online_device_ids() == [devices[2]]

    # a change older than the stored state does not overwrite it
    store.record_online_changes([OnlineChange(devices[2], False, T0 - dt.timedelta(hours=1), "restart")])
    assert store.online_device_ids() == [devices[2]]
    detail = store.get_device(devices[0])
    assert detail is not None
    assert [(e.online, e.reason, e.channel_id) for e in detail.online_history] == [
        (False, "keepalive-timeout", None),
        (False, "notify", IPC),
        (True, "register", None),
    ]
    assert detail.device.online_changed_at == T0 + dt.timedelta(seconds=180)


def test_touch_updates_last_seen_in_one_batch_and_never_backwards(store: DeviceStore) -> None:
    devices = [f"341502000011800{n:05d}" for n in range(1, 201)]
    for device_id in devices:
        store.save_registration(registration(device_id))
    store.touch({d: T0 + dt.timedelta(seconds=i) for i, d in enumerate(devices)})
    store.touch({devices[5]: T0 - dt.timedelta(days=1), "34150200001180099999": T0})  # older; unknown device
    page = store.list_devices(PageRequest(limit=500))
    seen = {d.device_id: d.last_seen_at for d in page.items}
    assert seen[devices[5]] == T0 + dt.timedelta(seconds=5)
    assert seen[devices[199]] == T0 + dt.timedelta(seconds=199)
    assert len(page.items) == 200


def test_device_info_and_the_channel_count(store: DeviceStore, sessions: sessionmaker[Session]) -> None:
    info = DeviceInfo(
        1, NVR, device_name="一号NVR", manufacturer="Hikvision", model="DS-7608", firmware="V4", channel=8
    )
    store.save_device_info(NVR, info, charset="GB2312")
    detail = store.get_device(NVR)
    assert detail is not None
    device = detail.device
    assert (device.name, device.manufacturer, device.model, device.firmware) == (
        "一号NVR",
        "Hikvision",
        "DS-7608",
        "V4",
    )
    assert (device.channel_count, device.charset) == (8, "GB2312")

    store.save_device_info(NVR, DeviceInfo(2, NVR, channel=16), charset="UTF-8")  # absent values are kept
    detail = store.get_device(NVR)
    assert detail is not None and (detail.device.name, detail.device.channel_count) == ("一号NVR", 16)

    with transaction(sessions) as session:  # once a catalog is merged, its count wins over DeviceInfo's
        repository = DeviceRepository(session)
        pk = repository.ensure_device(NVR, T0)
        repository.finish_catalog(pk, complete=True, received=0, at=T0)
    store.save_device_info(NVR, DeviceInfo(3, NVR, channel=32), charset="UTF-8")
    detail = store.get_device(NVR)
    assert detail is not None and detail.device.channel_count == 0


def test_mark_catalog(store: DeviceStore) -> None:
    store.save_registration(registration())
    store.mark_catalog(NVR, "timeout", 0, None, T0)
    detail = store.get_device(NVR)
    assert detail is not None
    assert (detail.device.catalog_status, detail.device.catalog_synced_at) == ("timeout", T0)
    store.mark_catalog(NVR, "partial", 40, 64, T0)
    detail = store.get_device(NVR)
    assert detail is not None
    assert (detail.device.catalog_received, detail.device.catalog_expected) == (40, 64)
    with pytest.raises(ValueError, match="catalog status"):
        store.mark_catalog(NVR, "lost", 0, None, T0)


# ---------------------------------------------------------------------------------------------------- alarms


def test_alarms_are_recorded_and_paged_newest_first(store: DeviceStore) -> None:
    alarm = AlarmNotify(
        5,
        IPC,
        priority=1,
        method=5,
        time=dt.datetime(2026, 5, 1, 16, 0, 0),
        description="区域入侵",
        longitude=116.5,
        latitude=31.7,
        alarm_type="2",
        event_type="1",
        extra={"Info/Foo": "bar"},
    )
    ids = [store.record_alarm(NVR, alarm, T0 + dt.timedelta(seconds=i // 2)) for i in range(25)]
    store.record_alarm("34150200001180000002", alarm, T0)
    assert len(set(ids)) == 25

    seen: list[int] = []
    cursor = None
    while True:
        page = store.list_alarms(PageRequest(limit=4, cursor=cursor), device_id=NVR)
        seen.extend(a.id for a in page.items)
        cursor = page.next
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)  # newest first; ties by id, no gaps, no duplicates
    first = store.list_alarms(PageRequest(limit=1)).items[0]
    assert (first.channel_id, first.priority, first.method, first.alarm_type) == (IPC, 1, 5, "2")
    assert first.alarm_time == dt.datetime(2026, 5, 1, 16, 0, 0)
    assert first.item["event_type"] == "1" and first.item["extra"] == {"Info/Foo": "bar"}
    window = store.list_alarms(
        PageRequest(limit=100), since=T0 + dt.timedelta(seconds=3), until=T0 + dt.timedelta(seconds=5)
    )
    assert len(window.items) == 4
    assert len(store.list_alarms(PageRequest(limit=100)).items) == 26
    with pytest.raises(CursorError):
        store.list_alarms(PageRequest(cursor="not-a-cursor"))


# ------------------------------------------------------------------------------------------ channels and lists


def test_channel_address_prefers_the_bound_channel(store: DeviceStore, sessions: sessionmaker[Session]) -> None:
    other = "34150200001180000002"
    assert store.channel_address(IPC) is None
    add_channels(sessions, other, [IPC])
    assert store.channel_address(IPC) == (other, IPC)  # by channel ID while nothing is bound
    add_camera(sessions, "34150200001320000500")
    with transaction(sessions) as session:
        pk = session.scalar(select(Device.id).where(Device.device_id == other))
        camera = session.scalar(select(Camera.id).where(Camera.platform_id == "34150200001320000500"))
        session.execute(
            DeviceChannel.__table__.update()
            .where(DeviceChannel.device_pk == pk, DeviceChannel.channel_id == IPC)
            .values(camera_id=camera)
        )
    assert store.channel_address("34150200001320000500") == (other, IPC)  # an allocated platform ID
    with transaction(sessions) as session:
        session.execute(DeviceChannel.__table__.update().values(gone=True))
    assert store.channel_address("34150200001320000500") is None
    assert store.channel_address(IPC) is None


def test_device_list_pages_filters_and_searches(store: DeviceStore) -> None:
    devices = [f"341502000011800{n:05d}" for n in range(1, 38)]
    for index, device_id in enumerate(devices):
        store.save_registration(registration(device_id, host=f"10.0.{index}.1"))
        store.save_device_info(device_id, DeviceInfo(1, device_id, device_name=f"NVR-{index:02d}"), charset="GB2312")
    store.record_online_changes([OnlineChange(d, True, T0, "register") for d in devices[::3]])

    def walk(**filters: object) -> list[str]:
        found: list[str] = []
        cursor = None
        while True:
            page = store.list_devices(PageRequest(limit=5, cursor=cursor), **filters)  # type: ignore[arg-type]
            assert len(page.items) <= 5
            found.extend(d.device_id for d in page.items)
            cursor = page.next
            if cursor is None:
                return found

    assert walk() == devices
    assert walk(online=True) == devices[::3]
    assert walk(online=False) == [d for d in devices if d not in devices[::3]]
    assert walk(q="nvr-1") == devices[10:20]  # name, case-insensitive
    assert walk(q="3415020000118000003") == devices[29:37]  # ID prefix
    assert walk(q="10.0.7.") == [devices[7]]  # host prefix
    assert walk(q="100%") == []  # LIKE wildcards are literal
    with pytest.raises(CursorError):
        store.list_devices(PageRequest(cursor="bm90IGEgY3Vyc29y"))


def test_device_detail_lists_channels_and_pages_them(store: DeviceStore, sessions: sessionmaker[Session]) -> None:
    store.save_registration(registration())
    channel_ids = [f"341502000013200{n:05d}" for n in range(1, 13)]
    add_channels(sessions, NVR, channel_ids)
    add_channels(sessions, NVR, ["3415"], kind="region", online=False)
    store.record_online_changes([OnlineChange(NVR, True, T0, "register")])
    detail = store.get_device(NVR, channel_limit=5)
    assert detail is not None
    assert detail.channels_total == 13 and len(detail.channels) == 5
    assert [c.channel_id for c in detail.channels] == ["3415", *channel_ids[:4]]
    region, first = detail.channels[0], detail.channels[1]
    assert (region.kind, region.online, first.online, first.name) == ("region", False, True, "通道01")
    assert store.get_device("34150200001180009999") is None

    walked: list[str] = []
    cursor = None
    while True:
        page = store.list_channels(NVR, PageRequest(limit=4, cursor=cursor))
        assert page is not None
        walked.extend(c.channel_id for c in page.items)
        cursor = page.next
        if cursor is None:
            break
    assert walked == ["3415", *channel_ids]
    assert store.list_channels("34150200001180009999", PageRequest()) is None

    store.record_online_changes([OnlineChange(NVR, False, T0 + dt.timedelta(minutes=1), "expired")])
    detail = store.get_device(NVR)
    assert detail is not None and not any(c.online for c in detail.channels)  # offline device: offline channels


def test_wire_dict_never_keeps_the_password() -> None:
    item = CatalogItem(device_id=IPC, name="东门", password="hunter2", extra={"Vendor": "x"}, malformed={})
    stored = wire_dict(item)
    assert stored == {"device_id": IPC, "name": "东门", "extra": {"Vendor": "x"}}
    assert "hunter2" not in repr(stored)
