"""How ``xueliang share ...`` shows sharing records: rich tables with bilingual headings, times in local time."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from xueliang.domain.principals import Mode
from xueliang.store.sharing import EventRow, GrantRecord, Offer, ShareRequest

LOCAL_ZONE = "Asia/Shanghai"
Row = TypeVar("Row")


def local(at: dt.datetime | None) -> str:
    """A naive UTC time as local time (minutes)."""
    if at is None:
        return ""
    return f"{at.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(LOCAL_ZONE)):%Y-%m-%d %H:%M}"


def modes(values: Iterable[Mode]) -> str:
    return ", ".join(sorted(m.value for m in values))


def _table(rows: Iterable[Row], *columns: tuple[str, Callable[[Row], str]]) -> Table:
    """A table of ``rows``, a column per (heading, the cell of a row)."""
    table = Table(*(heading for heading, _ in columns))
    for row in rows:
        table.add_row(*(cell(row) for _, cell in columns))
    return table


def offers_table(offers: Iterable[Offer]) -> Table:
    return _table(
        offers,
        ("编号 / id", lambda o: str(o.id)),
        ("单位 / unit", lambda o: o.owner_unit_code),
        ("范围 / scope", lambda o: o.scope),
        ("对象 / target", lambda o: o.camera_id or o.division_code or ""),
        ("方式 / modes", lambda o: modes(o.modes)),
        ("敏感度 / sensitivity", lambda o: o.sensitivity),
    )


def _waiting(request: ShareRequest) -> str:
    step = request.open_step()
    return "" if step is None else f"{step.kind.value} {step.unit_code or ''}".strip()


def requests_table(requests: Iterable[ShareRequest]) -> Table:
    return _table(
        requests,
        ("编号 / id", lambda r: r.id),
        ("申请单位 / unit", lambda r: r.requester_unit_code),
        ("状态 / status", lambda r: r.status),
        ("待审 / open step", _waiting),
        ("摄像机 / cameras", lambda r: str(len(r.camera_ids))),
        ("方式 / modes", lambda r: modes(r.modes)),
        ("截止 / until", lambda r: local(r.ends_at)),
        ("用途 / purpose", lambda r: f"{r.purpose} ({r.case_number})"),
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
        request.steps,
        ("#", lambda s: str(s.position)),
        ("环节 / step", lambda s: s.kind),
        ("单位 / unit", lambda s: s.unit_code or ""),
        ("状态 / status", lambda s: s.status),
        ("审批人 / approver", lambda s: s.approver_id or ""),
        ("意见 / comment", lambda s: s.comment or ""),
        ("时间 / at", lambda s: local(s.decided_at)),
    )
    tail = [Text(f"  授权 / grants: {', '.join(grants)}")] if grants else []
    return Group(*(Text(line) for line in lines), steps, *tail)


def grants_table(records: Iterable[GrantRecord]) -> Table:
    return _table(
        records,
        ("编号 / id", lambda r: r.grant.id),
        ("被授权 / grantee", lambda r: r.grant.grantee_unit_code),
        ("所属 / owner", lambda r: r.grant.owner_unit_code or ""),
        ("状态 / status", lambda r: r.grant.status),
        ("方式 / modes", lambda r: modes(r.grant.modes)),
        ("摄像机 / targets", lambda r: ", ".join(sorted(r.grant.targets))),
        ("有效期 / valid", lambda r: f"{local(r.grant.valid_from)} - {local(r.grant.valid_until)}"),
        ("申请 / request", lambda r: r.grant.request_id or ""),
        ("原因 / reason", lambda r: r.reason or ""),
    )


def events_table(rows: Iterable[EventRow]) -> Table:
    return _table(
        rows,
        ("编号 / id", lambda e: str(e.id)),
        ("时间 / at", lambda e: local(e.at)),
        ("类型 / kind", lambda e: e.kind),
        ("申请 / request", lambda e: e.request_id or ""),
        ("授权 / grant", lambda e: e.grant_id or ""),
        ("操作人 / actor", lambda e: e.actor),
        ("消息 / message", lambda e: f"{e.message_zh} / {e.message_en}"),
    )
