"""The real-looking department files under tests/data/inventory read as a clerk would expect."""

from __future__ import annotations

from pathlib import Path

from xueliang.catalog.sheets import read_table
from xueliang.domain.archive import ValidationContext
from xueliang.domain.validator import check_camera


def test_department_messy_xlsx(inventory_data: Path) -> None:
    table = read_table((inventory_data / "department_messy.xlsx").read_bytes(), "department_messy.xlsx")
    assert table.sheet == "交通局资源清单"
    assert table.header_row == 3  # below two merged title rows
    assert table.unknown_headers == []  # 序号 is understood
    assert [c.field for c in table.columns[:4]] == [None, "platform_id", "name", "division_code"]
    # the blank row 6, the footer 填表人 and the formatted empty rows are not cameras
    assert [r.row_number for r in table.rows] == [4, 5, 7, 8, 9, 10]
    assert {r.values["owner_unit"] for r in table.rows} == {"六安市交通运输局"}  # merged down the column
    first, second, number_id = table.rows[0].values, table.rows[1].values, table.rows[2].values
    assert first["division_code"] == "341503" and first["longitude"] == "116.4952"
    assert first["install_time"] == "2021-05-06" and first["record_save_days"] == "90"
    assert second["longitude"] == "116.4811" and second["record_save_days"] == "30天"
    assert number_id["platform_id"] == "3.41503000413202e+19"

    context = ValidationContext()
    errors = {}
    for row in table.rows:
        _record, findings = check_camera(row.values, context)
        errors[row.row_number] = sorted({f.rule for f in findings if f.is_error})
    assert errors[4] == [] and errors[5] == []
    assert errors[7] and all(rule.startswith("id.") for rule in errors[7])
    assert errors[8] == ["code.unknown"]
    assert errors[9] == ["coords.outside_division"]
    assert errors[10] == ["name.missing"]


def test_department_gb18030_csv(inventory_data: Path) -> None:
    data = (inventory_data / "department_gb18030.csv").read_bytes()
    table = read_table(data, "department_gb18030.csv")
    assert table.encoding == "gb18030"
    assert [r.row_number for r in table.rows] == [2, 3, 4]
    assert table.rows[0].values["name"] == "霍邱县城关镇光明大道与蓼城路交叉口东南"
    for row in table.rows:
        record, findings = check_camera(row.values, ValidationContext())
        assert [f for f in findings if f.is_error] == []
        assert record.division_code == "341522" and record.owner_unit == "霍邱县公安局"
    assert [check_camera(r.values, ValidationContext())[0].camera_type for r in table.rows] == ["1", "3", "2"]
