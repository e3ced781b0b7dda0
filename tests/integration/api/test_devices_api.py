"""/api/v1/devices and /api/v1/alarms on both databases: keyset pages without gaps or duplicates, details,
pre-registration, passwords (never in any answer), allocating an ID for a colliding channel, refused
registrations, bilingual errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from xueliang.app import Platform
from xueliang.catalog.device_catalog import merge_catalog
from xueliang.protocol.manscdp import AlarmNotify, CatalogItem, DeviceInfo
from xueliang.store.device_records import OnlineChange, Registration
from xueliang.store.devices import DeviceStore

NVR = "34150200001180000001"
OTHER = "34150200001180000002"
PASSWORD = "Pa55-word-never-shown"
T0 = dt.datetime(2026, 5, 1, 8, 0, 0)


@pytest.fixture
def store(platform: Platform) -> DeviceStore:
    return DeviceStore(platform.sessions, platform.catalog.cipher())


def register(store: DeviceStore, device_id: str, online: bool = True) -> None:
    store.save_registration(Registration(device_id, "tcp", "10.0.0.5", 5060, None, 3600, "2022", "NVR", T0))
    store.save_device_info(device_id, DeviceInfo(1, device_id, device_name=f"NVR {device_id[-3:]}"), charset="GB18030")
    if online:
        store.record_online_changes([OnlineChange(device_id, True, T0, "register")])


def pages(client: TestClient, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        response = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.json()
        body = response.json()
        assert PASSWORD not in response.text
        yield from body["items"]
        cursor = body["next"]
        if cursor is None:
            return


def test_device_list_pages_without_gaps_and_filters(client: TestClient, store: DeviceStore) -> None:
    devices = [f"341502000011800{n:05d}" for n in range(1, 24)]
    for index, device_id in enumerate(devices):
        register(store, device_id, online=index % 2 == 0)
    listed = [d["id"] for d in pages(client, "/api/v1/devices", limit=4)]
    assert listed == devices  # by ID, each once
    assert [d["id"] for d in pages(client, "/api/v1/devices", online="true", limit=3)] == devices[::2]
    assert [d["id"] for d in pages(client, "/api/v1/devices", online="false", limit=3)] == devices[1::2]
    assert [d["id"] for d in pages(client, "/api/v1/devices", q="nvr 01", limit=3)] == devices[9:19]
    item = client.get("/api/v1/devices", params={"limit": 1}).json()["items"][0]
    expected_keys = {"id", "name", "online", "transport", "charset", "edition", "channel_count", "manufacturer",
                     "model", "firmware", "host", "port", "registered_at", "last_seen_at",
                     "catalog_status"}  # fmt: skip
    assert expected_keys <= item.keys() and "password" not in item
    assert (item["transport"], item["charset"], item["edition"], item["host"]) == ("tcp", "GB18030", "2022", "10.0.0.5")

    bad = client.get("/api/v1/devices", params={"cursor": "garbage"}, headers={"accept-language": "en"})
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_parameter"
    assert "cursor" in bad.json()["message"] and bad.json()["message_zh"]


def test_pre_registration_and_passwords_are_never_echoed(client: TestClient, store: DeviceStore) -> None:
    created = client.post("/api/v1/devices", json={"id": NVR, "name": "一号NVR", "password": PASSWORD})
    assert created.status_code == 201, created.json()
    assert created.json()["created"] is True and created.json()["device"]["has_password"] is True
    assert PASSWORD not in created.text
    assert store.lookup(NVR).password == PASSWORD

    again = client.post("/api/v1/devices", json={"id": NVR, "name": "一号NVR（改）"})
    assert again.status_code == 200 and again.json()["device"]["name"] == "一号NVR（改）"
    assert store.lookup(NVR).password == PASSWORD

    changed = client.put(f"/api/v1/devices/{NVR}/password", json={"password": "another-one"})
    assert changed.status_code == 204 and changed.text == ""
    assert store.lookup(NVR).password == "another-one"
    cleared = client.put(f"/api/v1/devices/{NVR}/password", json={"password": None})
    assert cleared.status_code == 204 and store.lookup(NVR).password is None
    missing = client.put(f"/api/v1/devices/{OTHER}/password", json={"password": "x"})
    assert missing.status_code == 404 and OTHER in missing.json()["message_zh"]

    for response in (client.get(f"/api/v1/devices/{NVR}"), client.get("/api/v1/devices")):
        assert response.status_code == 200 and PASSWORD not in response.text and "another-one" not in response.text

    invalid = client.post("/api/v1/devices", json={"id": "1234", "password": PASSWORD})
    assert invalid.status_code == 422 and invalid.json()["error"] == "id.length" and PASSWORD not in invalid.text
    assert "20" in invalid.json()["message_zh"] and "20" in invalid.json()["message_en"]
    extra = client.post("/api/v1/devices", json={"id": OTHER, "secret": "x"})
    assert extra.status_code == 422


def test_device_detail_with_channels_and_history(client: TestClient, platform: Platform, store: DeviceStore) -> None:
    register(store, NVR)
    items = [
        CatalogItem(device_id="341502", name="金安区"),
        CatalogItem(device_id="34150200001320000001", name="东门", status="ON", password=PASSWORD),
        CatalogItem(device_id="34150200001320000002", name="西门", status="OFF"),
    ]
    merge_catalog(platform.sessions, NVR, items, complete=True, at=T0)
    store.record_online_changes([OnlineChange(NVR, False, T0 + dt.timedelta(minutes=3), "keepalive-timeout")])
    response = client.get(f"/api/v1/devices/{NVR}")
    assert response.status_code == 200
    body = response.json()
    assert PASSWORD not in response.text
    assert (body["id"], body["catalog_status"], body["channel_count"], body["channels_total"]) == (
        NVR,
        "complete",
        2,
        3,
    )
    by_id = {c["id"]: c for c in body["channels"]}
    east = by_id["34150200001320000001"]
    assert (east["name"], east["archive_name"], east["camera_id"], east["kind"]) == (
        "东门",
        "东门",
        "34150200001320000001",
        "camera",
    )
    assert east["online"] is False  # the device went offline
    assert {"id", "name", "archive_name", "camera_id", "online", "kind", "parent_id", "status", "collision", "gone",
            "findings"} <= east.keys()  # fmt: skip
    assert by_id["341502"]["kind"] == "region"
    assert [(e["online"], e["reason"]) for e in body["online_history"]] == [
        (False, "keepalive-timeout"),
        (True, "register"),
    ]
    limited = client.get(f"/api/v1/devices/{NVR}", params={"channels_limit": 1}).json()
    assert len(limited["channels"]) == 1 and limited["channels_total"] == 3
    walked = [c["id"] for c in pages(client, f"/api/v1/devices/{NVR}/channels", limit=2)]
    assert walked == sorted(by_id)

    for path in (f"/api/v1/devices/{OTHER}", f"/api/v1/devices/{OTHER}/channels"):
        missing = client.get(path, headers={"accept-language": "en"})
        assert missing.status_code == 404
        body = missing.json()
        assert body["error"] == "device_not_found" and body["message"] == body["message_en"]
        assert OTHER in body["message_zh"] and "设备" in body["message_zh"]


def test_allocating_an_id_for_a_colliding_channel(client: TestClient, platform: Platform, store: DeviceStore) -> None:
    shared = CatalogItem(device_id="34150200001320000001", name="通道1")
    merge_catalog(platform.sessions, NVR, [shared], complete=True, at=T0)
    merge_catalog(platform.sessions, OTHER, [shared, CatalogItem(device_id="341502")], complete=True, at=T0)
    colliding = client.get(f"/api/v1/devices/{OTHER}").json()["channels"]
    flagged = next(c for c in colliding if c["id"] == shared.device_id)
    assert flagged["collision"] is True and flagged["camera_id"] is None
    assert any(f["rule"] == "channel_id_collision" and f["other_device_id"] == NVR for f in flagged["findings"])

    path = f"/api/v1/devices/{OTHER}/channels/{shared.device_id}/allocate-id"
    allocated = client.post(path)
    assert allocated.status_code == 201, allocated.json()
    camera_id = allocated.json()["camera_id"]
    assert camera_id.startswith("34150200001320") and camera_id != shared.device_id
    assert client.get(f"/api/v1/cameras/{camera_id}").json()["source"] == "device"
    again = client.post(path, headers={"accept-language": "en"})
    assert (
        again.status_code == 409 and again.json()["error"] == "channel_bound" and camera_id in again.json()["message"]
    )
    missing = client.post(f"/api/v1/devices/{OTHER}/channels/34150200001320000099/allocate-id")
    assert missing.status_code == 404 and missing.json()["error"] == "channel_not_found"
    region = client.post(f"/api/v1/devices/{OTHER}/channels/341502/allocate-id")
    assert region.status_code == 409 and region.json()["error"] == "allocation_impossible"


def test_refused_registrations_are_listed(client: TestClient, store: DeviceStore) -> None:
    store.record_rejection(NVR, "10.1.1.1", 5060, "not_in_inventory", T0)
    store.record_rejection(NVR, "10.1.1.1", 5060, "not_in_inventory", T0 + dt.timedelta(seconds=30))
    response = client.get("/api/v1/devices/rejections")
    assert response.status_code == 200
    assert [(r["device_id"], r["reason"], r["attempts"]) for r in response.json()] == [(NVR, "not_in_inventory", 2)]
    assert client.post("/api/v1/devices", json={"id": NVR}).status_code == 201
    assert client.get("/api/v1/devices/rejections").json() == []


def test_alarms_page_newest_first_with_filters(client: TestClient, store: DeviceStore) -> None:
    for index in range(11):
        alarm = AlarmNotify(index, "34150200001340000001", priority=1 + index % 4, method=2, description=f"报警{index}")
        store.record_alarm(NVR if index % 3 else OTHER, alarm, T0 + dt.timedelta(minutes=index))
    every = list(pages(client, "/api/v1/alarms", limit=3))
    assert [a["description"] for a in every] == [f"报警{i}" for i in range(10, -1, -1)]
    assert len({a["id"] for a in every}) == 11
    mine = [a["description"] for a in pages(client, "/api/v1/alarms", device_id=OTHER, limit=2)]
    assert mine == ["报警9", "报警6", "报警3", "报警0"]
    window = list(
        pages(client, "/api/v1/alarms", since="2026-05-01T16:02:00+08:00", until="2026-05-01T08:05:00", limit=10)
    )
    assert [a["description"] for a in window] == ["报警4", "报警3", "报警2"]
    first = every[0]
    assert (first["channel_id"], first["priority"], first["item"]["description"]) == (
        "34150200001340000001",
        3,
        "报警10",
    )
    bad = client.get("/api/v1/alarms", params={"cursor": "xyz"})
    assert bad.status_code == 422
