"""``xueliang audit verify|export``: prove the audit chain, export the log for auditors.

Exit codes: 0 the chain holds / the file is written; 1 the chain is broken (the first bad record is named) or the
checkpoint file is unreadable; 2 usage or environment error (bad option, database unreachable or not migrated).
Neither command migrates the database: an auditor may run them with read-only credentials.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from xueliang.config import load_settings
from xueliang.sharing.audit import EXPORT_FORMATS, SEARCH_MAX, AuditLog, AuditQueryError
from xueliang.store.audit import AuditRecord
from xueliang.store.db import create_db_engine

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2
LOCAL_ZONE = "Asia/Shanghai"

audit_app = typer.Typer(help="审计日志：校验、导出 / audit log: verify, export", no_args_is_help=True)
console = Console()

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (env XUELIANG_DATA_DIR)")]


def _fail(code: int, zh: str, en: str) -> typer.Exit:
    console.print(f"[red]{zh}[/red]\n[red]{en}[/red]")
    return typer.Exit(code)


def _open(data_dir: Path | None) -> AuditLog:
    settings = load_settings(data_dir=data_dir)
    return AuditLog(create_db_engine(settings.resolved_database_url()), data_dir=settings.data_dir)


@audit_app.command("verify")
def verify(data_dir: DataDir = None) -> None:
    """Walk the hash chain in seq order and compare its head with <data_dir>/audit-head.json."""
    audit = _open(data_dir)
    try:
        report = audit.verify()
    except SQLAlchemyError as exc:
        raise _fail(EXIT_USAGE, f"无法读取审计日志：{type(exc).__name__}", f"cannot read the audit log: {exc}") from exc
    except ValueError as exc:
        raise _fail(EXIT_BROKEN, f"检查点文件无法读取：{exc}", f"checkpoint file unreadable: {exc}") from exc
    finally:
        audit.store.engine.dispose()
    if report.problem is not None:
        problem = report.problem
        raise _fail(
            EXIT_BROKEN,
            f"审计链校验失败：第 {problem.seq} 条记录（{problem.kind}）",
            f"audit chain broken at record {problem.seq} ({problem.kind}): {problem.message}",
        )
    head = f"{report.head.seq} {report.head.hash}" if report.head else "-"
    console.print(f"[green]审计链完整 / audit chain holds[/green]: {report.records} records, head {head}")
    if report.checkpoint is None and report.records:
        console.print(
            f"[yellow]未找到检查点文件 {audit.checkpoint_path}，无法发现尾部截断 / "
            "no checkpoint file here: a truncated tail cannot be detected[/yellow]"
        )


def _when(value: str | None, option: str) -> dt.datetime | None:
    """ISO date or date-time; without a zone it is local time (Asia/Shanghai)."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fail(
            EXIT_USAGE, f"{option} 不是有效时间：{value}", f"{option} is not an ISO date/time: {value}"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zoneinfo.ZoneInfo(LOCAL_ZONE))


def _all(audit: AuditLog, **criteria: object) -> Iterator[AuditRecord]:
    cursor: str | None = None
    while True:
        page = audit.search(limit=SEARCH_MAX, cursor=cursor, **criteria)  # type: ignore[arg-type]
        yield from page.records
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option("-o", "--output", dir_okay=False, help="file to write")],
    fmt: Annotated[str | None, typer.Option("--format", help="xlsx | csv (default: from -o)")] = None,
    since: Annotated[str | None, typer.Option("--since", help="from (ISO; local time unless a zone is given)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="until, exclusive (ISO)")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="操作人 / principal id")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="单位代码 / unit code")] = None,
    camera: Annotated[str | None, typer.Option("--camera", help="摄像机编码 / camera id")] = None,
    action: Annotated[str | None, typer.Option("--action", help="操作 / action, e.g. play_start")] = None,
    grant: Annotated[str | None, typer.Option("--grant", help="授权编号 / grant id")] = None,
    data_dir: DataDir = None,
) -> None:
    """Export audit records, newest first, as xlsx or csv (UTF-8 with BOM, for Excel)."""
    fmt = (fmt or out.suffix.lstrip(".") or "xlsx").lower()
    if fmt not in EXPORT_FORMATS:
        raise _fail(EXIT_USAGE, f"--format 应为 xlsx 或 csv：{fmt}", f"--format must be xlsx or csv: {fmt}")
    window = {"since": _when(since, "--since"), "until": _when(until, "--until")}
    audit = _open(data_dir)
    try:
        records = list(_all(audit, actor=actor, unit=unit, camera=camera, action=action, grant=grant, **window))
    except AuditQueryError as exc:
        raise _fail(EXIT_USAGE, f"查询条件有误：{exc}", f"bad query: {exc}") from exc
    except SQLAlchemyError as exc:
        raise _fail(EXIT_USAGE, f"无法读取审计日志：{type(exc).__name__}", f"cannot read the audit log: {exc}") from exc
    finally:
        audit.store.engine.dispose()
    out.write_bytes(audit.export(records, fmt))
    console.print(f"已导出 {len(records)} 条审计记录 / exported {len(records)} audit records: {out}")
