"""``xueliang audit verify|export`` on both databases: exit 0 when the chain holds, 1 naming the first bad record,
2 for usage errors; exports read back. The tampering test lifts the append-only triggers itself (as an attacker
with DDL rights could)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from xueliang.audit_cli import audit_app
from xueliang.domain.audit import AuditAction, AuditEvent
from xueliang.sharing.audit import AuditLog
from xueliang.store.audit import create_append_only_triggers, drop_append_only_triggers

runner = CliRunner()
T0 = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def env(engine: Engine, tmp_path: Path) -> dict[str, str]:
    return {
        "XUELIANG_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "XUELIANG_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.fixture
def filled(engine: Engine, tmp_path: Path) -> AuditLog:
    audit = AuditLog(engine, data_dir=tmp_path / "data")
    for n in range(5):
        action = AuditAction.PLAY_START if n % 2 else AuditAction.LOGIN
        audit.record(AuditEvent(action, T0 + dt.timedelta(hours=n), f"user-{n}", "GA", camera_id="cam-1"))
    audit.flush()
    return audit


def test_verify_holds(filled: AuditLog, env: dict[str, str]) -> None:
    result = runner.invoke(audit_app, ["verify"], env=env)
    assert result.exit_code == 0, result.output
    assert "audit chain holds" in result.output and "5 records" in result.output


def test_verify_names_the_first_bad_record(filled: AuditLog, engine: Engine, env: dict[str, str]) -> None:
    with engine.begin() as connection:
        drop_append_only_triggers(connection)
        connection.execute(text("UPDATE audit_record SET actor = 'nobody' WHERE seq = 2"))
        connection.execute(text("UPDATE audit_record SET actor = 'nobody' WHERE seq = 4"))
        create_append_only_triggers(connection)
    result = runner.invoke(audit_app, ["verify"], env=env)
    assert result.exit_code == 1, result.output
    assert "第 2 条记录" in result.output and "record 2 (altered)" in result.output


def test_verify_finds_a_truncated_tail(filled: AuditLog, engine: Engine, env: dict[str, str]) -> None:
    with engine.begin() as connection:
        drop_append_only_triggers(connection)
        connection.execute(text("DELETE FROM audit_record WHERE seq = 5"))
        create_append_only_triggers(connection)
    result = runner.invoke(audit_app, ["verify"], env=env)
    assert result.exit_code == 1 and "record 5 (truncated)" in result.output, result.output


def test_verify_warns_without_a_checkpoint(filled: AuditLog, env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "data" / "audit-head.json").unlink()
    result = runner.invoke(audit_app, ["verify"], env=env)
    assert result.exit_code == 0 and "no checkpoint file" in result.output, result.output


def test_export_csv_and_xlsx(filled: AuditLog, env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "审计.csv"
    result = runner.invoke(audit_app, ["export", "-o", str(out), "--action", "play_start"], env=env)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["4", "2"] and rows[1][2] == "play_start"
    xlsx = tmp_path / "audit.xlsx"
    # 10:00 and 11:00 Shanghai are 02:00 and 03:00 UTC: records 2 and 3
    window = ["--since", "2026-03-02T10:00", "--until", "2026-03-02T12:00"]
    result = runner.invoke(audit_app, ["export", "--format", "xlsx", "-o", str(xlsx), *window], env=env)
    assert result.exit_code == 0, result.output
    sheet = load_workbook(xlsx).active
    assert sheet is not None
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [3, 2]


@pytest.mark.parametrize(
    "args",
    [["--format", "pdf"], ["--since", "yesterday"], ["--since", "2026-03-02", "--until", "2026-03-01"]],
    ids=["format", "date", "window"],
)
def test_export_usage_errors(filled: AuditLog, env: dict[str, str], tmp_path: Path, args: list[str]) -> None:
    result = runner.invoke(audit_app, ["export", "-o", str(tmp_path / "x.csv"), *args], env=env)
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "x.csv").exists()
