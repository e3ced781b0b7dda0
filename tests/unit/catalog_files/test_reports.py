"""Error reports a clerk can act on: xlsx (openpyxl reads it, Chinese intact) and JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import openpyxl
import pytest

from xueliang.catalog.reports import REPORT_SHEET, SUMMARY_SHEET, error_report_bytes, write_error_report
from xueliang.catalog.table import RowProblem

PROBLEMS = [
    RowProblem(9, "F 经度", "longitude", "117.9, 30.5", "warning", "name.naming_rule",
               "设备名称不符合命名规则", "the name does not follow the naming rule"),
    RowProblem(8, "H 设备类型", "camera_type", "飞碟", "error", "code.unknown",
               "摄像机类型的值“飞碟”不在代码表中，可填：1 球机、2 半球",
               "Camera type value '飞碟' is not in the code table"),
    RowProblem(4, "B 国标编码", "platform_id", "3.41503000413202e+19", "error", "id.not_digits",
               "设备编码应为20位数字", "the device ID must be 20 digits"),
    RowProblem(0, "", "", "", "warning", "column.unknown", "列“负责民警”无法识别，已忽略", "column '负责民警' ignored"),
    RowProblem(5, "A 设备编码", "platform_id", "=SUM(A1)", "error", "id.not_digits", "设备编码应为20位数字", "digits"),
]  # fmt: skip


def test_xlsx_report_opens_with_chinese_intact_errors_first(tmp_path: Path) -> None:
    path = tmp_path / "清单_错误报告.xlsx"
    write_error_report(PROBLEMS, path, None, summary={"文件 File": "交通局.xlsx", "rows_total": 6})
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == [REPORT_SHEET, SUMMARY_SHEET]
    sheet = workbook[REPORT_SHEET]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("行号 Row", "列 Column", "值 Value", "级别 Severity", "问题 Problem (zh)", "Problem (en)")
    assert [(r[0], r[3]) for r in rows[1:]] == [
        (4, "错误 error"),
        (5, "错误 error"),
        (8, "错误 error"),
        (0, "警告 warning"),
        (9, "警告 warning"),
    ]
    assert rows[3][1] == "H 设备类型" and rows[3][2] == "飞碟"
    assert rows[3][4] == "摄像机类型的值“飞碟”不在代码表中，可填：1 球机、2 半球"
    assert rows[2][2] == "=SUM(A1)"  # a value that looks like a formula is shown as text, not evaluated
    assert rows[1][2] == "3.41503000413202e+19"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F6"
    assert sheet.column_dimensions["E"].width > 40

    summary = {row[0]: row[1] for row in workbook[SUMMARY_SHEET].iter_rows(values_only=True) if row[0]}
    assert summary["文件 File"] == "交通局.xlsx"
    assert summary["rows_total"] == 6
    assert summary["errors"] == 3 and summary["warnings"] == 2 and summary["rows_with_errors"] == 3
    assert summary["错误 error: id.not_digits"] == 2


def test_json_report_structure(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_error_report(PROBLEMS, None, path, summary={"filename": "交通局.xlsx"})
    raw = path.read_bytes()
    assert "飞碟".encode() in raw  # UTF-8, not \\u escapes
    document = json.loads(raw.decode("utf-8"))
    assert set(document) == {"summary", "problems"}
    assert document["summary"] == {"filename": "交通局.xlsx", "errors": 3, "warnings": 2, "rows_with_errors": 3}
    first = document["problems"][0]
    assert first == {
        "row": 4,
        "column": "B 国标编码",
        "field": "platform_id",
        "value": "3.41503000413202e+19",
        "severity": "error",
        "rule": "id.not_digits",
        "message_zh": "设备编码应为20位数字",
        "message_en": "the device ID must be 20 digits",
    }
    assert [p["severity"] for p in document["problems"]] == ["error"] * 3 + ["warning"] * 2


def test_report_bytes_in_both_formats() -> None:
    xlsx = error_report_bytes(PROBLEMS, "xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert workbook[REPORT_SHEET].max_row == len(PROBLEMS) + 1
    document = json.loads(error_report_bytes(PROBLEMS, "json", summary={"a": [1, 2]}))
    assert document["summary"]["a"] == [1, 2] and len(document["problems"]) == 5
    with pytest.raises(ValueError, match="pdf"):
        error_report_bytes(PROBLEMS, "pdf")


def test_an_empty_report_is_still_a_valid_workbook(tmp_path: Path) -> None:
    write_error_report([], tmp_path / "r.xlsx", tmp_path / "r.json")
    assert openpyxl.load_workbook(tmp_path / "r.xlsx")[REPORT_SHEET].max_row == 1
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["problems"] == []


def test_a_large_report_streams(tmp_path: Path) -> None:
    many = [PROBLEMS[1]] * 20_000
    write_error_report(many, tmp_path / "big.xlsx", None)
    sheet = openpyxl.load_workbook(tmp_path / "big.xlsx", read_only=True)[REPORT_SHEET]
    assert sheet.max_row == 20_001
