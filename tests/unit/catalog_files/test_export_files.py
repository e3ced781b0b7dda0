"""The resource list export: xlsx with a summary pivot, csv with BOM, GeoJSON in [lon, lat]."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
from pathlib import Path

import openpyxl
import pytest

from xueliang.catalog.export_files import LIST_SHEET, SUMMARY_SHEET, export, write_export
from xueliang.catalog.sheets import read_table
from xueliang.catalog.table import ExportRow
from xueliang.domain.archive import CameraRecord

JINAN, YUAN = "安徽省六安市金安区", "安徽省六安市裕安区"
POLICE, TRAFFIC = ("U001", "六安市公安局"), ("U002", "六安市交通运输局")


def _row(serial: int, division: str, unit: tuple[str, str], camera_type: str | None, network: str | None,
         coords: tuple[float, float] | None = (116.53, 31.77)) -> ExportRow:  # fmt: skip
    code = "341502" if division == JINAN else "341503"
    record = CameraRecord(
        platform_id=f"{code}0000132{0}{serial:06d}",
        name=f"{division[-3:]}梅山路{serial}号东",
        division_code=code,
        camera_type=camera_type,
        point_class="2",
        network=network,
        direction="1",
        owner_unit=unit[0],
        management_unit=unit[0],
        longitude=coords[0] if coords else None,
        latitude=coords[1] if coords else None,
        install_time=dt.date(2021, 6, 18),
        record_save_days=30,
        install_height=6.0,
        shared=True,
    )
    return ExportRow(record, division, unit[1], unit[1])


ROWS = [
    _row(1, JINAN, POLICE, "1", "video_private"),
    _row(2, JINAN, POLICE, "1", "video_private"),
    _row(3, JINAN, POLICE, "3", "gov_extranet"),
    _row(4, JINAN, TRAFFIC, "1", "industry_private", coords=None),
    _row(5, YUAN, POLICE, "2", "video_private"),
    _row(6, YUAN, POLICE, None, None, coords=(116.45, 31.72)),
]


def test_xlsx_resource_list(tmp_path: Path) -> None:
    out = tmp_path / "资源清单.xlsx"
    assert write_export(iter(ROWS), "xlsx", out) == 6
    workbook = openpyxl.load_workbook(out)
    assert workbook.sheetnames == [LIST_SHEET, SUMMARY_SHEET]
    sheet = workbook[LIST_SHEET]
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[:5] == ("序号", "行政区划名称", "建设单位", "设备编码", "设备名称")
    first = dict(zip(header, rows[1], strict=True))
    assert first["序号"] == 1
    assert (
        first["行政区划名称"] == JINAN and first["建设单位"] == "六安市公安局" and first["管理单位"] == "六安市公安局"
    )
    assert first["设备编码"] == ROWS[0].record.platform_id
    assert first["摄像机类型"] == "球机" and first["所属网络"] == "视频专网" and first["点位类型"] == "二类点"
    assert first["监视方向"] == "东" and first["是否共享"] == "是"
    assert first["经度"] == 116.53 and first["纬度"] == 31.77 and first["安装高度(米)"] == 6
    assert first["安装时间"] == dt.datetime(2021, 6, 18)
    assert first["建设单位编码"] == "U001"
    assert len(rows) == 7
    assert sheet.freeze_panes == "E2"
    assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith("A1:")


def test_xlsx_summary_counts_by_division_unit_type_and_network(tmp_path: Path) -> None:
    out = tmp_path / "list.xlsx"
    write_export(ROWS, "xlsx", out)
    rows = list(openpyxl.load_workbook(out)[SUMMARY_SHEET].iter_rows(values_only=True))
    header = rows[0]
    assert header[:3] == ("行政区划", "建设单位", "摄像机类型")
    assert header[3:] == ("整合域", "视频专网", "电子政务外网", "行业专网", "互联网", "未填", "合计")
    table = {row[:3]: row[3:] for row in rows[1:]}
    assert table[JINAN, "六安市公安局", "球机"] == (0, 2, 0, 0, 0, 0, 2)
    assert table[JINAN, "六安市公安局", "固定枪机"] == (0, 0, 1, 0, 0, 0, 1)
    assert table[JINAN, "六安市公安局", "小计"] == (0, 2, 1, 0, 0, 0, 3)
    assert table[JINAN, "六安市交通运输局", "小计"] == (0, 0, 0, 1, 0, 0, 1)
    assert table[JINAN, "合计", None] == (0, 2, 1, 1, 0, 0, 4)
    assert table[YUAN, "六安市公安局", "未填"] == (0, 0, 0, 0, 0, 1, 1)
    assert table[YUAN, "合计", None] == (0, 1, 0, 0, 0, 1, 2)
    assert rows[-1][:3] == ("总计", None, None) and rows[-1][3:] == (0, 3, 1, 1, 0, 1, 6)
    # order: Jin'an's lines, its total, then Yu'an's
    assert [r[0] for r in rows[1:]].index(YUAN) > [r[1] for r in rows[1:]].index("合计")


def test_summary_groups_rows_that_arrive_out_of_order(tmp_path: Path) -> None:
    out = tmp_path / "list.xlsx"
    write_export([ROWS[0], ROWS[4], ROWS[1]], "xlsx", out)
    rows = list(openpyxl.load_workbook(out)[SUMMARY_SHEET].iter_rows(values_only=True))
    assert [r[:3] for r in rows[1:]] == [
        (JINAN, "六安市公安局", "球机"),
        (JINAN, "六安市公安局", "小计"),
        (JINAN, "合计", None),
        (YUAN, "六安市公安局", "半球"),
        (YUAN, "六安市公安局", "小计"),
        (YUAN, "合计", None),
        ("总计", None, None),
    ]
    assert rows[1][-1] == 2


def test_csv_has_a_bom_and_the_same_columns(tmp_path: Path) -> None:
    out, xlsx = tmp_path / "list.csv", tmp_path / "list.xlsx"
    assert write_export(ROWS, "csv", out) == 6
    write_export(ROWS, "xlsx", xlsx)
    raw = out.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header = tuple(next(openpyxl.load_workbook(xlsx)[LIST_SHEET].iter_rows(values_only=True)))
    assert tuple(rows[0]) == header
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["设备编码"] == ROWS[0].record.platform_id and first["摄像机类型"] == "球机"
    assert first["经度"] == "116.53" and first["安装高度(米)"] == "6" and first["安装时间"] == "2021-06-18"
    assert len(rows) == 7


def test_exported_csv_imports_again(tmp_path: Path) -> None:
    out = tmp_path / "list.csv"
    write_export(ROWS, "csv", out)
    table = read_table(out.read_bytes(), out.name)
    assert table.encoding == "utf-8-sig"
    assert sorted(table.unknown_headers) == ["建设单位编码", "管理单位编码", "行政区划名称"]
    assert [r.values["platform_id"] for r in table.rows] == [r.record.platform_id for r in ROWS]
    assert table.rows[0].values["owner_unit"] == "六安市公安局"


def test_english_headers_and_labels(tmp_path: Path) -> None:
    out = tmp_path / "list.csv"
    write_export(ROWS[:1], "csv", out, language="en")
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["Device ID"] == ROWS[0].record.platform_id
    assert first["Camera type"] == "dome" and first["Network"] == "video private network" and first["Shared"] == "yes"


def test_geojson_points_are_lon_lat_and_cameras_without_coordinates_are_counted(tmp_path: Path) -> None:
    out = tmp_path / "cameras.geojson"
    result = export(ROWS, "geojson", out)
    assert (result.written, result.without_coordinates) == (5, 1)
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["type"] == "FeatureCollection"
    assert document["without_coordinates"] == 1
    features = document["features"]
    assert len(features) == 5
    first = features[0]
    assert first["type"] == "Feature" and first["id"] == ROWS[0].record.platform_id
    assert first["geometry"] == {"type": "Point", "coordinates": [116.53, 31.77]}  # RFC 7946: longitude first
    props = first["properties"]
    assert props["camera_type"] == "1" and props["camera_type_label"] == "球机"
    assert props["division_name"] == JINAN and props["owner_unit_name"] == "六安市公安局"
    assert props["install_time"] == "2021-06-18" and props["shared"] is True
    assert ROWS[3].record.platform_id not in {f["id"] for f in features}
    assert write_export(ROWS, "geojson", out) == 5


def test_empty_export_and_unknown_format(tmp_path: Path) -> None:
    assert write_export([], "xlsx", tmp_path / "empty.xlsx") == 0
    assert openpyxl.load_workbook(tmp_path / "empty.xlsx")[SUMMARY_SHEET].max_row == 2  # header and 总计
    assert write_export([], "geojson", tmp_path / "empty.geojson") == 0
    assert json.loads((tmp_path / "empty.geojson").read_text(encoding="utf-8"))["features"] == []
    with pytest.raises(ValueError, match="shp"):
        write_export(ROWS, "shp", tmp_path / "x.shp")
    assert not (tmp_path / "x.shp").exists()


def test_a_failing_row_source_leaves_no_file(tmp_path: Path) -> None:
    def rows() -> object:
        yield ROWS[0]
        raise RuntimeError("database went away")

    out = tmp_path / "list.xlsx"
    with pytest.raises(RuntimeError):
        write_export(rows(), "xlsx", out)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
