"""The import template: every field, one valid example row, dropdowns with the code labels, a legend."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from xueliang.catalog.headers import match
from xueliang.catalog.sheets import read_table
from xueliang.catalog.template import (
    CODE_SHEET,
    EXAMPLE_ID,
    LEGEND_SHEET,
    MEANINGS,
    REQUIRED_FIELDS,
    TEMPLATE_SHEET,
    template_columns,
    write_template,
)
from xueliang.domain.archive import FIELDS, FieldKind, ValidationContext
from xueliang.domain.validator import check_camera


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "资源清单模板.xlsx"
    write_template(path)
    return path


def test_every_field_has_a_header_and_required_ones_are_marked(template: Path) -> None:
    workbook = openpyxl.load_workbook(template)
    assert workbook.sheetnames[:2] == [TEMPLATE_SHEET, LEGEND_SHEET]
    assert workbook[CODE_SHEET].sheet_state == "hidden"
    sheet = workbook[TEMPLATE_SHEET]
    header = [cell.value for cell in sheet[1]]
    for spec in FIELDS:
        expected = f"*{spec.zh}" if spec.name in REQUIRED_FIELDS else spec.zh
        assert expected in header, spec.name
    assert header.index("坐标系") == header.index("纬度") + 1
    assert len(header) == len(FIELDS) + 1
    assert [match(h)[0] for h in header] == [name for name, _h in template_columns()]  # type: ignore[index]
    assert sheet.freeze_panes == "C2"


def test_example_row_is_a_valid_luan_camera(template: Path) -> None:
    sheet = openpyxl.load_workbook(template)[TEMPLATE_SHEET]
    fields = [name for name, _h in template_columns()]
    example = {name: cell.value for name, cell in zip(fields, sheet[2], strict=True) if cell.value is not None}
    assert example["platform_id"] == EXAMPLE_ID
    assert str(example["platform_id"]).startswith(str(example["division_code"]))
    raw = {k: v.date() if hasattr(v, "date") else v for k, v in example.items()}
    record, findings = check_camera(raw, ValidationContext())
    assert [f for f in findings if f.is_error] == []
    assert [f.rule for f in findings] == []  # no warning either: the example shows a complete class 1 point
    assert record.camera_type == "1" and record.point_class == "1" and record.network == "video_private"


def test_id_and_code_columns_are_text_formatted(template: Path) -> None:
    sheet = openpyxl.load_workbook(template)[TEMPLATE_SHEET]
    letters = {cell.value: cell.column_letter for cell in sheet[1]}
    for name in ("*设备编码", "行政区划代码", "联系方式"):
        assert sheet.column_dimensions[letters[name]].number_format == "@", name
    assert sheet.column_dimensions[letters["安装时间"]].number_format == "yyyy-mm-dd"
    assert sheet.column_dimensions[letters["经度"]].number_format == "General"


def test_dropdowns_list_the_labels_of_each_code_table(template: Path) -> None:
    workbook = openpyxl.load_workbook(template)
    sheet, codes = workbook[TEMPLATE_SHEET], workbook[CODE_SHEET]
    header = [cell.value for cell in sheet[1]]
    by_column: dict[str, str] = {}
    for validation in sheet.data_validations.dataValidation:
        assert validation.type == "list" and validation.errorStyle == "warning"
        first = str(validation.sqref).split(":")[0]
        by_column[first.rstrip("0123456789")] = validation.formula1
    letters = {cell.value: cell.column_letter for cell in sheet[1]}

    def listed(formula: str) -> list[str]:
        cells = formula.split("!")[1].replace("$", "")
        return [c.value for row in codes[cells] for c in row]

    for spec in FIELDS:
        letter = letters[f"*{spec.zh}" if spec.name in REQUIRED_FIELDS else spec.zh]
        if spec.table is not None:
            assert listed(by_column[letter]) == [e.zh for e in spec.table.entries], spec.name
        elif spec.kind is FieldKind.BOOL:
            assert listed(by_column[letter]) == ["是", "否"]
        else:
            assert letter not in by_column
    assert listed(by_column[letters["坐标系"]]) == ["WGS-84", "GCJ-02", "BD-09"]
    assert len(header) == len(letters)


def test_legend_lists_every_field_with_meaning_codes_and_the_crs_note(template: Path) -> None:
    legend = openpyxl.load_workbook(template)[LEGEND_SHEET]
    text = "\n".join(str(c) for row in legend.iter_rows(values_only=True) for c in row if c is not None)
    rows = {row[2]: row for row in legend.iter_rows(values_only=True) if row[2]}
    for spec in FIELDS:
        row = rows[spec.name]
        assert row[0] == spec.zh and row[1] == spec.en
        assert row[4] == MEANINGS[spec.name][0] or spec.name == "longitude"
        if spec.table is not None:
            assert row[6] == spec.table.accepted("zh-CN") and row[7] == spec.table.accepted("en")
    assert rows["platform_id"][3] == "是" and rows["remark"][3] is None
    assert "crs" in rows
    for words in ("WGS-84", "GCJ-02", "BD-09", "坐标系", "--crs"):
        assert words in text


def test_meanings_cover_every_field() -> None:
    assert set(MEANINGS) == {spec.name for spec in FIELDS}


def test_the_template_reads_back_with_every_column_mapped_and_no_rows(template: Path) -> None:
    table = read_table(template.read_bytes(), template.name)
    assert table.sheet == TEMPLATE_SHEET and table.header_row == 1
    assert table.unknown_headers == []
    assert all(column.field for column in table.columns)
    assert table.rows == []  # the example row is left out
