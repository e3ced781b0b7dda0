"""Per-device media settings through /api/v1/devices: defaults, PATCH (partial, null max_streams), the same
fields on pre-registration, validation with bilingual errors; on both databases."""

from __future__ import annotations

from fastapi.testclient import TestClient

from xueliang.app import Platform
from xueliang.store.device_records import MediaSettings
from xueliang.store.devices import DeviceStore

NVR = "34150200001180000001"
DEFAULT = {"media_transport": "udp", "ssrc_check": True, "max_streams": None, "stream_number": 0}


def test_defaults_patch_and_read_back(client: TestClient, platform: Platform) -> None:
    created = client.post("/api/v1/devices", json={"id": NVR})
    assert created.status_code == 201 and created.json()["device"]["media"] == DEFAULT

    changed = client.patch(f"/api/v1/devices/{NVR}", json={"media_transport": "tcp_active", "max_streams": 2})
    assert changed.status_code == 200, changed.json()
    assert changed.json()["device"]["media"] == {**DEFAULT, "media_transport": "tcp_active", "max_streams": 2}

    client.patch(f"/api/v1/devices/{NVR}", json={"ssrc_check": False, "stream_number": 1})
    detail = client.get(f"/api/v1/devices/{NVR}").json()
    assert detail["media"] == {
        "media_transport": "tcp_active",
        "ssrc_check": False,
        "max_streams": 2,
        "stream_number": 1,
    }
    listed = client.get("/api/v1/devices").json()["items"][0]
    assert listed["media"] == detail["media"]

    client.patch(f"/api/v1/devices/{NVR}", json={"max_streams": None})  # back to the node's default
    store = DeviceStore(platform.sessions, platform.catalog.cipher())
    assert store.media_settings(NVR) == MediaSettings("tcp_active", False, None, 1)
    assert client.patch(f"/api/v1/devices/{NVR}", json={}).status_code == 200  # nothing to change


def test_settings_with_the_pre_registration(client: TestClient) -> None:
    body = {"id": NVR, "name": "一号NVR", "media_transport": "tcp_passive", "ssrc_check": False}
    created = client.post("/api/v1/devices", json=body)
    assert created.status_code == 201
    assert created.json()["device"]["media"] == {**DEFAULT, "media_transport": "tcp_passive", "ssrc_check": False}
    again = client.post("/api/v1/devices", json={"id": NVR})  # nothing named: settings kept
    assert again.status_code == 200 and again.json()["device"]["media"]["media_transport"] == "tcp_passive"


def test_validation(client: TestClient) -> None:
    client.post("/api/v1/devices", json={"id": NVR})
    path = f"/api/v1/devices/{NVR}"
    for bad in (
        {"media_transport": "sctp"},
        {"max_streams": -1},
        {"max_streams": 1000},
        {"stream_number": 2},
        {"ssrc_check": "perhaps"},
        {"unknown": 1},
        {"media_transport": None},
    ):
        response = client.patch(path, json=bad, headers={"accept-language": "en"})
        assert response.status_code == 422, (bad, response.json())
    assert client.get(path).json()["media"] == DEFAULT
    missing = client.patch("/api/v1/devices/34150200001180000099", json={"ssrc_check": False})
    assert missing.status_code == 404 and missing.json()["error"] == "device_not_found"
