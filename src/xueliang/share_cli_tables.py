"""How ``xueliang share ...`` shows sharing records: rich tables with bilingual headings, times in local time."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from xueliang.domain.principals import Mode
from xueliang.store.sharing import EventRow, GrantRecord, Offer, ShareRequest

LOCAL_ZONE = "Asia/Shanghai"


def local(at: dt.datetime | None) -> str:
    """A naive UTC time as local time (minutes)."""
    if at is None:
        return ""
    return f"{at.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(LOCAL_ZONE)):%Y-%m-%d %H:%M}"


def modes(values: Iterable[Mode]) -> str:
    return ", ".join(sorted(m.value for m in values))


def _table(headings: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    table = Table(*headings)
    for row in rows:
        table.add_row(*row)
    return table


def offers_table(offers: Iterable[Offer]) -> Table:
    headings = ("编号 / id", "单位 / unit", "范围 / scope", "对象 / target", "方式 / modes", "敏感度 / sensitivity")
    return _table(
        headings,
        (
            (str(o.id), o.owner_unit_code, o.scope, o.camera_id or o.division_code or "", modes(o.modes), o.sensitivity)
            for o in offers
        ),
    )


def _waiting(request: ShareRequest) -> str:
    step = request.open_step()
    return "" if step is None else f"{step.kind.value} {step.unit_code or ''}".strip()


def requests_table(requests: Iterable[ShareRequest]) -> Table:
    headings = (
        "编号 / id",
        "申请单位 / unit",
        "状态 / status",
        "待审 / open step",
        "摄像机 / cameras",
        "方式 / modes",
        "截止 / until",
        "用途 / purpose",
    )
    return _table(
        headings,
        (
            (
                r.id,
                r.requester_unit_code,
                r.status,
                _waiting(r),
                str(len(r.camera_ids)),
                modes(r.modes),
                local(r.ends_at),
                f"{r.purpose} ({r.case_number})",
            )
            for r in requests
        ),
    )


def request_view(request: ShareRequest, grants: Sequence[str] = ()) -> RenderableType:
    """One request: what is asked, its attachments, its approval chain and the grants it created."""
    lines = [
        f"共享申请 / share request {request.id}: {request.status.value}",
        f"  申请单位 / unit: {request.requester_unit_code} ({request.requester_id})",
        f"  摄像机 / cameras: {', '.join(request.camera_ids)}",
        f"  方式 / modes: {modes(request.modes)}; {local(request.starts_at)} - {local(request.ends_at)}",
        f"  用途 / purpose: {request.purpose} ({request.case_number}); 敏感度 / sensitivity {request.sensitivity}",
        *(
            f"  附件 / attachment: {a.get('name')} ({a.get('size')} bytes, {a.get('sha256')})"
            for a in request.attachments
        ),
    ]
    steps = _table(
        ("#", "环节 / step", "单位 / unit", "状态 / status", "审批人 / approver", "意见 / comment", "时间 / at"),
        (
            (
                str(s.position),
                s.kind,
                s.unit_code or "",
                s.status,
                s.approver_id or "",
                s.comment or "",
                local(s.decided_at),
            )
            for s in request.steps
        ),
    )
    tail = [Text(f"  授权 / grants: {', '.join(grants)}")] if grants else []
    return Group(*(Text(line) for line in lines), steps, *tail)


def grants_table(records: Iterable[GrantRecord]) -> Table:
    headings = (
        "编号 / id",
        "被授权 / grantee",
        "所属 / owner",
        "状态 / status",
        "方式 / modes",
        "摄像机 / targets",
        "有效期 / valid",
        "申请 / request",
        "原因 / reason",
    )
    return _table(
        headings,
        (
            (
                g.id,
                g.grantee_unit_code,
                g.owner_unit_code or "",
                g.status,
                modes(g.modes),
                ", ".join(sorted(g.targets)),
                f"{local(g.valid_from)} - {local(g.valid_until)}",
                g.request_id or "",
                r.reason or "",
            )
            for r in records
            for g in (r.grant,)
        ),
    )


def events_table(rows: Iterable[EventRow]) -> Table:
    headings = (
        "编号 / id",
        "时间 / at",
        "类型 / kind",
        "申请 / request",
        "授权 / grant",
        "操作人 / actor",
        "消息 / message",
    )
    return _table(
        headings,
        (
            (
                str(e.id),
                local(e.at),
                e.kind,
                e.request_id or "",
                e.grant_id or "",
                e.actor,
                f"{e.message_zh} / {e.message_en}",
            )
            for e in rows
        ),
    )
