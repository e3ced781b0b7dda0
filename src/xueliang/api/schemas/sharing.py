"""Share directory, share request, grant and notification models, and their conversion from the service's records.

Times: the service keeps naive UTC; answers carry UTC with an offset. A time sent without an offset is taken as UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xueliang.domain.grants import Area, GrantStatus, RequestStatus, Sensitivity, ShareScope, StepKind, StepStatus
from xueliang.domain.principals import Mode
from xueliang.store.sharing import EventRow, GrantRecord, Offer, ShareRequest, Step

SHA256_PATTERN = r"^[0-9a-f]{64}$"


def naive_utc(at: dt.datetime) -> dt.datetime:
    """An input time as the service keeps it (naive UTC); without an offset it already is UTC."""
    return at if at.tzinfo is None else at.astimezone(dt.UTC).replace(tzinfo=None)


def aware(at: dt.datetime | None) -> dt.datetime | None:
    return None if at is None else at.replace(tzinfo=dt.UTC)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# the share directory -----------------------------------------------------------------------------------------
class OfferIn(_In):
    scope: ShareScope = Field(description="camera | division | unit")
    target: str | None = Field(
        None, max_length=32, description="camera: its platform ID; division: a 2-12 digit code; unit: none"
    )
    modes: list[Mode] = Field(min_length=1, description="live, playback, snapshot, desensitised, export")
    sensitivity: Sensitivity = Field(Sensitivity.NORMAL, description="low | normal | high: selects the approval chain")
    owner_unit: str | None = Field(
        None,
        max_length=64,
        description="the owner unit (a security administrator publishing for a unit); "
        "default the caller's unit; a camera offer always belongs to the camera's owner",
    )


class OfferOut(BaseModel):
    id: int
    owner_unit: str
    scope: ShareScope
    camera_id: str | None
    division_code: str | None
    modes: list[Mode]
    sensitivity: Sensitivity


class OffersOut(BaseModel):
    items: list[OfferOut]


def offer_out(offer: Offer) -> OfferOut:
    return OfferOut(
        id=offer.id,
        owner_unit=offer.owner_unit_code,
        scope=offer.scope,
        camera_id=offer.camera_id,
        division_code=offer.division_code,
        modes=sorted(offer.modes),
        sensitivity=offer.sensitivity,
    )


# attachments and share requests ------------------------------------------------------------------------------
class AttachmentOut(BaseModel):
    name: str = Field(description="the file's name, cleaned (a label only)")
    path: str = Field(description="where the platform keeps it, relative to its data directory")
    sha256: str
    size: int


class AttachmentRef(_In):
    name: str = Field(min_length=1, max_length=200)
    sha256: str = Field(pattern=SHA256_PATTERN)
    size: int = Field(ge=0)
    path: str | None = Field(
        None, max_length=300, description="as returned by the upload; ignored (the digest names it)"
    )


class AreaIn(_In):
    """Exactly one of ``bbox`` (west, south, east, north) or ``polygon`` (three or more [longitude, latitude]),
    WGS-84."""

    bbox: tuple[float, float, float, float] | None = None
    polygon: list[tuple[float, float]] | None = Field(None, min_length=3, max_length=1000)

    @model_validator(mode="after")
    def _one(self) -> AreaIn:
        if (self.bbox is None) == (self.polygon is None):
            raise ValueError("give exactly one of bbox and polygon")
        return self

    def area(self) -> Area:
        return Area.bbox(*self.bbox) if self.bbox is not None else Area.polygon(list(self.polygon or ()))


class ShareRequestIn(_In):
    cameras: list[str] | None = Field(None, max_length=1000, description="camera platform IDs (or give an area)")
    area: AreaIn | None = Field(None, description="the published cameras of other units inside it (or give cameras)")
    modes: list[Mode] = Field(min_length=1)
    starts_at: dt.datetime
    ends_at: dt.datetime
    purpose: str = Field(max_length=500, description="用途 / what the video is needed for")
    case_number: str = Field(max_length=100, description="案件编号或文书编号 / case or document number")
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=10, description="uploaded first")


class StepOut(BaseModel):
    position: int
    kind: StepKind = Field(description="owner (the camera owner unit), bureau (the data bureau), security")
    unit: str | None = Field(description="the unit deciding it; none for a security step")
    status: StepStatus
    approver: str | None
    comment: str | None
    decided_at: dt.datetime | None


class ShareRequestOut(BaseModel):
    id: str
    requester_unit: str
    requester: str
    cameras: list[str]
    modes: list[Mode]
    starts_at: dt.datetime
    ends_at: dt.datetime
    purpose: str
    case_number: str
    attachments: list[AttachmentOut]
    area: dict[str, Any] | None
    sensitivity: Sensitivity
    status: RequestStatus
    steps: list[StepOut]
    open_step: StepOut | None = Field(description="the step awaiting a decision, if any")
    created_at: dt.datetime
    grants: list[str] | None = Field(None, description="grants the approval created (single-request answers)")


class ShareRequestsOut(BaseModel):
    items: list[ShareRequestOut]


class DecisionIn(_In):
    comment: str = Field("", max_length=1000, description="意见; required to reject")


def _step_out(step: Step) -> StepOut:
    return StepOut(
        position=step.position,
        kind=step.kind,
        unit=step.unit_code,
        status=step.status,
        approver=step.approver_id,
        comment=step.comment,
        decided_at=aware(step.decided_at),
    )


def request_out(request: ShareRequest, grants: list[str] | None = None) -> ShareRequestOut:
    open_step = request.open_step()
    return ShareRequestOut(
        id=request.id,
        requester_unit=request.requester_unit_code,
        requester=request.requester_id,
        cameras=list(request.camera_ids),
        modes=sorted(request.modes),
        starts_at=request.starts_at.replace(tzinfo=dt.UTC),
        ends_at=request.ends_at.replace(tzinfo=dt.UTC),
        purpose=request.purpose,
        case_number=request.case_number,
        attachments=[AttachmentOut.model_validate(a) for a in request.attachments],
        area=request.area,
        sensitivity=request.sensitivity,
        status=request.status,
        steps=[_step_out(s) for s in request.steps],
        open_step=None if open_step is None else _step_out(open_step),
        created_at=request.created_at.replace(tzinfo=dt.UTC),
        grants=grants,
    )


# grants ------------------------------------------------------------------------------------------------------
class GrantOut(BaseModel):
    id: str
    grantee_unit: str
    owner_unit: str | None
    scope: ShareScope
    targets: list[str] = Field(description="camera platform IDs (camera scope) or division codes (division scope)")
    modes: list[Mode]
    desensitised: bool = Field(description="every use is masked (faces, plates, privacy masks blurred)")
    valid_from: dt.datetime
    valid_until: dt.datetime
    status: GrantStatus
    request_id: str | None
    created_by: str
    created_at: dt.datetime
    changed_by: str | None
    changed_at: dt.datetime | None
    reason: str | None = Field(description="the reason given at the last revocation or renewal")


class GrantsOut(BaseModel):
    items: list[GrantOut]


class RevokeIn(_In):
    reason: str = Field("", max_length=500)


class RenewIn(_In):
    until: dt.datetime = Field(description="the new end of the grant's window")
    reason: str = Field("", max_length=500)


def grant_out(record: GrantRecord) -> GrantOut:
    grant = record.grant
    return GrantOut(
        id=grant.id,
        grantee_unit=grant.grantee_unit_code,
        owner_unit=grant.owner_unit_code,
        scope=grant.scope,
        targets=sorted(grant.targets),
        modes=sorted(grant.modes),
        desensitised=grant.desensitised,
        valid_from=grant.valid_from.replace(tzinfo=dt.UTC),
        valid_until=grant.valid_until.replace(tzinfo=dt.UTC),
        status=grant.status,
        request_id=grant.request_id,
        created_by=record.created_by,
        created_at=record.created_at.replace(tzinfo=dt.UTC),
        changed_by=record.changed_by,
        changed_at=aware(record.changed_at),
        reason=record.reason,
    )


# notifications -----------------------------------------------------------------------------------------------
class EventOut(BaseModel):
    id: int
    at: dt.datetime
    kind: str = Field(description="offer.published, request.filed, step.open, request.rejected, grant.created, ...")
    unit: str | None = Field(description="the unit it is for; none: the security administrators' feed")
    request_id: str | None
    grant_id: str | None
    actor: str
    message: str = Field(description="in the caller's language (Accept-Language)")
    message_zh: str
    message_en: str


class EventsOut(BaseModel):
    items: list[EventOut]
    next_after: int = Field(description="pass as after= to get only newer events")


def event_out(row: EventRow, language: str) -> EventOut:
    return EventOut(
        id=row.id,
        at=row.at.replace(tzinfo=dt.UTC),
        kind=row.kind,
        unit=row.unit_code,
        request_id=row.request_id,
        grant_id=row.grant_id,
        actor=row.actor,
        message=row.message_en if language == "en" else row.message_zh,
        message_zh=row.message_zh,
        message_en=row.message_en,
    )
