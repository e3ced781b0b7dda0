"""What the sharing service's parts share: errors, configuration, inputs and audit records.

Who may see a sharing record is not decided here: the policy answers it (``AdminAction.SHARE_READ`` with the
record's :class:`~xueliang.domain.policy.SharingParties`, asked through the core's ``see``, ``member`` and
``oversees``).

Errors (``status`` is the HTTP answer the API should give; every error has ``zh`` and ``en``)::

    SharingError
      SharingNotFoundError      404: unknown request, grant, offer, camera or unit
      SharingForbiddenError     403: the policy refused: an action, or a record the caller is no party to (``decision``)
      InvalidShareError         422: bad input the caller can fix
      SharingConflictError      409: the request or grant is not in a state that allows it

Audit records of sharing changes (:func:`change_record`): ``grant_change`` for the share directory and grants
(``details.change``: ``offer.published``, ``offer.removed``, ``grant.created``, ``grant.revoked``,
``grant.renewed``, ``grant.expired``), ``share_request`` for ``request.filed`` and ``request.withdrawn``,
``approval`` for ``step.approved`` and ``step.rejected``; refusals are ``access_denied`` with outcome ``refused``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from xueliang.domain import grants as g
from xueliang.domain.audit import AuditAction, AuditEvent
from xueliang.domain.grants import Area
from xueliang.domain.policy import Decision
from xueliang.domain.principals import Mode, Principal

MAX_CAMERAS_IN_RECORD: Final = 50  # a record lists at most this many camera IDs (and says how many more)


class SharingError(Exception):
    status = 400

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


class SharingNotFoundError(SharingError):
    status = 404


class SharingForbiddenError(SharingError):
    status = 403

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason_zh, decision.reason_en)
        self.decision = decision


class InvalidShareError(SharingError):
    status = 422


class SharingConflictError(SharingError):
    status = 409


def refusal(zh: str, en: str) -> Decision:
    return Decision(False, None, None, zh, en)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file the requester uploaded earlier (stored by the attachment store; here only its reference)."""

    name: str
    path: str
    sha256: str
    size: int

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True, slots=True)
class NewShareRequest:
    modes: frozenset[Mode]
    starts_at: dt.datetime
    ends_at: dt.datetime
    purpose: str
    case_number: str
    cameras: tuple[str, ...] = ()
    area: Area | None = None
    attachments: tuple[Attachment, ...] = ()


def validate_request(new: NewShareRequest, now: dt.datetime, max_window: dt.timedelta) -> None:
    """Refuse (InvalidShareError) a request the caller must fix before anything is looked up."""
    if not new.modes:
        raise InvalidShareError("至少选择一种共享方式", "choose at least one mode")
    if bool(new.cameras) == (new.area is not None):
        raise InvalidShareError("请指定摄像机或区域（二选一）", "give either cameras or an area, not both")
    if not new.starts_at < new.ends_at or new.ends_at <= now:
        raise InvalidShareError("时间范围无效", "the time window must end after it starts, in the future")
    if new.ends_at - new.starts_at > max_window:
        raise InvalidShareError("授权期限过长", f"the time window is longer than {max_window.days} days")
    if not new.purpose.strip() or not new.case_number.strip():
        raise InvalidShareError("须填写用途和案件或文书编号", "a purpose and a case or document number are required")
    for attachment in new.attachments:
        if not attachment.name or not attachment.path or attachment.size < 0 or len(attachment.sha256) != 64:
            raise InvalidShareError("附件引用无效", f"attachment {attachment.name!r} is not a valid stored file")


@dataclass(frozen=True, slots=True)
class SharingConfig:
    platform_unit_code: str  # owns every camera the archive assigns to no unit
    bureau_unit_code: str  # the data bureau (数管局) deciding BUREAU steps
    chains: g.ApprovalChains = field(default_factory=g.ApprovalChains)
    max_window: dt.timedelta = dt.timedelta(days=366)


def purpose_of(purpose: str, case_number: str) -> str:
    """The purpose as audit records carry it (the play flow's records use the same form)."""
    return f"{purpose} ({case_number})"


def change_record(
    action: AuditAction,
    change: str,
    actor: Principal | None,
    at: dt.datetime,
    *,
    request_id: str | None = None,
    grant_id: str | None = None,
    purpose: str | None = None,
    cameras: Iterable[str] = (),
    source_address: str | None = None,
    **details: str,
) -> AuditEvent:
    """The audit record of one sharing change; ``actor`` None is the platform itself (expiry)."""
    listed = sorted(cameras)
    extra = {"change": change, **details}
    if request_id is not None:
        extra["request"] = request_id
    if listed:
        shown = ",".join(listed[:MAX_CAMERAS_IN_RECORD])
        more = len(listed) - MAX_CAMERAS_IN_RECORD
        extra["cameras"] = shown if more <= 0 else f"{shown} (+{more})"
    return AuditEvent(
        action=action,
        at=at,
        actor="system" if actor is None else actor.id,
        actor_unit=None if actor is None else actor.unit_code,
        camera_id=listed[0] if len(listed) == 1 else None,
        grant_id=grant_id,
        source_address=source_address,
        purpose=purpose,
        details=extra,
    )


def refusal_record(
    principal: Principal,
    action: str,
    decision: Decision,
    at: dt.datetime,
    *,
    camera_id: str | None = None,
    source_address: str | None = None,
    **details: str,
) -> AuditEvent:
    """The audit record of a refused sharing action (an escalation attempt leaves a trace)."""
    return AuditEvent(
        action=AuditAction.ACCESS_DENIED,
        at=at,
        actor=principal.id,
        actor_unit=principal.unit_code,
        camera_id=camera_id,
        source_address=source_address,
        outcome="refused",
        details={"action": action, "reason": decision.reason_en, **details},
    )


def modes_text(modes: Iterable[Mode]) -> str:
    return ",".join(sorted(m.value for m in modes))
