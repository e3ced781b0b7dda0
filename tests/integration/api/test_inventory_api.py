"""POST /api/v1/inventory/imports (run in a worker process), the error reports, the export, governance, units
and the naming rule, on both databases."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from xueliang.sim.inventory import HEADERS, sample_rows

MakeCamera = Callable[..., dict[str, Any]]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook_bytes(rows: list[dict[str, str]]) -> bytes:
    """A department's sheet: a title row above the header, Chinese headers, labels instead of codes."""
    book = Workbook()
    sheet = book.active
    sheet.append(["六安市公共安全视频资源整合接入清单"])
    sheet.append(list(HEADERS))
    for row in rows:
        sheet.append([row.get(h, "") for h in HEADERS])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client: TestClient, data: bytes, name: str = "交通局清单.xlsx", **form: Any) -> Any:
    return client.post("/api/v1/inventory/imports", files={"file": (name, data, XLSX)}, data=form)


def camera_count(client: TestClient) -> int:
    return int(client.get("/api/v1/cameras", params={"with_total": True, "limit": 1}).json()["total"])


def test_a_messy_sheet_is_rejected_with_a_report_then_accepted_when_fixed(client: TestClient) -> None:
    rows = list(sample_rows(8, seed=5))
    broken = [dict(r) for r in rows]
    broken[2]["摄像机类型"] = "飞碟"
    broken[5]["经度"] = "东经116度"
    response = upload(client, workbook_bytes(broken))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "import_rejected" and "错误报告" in body["message_zh"]
    summary = body["detail"]
    assert (summary["status"], summary["rows_total"], summary["rows_rejected"]) == ("rejected", 8, 2)
    located = {(p["row_number"], p["column"].split(" ")[0]) for p in summary["problems"] if p["severity"] == "error"}
    assert (5, "G") in located and (8, "E") in located  # title row 1, header row 2: data from row 3
    assert camera_count(client) == 0

    report = client.get(summary["report_xlsx_url"])
    assert report.status_code == 200 and report.headers["content-type"] == XLSX
    assert "交通局清单.errors.xlsx" in unquote(report.headers["content-disposition"])
    cells = [c for row in load_workbook(io.BytesIO(report.content)).active.iter_rows(values_only=True) for c in row]
    assert "飞碟" in cells
    document = json.loads(client.get(summary["report_json_url"]).content)
    assert any(p["value"] == "飞碟" for p in document["problems"])

    job = client.get(f"/api/v1/inventory/imports/{summary['job_id']}").json()
    assert job["status"] == "rejected" and job["error_count"] == summary["error_count"]

    accepted = upload(client, workbook_bytes(rows))
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["rows_created"] == 8 and accepted.json()["status"] == "committed"
    assert {u["name"] for u in accepted.json()["created_units"]} <= {r["建设单位"] for r in rows}
    assert camera_count(client) == 8
    assert client.get(f"/api/v1/inventory/imports/{accepted.json()['job_id']}/report.xlsx").status_code == 404


def test_dry_run_strict_units_and_upsert_through_the_api(client: TestClient, units: dict[str, str]) -> None:
    rows = list(sample_rows(3, seed=9))
    data = workbook_bytes(rows)
    dry = upload(client, data, dry_run="true")
    assert dry.status_code == 200 and dry.json()["status"] == "validated" and camera_count(client) == 0
    strict = upload(client, data, strict_units="true")
    assert strict.status_code == 422
    assert {p["rule"] for p in strict.json()["detail"]["problems"] if p["severity"] == "error"} == {"unit.unknown"}
    assert upload(client, data, unit="GA").status_code == 200
    again = upload(client, data)
    assert again.status_code == 422  # create mode: the IDs exist now
    upsert = upload(client, data, mode="upsert")
    assert upsert.status_code == 200 and upsert.json()["rows_updated"] == 3
    assert upload(client, data, unit="NOPE").json()["error"] == "invalid_options"


def test_unreadable_upload_is_rejected_with_a_report(client: TestClient) -> None:
    response = client.post("/api/v1/inventory/imports", files={"file": ("notes.xlsx", b"this is not a workbook", XLSX)})
    assert response.status_code == 422
    problems = response.json()["detail"]["problems"]
    assert problems[0]["rule"] == "table.unreadable" and problems[0]["message_en"]


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "geojson"])
def test_export_download(client: TestClient, fmt: str) -> None:
    assert upload(client, workbook_bytes(list(sample_rows(5, seed=3)))).status_code == 200
    response = client.get("/api/v1/inventory/export", params={"format": fmt, "division": "341500"})
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]).startswith("资源清单-341500-")
    if fmt == "csv":
        assert response.content.decode("utf-8-sig").count("\n") == 6
    elif fmt == "geojson":
        assert len(response.json()["features"]) == 5
    else:
        assert response.content[:2] == b"PK"
    assert client.get("/api/v1/inventory/export", params={"format": "pdf"}).status_code == 422


def test_governance_report(client: TestClient, units: dict[str, str], make_camera: MakeCamera) -> None:
    first = make_camera(1, owner_unit="GA")
    second = make_camera(2, owner_unit="JT", latitude=first["latitude"] + 0.00005)  # 5.6 m north
    for raw in (first, second):
        assert client.put(f"/api/v1/cameras/{raw['platform_id']}", json=raw).status_code == 201
    report = client.get("/api/v1/governance/report").json()
    assert report["total"]["cameras"] == 2 and len(report["duplicates"]) == 1
    assert client.get("/api/v1/governance/report", params={"distance_m": 3}).json()["duplicates"] == []
    scoped = client.get("/api/v1/governance/report", params={"unit": "JT"}).json()
    assert scoped["total"]["cameras"] == 1
    assert client.get("/api/v1/governance/report", params={"unit": "??"}).status_code == 422


def test_units_and_naming_rule(client: TestClient, units: dict[str, str], make_camera: MakeCamera) -> None:
    listed = {u["code"]: u["name"] for u in client.get("/api/v1/units").json()}
    assert listed.pop("PLATFORM") == "平台运营单位 / platform operator"  # the signed-in admin's own unit
    assert listed.pop("BUREAU") == "数据资源管理局 / data bureau"  # approves share requests
    assert listed == units
    assert client.get("/api/v1/settings/naming-rule").json()["template"] == "{division}{address}{direction}"
    raw = make_camera(1)  # 金安区梅山路与解放路路口东: follows the default rule
    assert client.put(f"/api/v1/cameras/{raw['platform_id']}", json=raw).json()["warnings"] == []
    rule = client.put("/api/v1/settings/naming-rule", json={"template": "{division}{address}路段{direction}"})
    assert rule.status_code == 200 and "路段" in rule.json()["description_zh"]
    assert client.get("/api/v1/settings/naming-rule").json()["template"] == "{division}{address}路段{direction}"
    warnings = client.put(f"/api/v1/cameras/{raw['platform_id']}", json=raw).json()["warnings"]
    assert [w["rule"] for w in warnings] == ["name.naming_rule"]
    bad = client.put("/api/v1/settings/naming-rule", json={"template": "{county}{address}"})
    assert bad.status_code == 422 and "county" in bad.json()["message_en"]
