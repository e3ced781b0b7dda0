"""/api/v1/share/... and /api/v1/events: the share directory, attachments, share requests through their approval
chains, grants, and the notifications the console polls.

Thin: every permission question is the sharing service's (which asks the policy); its errors become answers with
a stable code (:func:`from_sharing_error`), and a failing audit log is 503 (``audit_unavailable``): no sharing
change commits without its audit record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile

from xueliang.api.auth_deps import audit_unavailable
from xueliang.api.deps import Caller, get_caller, get_platform
from xueliang.api.errors import ApiError
from xueliang.api.routers.inventory import content_disposition
from xueliang.api.schemas.sharing import (
    AttachmentOut,
    DecisionIn,
    EventsOut,
    GrantOut,
    GrantsOut,
    OfferIn,
    OfferOut,
    OffersOut,
    RenewIn,
    RevokeIn,
    ShareRequestIn,
    ShareRequestOut,
    ShareRequestsOut,
    event_out,
    grant_out,
    naive_utc,
    offer_out,
    request_out,
)
from xueliang.domain.audit import AuditUnavailableError
from xueliang.domain.grants import GrantsDomainError, GrantStatus, RequestStatus
from xueliang.sharing.attachments import MAX_ATTACHMENT_BYTES, AttachmentStore
from xueliang.sharing.grants import NewShareRequest, SharingError, SharingService

router = APIRouter(tags=["sharing"])
CallerDep = Annotated[Caller, Depends(get_caller)]
ERROR_CODES = {
    "SharingNotFoundError": "sharing_not_found",
    "SharingForbiddenError": "sharing_forbidden",
    "InvalidShareError": "invalid_share",
    "SharingConflictError": "sharing_conflict",
    "AttachmentTooLargeError": "attachment_too_large",
    "AttachmentMissingError": "attachment_missing",
}
_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the file


def get_sharing(request: Request) -> SharingService:
    return get_platform(request).sharing


def get_attachments(request: Request) -> AttachmentStore:
    return AttachmentStore(get_platform(request).settings.data_dir)


Sharing = Annotated[SharingService, Depends(get_sharing)]
Attachments = Annotated[AttachmentStore, Depends(get_attachments)]


def from_sharing_error(exc: SharingError) -> ApiError:
    code = ERROR_CODES.get(type(exc).__name__, "sharing_error")
    return ApiError(exc.status, code, exc.zh, exc.en)


@contextmanager
def answering() -> Iterator[None]:
    """Sharing refusals as answers; an unavailable audit log as 503 (the change did not happen)."""
    try:
        yield
    except SharingError as exc:
        raise from_sharing_error(exc) from exc
    except GrantsDomainError as exc:
        raise ApiError(422, "invalid_share", f"输入无效：{exc}", str(exc)) from exc
    except AuditUnavailableError as exc:
        raise audit_unavailable() from exc


# the share directory -----------------------------------------------------------------------------------------
@router.get("/share/offers", response_model=OffersOut, summary="Share directory / 共享目录")
def list_offers(
    caller: CallerDep,
    sharing: Sharing,
    owner_unit: Annotated[str | None, Query(max_length=64, description="default: the caller's unit")] = None,
    all_units: Annotated[bool, Query(description="every unit's offers (browse what can be requested)")] = False,
) -> OffersOut:
    owner = None if all_units else owner_unit or caller.principal.unit_code
    with answering():
        offers = sharing.directory(caller.principal, owner, source_address=caller.source_address)
    return OffersOut(items=[offer_out(o) for o in offers])


@router.post("/share/offers", response_model=OfferOut, status_code=201, summary="Publish / 发布共享")
def publish_offer(body: OfferIn, caller: CallerDep, sharing: Sharing) -> OfferOut:
    """Offer a camera, a division of the unit's cameras, or all of them, in these modes. Publishing the same
    (owner, scope, target) again replaces its modes and sensitivity."""
    with answering():
        offer = sharing.publish(
            caller.principal,
            body.scope,
            body.target,
            frozenset(body.modes),
            body.sensitivity,
            body.owner_unit,
            source_address=caller.source_address,
        )
    return offer_out(offer)


@router.delete("/share/offers/{offer_id}", status_code=204, summary="Remove an offer / 撤下共享目录项")
def remove_offer(offer_id: int, caller: CallerDep, sharing: Sharing) -> Response:
    """Grants already made stay until they end or are revoked."""
    with answering():
        sharing.unpublish(caller.principal, offer_id, source_address=caller.source_address)
    return Response(status_code=204)


# attachments -------------------------------------------------------------------------------------------------
@router.post(
    "/share/attachments",
    response_model=AttachmentOut,
    status_code=201,
    summary="Upload an attachment / 上传附件",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def upload_attachment(request: Request, caller: CallerDep, sharing: Sharing, store: Attachments) -> AttachmentOut:
    """A document for a share request (公函、审批表), at most 20 MiB, as the form field ``file``; put the answer
    in the request's ``attachments``. Only those who may file share requests upload."""
    with answering():
        await run_in_threadpool(sharing.check_may_request, caller.principal, source_address=caller.source_address)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_ATTACHMENT_BYTES + _FORM_OVERHEAD:
        raise ApiError(413, "attachment_too_large", "附件超过 20 MB", "the attachment exceeds 20 MiB")
    async with request.form(max_files=1, max_fields=1) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(
                422, "invalid_request", "请以表单字段 file 上传文件", "send the file as the form field 'file'"
            )
        with answering():
            attachment = await run_in_threadpool(store.save, upload.filename, upload.file)
    return AttachmentOut.model_validate(attachment.as_json())


