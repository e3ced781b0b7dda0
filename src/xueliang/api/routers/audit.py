"""/api/v1/audit/...: the auditor's views of the audit log (records, export, usage report, chain verification).

Only the auditor (the policy's ``audit.read``); any other caller gets 403 and leaves an ``access_denied`` record.
Every read is itself an audit record written before the answer (503 when the log cannot take it): see
:mod:`xueliang.sharing.audit_views`. Times without an offset are UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from xueliang.api.auth_deps import audit_unavailable
from xueliang.api.deps import Caller, get_caller, get_platform
from xueliang.api.errors import ApiError
from xueliang.api.routers.inventory import content_disposition
from xueliang.api.schemas.audit import AuditPageOut, ChainOut, UsageOut, chain_out, record_out, usage_out
from xueliang.domain.audit import AuditUnavailableError
from xueliang.sharing.audit import SEARCH_MAX, AuditQueryError
from xueliang.sharing.audit_views import AuditForbiddenError, AuditQuery, AuditViews, ExportTooLargeError

router = APIRouter(prefix="/audit", tags=["audit"])
CallerDep = Annotated[Caller, Depends(get_caller)]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
DEFAULT_USAGE_WINDOW = dt.timedelta(days=7)


def get_views(request: Request) -> AuditViews:
    return AuditViews(get_platform(request).audit)


Views = Annotated[AuditViews, Depends(get_views)]


@contextmanager
def answering() -> Iterator[None]:
    try:
        yield
    except AuditForbiddenError as exc:
        raise ApiError(403, "forbidden", exc.zh, exc.en) from exc
    except ExportTooLargeError as exc:
        raise ApiError(422, "export_too_large", exc.zh, exc.en) from exc
    except AuditQueryError as exc:
        raise ApiError(422, "invalid_parameter", f"查询条件有误：{exc}", f"bad query: {exc}") from exc
    except AuditUnavailableError as exc:
        raise audit_unavailable() from exc


def _utc(at: dt.datetime | None) -> dt.datetime | None:
    """A query time; one without an offset is UTC."""
    return None if at is None else at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def audit_query(
    since: Annotated[dt.datetime | None, Query(description="from (inclusive)")] = None,
    until: Annotated[dt.datetime | None, Query(description="until (exclusive)")] = None,
    actor: Annotated[str | None, Query(max_length=128, description="principal id (username)")] = None,
    unit: Annotated[str | None, Query(max_length=64, description="the actor's unit code")] = None,
    camera: Annotated[str | None, Query(max_length=64, description="camera platform ID")] = None,
    action: Annotated[str | None, Query(max_length=32, description="e.g. play_start, grant_change")] = None,
    grant: Annotated[str | None, Query(max_length=64, description="grant id")] = None,
) -> AuditQuery:
    return AuditQuery(_utc(since), _utc(until), actor, unit, camera, action, grant)


Filters = Annotated[AuditQuery, Depends(audit_query)]


@router.get("/records", response_model=AuditPageOut, summary="Audit records / 审计记录")
def list_records(
    caller: CallerDep,
    views: Views,
    query: Filters,
    limit: Annotated[int, Query(ge=1, le=SEARCH_MAX)] = 100,
    cursor: Annotated[str | None, Query(max_length=20, description="next_cursor of the previous page")] = None,
) -> AuditPageOut:
    """Newest first, filtered; keyset pages (``cursor``)."""
    with answering():
        page = views.records(caller.principal, query, limit, cursor, caller.source_address)
    return AuditPageOut(items=[record_out(r) for r in page.records], next_cursor=page.next_cursor)


@router.get(
    "/export",
    summary="Export audit records / 导出审计记录",
    responses={200: {"content": {MEDIA_TYPES["xlsx"]: {}, MEDIA_TYPES["csv"]: {}}}},
)
def export_records(
    caller: CallerDep,
    views: Views,
    query: Filters,
    fmt: Annotated[Literal["xlsx", "csv"], Query(alias="format", description="xlsx, or csv (UTF-8 with BOM)")] = "xlsx",
) -> Response:
    """The records the same filters select (newest first), as a download; at most 100,000."""
    with answering():
        content, count = views.export(caller.principal, query, fmt, caller.source_address)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    headers = {"Content-Disposition": content_disposition(f"audit-{stamp}.{fmt}"), "X-Record-Count": str(count)}
    return Response(content, media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get("/usage", response_model=UsageOut, summary="Usage report / 使用情况报告")
def usage_report(
    caller: CallerDep,
    views: Views,
    since: Annotated[dt.datetime | None, Query(description="default: 7 days before until")] = None,
    until: Annotated[dt.datetime | None, Query(description="default: now")] = None,
) -> UsageOut:
    """Who watched what and how much, per unit, camera, grant and viewer; out-of-hours use; grants never used."""
    end = _utc(until) or dt.datetime.now(dt.UTC)
    start = _utc(since) or end - DEFAULT_USAGE_WINDOW
    with answering():
        report = views.usage(caller.principal, start, end, caller.source_address)
    return usage_out(report)


@router.get("/verify", response_model=ChainOut, summary="Verify the chain / 校验审计链")
def verify_chain(caller: CallerDep, views: Views) -> ChainOut:
    """Walk the hash chain and compare its head with the checkpoint kept outside the database."""
    with answering():
        report = views.verify(caller.principal, caller.source_address)
    return chain_out(report)
