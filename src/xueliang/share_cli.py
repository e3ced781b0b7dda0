"""``xueliang share ...``: the share directory, share requests, approvals, grants and notifications from the server's
command line, for operators. Exit codes as the rest of the CLI: 0 done, 1 refused, 2 usage error.

The CLI holds the database itself, so there is no login: ``--as USERNAME`` names the account whose principal
(unit and roles, from the account service) acts, and the policy decides exactly as for that user over the API.
Every change and refusal is an audit record like the API's, from ``cli:<host>``; the command writes queued audit
records into the chain before it exits. A revocation made here reaches running servers over Redis at once when
``XUELIANG_REDIS_URL`` is set; in the embedded layout the server notices within its expiry interval (30 s).
Times without an offset are local time (Asia/Shanghai).
"""

from __future__ import annotations

import datetime as dt
import socket
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console, RenderableType

from xueliang.app import approval_chains, build_revocation_bus
from xueliang.config import load_settings
from xueliang.domain.audit import AuditUnavailableError
from xueliang.domain.grants import Area, GrantsDomainError, GrantStatus, RequestStatus, Sensitivity, ShareScope
from xueliang.domain.principals import Mode, Principal
from xueliang.share_cli_tables import (
    LOCAL_ZONE,
    events_table,
    grants_table,
    local,
    offers_table,
    request_view,
    requests_table,
)
from xueliang.sharing.accounts import AccountError, AccountService
from xueliang.sharing.attachments import AttachmentStore
from xueliang.sharing.audit import AuditLog
from xueliang.sharing.grants import NewShareRequest, SharingConfig, SharingError, SharingService
from xueliang.sharing.share_requests import Box
from xueliang.store.db import create_db_engine, make_session_factory, migrate
from xueliang.store.models import utcnow
from xueliang.store.sharing import Direction, ShareRequest

EXIT_REFUSED, EXIT_USAGE = 1, 2
BOXES: dict[str, Box] = {"mine": "mine", "to_decide": "to_decide"}
DIRECTIONS: dict[str, Direction] = {"held": "held", "given": "given", "all": "all"}

share_app = typer.Typer(
    help="视频共享：目录、申请、审批、授权 / sharing: directory, requests, grants", no_args_is_help=True
)
offers_app = typer.Typer(help="共享目录 / the share directory", no_args_is_help=True)
request_app = typer.Typer(help="共享申请 / share requests", no_args_is_help=True)
grants_app = typer.Typer(help="授权 / grants", no_args_is_help=True)
share_app.add_typer(offers_app, name="offers")
share_app.add_typer(request_app, name="request")
share_app.add_typer(grants_app, name="grants")
console = Console()

As = Annotated[str, typer.Option("--as", help="以该用户身份操作 / act as this user (username)")]
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (env XUELIANG_DATA_DIR)")]
RequestId = Annotated[str, typer.Argument(help="共享申请编号 / share request id")]
GrantId = Annotated[str, typer.Argument(help="授权编号 / grant id")]
Modes = Annotated[list[Mode], typer.Option("--mode", help="方式，可重复 / mode, repeatable")]
Reason = Annotated[str, typer.Option("--reason", help="原因 / reason")]
Choice = TypeVar("Choice")


@dataclass
class Acting:
    """What a command acts with: the service, the principal of ``--as``, where from, the attachment store."""

    sharing: SharingService
    principal: Principal
    source: str
    attachments: AttachmentStore


