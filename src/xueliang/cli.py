"""The ``xueliang`` command. Exit codes: 0 success, 1 input rejected, 2 usage error."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from xueliang import __version__
from xueliang.audit_cli import audit_app
from xueliang.config import Settings, load_settings
from xueliang.share_cli import share_app
from xueliang.sim.cli import sim_app
from xueliang.user_cli import apikey_app, unit_app, user_app

app = typer.Typer(
    name="xueliang",
    help="雪亮平台: 公共场所视频监控资源整合共享 / public video resource integration and sharing",
    no_args_is_help=True,
    add_completion=False,
)
id_app = typer.Typer(help="20 位国标编码 / 20-digit GB/T 28181 IDs", no_args_is_help=True)
app.add_typer(id_app, name="id")
inventory_app = typer.Typer(
    help="资源清单：导入、导出、治理检查、模板 / inventory: import, export, governance check, template",
    no_args_is_help=True,
)
app.add_typer(inventory_app, name="inventory")
app.add_typer(sim_app, name="sim")
app.add_typer(audit_app, name="audit")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(unit_app, name="unit")
app.add_typer(share_app, name="share")
console = Console()

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (env XUELIANG_DATA_DIR)")]


def _version(value: bool) -> None:
    if value:
        console.print(f"xueliang {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    """Top-level options."""


def _setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _serve(settings: Settings, *, demo_cameras: int = 0) -> None:
    import uvicorn

    from xueliang.api.app import create_app
    from xueliang.app import build_platform

    _setup_logging(settings)
    platform = build_platform(settings)
    devices = None
    try:
        if demo_cameras:
            from xueliang.demo import start_demo_devices

            _seed_demo(platform, demo_cameras)
            devices = start_demo_devices(settings)
        console.print(f"xueliang: http://{settings.http_host}:{settings.http_port}/  (API docs: /docs)")
        if settings.sip_enabled:
            console.print(
                f"GB/T 28181: SIP {settings.sip_id} @ {settings.resolved_sip_domain()} "
                f"on {settings.sip_host}:{settings.sip_port} (UDP+TCP)"
            )
        if devices is not None:
            console.print(f"演示设备 / demo devices: simulated NVRs registering with password {settings.sip_password}")
            console.print(
                f"实时视频 / live video: http://{settings.http_host}:{settings.http_port}/ lists cameras to play "
                "(player at /play/<camera ID>)"
            )
        uvicorn.run(create_app(platform), host=settings.http_host, port=settings.http_port, log_level="info")
    finally:
        if devices is not None:
            devices.terminate()
            devices.wait(timeout=10)
        platform.close()


SipHost = Annotated[str | None, typer.Option("--sip-host", help="SIP listen address (env XUELIANG_SIP_HOST)")]
SipPort = Annotated[int | None, typer.Option("--sip-port", help="SIP port, UDP and TCP (env XUELIANG_SIP_PORT)")]
SipId = Annotated[str | None, typer.Option("--sip-id", help="Platform SIP ID, 20 digits (env XUELIANG_SIP_ID)")]
SipPassword = Annotated[
    str | None,
    typer.Option("--sip-password", help="Global device password, stored encrypted (env XUELIANG_SIP_PASSWORD)"),
]
AcceptUnknown = Annotated[
    bool | None,
    typer.Option(
        "--accept-unknown-devices/--no-accept-unknown-devices",
        help="Let devices absent from the archive register (env XUELIANG_SIP_ACCEPT_UNKNOWN_DEVICES)",
        show_default=False,
    ),
]


@app.command()
def serve(
    data_dir: DataDir = None,
    http_host: Annotated[str | None, typer.Option("--http-host", help="Listen address")] = None,
    http_port: Annotated[int | None, typer.Option("--http-port", help="Listen port")] = None,
    sip_host: SipHost = None,
    sip_port: SipPort = None,
    sip_id: SipId = None,
    sip_password: SipPassword = None,
    accept_unknown_devices: AcceptUnknown = None,
) -> None:
    """Run the platform (API, console and the GB/T 28181 SIP endpoint) until interrupted."""
    _serve(
        load_settings(
            data_dir=data_dir,
            http_host=http_host,
            http_port=http_port,
            sip_host=sip_host,
            sip_port=sip_port,
            sip_id=sip_id,
            sip_password=sip_password,
            sip_accept_unknown_devices=accept_unknown_devices,
        )
    )


def _seed_demo(platform: Any, cameras: int) -> None:
    from xueliang.demo import ensure_demo_cast, ensure_demo_login, login_lines, seed_demo

    result = seed_demo(platform, cameras)
    if result is None:
        console.print("演示数据已存在 / demo archive already loaded")
    elif result.accepted:
        console.print(f"已导入示例资源清单 {result.rows_created} 路 / sample inventory imported: {result.rows_created}")
    else:
        console.print(f"[red]示例清单导入失败 / sample inventory rejected: {result.error_count} errors[/red]")
        raise typer.Exit(1)
    login = ensure_demo_login(platform)
    for line in login_lines(login, platform.settings, ensure_demo_cast(platform, login)):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Data directory of the demo")] = Path("./xueliang-demo"),
    http_host: Annotated[str | None, typer.Option("--http-host", help="Listen address")] = None,
    http_port: Annotated[int | None, typer.Option("--http-port", help="Listen port")] = None,
    cameras: Annotated[int, typer.Option("--cameras", min=1, max=200_000, help="Sample cameras")] = 2000,
    sip_port: SipPort = None,
) -> None:
    """Run the platform with a demo city (Lu'an) on embedded SQLite: a sample inventory is imported on first start;
    the SIP endpoint accepts unknown devices (password printed at start)."""
    from xueliang.demo import DEMO_SIP_PASSWORD

    settings = load_settings(data_dir=data_dir, http_host=http_host, http_port=http_port, sip_port=sip_port)
    update: dict[str, object] = {"database_url": None, "sip_accept_unknown_devices": True}
    if not settings.sip_password:
        update["sip_password"] = DEMO_SIP_PASSWORD
    settings = settings.model_copy(update=update)
    _serve(settings, demo_cameras=cameras)


@id_app.command("next")
def id_next(
    prefix: Annotated[str, typer.Argument(help="Digits 1-14: division (8), industry (2), type (3), network (1)")],
    data_dir: DataDir = None,
) -> None:
    """Print the next free ID under a prefix, given the archive (a suggestion, not a reservation)."""
    from xueliang.app import build_platform
    from xueliang.catalog.errors import InvalidQueryError

    platform = build_platform(load_settings(data_dir=data_dir))
    try:
        console.print(platform.catalog.next_free_id(prefix))
    except InvalidQueryError as exc:
        console.print(f"[red]{exc.zh} / {exc.en}[/red]")
        raise typer.Exit(2) from exc
    finally:
        platform.close()


@id_app.command("explain")
def id_explain(device_id: Annotated[str, typer.Argument(help="A 20-digit ID")]) -> None:
    """Print the parts of an ID in Chinese and English."""
    from xueliang.domain import ids

    try:
        parts = ids.explain(device_id)
    except ids.IdError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    table = Table(title=device_id)
    for column in ("部分", "Part", "数字 Digits", "含义", "Meaning"):
        table.add_column(column)
    for label_zh, label_en, digits, meaning_zh, meaning_en in parts:
        table.add_row(label_zh, label_en, digits, meaning_zh, meaning_en)
    console.print(table)


# ------------------------------------------------------------------------------------------------ inventory

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
MAX_PROBLEMS_SHOWN = 20


def _usage_error(zh: str, en: str) -> typer.Exit:
    console.print(f"[red]{zh}[/red]\n[red]{en}[/red]")
    return typer.Exit(EXIT_USAGE)


@inventory_app.command("import")
def inventory_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="xlsx, xls or csv")],
    unit: Annotated[str | None, typer.Option("--unit", help="默认建设单位代码 / default owner unit code")] = None,
    mode: Annotated[str, typer.Option("--mode", help="create | upsert")] = "create",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只校验不写入 / validate only")] = False,
    crs: Annotated[str, typer.Option("--crs", help="坐标系 / coordinates in: wgs84 | gcj02 | bd09")] = "wgs84",
    strict_units: Annotated[
        bool, typer.Option("--strict-units", help="未登记单位报错而不自动创建 / unknown units are errors")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Import an inventory: every row validated, all rows written or none (exit 1 and an error report)."""
    from xueliang.app import build_platform
    from xueliang.catalog.errors import InvalidOptionsError
    from xueliang.catalog.importer import ImportOptions
    from xueliang.catalog.service import error_report_paths
    from xueliang.domain.archive import Crs

    if mode not in ("create", "upsert"):
        raise _usage_error(f"--mode 应为 create 或 upsert：{mode}", f"--mode must be create or upsert: {mode}")
    if crs not in {c.value for c in Crs}:
        raise _usage_error(f"--crs 应为 wgs84、gcj02 或 bd09：{crs}", f"--crs must be wgs84, gcj02 or bd09: {crs}")
    options = ImportOptions(unit, "upsert" if mode == "upsert" else "create", dry_run, Crs(crs), strict_units)
    report_xlsx, report_json = error_report_paths(file)
    platform = build_platform(load_settings(data_dir=data_dir))
    try:
        result = platform.catalog.import_file(
            file.read_bytes(), file.name, options, report_xlsx=report_xlsx, report_json=report_json
        )
    except InvalidOptionsError as exc:
        raise _usage_error(exc.zh, exc.en) from exc
    finally:
        platform.close()
    _print_import(result)
    if not result.accepted:
        raise typer.Exit(EXIT_REJECTED)


def _print_import(result: Any) -> None:
    status = {
        "committed": "[green]已导入 / committed[/green]",
        "validated": "[green]校验通过，未写入（--dry-run） / valid, nothing written (dry run)[/green]",
        "rejected": "[red]已拒绝，未写入任何数据 / rejected, nothing written[/red]",
    }[result.status]
    table = Table(title=f"{result.filename}: {result.mode}", show_header=False)
    table.add_row("结果 Status", status)
    table.add_row("行数 Rows", str(result.rows_total))
    table.add_row("新增 Created", str(result.rows_created))
    table.add_row("更新 Updated", str(result.rows_updated))
    table.add_row("错误行 Rows with errors", str(result.rows_rejected))
    table.add_row("错误 Errors", str(result.error_count))
    table.add_row("警告 Warnings", str(result.warning_count))
    table.add_row("耗时 Seconds", f"{result.seconds:.2f}")
    console.print(table)
    if result.created_units:
        units = Table(title="新建单位 / units created" if result.accepted else "将新建的单位 / units to create")
        for column in ("代码 Code", "名称 Name", "类型 Kind"):
            units.add_column(column)
        for unit in result.created_units:
            units.add_row(unit.code, unit.name, unit.kind)
        console.print(units)
    if result.problems:
        problems = Table(title="问题 / problems")
        for column in ("行 Row", "列 Column", "值 Value", "级别", "说明 / message"):
            problems.add_column(column, overflow="fold")
        ordered = sorted(result.problems, key=lambda p: (p.severity != "error", p.row_number))
        for problem in ordered[:MAX_PROBLEMS_SHOWN]:
            colour = "red" if problem.severity == "error" else "yellow"
            problems.add_row(
                str(problem.row_number or ""),
                problem.column,
                problem.value,
                f"[{colour}]{'错误' if problem.severity == 'error' else '警告'}[/{colour}]",
                f"{problem.message_zh}\n{problem.message_en}",
            )
        console.print(problems)
        if len(result.problems) > MAX_PROBLEMS_SHOWN:
            console.print(f"… 另有 {len(result.problems) - MAX_PROBLEMS_SHOWN} 条 / and more")
    if result.report_xlsx:
        console.print(
            f"错误报告 / error report:\n  {result.report_xlsx}\n  {result.report_json}\n"
            "请按报告修改后重新导入 / fix the rows it lists and import again."
        )


@inventory_app.command("export")
def inventory_export(
    out: Annotated[Path, typer.Option("-o", "--output", dir_okay=False, help="file to write")],
    fmt: Annotated[str | None, typer.Option("--format", help="xlsx | csv | geojson (default: from -o)")] = None,
    division: Annotated[str | None, typer.Option("--division", help="行政区划代码（含下级） / division")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="建设单位代码或名称 / owner unit")] = None,
    network: Annotated[str | None, typer.Option("--network", help="所属网络 / network code or label")] = None,
    data_dir: DataDir = None,
) -> None:
    """Export the resource list (资源清单), grouped by division and unit."""
    from xueliang.app import build_platform
    from xueliang.catalog.errors import InvalidQueryError
    from xueliang.catalog.service import EXPORT_FORMATS, CameraQuery

    fmt = (fmt or out.suffix.lstrip(".") or "xlsx").lower()
    if fmt not in EXPORT_FORMATS:
        raise _usage_error(
            f"--format 应为 {'、'.join(EXPORT_FORMATS)}：{fmt}", f"--format must be one of {EXPORT_FORMATS}: {fmt}"
        )
    platform = build_platform(load_settings(data_dir=data_dir))
    try:
        count = platform.catalog.export_file(CameraQuery(division=division, unit=unit, network=network), fmt, out)
    except InvalidQueryError as exc:
        raise _usage_error(exc.zh, exc.en) from exc
    finally:
        platform.close()
    console.print(f"已导出 {count} 台摄像机 / exported {count} cameras: {out}")


