"""GET /api/v1/cameras on both databases: every filter, text search, sorting and keyset pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from xueliang.app import Platform
from xueliang.catalog.importer import ImportOptions
from xueliang.catalog.table import SourceTable
from xueliang.store import cameras as camera_store
from xueliang.store import search

MakeCamera = Callable[..., dict[str, Any]]
COUNTIES = ("341502", "341503", "341504", "341522")
UNITS = ("GA", "JT", "CG")
NETWORKS = (("video_private", "0"), ("gov_extranet", "6"), ("internet", "7"))
ROADS = ("梅山路", "解放路", "皖西路", "人民路", "淠河路", "长江路")
PLACES = ("广场", "汽车站", "小学门口", "农贸市场")


@pytest.fixture
def archive(
    platform: Platform, units: dict[str, str], make_camera: MakeCamera, make_table: Callable[..., SourceTable]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(36):
        county = COUNTIES[i % 4]
        network, digit = NETWORKS[(i // 3) % 3]
        road = ROADS[i % len(ROADS)]
        address = f"{road}与{ROADS[(i + 1) % len(ROADS)]}路口" if i % 3 == 0 else f"{road}{PLACES[i % 4]}"
        lon, lat = make_camera(0, county)["longitude"], make_camera(0, county)["latitude"]
        rows.append(
            make_camera(
                i + 1,
                county,
                address=address,
                network=network,
                network_digit=digit,
                owner_unit=UNITS[i % 3],
                camera_type=str((i // 2) % 3 + 1),
                point_class=str((i // 4) % 3 + 1),
                install_time=None if i % 5 == 0 else dt.date(2019 + i % 4, 1 + i % 12, 1).isoformat(),
                longitude=round(lon + i * 0.001, 6),
                latitude=round(lat + i * 0.001, 6),
            )
        )
    grassroots = make_camera(100, "341502", owner_unit="GA", point_common_name="老邮局", name="金安区K12路口东")
    grassroots.update(platform_id="34150201001320000100", division_code="34150201")
    rows.append(grassroots)
    result = platform.catalog.import_table(make_table(rows), ImportOptions())
    assert result.status == "committed", [p for p in result.problems if p.severity == "error"]
    return rows


@pytest.fixture(params=["default", "forced"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run each search twice: with the planner thresholds as shipped, and forced to the other plan (SQLite scans
    in sort order with the LIKE alone; the division filter becomes one range instead of a branch per code)."""
    if request.param == "forced":
        monkeypatch.setattr(search, "SQLITE_PROBE_LIMIT", 1)
        monkeypatch.setattr(camera_store, "DIVISION_BRANCHES", 1)
    return str(request.param)


def pages(client: TestClient, **params: Any) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        response = client.get("/api/v1/cameras", params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.json()
        body = response.json()
        assert len(body["items"]) <= params.get("limit", 50)
        yield from body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return


def ids(client: TestClient, **params: Any) -> list[str]:
    found = [c["platform_id"] for c in pages(client, limit=4, **params)]
    assert len(found) == len(set(found)), "a camera appeared on two pages"
    return found


def expected(rows: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]) -> list[str]:
    return sorted(r["platform_id"] for r in rows if keep(r))


def test_division_includes_sub_divisions(client: TestClient, archive: list[dict[str, Any]], plan: str) -> None:
    assert ids(client, division="341502") == expected(archive, lambda r: r["division_code"].startswith("341502"))
    assert "34150201001320000100" in ids(client, division="341502")
    assert ids(client, division="34150201") == ["34150201001320000100"]
    assert ids(client, division="341500") == expected(archive, lambda r: True)
    assert ids(client, division="340000") == expected(archive, lambda r: True)
    assert ids(client, division="341503") == expected(archive, lambda r: r["division_code"] == "341503")
    assert ids(client, division="110000") == []


def test_unit_network_type_and_class_filters(client: TestClient, archive: list[dict[str, Any]]) -> None:
    assert ids(client, unit="JT") == expected(archive, lambda r: r["owner_unit"] == "JT")
    assert ids(client, unit="六安市交通运输局") == ids(client, unit="JT")
    assert ids(client, network="gov_extranet") == expected(archive, lambda r: r["network"] == "gov_extranet")
    assert ids(client, network="电子政务外网") == ids(client, network="gov_extranet")
    assert ids(client, camera_type="2") == expected(archive, lambda r: r["camera_type"] == "2")
    assert ids(client, camera_type="半球") == ids(client, camera_type="2")
    assert ids(client, point_class="1") == expected(archive, lambda r: r["point_class"] == "1")
    combined = ids(client, division="341503", unit="GA", point_class="1")
    assert combined == expected(
        archive, lambda r: r["division_code"] == "341503" and r["owner_unit"] == "GA" and r["point_class"] == "1"
    )