def _fail(code: int, zh: str, en: str) -> typer.Exit:
    console.print(f"[red]{zh}[/red]\n{en}", soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _acting(data_dir: Path | None, username: str) -> Iterator[Acting]:
    """The sharing service on the configured database, acting as ``username``; refusals become exit code 1."""
    settings = load_settings(data_dir=data_dir)
    engine = create_db_engine(settings.resolved_database_url())
    migrate(engine)
    sessions = make_session_factory(engine)
    bus = build_revocation_bus(settings)
    config = SharingConfig(settings.platform_unit, settings.bureau_unit, approval_chains(settings))
    sharing = SharingService(sessions, config, bus)
    audit = AuditLog(engine, data_dir=settings.data_dir, hash_alg=settings.audit_hash, grant_ids=sharing.grant_ids)
    sharing.audit = audit
    try:
        user = AccountService(sessions, settings).get_user(username)
        if user.disabled:
            raise _fail(EXIT_REFUSED, f"账号 {username} 已停用", f"the account {username} is disabled")
        source = f"cli:{socket.gethostname()}"[:64]
        yield Acting(sharing, user.principal(), source, AttachmentStore(settings.data_dir))
    except (SharingError, AccountError) as exc:
        raise _fail(EXIT_REFUSED, exc.zh, exc.en) from exc
    except GrantsDomainError as exc:
        raise _fail(EXIT_USAGE, f"输入无效：{exc}", str(exc)) from exc
    except AuditUnavailableError as exc:
        raise _fail(
            EXIT_REFUSED, "审计记录无法写入，操作已拒绝", f"the audit log is unavailable: refused ({exc})"
        ) from exc
    finally:
        audit.close()  # writes the queued records into the chain
        sharing.close()
        bus.close()
        engine.dispose()


def _when(value: str, option: str) -> dt.datetime:
    """An ISO date or date-time (local time unless it carries an offset) as naive UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise _fail(
            EXIT_USAGE, f"{option} 不是有效时间：{value}", f"{option} is not an ISO date/time: {value}"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(LOCAL_ZONE))
    return parsed.astimezone(dt.UTC).replace(tzinfo=None)


def _one_of(value: str, choices: dict[str, Choice], option: str) -> Choice:
    """The choice named ``value``; any other value is a usage error that lists the choices."""
    chosen = choices.get(value)
    if chosen is None:
        *first, last = choices
        raise _fail(
            EXIT_USAGE, f"{option} 应为 {'、'.join(first)} 或 {last}", f"{option} is {', '.join(first)} or {last}"
        )
    return chosen


# the share directory -----------------------------------------------------------------------------------------
@offers_app.command("list")
def offers_list(
    as_user: As,
    unit: Annotated[str | None, typer.Option("--unit", help="该单位发布的 / this unit's offers")] = None,
    all_units: Annotated[bool, typer.Option("--all", help="所有单位 / every unit's offers")] = False,
    data_dir: DataDir = None,
) -> None:
    """What a unit offers for sharing (default: the acting user's unit)."""
    with _acting(data_dir, as_user) as acting:
        owner = None if all_units else unit or acting.principal.unit_code
        offers = acting.sharing.directory(acting.principal, owner, source_address=acting.source)
    console.print(offers_table(offers))


@offers_app.command("publish")
def offers_publish(
    as_user: As,
    scope: Annotated[ShareScope, typer.Option("--scope", help="camera | division | unit")],
    mode: Modes,
    target: Annotated[
        str | None, typer.Option("--target", help="摄像机编码或行政区划代码 / camera or division")
    ] = None,
    sensitivity: Annotated[Sensitivity, typer.Option("--sensitivity", help="low | normal | high")] = Sensitivity.NORMAL,
    owner_unit: Annotated[str | None, typer.Option("--owner-unit", help="代发单位 / on behalf of (secadmin)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Offer a camera, a division of the unit's cameras, or all of them, in these modes."""
    with _acting(data_dir, as_user) as acting:
        offer = acting.sharing.publish(
            acting.principal, scope, target, frozenset(mode), sensitivity, owner_unit, source_address=acting.source
        )
    console.print(f"已发布 / published offer {offer.id}:")
    console.print(offers_table([offer]))


@offers_app.command("remove")
def offers_remove(
    as_user: As, offer_id: Annotated[int, typer.Argument(help="目录项编号 / offer id")], data_dir: DataDir = None
) -> None:
    """Take an offer out of the directory (grants already made stay)."""
    with _acting(data_dir, as_user) as acting:
        acting.sharing.unpublish(acting.principal, offer_id, source_address=acting.source)
    console.print(f"已撤下 / removed offer {offer_id}")


# share requests ----------------------------------------------------------------------------------------------
def _area(bbox: str | None, polygon: str | None) -> Area | None:
    try:
        if bbox is not None:
            west, south, east, north = (float(v) for v in bbox.split(","))
            return Area.bbox(west, south, east, north)
        if polygon is not None:
            points = [tuple(float(v) for v in p.split(",")) for p in polygon.split(";") if p.strip()]
            if any(len(p) != 2 for p in points):
                raise ValueError("each point is lon,lat")
            return Area.polygon([(p[0], p[1]) for p in points])
    except (ValueError, GrantsDomainError) as exc:
        raise _fail(EXIT_USAGE, f"区域无效：{exc}", f"invalid area: {exc}") from exc
    return None


@request_app.command("file")
def request_file(
    as_user: As,
    mode: Modes,
    until: Annotated[str, typer.Option("--until", help="截止时间 / until (ISO, local time)")],
    purpose: Annotated[str, typer.Option("--purpose", help="用途 / purpose")],
    case_number: Annotated[str, typer.Option("--case", help="案件或文书编号 / case or document number")],
    camera: Annotated[list[str] | None, typer.Option("--camera", help="摄像机编码，可重复 / camera id")] = None,
    bbox: Annotated[str | None, typer.Option("--bbox", help="west,south,east,north (WGS-84)")] = None,
    polygon: Annotated[str | None, typer.Option("--polygon", help="lon,lat;lon,lat;lon,lat;...")] = None,
    since: Annotated[str | None, typer.Option("--from", help="开始时间，默认现在 / from (default now)")] = None,
    attach: Annotated[
        list[Path] | None,
        typer.Option("--attach", exists=True, dir_okay=False, help="附件，可重复 / attachment file, repeatable"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """File a share request for cameras or the published cameras inside an area."""
    if bbox is not None and polygon is not None:
        raise _fail(EXIT_USAGE, "--bbox 与 --polygon 只能选一", "give --bbox or --polygon, not both")
    area = _area(bbox, polygon)
    starts = _when(since, "--from") if since else utcnow()
    with _acting(data_dir, as_user) as acting:
        acting.sharing.check_may_request(acting.principal, source_address=acting.source)
        attachments = []
        for path in attach or []:
            with path.open("rb") as source:
                attachments.append(acting.attachments.save(path.name, source))
        new = NewShareRequest(
            frozenset(mode),
            starts,
            _when(until, "--until"),
            purpose,
            case_number,
            tuple(camera or ()),
            area,
            tuple(attachments),
        )
        request = acting.sharing.file_request(acting.principal, new, source_address=acting.source)
    console.print(request_view(request))


@request_app.command("list")
def request_list(
    as_user: As,
    box: Annotated[str, typer.Option("--box", help="mine | to_decide")] = "mine",
    status: Annotated[RequestStatus | None, typer.Option("--status", help="只列此状态 / only this status")] = None,
    data_dir: DataDir = None,
) -> None:
    """The acting unit's requests (mine) or those awaiting the acting user's decision (to_decide)."""
    chosen = _one_of(box, BOXES, "--box")
    with _acting(data_dir, as_user) as acting:
        found = acting.sharing.requests(acting.principal, chosen, status, source_address=acting.source)
    console.print(requests_table(found))


@request_app.command("show")
def request_show(as_user: As, request_id: RequestId, data_dir: DataDir = None) -> None:
    """One request with its approval chain (for its parties)."""
    with _acting(data_dir, as_user) as acting:
        request = acting.sharing.request_for(acting.principal, request_id, source_address=acting.source)
        view = _with_grants(acting, request)
    console.print(view)


def _with_grants(acting: Acting, request: ShareRequest) -> RenderableType:
    """The request with the grants its approval created."""
    return request_view(request, [g.id for g in acting.sharing.grants_of_request(request.id)])


def _decide(as_user: As, request_id: str, approve: bool, comment: str, data_dir: Path | None) -> None:
    with _acting(data_dir, as_user) as acting:
        sharing = acting.sharing
        request = sharing.decide_step(acting.principal, request_id, approve, comment, source_address=acting.source)
        view = _with_grants(acting, request)
    console.print(view)


@share_app.command("approve")
def approve(
    as_user: As,
    request_id: RequestId,
    comment: Annotated[str, typer.Option("--comment", help="意见 / comment")] = "",
    data_dir: DataDir = None,
) -> None:
    """Approve the request's open step (the last approval creates the grants)."""
    _decide(as_user, request_id, True, comment, data_dir)


@share_app.command("reject")
def reject(
    as_user: As,
    request_id: RequestId,
    comment: Annotated[str, typer.Option("--comment", help="驳回意见（必填）/ why (required)")],
    data_dir: DataDir = None,
) -> None:
    """Reject the request at its open step; it ends there."""
    _decide(as_user, request_id, False, comment, data_dir)


@share_app.command("withdraw")
def withdraw(as_user: As, request_id: RequestId, data_dir: DataDir = None) -> None:
    """The requesting unit takes its pending request back."""
    with _acting(data_dir, as_user) as acting:
        request = acting.sharing.withdraw(acting.principal, request_id, source_address=acting.source)
    console.print(request_view(request))


# grants ------------------------------------------------------------------------------------------------------
@grants_app.command("list")
def grants_list(
    as_user: As,
    direction: Annotated[str, typer.Option("--direction", help="held | given | all")] = "held",
    status: Annotated[GrantStatus | None, typer.Option("--status", help="active | expired | revoked")] = None,
    data_dir: DataDir = None,
) -> None:
    """Grants the acting unit holds, gives (on its cameras), or both (a security admin: every grant)."""
    chosen = _one_of(direction, DIRECTIONS, "--direction")
    with _acting(data_dir, as_user) as acting:
        records = acting.sharing.grant_records(acting.principal, chosen, status, source_address=acting.source)
    console.print(grants_table(records))


@grants_app.command("revoke")
def grants_revoke(
    as_user: As,
    grant_id: GrantId,
    reason: Reason = "",
    data_dir: DataDir = None,
) -> None:
    """Revoke a grant at once."""
    with _acting(data_dir, as_user) as acting:
        grant = acting.sharing.revoke(acting.principal, grant_id, reason, source_address=acting.source)
    console.print(f"已撤销 / revoked grant {grant.id}")


@grants_app.command("renew")
def grants_renew(
    as_user: As,
    grant_id: GrantId,
    until: Annotated[str, typer.Option("--until", help="新的截止时间 / new end (ISO, local time)")],
    reason: Reason = "",
    data_dir: DataDir = None,
) -> None:
    """Move a grant's end (an expired grant comes back; a revoked one never does)."""
    end = _when(until, "--until")
    with _acting(data_dir, as_user) as acting:
        grant = acting.sharing.renew(acting.principal, grant_id, end, reason, source_address=acting.source)
    console.print(f"已续期 / renewed grant {grant.id} until {local(grant.valid_until)}")


# notifications -----------------------------------------------------------------------------------------------
@share_app.command("events")
def events(
    as_user: As,
    after: Annotated[int, typer.Option("--after", min=0, help="只列编号更大的 / only newer than this id")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 100,
    data_dir: DataDir = None,
) -> None:
    """The acting unit's sharing notifications, oldest first."""
    with _acting(data_dir, as_user) as acting:
        rows = acting.sharing.events_for(acting.principal, after, limit, source_address=acting.source)
    console.print(events_table(rows))
