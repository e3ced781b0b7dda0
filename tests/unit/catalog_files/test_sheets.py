"""read_table: departments' xlsx and csv files as they really arrive."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import openpyxl
import pytest
import xlsxwriter

from xueliang.catalog.sheets import cell_text, column_letter, read_table
from xueliang.catalog.table import TableError
from xueliang.catalog.template import EXAMPLE_ID, EXAMPLE_REMARK
from xueliang.domain.archive import ValidationContext
from xueliang.domain.validator import check_camera

if TYPE_CHECKING:
    from .conftest import Books

XlsxOf = Callable[[Sequence[Sequence[object]]], bytes]
ID1, ID2, ID3 = "34150200001320000001", "34150200001320000002", "34150200001320000003"


# ------------------------------------------------------------------------------------------------ header row


def test_header_below_two_merged_title_rows(books: Books) -> None:
    workbook, sheet = books.sheet(
        [
            ["六安市公共视频资源清单"],
            ["填报单位：六安市城市管理局", None, None, "填报日期：2024-03-01"],
            ["设备编码", "设备名称", "经度", "纬度"],
            [ID1, "金安区梅山路东", 116.53, 31.77],
        ]
    )
    sheet.merge_cells("A1:D1")
    sheet.merge_cells("A2:C2")
    table = read_table(books.save(workbook), "城管局.xlsx")
    assert table.header_row == 3
    assert [c.field for c in table.columns] == ["platform_id", "name", "longitude", "latitude"]
    assert len(table.rows) == 1
    assert table.rows[0].row_number == 4
    assert table.rows[0].values == {
        "platform_id": ID1,
        "name": "金安区梅山路东",
        "longitude": "116.53",
        "latitude": "31.77",
    }


def test_header_and_data_not_starting_in_a1(xlsx_of: XlsxOf) -> None:
    data = xlsx_of([[], [], [None, None, "国标编码", "点位名称"], [None, None, ID1, "甲"]])
    table = read_table(data, "x.xlsx")
    assert table.header_row == 3
    assert [(c.letter, c.field) for c in table.columns] == [("C", "platform_id"), ("D", "name")]
    assert table.rows[0].row_number == 4


def test_the_row_with_the_most_recognised_headers_wins(xlsx_of: XlsxOf) -> None:
    data = xlsx_of(
        [
            ["设备名称说明：按区划+地址+方向", "经度", None],  # a note that happens to contain header words
            ["设备编码", "设备名称", "经度", "纬度"],
            [ID1, "甲", 116.5, 31.7],
        ]
    )
    assert read_table(data, "x.xlsx").header_row == 2


def test_two_level_header_with_merged_header_cells(books: Books) -> None:
    workbook, sheet = books.sheet(
        [
            ["设备编码", "设备名称", "位置信息", None, "建设单位"],
            [None, None, "经度", "纬度", None],
            [ID1, "甲", 116.5, 31.7, "六安市公安局"],
        ]
    )
    for cells in ("A1:A2", "B1:B2", "C1:D1", "E1:E2"):
        sheet.merge_cells(cells)
    table = read_table(books.save(workbook), "x.xlsx")
    assert table.header_row == 2
    assert [c.field for c in table.columns] == ["platform_id", "name", "longitude", "latitude", "owner_unit"]
    assert [r.row_number for r in table.rows] == [3]
    assert table.rows[0].values["longitude"] == "116.5"


def test_no_header_row(xlsx_of: XlsxOf) -> None:
    with pytest.raises(TableError) as caught:
        read_table(xlsx_of([["甲", "乙"], [1, 2]]), "x.xlsx")
    assert "表头" in caught.value.zh and "header row" in caught.value.en


def test_headers_without_an_id_or_name_column_are_not_a_header(xlsx_of: XlsxOf) -> None:
    with pytest.raises(TableError):
        read_table(xlsx_of([["经度", "纬度", "备注"], [116.5, 31.7, ""]]), "x.xlsx")


def test_header_beyond_the_scanned_rows_is_not_found(xlsx_of: XlsxOf) -> None:
    rows: list[list[object]] = [["说明"]] * 20 + [["设备编码", "设备名称"], [ID1, "甲"]]
    with pytest.raises(TableError, match="first 20 rows"):
        read_table(xlsx_of(rows), "x.xlsx")


# ------------------------------------------------------------------------------------------------ cells


def test_vertically_merged_data_cells_are_filled_down(books: Books) -> None:
    workbook, sheet = books.sheet(
        [
            ["设备编码", "设备名称", "建设单位", "管理单位"],
            [ID1, "甲", "六安市交通运输局", "六安市公安局"],
            [ID2, "乙", None, None],
            [ID3, "丙", None, "六安市城管局"],
        ]
    )
    sheet.merge_cells("C2:C4")
    sheet.merge_cells("D2:D3")
    rows = read_table(books.save(workbook), "x.xlsx").rows
    assert [r.values["owner_unit"] for r in rows] == ["六安市交通运输局"] * 3
    assert [r.values["management_unit"] for r in rows] == ["六安市公安局", "六安市公安局", "六安市城管局"]


def test_a_merge_over_a_blank_line_does_not_make_a_row(books: Books) -> None:
    workbook, sheet = books.sheet([["设备编码", "设备名称", "建设单位"], [ID1, "甲", "交通局"], [], [ID2, "乙", None]])
    sheet.merge_cells("C2:C4")
    rows = read_table(books.save(workbook), "x.xlsx").rows
    assert [(r.row_number, r.values["owner_unit"]) for r in rows] == [(2, "交通局"), (4, "交通局")]


def test_a_block_merge_fills_its_first_column_only(books: Books) -> None:
    workbook, sheet = books.sheet([["设备编码", "设备名称", "备注", "用途"], [ID1, "甲", "同上", "治安"], [ID2, "乙"]])
    sheet.merge_cells("C2:D3")
    rows = read_table(books.save(workbook), "x.xlsx").rows
    assert rows[1].values == {"platform_id": ID2, "name": "乙", "remark": "同上"}


def test_numbers_stored_as_text_stay_as_written(xlsx_of: XlsxOf) -> None:
    data = xlsx_of(
        [["设备编码", "设备名称", "经度", "行政区划代码", "录像保存天数"], [ID1, "甲", " 116.50 ", "341502", "030"]]
    )
    values = read_table(data, "x.xlsx").rows[0].values
    assert values == {
        "platform_id": ID1,
        "name": "甲",
        "longitude": "116.50",
        "division_code": "341502",
        "record_save_days": "030",
    }


def test_numbers_become_exact_text(xlsx_of: XlsxOf) -> None:
    data = xlsx_of(
        [["设备编码", "设备名称", "经度", "纬度", "行政区划代码", "安装高度"], [ID1, "甲", 116.5, 90.0, 341502, 0.1]]
    )
    values = read_table(data, "x.xlsx").rows[0].values
    assert values["longitude"] == "116.5"
    assert values["latitude"] == "90"
    assert values["division_code"] == "341502"
    assert values["install_height"] == "0.1"


def test_an_id_excel_turned_into_a_number_is_not_given_invented_digits(xlsx_of: XlsxOf) -> None:
    data = xlsx_of([["设备编码", "设备名称"], [3.41502000013200e19, "甲"], [34150200001320003, "乙"]])
    rows = read_table(data, "x.xlsx").rows
    assert rows[0].values["platform_id"] == "3.415020000132e+19"
    assert "e+" in rows[1].values["platform_id"]
    _record, findings = check_camera(rows[0].values, ValidationContext())
    assert any(f.is_error and f.field == "platform_id" for f in findings)


def test_dates_as_date_cells_and_as_text(xlsx_of: XlsxOf) -> None:
    data = xlsx_of(
        [
            ["设备编码", "设备名称", "安装时间", "备注"],
            [ID1, "甲", dt.datetime(2021, 5, 6), dt.datetime(2021, 5, 6, 8, 30)],
            [ID2, "乙", "2021/5/6", None],
            [ID3, "丙", dt.datetime(2021, 5, 6, 14, 0), None],
        ]
    )
    rows = read_table(data, "x.xlsx").rows
    assert rows[0].values["install_time"] == "2021-05-06"
    assert rows[0].values["remark"] == "2021-05-06 08:30:00"
    assert rows[1].values["install_time"] == "2021/5/6"
    assert rows[2].values["install_time"] == "2021-05-06"  # a date field keeps the date


def test_cell_text() -> None:
    assert cell_text("  a b \u3000") == "a b"
    assert cell_text(30.0) == "30"
    assert cell_text(-3.0) == "-3"
    assert cell_text(116.123456) == "116.123456"
    assert cell_text(3.41502e19) == "3.41502e+19"
    assert cell_text(True) == "TRUE"
    assert cell_text(dt.date(2020, 1, 2)) == "2020-01-02"
    assert cell_text(None) == ""
    assert cell_text(7) == "7"


def test_blank_rows_and_columns_trailing_and_in_between(books: Books) -> None:
    workbook, sheet = books.sheet(
        [["设备编码", "设备名称", None, "负责民警"], [ID1, "甲"], [], [None, "  "], [ID2, "乙"]]
    )
    for row in range(6, 30):  # formatted but empty cells, as sheets carry them
        sheet.cell(row, 8).number_format = "@"
        sheet.cell(row, 2).value = ""
    table = read_table(books.save(workbook), "x.xlsx")
    assert [(r.row_number, r.values["platform_id"]) for r in table.rows] == [(2, ID1), (5, ID2)]
    assert [c.letter for c in table.columns] == ["A", "B", "D"]
    assert table.unknown_headers == ["负责民警"]


def test_rows_with_only_a_row_number_are_blank(xlsx_of: XlsxOf) -> None:
    table = read_table(xlsx_of([["序号", "设备编码", "设备名称"], [1, ID1, "甲"], [2], [3]]), "x.xlsx")
    assert [r.row_number for r in table.rows] == [2]
    assert table.unknown_headers == []


def test_a_signature_footer_is_not_a_camera(xlsx_of: XlsxOf) -> None:
    data = xlsx_of([["设备编码", "设备名称"], [ID1, "甲"], [], ["填表人：王五"], ["审核人: 李四"]])
    assert [r.row_number for r in read_table(data, "x.xlsx").rows] == [2]


def test_a_one_cell_row_in_the_middle_is_kept(xlsx_of: XlsxOf) -> None:
    data = xlsx_of([["设备编码", "设备名称"], ["填表人：王五"], [ID1, "甲"]])
    assert [r.row_number for r in read_table(data, "x.xlsx").rows] == [2, 3]


def test_the_template_example_row_is_left_out(xlsx_of: XlsxOf) -> None:
    data = xlsx_of([["设备编码", "设备名称", "备注"], [EXAMPLE_ID, "金安区示例东", EXAMPLE_REMARK], [ID2, "乙", ""]])
    assert [r.values["platform_id"] for r in read_table(data, "x.xlsx").rows] == [ID2]


def test_a_loosely_named_column_beside_a_precise_one_is_left_out(xlsx_of: XlsxOf) -> None:
    table = read_table(xlsx_of([["设备编号", "国标编码", "设备名称"], ["JT-0001", ID1, "甲"]]), "x.xlsx")
    assert [c.field for c in table.columns] == [None, "platform_id", "name"]
    assert table.unknown_headers == ["设备编号"]
    assert table.rows[0].values == {"platform_id": ID1, "name": "甲"}


def test_duplicate_columns_are_refused(xlsx_of: XlsxOf) -> None:
    with pytest.raises(TableError) as caught:
        read_table(xlsx_of([["设备编码", "设备名称", "国标编码"], [ID1, "甲", ID1]]), "x.xlsx")
    assert "A" in caught.value.zh and "C" in caught.value.zh and "国标编码" in caught.value.en


# ------------------------------------------------------------------------------------------------ sheets


def test_first_sheet_with_a_header_is_used_or_the_named_one(books: Books) -> None:
    workbook = openpyxl.Workbook()
    notes = workbook.active
    assert notes is not None
    notes.title = "说明"
    notes.append(["请按模板填写"])
    first = workbook.create_sheet("金安区")
    first.append(["设备编码", "设备名称"])
    first.append([ID1, "甲"])
    second = workbook.create_sheet("裕安区")
    second.append(["设备编码", "设备名称"])
    second.append([ID2, "乙"])
    data = books.save(workbook)
    assert read_table(data, "x.xlsx").sheet == "金安区"
    named = read_table(data, "x.xlsx", sheet="裕安区")
    assert named.sheet == "裕安区" and named.rows[0].values["platform_id"] == ID2
    with pytest.raises(TableError, match="no sheet '霍山县'"):
        read_table(data, "x.xlsx", sheet="霍山县")


def test_hidden_sheets_are_skipped(books: Books) -> None:
    workbook = openpyxl.Workbook()
    hidden = workbook.active
    assert hidden is not None
    hidden.append(["设备编码", "设备名称"])
    hidden.append([ID1, "旧表"])
    hidden.sheet_state = "hidden"
    shown = workbook.create_sheet("清单")
    shown.append(["设备编码", "设备名称"])
    shown.append([ID2, "新表"])
    workbook.active = 1
    assert read_table(books.save(workbook), "x.xlsx").sheet == "清单"


def test_xlsxwriter_workbook_with_typed_cells() -> None:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("资源清单")
    sheet.write_row(0, 0, ["设备编码", "设备名称", "安装时间", "是否共享", "录像保存天数"])
    sheet.write_string(1, 0, ID1)
    sheet.write_string(1, 1, "甲")
    sheet.write_datetime(1, 2, dt.datetime(2022, 2, 3), workbook.add_format({"num_format": "yyyy-mm-dd"}))
    sheet.write_boolean(1, 3, True)
    sheet.write_number(1, 4, 90)
    workbook.close()
    values = read_table(buffer.getvalue(), "x.xlsx").rows[0].values
    assert values == {
        "platform_id": ID1,
        "name": "甲",
        "install_time": "2022-02-03",
        "shared": "TRUE",
        "record_save_days": "90",
    }


# ------------------------------------------------------------------------------------------------ csv

CSV_TEXT = (
    "设备编码,设备名称,行政区划代码,经度,纬度,建设单位\r\n"
    + f"{ID1},金安区梅山路东,341502,116.53,31.77,六安市公安局\r\n"
)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (CSV_TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + CSV_TEXT.encode("utf-8"), "utf-8-sig"),
        (CSV_TEXT.encode("gb18030"), "gb18030"),
        (CSV_TEXT.encode("utf-16"), "utf-16"),
    ],
    ids=["utf-8", "utf-8-bom", "gb18030", "utf-16"],
)
def test_csv_encodings(data: bytes, encoding: str) -> None:
    table = read_table(data, "清单.csv")
    assert table.encoding == encoding
    assert table.sheet == ""
    assert table.columns[0].header == "设备编码"  # no BOM left in the first header
    assert table.rows[0].values["name"] == "金安区梅山路东"
    assert table.rows[0].values["owner_unit"] == "六安市公安局"


def test_gb18030_is_not_mistaken_for_utf8() -> None:
    data = CSV_TEXT.encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert read_table(data, "x.csv").rows[0].values["name"] == "金安区梅山路东"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_csv_delimiters_are_sniffed(delimiter: str) -> None:
    text = CSV_TEXT.replace(",", delimiter).replace("116.53", "116,53")  # a decimal comma stays in the cell
    table = read_table(text.encode("utf-8"), "x.csv")
    assert [c.field for c in table.columns][:3] == ["platform_id", "name", "division_code"]
    assert table.rows[0].values["longitude"] == "116,53"


def test_csv_with_title_rows_quotes_short_rows_and_excel_text_trick() -> None:
    text = (
        "六安市视频资源清单,,,\n"
        ",,,\n"
        "设备编码,设备名称,安装地址,备注\n"
        f'="{ID1}","金安区梅山路东","梅山路, 东侧",\n'
        f"{ID2},乙\n"
        ",,,\n"
    )
    table = read_table(text.encode("utf-8"), "x.csv")
    assert table.header_row == 3
    assert [r.row_number for r in table.rows] == [4, 5]
    assert table.rows[0].values == {"platform_id": ID1, "name": "金安区梅山路东", "install_address": "梅山路, 东侧"}
    assert table.rows[1].values == {"platform_id": ID2, "name": "乙"}


def test_csv_without_header() -> None:
    with pytest.raises(TableError):
        read_table(b"a,b,c\n1,2,3\n", "x.csv")


# ------------------------------------------------------------------------------------------------ not readable


def _docx_like() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"", "empty.xlsx"),
        (b"  \r\n ", "blank.csv"),
        (b"this is not a spreadsheet at all", "fake.xlsx"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "photo.csv"),
        (b"%PDF-1.7\n\xff\xfe\xfd\x80\x81", "report.pdf"),
        (_docx_like(), "notes.xlsx"),
        (b"PK\x03\x04truncated", "cut.xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls"),
    ],
    ids=["empty", "blank", "text-as-xlsx", "png", "pdf", "docx", "truncated-zip", "broken-ole"],
)
def test_unreadable_files_raise_table_error(data: bytes, filename: str) -> None:
    with pytest.raises(TableError) as caught:
        read_table(data, filename)
    assert caught.value.zh and caught.value.en
    assert filename in caught.value.en


def test_column_letter() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA",
    ]  # fmt: skip
