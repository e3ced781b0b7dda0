"""The inventory workflow as a clerk and an operator live it, on both databases, through the real command:

a department's messy spreadsheet (title rows, merged cells, its own Chinese headers, labels instead of codes,
a few bad rows) is rejected with a report naming row and column; the clerk fixes exactly those cells; the
import is accepted; the resource list export opens in a spreadsheet program (LibreOffice, headless) with the
Chinese text intact.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from xueliang.cli import app
from xueliang.store.models import Camera

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "inventory" / "department_messy.xlsx"
runner = CliRunner()

# what the clerk types into the cell the report points at, by rule
FIXES = {
    "id.not_digits": "34150300041320200004",
    "code.unknown": "球机",
    "coords.outside_division": None,  # both coordinate cells: see _fix
    "name.missing": "裕安区淠河路北",
}


def _soffice() -> str:
    found = shutil.which("soffice")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("LibreOffice (soffice) is needed: scripts/test installs libreoffice-calc-nogui")
        pytest.skip("LibreOffice not installed")
    return found


def open_in_spreadsheet_program(workbook: Path, out_dir: Path) -> list[list[str]]:
    """Let LibreOffice open the workbook and save its first sheet as UTF-8 csv; return the cells."""
    subprocess.run(
        [
            _soffice(),
            "--headless",
            f"-env:UserInstallation=file://{out_dir / 'lo-profile'}",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76",
            "--outdir",
            str(out_dir),
            str(workbook),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with (out_dir / (workbook.stem + ".csv")).open(encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _fix(sheet: Path, problems: list[dict[str, object]]) -> None:
    book = load_workbook(sheet)
    ws = book.active
    for problem in problems:
        if problem["severity"] != "error":
            continue
        row, letter = int(str(problem["row"])), str(problem["column"]).split(" ")[0]
        if problem["rule"] == "coords.outside_division":
            ws[f"F{row}"], ws[f"G{row}"] = "116.47", "31.76"  # 经度, 纬度 inside 裕安区
            continue
        fix = FIXES[str(problem["rule"])]
        assert fix is not None
        ws[f"{letter}{row}"] = fix
    book.save(sheet)


def _cameras(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Camera)) or 0


def test_messy_sheet_rejected_fixed_accepted_exported(engine: Engine, tmp_path: Path) -> None:
    env = {
        "XUELIANG_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "XUELIANG_DATA_DIR": str(tmp_path / "data"),
    }
    sheet = tmp_path / "交通局资源清单.xlsx"
    shutil.copyfile(FIXTURE, sheet)

    rejected = runner.invoke(app, ["inventory", "import", str(sheet)], env=env)
    assert rejected.exit_code == 1, rejected.output
    assert _cameras(engine) == 0
    report = json.loads((tmp_path / "交通局资源清单.errors.json").read_text(encoding="utf-8"))
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert {p["rule"] for p in errors} == set(FIXES)
    assert all(p["row"] > 3 and p["column"] for p in errors)  # located below the title and header rows
    mismatches = [p for p in report["problems"] if p["rule"] == "id.network_mismatch"]
    assert mismatches and {p["value"] for p in mismatches} == {"行业专网"}  # the cell as the clerk wrote it
    shown = open_in_spreadsheet_program(tmp_path / "交通局资源清单.errors.xlsx", tmp_path / "report")
    text = "\n".join(",".join(row) for row in shown)
    assert "飞碟" in text and "不在代码表中" in text and "is not in the code table" in text

    _fix(sheet, errors)
    accepted = runner.invoke(app, ["inventory", "import", str(sheet)], env=env)
    assert accepted.exit_code == 0, accepted.output
    assert _cameras(engine) == 6

    export = tmp_path / "资源清单.xlsx"
    exported = runner.invoke(app, ["inventory", "export", "--format", "xlsx", "-o", str(export)], env=env)
    assert exported.exit_code == 0, exported.output
    cells = open_in_spreadsheet_program(export, tmp_path / "export")
    flat = {cell for row in cells for cell in row}
    assert "裕安区梅山南路与皋城路交叉口东" in flat
    assert "六安市交通运输局" in flat
    assert "34150300041320200004" in flat  # the ID the clerk retyped as text
    assert any("裕安区" in cell for cell in flat)