def test_unknown_filter_values_are_422_with_the_accepted_values(client: TestClient, archive: Any) -> None:
    response = client.get("/api/v1/cameras", params={"network": "卫星网"})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == {"parameter": "network"} and "视频专网" in body["message_zh"]
    assert "video_private" in body["message_en"]
    assert client.get("/api/v1/cameras", params={"unit": "不存在的单位"}).status_code == 422
    assert client.get("/api/v1/cameras", params={"division": "34x"}).status_code == 422
    unknown = client.get("/api/v1/cameras", params={"division": "99"}, headers={"accept-language": "en"})
    assert unknown.status_code == 422 and "no administrative division has the code 99" in unknown.json()["message"]
    assert client.get("/api/v1/cameras", params={"bbox": "1,2,3"}).status_code == 422
    assert client.get("/api/v1/cameras", params={"limit": 501}).status_code == 422
    assert client.get("/api/v1/cameras", params={"cursor": "bm9wZQ"}).status_code == 422


def test_text_search(client: TestClient, archive: list[dict[str, Any]], plan: str) -> None:
    def containing(text: str) -> list[str]:
        return expected(archive, lambda r: text in r["name"] or text in r["install_address"])

    crossing = ids(client, q="路口")  # two characters: trigram indexes would miss it
    assert crossing == containing("路口") and len(crossing) > 5
    assert ids(client, q="路 口") == crossing  # spaces and punctuation are ignored
    assert ids(client, q="皖西路与") == containing("皖西路与")
    assert ids(client, q="小学门口") == containing("小学门口") and ids(client, q="小学门口")
    assert ids(client, q="霍") == containing("霍")  # one character: the LIKE alone
    assert ids(client, q="k12") == ["34150201001320000100"]  # letters are lower-cased
    assert ids(client, q="邮局") == ["34150201001320000100"]  # point common name
    # 山路 and 路口 are both in 梅山路与解放路路口, but 山路口 is in no name or address: the LIKE verifies
    assert ids(client, q="山路口") == containing("山路口") == []
    assert ids(client, q="341503000013") == expected(archive, lambda r: r["platform_id"].startswith("341503000013"))
    with_division = ids(client, q="路口", division="341500")
    assert with_division == crossing
    assert ids(client, q="路口", division="341503") == [c for c in crossing if c.startswith("341503")]


def test_bbox(client: TestClient, archive: list[dict[str, Any]]) -> None:
    sample = archive[8]
    box = (sample["longitude"] - 0.0025, sample["latitude"] - 0.0025, sample["longitude"] + 0.0125, 40.0)
    found = ids(client, bbox=",".join(str(v) for v in box))
    assert found == expected(
        archive,
        lambda r: box[0] <= r["longitude"] <= box[2] and box[1] <= r["latitude"] <= box[3],
    )
    assert sample["platform_id"] in found and 0 < len(found) < len(archive)


@pytest.mark.parametrize("sort", ["platform_id", "name", "install_time", "updated_at"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sorting_and_keyset_pages_have_no_gaps_or_duplicates(
    client: TestClient, archive: list[dict[str, Any]], sort: str, order: str
) -> None:
    everything = list(pages(client, sort=sort, order=order, limit=500))
    assert len(everything) == len(archive)

    def key(camera: dict[str, Any]) -> tuple[Any, ...]:
        value = camera[sort]
        return (value is not None, value or "", camera["id"])  # NULL install times first when ascending

    assert everything == sorted(everything, key=key, reverse=order == "desc")
    paged = list(pages(client, sort=sort, order=order, limit=7))
    assert [c["platform_id"] for c in paged] == [c["platform_id"] for c in everything]


def test_keyset_pages_with_a_division_and_text_filter(
    client: TestClient, archive: list[dict[str, Any]], plan: str
) -> None:
    for sort in ("platform_id", "name", "install_time"):
        whole = [c["platform_id"] for c in pages(client, q="路", division="341500", sort=sort, limit=500)]
        paged = [c["platform_id"] for c in pages(client, q="路", division="341500", sort=sort, limit=3)]
        assert paged == whole and len(whole) > 10


def test_total_only_when_asked(client: TestClient, archive: list[dict[str, Any]]) -> None:
    body = client.get("/api/v1/cameras", params={"division": "341503", "limit": 2}).json()
    assert body["total"] is None and body["next_cursor"]
    body = client.get("/api/v1/cameras", params={"division": "341503", "limit": 2, "with_total": True}).json()
    assert body["total"] == len(expected(archive, lambda r: r["division_code"] == "341503"))
    body = client.get("/api/v1/cameras", params={"q": "路口", "with_total": "true", "limit": 1}).json()
    assert body["total"] == len(expected(archive, lambda r: "路口" in r["name"] or "路口" in r["install_address"]))


def test_a_camera_carries_names_beside_codes(client: TestClient, archive: list[dict[str, Any]]) -> None:
    camera = client.get(f"/api/v1/cameras/{archive[1]['platform_id']}").json()
    assert camera["division_name"] == "安徽省六安市裕安区"
    assert camera["owner_unit"] == "JT" and camera["owner_unit_name"] == "六安市交通运输局"
    assert camera["source"] == "import" and camera["has_stream_credentials"] is False
    assert "search_text" not in camera and "stream_credentials" not in camera
