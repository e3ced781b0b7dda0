"""/api/v1/inventory: imports (multipart upload, run in a worker process), their error reports, and the
resource list export (资源清单)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from xueliang.api.auth_deps import ARCHIVE_MANAGE, ARCHIVE_READ
from xueliang.api.deps import get_platform
from xueliang.api.errors import ApiError
from xueliang.api.schemas.inventory import ImportJobOut, ImportSummaryOut
from xueliang.app import Platform
from xueliang.catalog import worker
from xueliang.catalog.importer import ImportOptions
from xueliang.catalog.service import CameraQuery, summary
from xueliang.domain.archive import Crs

router = APIRouter(prefix="/inventory", tags=["inventory"], dependencies=[ARCHIVE_READ])
PlatformDep = Annotated[Platform, Depends(get_platform)]
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
MAX_PROBLEMS_IN_ANSWER = 1000
EXPORT_MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
}
REPORT_MEDIA_TYPES = {"xlsx": EXPORT_MEDIA_TYPES["xlsx"], "json": "application/json"}


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the UTF-8 name (RFC 6266 / 5987) for Chinese names."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _report_urls(job_id: str) -> dict[str, str]:
    base = f"/api/v1/inventory/imports/{job_id}"
    return {"report_xlsx_url": f"{base}/report.xlsx", "report_json_url": f"{base}/report.json"}


@router.post(
    "/imports",
    dependencies=[ARCHIVE_MANAGE],
    response_model=ImportSummaryOut,
    summary="Import an inventory / 导入资源清单",
    responses={422: {"description": "rejected: nothing was written; detail holds the summary and report links"}},
)
async def create_import(
    platform: PlatformDep,
    file: Annotated[UploadFile, File(description="xlsx, xls or csv (UTF-8 or GB18030)")],
    unit: Annotated[str | None, Form(description="默认建设单位代码 / default owner unit code")] = None,
    mode: Annotated[Literal["create", "upsert"], Form()] = "create",
    dry_run: Annotated[bool, Form(description="validate only, write nothing")] = False,
    crs: Annotated[Crs, Form(description="coordinate system of the sheet")] = Crs.WGS84,
    strict_units: Annotated[bool, Form(description="unknown units are errors instead of being created")] = False,
) -> Any:
    """All rows or none: any error row rejects the whole file (422) and the error report (row, column, value,
    message in Chinese and English) can be downloaded. The import runs in a worker process."""
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(
            413,
            "upload_too_large",
            "文件超过 200 MB，请拆分后分批导入",
            "the file exceeds 200 MB; split it and import the parts",
        )
    filename = PurePath(file.filename or "inventory").name or "inventory"
    job_id = uuid.uuid4().hex
    folder = platform.settings.data_dir / "imports" / job_id
    upload = folder / ("upload" + PurePath(filename).suffix.lower()[:8])

    def save() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        upload.write_bytes(data)

    await run_in_threadpool(save)
    options = ImportOptions(unit=unit or None, mode=mode, dry_run=dry_run, crs=crs, strict_units=strict_units)
    future = platform.jobs.submit(
        worker.import_upload,
        platform.database_url,
        str(platform.settings.data_dir),
        job_id,
        str(upload),
        filename,
        options,
    )
    result = await asyncio.wrap_future(future)
    body = summary(result, max_problems=MAX_PROBLEMS_IN_ANSWER)
    if result.accepted:
        return JSONResponse(body)
    body.update(_report_urls(job_id))
    raise ApiError(
        422,
        "import_rejected",
        f"导入被拒绝，未写入任何数据：{result.rows_rejected} 行有错误（共 {result.error_count} 处）。"
        f"请按错误报告修改后重新导入：{body['report_xlsx_url']}",
        f"the import was rejected and nothing was written: {result.rows_rejected} row(s) with "
        f"{result.error_count} error(s). Fix them as the error report says and import again: {body['report_xlsx_url']}",
        body,
    )


@router.get("/imports/{job_id}", response_model=ImportJobOut, summary="An import job / 导入记录")
def get_import(job_id: str, platform: PlatformDep) -> ImportJobOut:
    job = platform.catalog.import_job(job_id)
    if job is None:
        raise ApiError(404, "import_not_found", f"没有编号为 {job_id} 的导入记录", f"no import job {job_id}")
    urls: dict[str, Any] = (
        _report_urls(job_id) if job.report_xlsx else {"report_xlsx_url": None, "report_json_url": None}
    )
    return ImportJobOut(
        id=job.id,
        filename=job.filename,
        unit_code=job.unit_code,
        mode=job.mode,
        dry_run=job.dry_run,
        status=job.status,
        rows_total=job.rows_total,
        rows_created=job.rows_created,
        rows_updated=job.rows_updated,
        error_count=job.error_count,
        warning_count=job.warning_count,
        created_units=job.created_units,
        started_at=job.started_at,
        finished_at=job.finished_at,
        **urls,
    )


def _report(platform: Platform, job_id: str, kind: Literal["xlsx", "json"]) -> FileResponse:
    job = platform.catalog.import_job(job_id)
    path = None if job is None else (job.report_xlsx if kind == "xlsx" else job.report_json)
    if job is None or path is None or not Path(path).is_file():
        raise ApiError(
            404,
            "report_not_found",
            f"导入 {job_id} 没有错误报告（只有被拒绝的导入才有）",
            f"import {job_id} has no error report (only rejected imports have one)",
        )
    name = f"{PurePath(job.filename).stem}.errors.{kind}"
    return FileResponse(
        path, media_type=REPORT_MEDIA_TYPES[kind], headers={"Content-Disposition": content_disposition(name)}
    )


@router.get("/imports/{job_id}/report.xlsx", summary="Error report (xlsx) / 错误报告")
def report_xlsx(job_id: str, platform: PlatformDep) -> FileResponse:
    return _report(platform, job_id, "xlsx")


@router.get("/imports/{job_id}/report.json", summary="Error report (JSON) / 错误报告")
def report_json(job_id: str, platform: PlatformDep) -> FileResponse:
    return _report(platform, job_id, "json")


@router.get("/export", summary="Export the resource list / 导出资源清单", response_class=FileResponse)
async def export(
    platform: PlatformDep,
    format: Annotated[Literal["xlsx", "csv", "geojson"], Query(description="file format")] = "xlsx",
    division: Annotated[str | None, Query(description="行政区划代码（含下级） / division code")] = None,
    unit: Annotated[str | None, Query(description="建设单位代码或名称 / owner unit")] = None,
    network: Annotated[str | None, Query(description="所属网络 / network code or label")] = None,
) -> FileResponse:
    """The catalogue-style resource list, grouped by division and unit (xlsx has a summary sheet)."""
    query = CameraQuery(division=division, unit=unit, network=network)
    folder = platform.settings.data_dir / "exports"
    await run_in_threadpool(folder.mkdir, parents=True, exist_ok=True)
    out = folder / f"{uuid.uuid4().hex}.{format}"
    future = platform.jobs.submit(
        worker.export_file, platform.database_url, str(platform.settings.data_dir), query, format, str(out)
    )
    try:
        await asyncio.wrap_future(future)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    scope = "-".join(part for part in (division, unit, network) if part)
    name = f"资源清单{'-' + scope if scope else ''}-{dt.date.today():%Y%m%d}.{format}"
    return FileResponse(
        out,
        media_type=EXPORT_MEDIA_TYPES[format],
        headers={"Content-Disposition": content_disposition(name)},
        background=BackgroundTask(out.unlink, missing_ok=True),
    )