@inventory_app.command("check")
def inventory_check(
    division: Annotated[str | None, typer.Option("--division", help="行政区划代码（含下级） / division")] = None,
    unit: Annotated[str | None, typer.Option("--unit", help="建设单位代码或名称 / owner unit")] = None,
    distance: Annotated[
        float, typer.Option("--distance", min=0.1, help="重复建设判定距离（米） / duplicate distance (m)")
    ] = 15.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the whole report as JSON")] = False,
    data_dir: DataDir = None,
) -> None:
    """Governance report: completeness and accuracy per division and unit, findings, duplicate candidates."""
    from xueliang.app import build_platform
    from xueliang.catalog.errors import InvalidQueryError
    from xueliang.catalog.service import CameraQuery

    platform = build_platform(load_settings(data_dir=data_dir))
    try:
        report = platform.catalog.governance_report(CameraQuery(division=division, unit=unit), distance_m=distance)
    except InvalidQueryError as exc:
        raise _usage_error(exc.zh, exc.en) from exc
    finally:
        platform.close()
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str) + "\n")
        return
    _print_report(report.to_dict())


def _print_report(report: dict[str, Any]) -> None:
    def figures(title: str, groups: list[dict[str, Any]]) -> Table:
        table = Table(title=title)
        for column in ("代码 Code", "名称 Name", "摄像机", "完整", "建档率", "有错误", "准确率", "有警告"):
            table.add_column(column)
        for g in groups:
            table.add_row(
                g["code"],
                g["name"],
                str(g["cameras"]),
                str(g["complete"]),
                f"{g['completeness_rate']:.1%}",
                str(g["with_errors"]),
                f"{g['accuracy_rate']:.1%}",
                str(g["with_warnings"]),
            )
        return table

    console.print(figures("合计 / total", [report["total"]]))
    console.print(figures("按行政区划 / by division", report["by_division"]))
    console.print(figures("按建设单位 / by owner unit", report["by_unit"]))
    if report["findings_by_rule"]:
        rules = Table(title="问题规则统计 / findings by rule")
        rules.add_column("规则 Rule")
        rules.add_column("数量 Count")
        for rule, count in report["findings_by_rule"].items():
            rules.add_row(rule, str(count))
        console.print(rules)
    duplicates = report["duplicates"]
    title = f"疑似重复建设（{report['duplicate_distance_m']:g} 米内同向，不同建设单位） / duplicate candidates"
    table = Table(title=title)
    for column in ("编码 A", "名称 A", "单位 A", "编码 B", "名称 B", "单位 B", "距离(米)"):
        table.add_column(column)
    for pair in duplicates[:50]:
        a, b = pair["first"], pair["second"]
        table.add_row(
            a["platform_id"],
            a["name"],
            a["owner_unit_name"],
            b["platform_id"],
            b["name"],
            b["owner_unit_name"],
            f"{pair['distance_m']:.1f}",
        )
    console.print(table)
    if len(duplicates) > 50:
        console.print(f"… 共 {len(duplicates)} 对，完整列表见 --json / {len(duplicates)} pairs in all, see --json")


@inventory_app.command("template")
def inventory_template(
    out: Annotated[Path, typer.Option("-o", "--output", dir_okay=False, help="FILE.xlsx to write")],
) -> None:
    """Write the import template (headers, examples, and a legend sheet of every code table)."""
    from xueliang.catalog.template import write_template

    write_template(out)
    console.print(f"已生成导入模板 / template written: {out}")


def main() -> None:
    app()