# share requests ----------------------------------------------------------------------------------------------
@router.post("/share/requests", response_model=ShareRequestOut, status_code=201, summary="File a request / 提交申请")
def file_request(body: ShareRequestIn, caller: CallerDep, sharing: Sharing, store: Attachments) -> ShareRequestOut:
    """Cameras or an area, the modes, the time window, the purpose and a case or document number, attachments
    uploaded before. The request enters its approval chain (the owner units, then the data bureau; a high
    sensitivity adds the security administrator)."""
    with answering():
        attachments = tuple(store.reference(a.name, a.sha256, a.size) for a in body.attachments)
        new = NewShareRequest(
            modes=frozenset(body.modes),
            starts_at=naive_utc(body.starts_at),
            ends_at=naive_utc(body.ends_at),
            purpose=body.purpose,
            case_number=body.case_number,
            cameras=tuple(body.cameras or ()),
            area=None if body.area is None else body.area.area(),
            attachments=attachments,
        )
        request = sharing.file_request(caller.principal, new, source_address=caller.source_address)
    return request_out(request)


@router.get("/share/requests", response_model=ShareRequestsOut, summary="Share requests / 共享申请列表")
def list_requests(
    caller: CallerDep,
    sharing: Sharing,
    box: Annotated[
        Literal["mine", "to_decide"], Query(description="mine: my unit's requests; to_decide: awaiting my decision")
    ] = "mine",
    status: Annotated[RequestStatus | None, Query(description="only requests in this status (mine)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ShareRequestsOut:
    with answering():
        found = sharing.requests(caller.principal, box, status, limit, source_address=caller.source_address)
    return ShareRequestsOut(items=[request_out(r) for r in found])


def _one_request(sharing: SharingService, caller: Caller, request_id: str) -> ShareRequestOut:
    request = sharing.request_for(caller.principal, request_id, source_address=caller.source_address)
    return request_out(request, [g.id for g in sharing.grants_of_request(request.id)])


@router.get("/share/requests/{request_id}", response_model=ShareRequestOut, summary="A share request / 共享申请")
def get_request(request_id: str, caller: CallerDep, sharing: Sharing) -> ShareRequestOut:
    """For its parties: the requesting unit, the units deciding its steps, security administrators."""
    with answering():
        return _one_request(sharing, caller, request_id)


@router.get("/share/requests/{request_id}/attachments/{sha256}", summary="Download an attachment / 下载附件")
def download_attachment(
    request_id: str, sha256: str, caller: CallerDep, sharing: Sharing, store: Attachments
) -> FileResponse:
    with answering():
        request = sharing.request_for(caller.principal, request_id, source_address=caller.source_address)
    listed = next((a for a in request.attachments if a.get("sha256") == sha256), None)
    path = None if listed is None else store.path(sha256)
    if listed is None or path is None:
        raise ApiError(404, "attachment_not_found", "该申请没有此附件", "the request has no such attachment")
    headers = {
        "Content-Disposition": content_disposition(str(listed.get("name") or sha256)),
        "X-Content-Type-Options": "nosniff",
    }
    return FileResponse(path, media_type="application/octet-stream", headers=headers)


@router.post("/share/requests/{request_id}/approve", response_model=ShareRequestOut, summary="Approve / 同意")
def approve_request(
    request_id: str, caller: CallerDep, sharing: Sharing, body: DecisionIn | None = None
) -> ShareRequestOut:
    """Approve the open step (for whoever the policy lets decide it); the last approval creates the grants."""
    with answering():
        sharing.decide_step(
            caller.principal, request_id, True, (body or DecisionIn()).comment, source_address=caller.source_address
        )
        return _one_request(sharing, caller, request_id)


@router.post("/share/requests/{request_id}/reject", response_model=ShareRequestOut, summary="Reject / 驳回")
def reject_request(request_id: str, body: DecisionIn, caller: CallerDep, sharing: Sharing) -> ShareRequestOut:
    """Reject at the open step, with a comment (required); the request ends."""
    with answering():
        sharing.decide_step(caller.principal, request_id, False, body.comment, source_address=caller.source_address)
        return _one_request(sharing, caller, request_id)


@router.post("/share/requests/{request_id}/withdraw", response_model=ShareRequestOut, summary="Withdraw / 撤回")
def withdraw_request(request_id: str, caller: CallerDep, sharing: Sharing) -> ShareRequestOut:
    with answering():
        sharing.withdraw(caller.principal, request_id, source_address=caller.source_address)
        return _one_request(sharing, caller, request_id)


# grants ------------------------------------------------------------------------------------------------------
@router.get("/share/grants", response_model=GrantsOut, summary="Grants / 授权列表")
def list_grants(
    caller: CallerDep,
    sharing: Sharing,
    direction: Annotated[
        Literal["held", "given", "all"],
        Query(description="held: to my unit; given: on my unit's cameras; all: both (security admins: every grant)"),
    ] = "held",
    status: Annotated[GrantStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> GrantsOut:
    with answering():
        found = sharing.grant_records(caller.principal, direction, status, limit, source_address=caller.source_address)
    return GrantsOut(items=[grant_out(r) for r in found])


@router.get("/share/grants/{grant_id}", response_model=GrantOut, summary="A grant / 授权")
def get_grant(grant_id: str, caller: CallerDep, sharing: Sharing) -> GrantOut:
    with answering():
        return grant_out(sharing.grant_record(caller.principal, grant_id, source_address=caller.source_address))


@router.post("/share/grants/{grant_id}/revoke", response_model=GrantOut, summary="Revoke / 撤销授权")
def revoke_grant(grant_id: str, caller: CallerDep, sharing: Sharing, body: RevokeIn | None = None) -> GrantOut:
    """At once: streams playing under the grant stop within seconds on every media node."""
    with answering():
        sharing.revoke(caller.principal, grant_id, (body or RevokeIn()).reason, source_address=caller.source_address)
        return grant_out(sharing.grant_record(caller.principal, grant_id, source_address=caller.source_address))


@router.post("/share/grants/{grant_id}/renew", response_model=GrantOut, summary="Renew / 续期")
def renew_grant(grant_id: str, body: RenewIn, caller: CallerDep, sharing: Sharing) -> GrantOut:
    """Move the end of the window (an expired grant comes back to life; a revoked one never does: 409)."""
    with answering():
        sharing.renew(
            caller.principal, grant_id, naive_utc(body.until), body.reason, source_address=caller.source_address
        )
        return grant_out(sharing.grant_record(caller.principal, grant_id, source_address=caller.source_address))


# notifications -----------------------------------------------------------------------------------------------
@router.get("/events", response_model=EventsOut, tags=["events"], summary="Notifications / 通知")
def list_events(
    caller: CallerDep,
    sharing: Sharing,
    after: Annotated[int, Query(ge=0, description="only events with a larger id (the last next_after)")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EventsOut:
    """The caller's unit's sharing events, oldest first: poll with ``after`` set to the last ``next_after``."""
    with answering():
        rows = sharing.events_for(caller.principal, after, limit, source_address=caller.source_address)
    return EventsOut(items=[event_out(r, caller.language) for r in rows], next_after=rows[-1].id if rows else after)
