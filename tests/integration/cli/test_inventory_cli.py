"""``xueliang inventory import|export|check|template`` on both databases: output files and exit codes
(0 success, 1 input rejected, 2 usage error)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from xueliang.cli import app
from xueliang.sim.inventory import HEADERS, sample_rows
from xueliang.store.models import Camera, Unit

runner = CliRunner()


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> dict[str, str]:
    return {
        "XUELIANG_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "XUELIANG_DATA_DIR": str(tmp_path / "data"),
    }


def counts(engine: Engine) -> tuple[int, int]:
    """Cameras, and units besides the two every platform starts with (its own and the data bureau)."""
    with engine.connect() as connection:
        return (
            connection.scalar(select(func.count()).select_from(Camera)) or 0,
            connection.scalar(select(func.count()).select_from(Unit).where(Unit.code.not_in(("PLATFORM", "BUREAU"))))
            or 0,
        )


def write_sheet(path: Path, rows: list[dict[str, str]]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(["城管局视频监控点位清单（2024年）"])
    sheet.append(list(HEADERS))
    for row in rows:
        sheet.append([row.get(h, "") for h in HEADERS])
    book.save(path)
    return path


def test_import_rejects_then_accepts(engine: Engine, env: dict[str, str], tmp_path: Path) -> None:
    rows = list(sample_rows(6, seed=11))
    broken = [dict(r) for r in rows]
    broken[3]["设备编码"] = "3415"
    sheet = write_sheet(tmp_path / "城管局清单.xlsx", broken)
    result = runner.invoke(app, ["inventory", "import", str(sheet)], env=env)
    assert result.exit_code == 1, result.output
    report = tmp_path / "城管局清单.errors.xlsx"
    assert report.is_file() and (tmp_path / "城管局清单.errors.json").is_file()
    assert "城管局清单.errors.xlsx" in result.output.replace("\n", "")
    cells = [c for row in load_workbook(report).active.iter_rows(values_only=True) for c in row]
    assert "3415" in cells
    assert counts(engine) == (0, 0)

    write_sheet(sheet, rows)
    dry = runner.invoke(app, ["inventory", "import", str(sheet), "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert counts(engine) == (0, 0)
    done = runner.invoke(app, ["inventory", "import", str(sheet), "--crs", "wgs84"], env=env)
    assert done.exit_code == 0, done.output
    assert counts(engine)[0] == 6
    again = runner.invoke(app, ["inventory", "import", str(sheet)], env=env)
    assert again.exit_code == 1  # create mode: the IDs are taken now
    upsert = runner.invoke(app, ["inventory", "import", str(sheet), "--mode", "upsert", "--strict-units"], env=env)
    assert upsert.exit_code == 0, upsert.output


@pytest.mark.parametrize(
    "arguments",
    [
        ["--mode", "merge"],
        ["--crs", "utm"],
        ["--unit", "NO-SUCH-UNIT"],
    ],
)
def test_import_usage_errors_exit_2(engine: Engine, env: dict[str, str], tmp_path: Path, arguments: list[str]) -> None:
    sheet = write_sheet(tmp_path / "清单.xlsx", list(sample_rows(2)))
    result = runner.invoke(app, ["inventory", "import", str(sheet), *arguments], env=env)
    assert result.exit_code == 2, result.output
    assert counts(engine) == (0, 0)


def test_missing_file_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    assert runner.invoke(app, ["inventory", "import", str(tmp_path / "none.xlsx")], env=env).exit_code == 2


def test_export_check_and_template(engine: Engine, env: dict[str, str], tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path / "清单.xlsx", list(sample_rows(7, seed=2)))
    assert runner.invoke(app, ["inventory", "import", str(sheet)], env=env).exit_code == 0

    out = tmp_path / "资源清单.csv"
    result = runner.invoke(
        app, ["inventory", "export", "--format", "csv", "-o", str(out), "--division", "341500"], env=env
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 7
    geojson = tmp_path / "cameras.geojson"
    assert runner.invoke(app, ["inventory", "export", "-o", str(geojson)], env=env).exit_code == 0
    assert len(json.loads(geojson.read_text(encoding="utf-8"))["features"]) == 7
    assert runner.invoke(app, ["inventory", "export", "--format", "pdf", "-o", str(out)], env=env).exit_code == 2
    bad_division = ["inventory", "export", "-o", str(out), "--division", "abc"]
    assert runner.invoke(app, bad_division, env=env).exit_code == 2

    check = runner.invoke(app, ["inventory", "check"], env=env)
    assert check.exit_code == 0, check.output
    assert "建档率" in check.output and "按建设单位" in check.output
    as_json = runner.invoke(app, ["inventory", "check", "--json", "--division", "341500"], env=env)
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["total"]["cameras"] == 7

    template = tmp_path / "模板.xlsx"
    result = runner.invoke(app, ["inventory", "template", "-o", str(template)], env=env)
    assert result.exit_code == 0, result.output
    assert len(load_workbook(template).sheetnames) >= 2
