"""The resource list export on both databases: filters, grouping by division then unit, the three formats."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from xueliang.app import Platform
from xueliang.catalog.errors import InvalidQueryError
from xueliang.catalog.importer import ImportOptions
from xueliang.catalog.service import CameraQuery
from xueliang.catalog.sheets import read_table
from xueliang.catalog.table import SourceTable

MakeCamera = Callable[..., dict[str, Any]]
MakeTable = Callable[..., SourceTable]


@pytest.fixture
def archive(
    platform: Platform, units: dict[str, str], make_camera: MakeCamera, make_table: MakeTable
) -> list[dict[str, Any]]:
    rows = [
        make_camera(1, "341503", owner_unit="JT"),
        make_camera(2, "341502", owner_unit="JT", network="gov_extranet", network_digit="6"),
        make_camera(3, "341502", owner_unit="GA"),
        make_camera(4, "341503", owner_unit="GA", longitude=None, latitude=None),
        make_camera(5, "341522", owner_unit="CG"),
    ]
    assert platform.catalog.import_table(make_table(rows), ImportOptions()).status == "committed"
    return rows


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_is_grouped_by_division_then_unit(
    platform: Platform, archive: list[dict[str, Any]], tmp_path: Path
) -> None:
    out = tmp_path / "list.csv"
    assert platform.catalog.export_file(CameraQuery(), "csv", out) == 5
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel opens the Chinese text correctly
    rows = read_csv(out)
    ids = [archive[i]["platform_id"] for i in (2, 1, 3, 0, 4)]  # 341502 GA, JT; 341503 GA, JT; 341522
    assert [r["设备编码"] for r in rows] == ids
    assert rows[0]["行政区划名称"] == "安徽省六安市金安区" and rows[0]["建设单位"] == "六安市公安局"
    assert rows[1]["所属网络"] in {"电子政务外网", "gov_extranet"}


def test_filters_apply_to_the_export(platform: Platform, archive: list[dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "jt.csv"
    count = platform.catalog.export_file(CameraQuery(division="341500", unit="六安市交通运输局"), "csv", out)
    assert count == 2 and {r["设备编码"] for r in read_csv(out)} == {
        archive[0]["platform_id"],
        archive[1]["platform_id"],
    }
    platform.catalog.export_file(CameraQuery(network="电子政务外网"), "csv", out)
    assert [r["设备编码"] for r in read_csv(out)] == [archive[1]["platform_id"]]
    with pytest.raises(InvalidQueryError):
        platform.catalog.export_file(CameraQuery(network="卫星网"), "csv", tmp_path / "never.csv")
    assert not (tmp_path / "never.csv").exists()


def test_xlsx_and_geojson(platform: Platform, archive: list[dict[str, Any]], tmp_path: Path) -> None:
    xlsx = tmp_path / "list.xlsx"
    assert platform.catalog.export_file(CameraQuery(division="341502"), "xlsx", xlsx) == 2
    workbook = load_workbook(xlsx, read_only=True)
    assert {"资源清单", "汇总"} <= set(workbook.sheetnames)
    cells = [str(c) for row in workbook["资源清单"].iter_rows(values_only=True) for c in row if c is not None]
    assert archive[2]["platform_id"] in cells and "安徽省六安市金安区" in cells
    geojson = tmp_path / "list.geojson"
    assert platform.catalog.export_file(CameraQuery(division="341503"), "geojson", geojson) == 1  # one lacks coords
    document = json.loads(geojson.read_text(encoding="utf-8"))
    [feature] = document["features"]
    assert feature["id"] == archive[0]["platform_id"]
    assert feature["geometry"]["coordinates"] == [archive[0]["longitude"], archive[0]["latitude"]]


def test_an_exported_list_imports_again(platform: Platform, archive: list[dict[str, Any]], tmp_path: Path) -> None:
    out = tmp_path / "list.csv"
    platform.catalog.export_file(CameraQuery(), "csv", out)
    result = platform.catalog.import_table(read_table(out.read_bytes(), out.name), ImportOptions(mode="upsert"))
    assert result.status == "committed", [p for p in result.problems if p.severity == "error"]
    assert (result.rows_created, result.rows_updated) == (0, 5)
