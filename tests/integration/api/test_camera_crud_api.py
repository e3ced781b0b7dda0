"""GET/PUT/DELETE /api/v1/cameras/{platform_id} through the archive validator, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from xueliang.app import Platform
from xueliang.store.models import Camera

MakeCamera = Callable[..., dict[str, Any]]


def test_put_creates_then_replaces(client: TestClient, units: dict[str, str], make_camera: MakeCamera) -> None:
    raw = make_camera(1, owner_unit="六安市公安局", camera_type="球机", direction="1")
    raw["direction"] = "东"  # labels are accepted, codes are stored
    path = f"/api/v1/cameras/{raw['platform_id']}"
    assert client.get(path).status_code == 404
    created = client.put(path, json=raw)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["created"] is True
    assert body["camera"]["camera_type"] == "1" and body["camera"]["direction"] == "1"
    assert body["camera"]["owner_unit"] == "GA" and body["camera"]["source"] == "api"

    replacement = make_camera(1, owner_unit="JT", remark="复核后")
    replaced = client.put(path, json=replacement)
    assert replaced.status_code == 200 and replaced.json()["created"] is False
    camera = client.get(path).json()
    assert camera["owner_unit"] == "JT" and camera["remark"] == "复核后" and camera["manufacturer"] == "海康威视"
    del replacement["manufacturer"]
    assert client.put(path, json=replacement).json()["camera"]["manufacturer"] is None  # a replacement, not a patch


def test_put_rejects_errors_with_bilingual_findings(
    client: TestClient, platform: Platform, make_camera: MakeCamera
) -> None:
    raw = make_camera(2, longitude=200, camera_type="飞碟")
    response = client.put(f"/api/v1/cameras/{raw['platform_id']}", json=raw)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "camera_rejected"
    rules = {f["rule"] for f in body["detail"]}
    assert "code.unknown" in rules and any(r.startswith("coords.") or r.startswith("value.") for r in rules)
    assert all(f["message_zh"] and f["message_en"] for f in body["detail"])
    unknown_type = next(f for f in body["detail"] if f["rule"] == "code.unknown")
    assert "球机" in unknown_type["message_zh"] and "dome" in unknown_type["message_en"]
    english = client.put(f"/api/v1/cameras/{raw['platform_id']}", json=raw, headers={"Accept-Language": "en"}).json()
    assert english["message"] == english["message_en"]
    with platform.sessions() as session:
        assert session.scalars(select(Camera.id)).all() == []


def test_put_checks_the_path_id_units_and_unknown_fields(
    client: TestClient, units: dict[str, str], make_camera: MakeCamera
) -> None:
    raw = make_camera(3)
    other = "34150200001320000099"
    assert client.put(f"/api/v1/cameras/{other}", json=raw).json()["detail"] == {"parameter": "platform_id"}
    bad_unit = client.put(f"/api/v1/cameras/{raw['platform_id']}", json={**raw, "owner_unit": "没有这个单位"})
    assert bad_unit.status_code == 422
    assert [f["rule"] for f in bad_unit.json()["detail"]] == ["unit.unknown"]
    typo = client.put(f"/api/v1/cameras/{raw['platform_id']}", json={**raw, "nmae": "x"})
    assert typo.status_code == 422 and typo.json()["error"] == "invalid_request"
    malformed = client.put("/api/v1/cameras/12345", json={"name": "x"})
    assert malformed.status_code == 422 and any(f["field"] == "platform_id" for f in malformed.json()["detail"])


def test_warnings_are_returned_and_stored(client: TestClient, make_camera: MakeCamera) -> None:
    raw = make_camera(4, name="随便起的名字")
    response = client.put(f"/api/v1/cameras/{raw['platform_id']}", json=raw)
    assert response.status_code == 201
    assert [w["rule"] for w in response.json()["warnings"]] == ["name.naming_rule"]
    assert client.get(f"/api/v1/cameras/{raw['platform_id']}").json()["findings"][0]["rule"] == "name.naming_rule"


def test_stream_credentials_are_kept_secret_and_survive_a_round_trip(
    client: TestClient, platform: Platform, make_camera: MakeCamera
) -> None:
    raw = make_camera(5, stream_url="rtsp://admin:Pa55word@10.0.0.5:554/live", access_protocol="RTSP")
    path = f"/api/v1/cameras/{raw['platform_id']}"
    camera = client.put(path, json=raw).json()["camera"]
    assert camera["stream_url"] == "rtsp://10.0.0.5:554/live" and camera["has_stream_credentials"] is True
    assert "Pa55word" not in client.get(path).text
    echoed = {k: v for k, v in camera.items() if k in raw}
    client.put(path, json=echoed)  # what a console does: GET, edit, PUT back (without the credentials)
    assert platform.catalog.stream_url_with_credentials(raw["platform_id"]) == raw["stream_url"]


def test_delete(client: TestClient, make_camera: MakeCamera) -> None:
    raw = make_camera(6)
    path = f"/api/v1/cameras/{raw['platform_id']}"
    client.put(path, json=raw)
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404
    response = client.delete(path)
    assert response.status_code == 404 and response.json()["error"] == "camera_not_found"
    assert client.get("/api/v1/cameras", params={"q": "梅山路"}).json()["items"] == []
