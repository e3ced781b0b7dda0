"""Share requests through their approval chains (共享申请与审批): filing, deciding steps, withdrawing, listing.

The share-request part of :class:`~xueliang.sharing.grants.SharingService`; changes follow the core's order (check,
audit records, then writes: see :mod:`xueliang.sharing.sharing_core`). A request resolves to cameras (listed, or
the published cameras of other units inside an area), walks the chain its sensitivity selects (the owner units'
steps, then the data bureau, then the security administrator), and its last approval creates one grant per owner
unit. Who may decide a step is the policy's answer; who may see a request: its parties (the requesting unit, the
units deciding its steps) and security administrators.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Literal

from xueliang.domain import grants as g
from xueliang.domain.audit import AuditAction, AuditEvent
from xueliang.domain.grants import Grant, RequestEvent, ShareScope, StepEvent, StepKind, StepStatus
from xueliang.domain.policy import AdminAction, ApprovalContext, CameraRef, decide
from xueliang.domain.principals import Principal
from xueliang.sharing.share_common import (
    InvalidShareError,
    NewShareRequest,
    SharingConflictError,
    SharingNotFoundError,
    change_record,
    modes_text,
    purpose_of,
    refusal,
    validate_request,
)
from xueliang.sharing.sharing_core import SharingCore, clamp, owner_ref, request_parties
from xueliang.store.db import transaction
from xueliang.store.sharing import LocatedCamera, ShareRequest, SharingRepository, Step

Box = Literal["mine", "to_decide"]


def request_change_record(
    action: AuditAction,
    change: str,
    principal: Principal,
    request: ShareRequest,
    now: dt.datetime,
    source_address: str | None,
    **details: str,
) -> AuditEvent:
    """The audit record of a change to a share request: its purpose and cameras, and ``details``."""
    return change_record(
        action,
        change,
        principal,
        now,
        request_id=request.id,
        purpose=purpose_of(request.purpose, request.case_number),
        cameras=request.camera_ids,
        source_address=source_address,
        **details,
    )


def grant_change_record(
    change: str,
    grant: Grant,
    actor: Principal | None,
    now: dt.datetime,
    purpose: str | None,
    source_address: str | None = None,
    **details: str,
) -> AuditEvent:
    """The audit record of a change to a grant (created, revoked, renewed, expired: ``actor`` None is the platform):
    its parties, targets and modes, the purpose of its request, and ``details``."""
    return change_record(
        AuditAction.GRANT_CHANGE,
        change,
        actor,
        now,
        request_id=grant.request_id,
        grant_id=grant.id,
        purpose=purpose,
        cameras=grant.targets,
        source_address=source_address,
        grantee=grant.grantee_unit_code,
        owner=grant.owner_unit_code or "",
        modes=modes_text(grant.modes),
        **details,
    )


def notify_grant(
    repo: SharingRepository, kind: str, grant: Grant, actor: str, at: dt.datetime, zh: str, en: str
) -> None:
    """The notification of a change to ``grant`` for both its units, the grantee first, then the owner."""
    for unit in dict.fromkeys((grant.grantee_unit_code, grant.owner_unit_code)):
        repo.add_event(kind, unit, actor, at, zh, en, request_id=grant.request_id, grant_id=grant.id)


class ShareRequests(SharingCore):
    """The share-request part of :class:`~xueliang.sharing.grants.SharingService`."""

    # filing ------------------------------------------------------------------------------------------------
    def file_request(
        self, principal: Principal, new: NewShareRequest, *, source_address: str | None = None
    ) -> ShareRequest:
        """Resolve the cameras (listed, or published ones inside the area), build the chain, open its first step."""
        now = self.clock()
        validate_request(new, now, self.config.max_window)
        with transaction(self.sessions) as session:
            repo = self.repo(session)
            if repo.unit_id(principal.unit_code) is None:
                raise SharingNotFoundError(
                    f"单位 {principal.unit_code} 不存在", f"unit {principal.unit_code} does not exist"
                )
            cameras = self._resolve(repo, principal, new, source_address)
            offers = repo.offers_for(cameras)
            usable = [c for c in cameras if new.modes <= frozenset().union(*(o.modes for o in offers[c.ref.id]))]
            if new.area is None and len(usable) < len(cameras):
                refused = sorted(c.ref.id for c in cameras if c not in usable)
                raise InvalidShareError(
                    f"摄像机未按所申请方式共享：{', '.join(refused)}",
                    f"cameras not shared in the requested modes: {', '.join(refused)}",
                )
            if not usable:
                raise InvalidShareError(
                    "区域内没有按所申请方式共享的摄像机", "no camera in the area is shared in the requested modes"
                )
            level = g.highest([o.sensitivity for c in usable for o in offers[c.ref.id]])
            request = ShareRequest(
                uuid.uuid4().hex,
                principal.unit_code,
                principal.id,
                tuple(sorted(c.ref.id for c in usable)),
                new.modes,
                new.starts_at,
                new.ends_at,
                new.purpose.strip(),
                new.case_number.strip(),
                tuple(a.as_json() for a in new.attachments),
                None if new.area is None else new.area.as_json(),
                level,
                g.RequestStatus.PENDING,
                self._chain(level, usable),
                now,
            )
            self.record(
                request_change_record(
                    AuditAction.SHARE_REQUEST,
                    "request.filed",
                    principal,
                    request,
                    now,
                    source_address,
                    modes=modes_text(request.modes),
                    window=f"{request.starts_at.isoformat()}/{request.ends_at.isoformat()}",
                    sensitivity=level.value,
                    attachments=str(len(request.attachments)),
                )
            )
            repo.add_request(request, [c.pk for c in usable])
            repo.add_event(
                "request.filed",
                principal.unit_code,
                principal.id,
                now,
                "共享申请已提交",
                "share request filed",
                request_id=request.id,
            )
            self._notify_step(repo, request.steps[0], request.id, now, principal.id)
        return request

    def _resolve(
        self, repo: SharingRepository, principal: Principal, new: NewShareRequest, source_address: str | None
    ) -> list[LocatedCamera]:
        if new.area is not None:
            self.require(principal, AdminAction.SHARE_REQUEST, None, source_address=source_address)
            found = repo.cameras_in_box(*new.area.bounds())
            return [
                c
                for c in found
                if c.longitude is not None
                and c.latitude is not None
                and new.area.contains(c.longitude, c.latitude)
                and c.ref.owner_unit_code != principal.unit_code
            ]
        by_id = repo.cameras(new.cameras)
        missing = sorted(set(new.cameras) - set(by_id))
        if missing:
            raise SharingNotFoundError(f"摄像机不存在：{', '.join(missing)}", f"unknown cameras: {', '.join(missing)}")
        cameras = [by_id[i] for i in sorted(set(new.cameras))]
        for camera in cameras:
            self.require(principal, AdminAction.SHARE_REQUEST, camera.ref, source_address=source_address)
        return cameras

    def _chain(self, level: g.Sensitivity, cameras: Sequence[LocatedCamera]) -> tuple[Step, ...]:
        kinds: list[tuple[StepKind, str | None]] = []
        for kind in self.config.chains.for_level(level):
            if kind is StepKind.OWNER:
                kinds.extend((kind, owner) for owner in sorted({c.ref.owner_unit_code for c in cameras}))
            else:
                kinds.append((kind, self.config.bureau_unit_code if kind is StepKind.BUREAU else None))
        return tuple(
            Step(i, kind, unit, StepStatus.OPEN if i == 0 else StepStatus.WAITING)
            for i, (kind, unit) in enumerate(kinds)
        )

    @staticmethod
    def _notify_step(repo: SharingRepository, step: Step, request_id: str, at: dt.datetime, actor: str) -> None:
        repo.add_event(
            "step.open",
            step.unit_code,
            actor,
            at,
            f"待审批（{step.kind.value}）",
            f"approval awaited ({step.kind.value})",
            request_id=request_id,
        )

    # reading -----------------------------------------------------------------------------------------------
    def request(self, request_id: str) -> ShareRequest:
        with self.sessions() as session:
            return self._get(self.repo(session), request_id)

    @staticmethod
    def _get(repo: SharingRepository, request_id: str, lock: bool = False) -> ShareRequest:
        found = repo.get_request(request_id, lock=lock)
        if found is None:
            raise SharingNotFoundError(f"共享申请 {request_id} 不存在", f"share request {request_id} does not exist")
        return found

    def request_for(self, principal: Principal, request_id: str, *, source_address: str | None = None) -> ShareRequest:
        """The request, for its parties only: the requesting unit, the units deciding its steps, security admins."""
        request = self.request(request_id)
        self.see(principal, "share_request.read", request_parties(request), source_address)
        return request

    def requests(
        self,
        principal: Principal,
        box: Box,
        status: g.RequestStatus | None = None,
        limit: int = 100,
        *,
        source_address: str | None = None,
    ) -> list[ShareRequest]:
        """``mine``: the requests the caller's unit filed, newest first; ``to_decide``: requests whose open step the
        caller may decide now (the policy's answer, as for deciding), oldest first."""
        self.member(principal, "share_request.list", source_address)
        limit = clamp(limit)
        with self.sessions() as session:
            repo = self.repo(session)
            if box == "mine":
                return repo.get_requests(repo.requests_of(principal.unit_code, status, limit))
            # security steps are candidates only for whom the policy lets decide one (of any other unit's request)
            security = ApprovalContext("", StepKind.SECURITY, self.config.bureau_unit_code)
            may = decide(principal, AdminAction.GRANT_APPROVE, None, self.clock(), self.index, context=security)
            with_security = may.allowed
            candidates = repo.get_requests(repo.open_step_requests(principal.unit_code, with_security, limit))
        return [r for r in candidates if self._may_decide(principal, r)]

    def _step_subject(self, request: ShareRequest, step: Step) -> tuple[CameraRef | None, ApprovalContext]:
        """What the policy is asked about when deciding ``step``: the owner unit (owner steps) and the request."""
        context = ApprovalContext(request.requester_unit_code, step.kind, self.config.bureau_unit_code)
        return (owner_ref(step.unit_code) if step.kind is StepKind.OWNER else None), context

    def _may_decide(self, principal: Principal, request: ShareRequest) -> bool:
        step = request.open_step()
        if step is None:
            return False
        camera, context = self._step_subject(request, step)
        return decide(principal, AdminAction.GRANT_APPROVE, camera, self.clock(), self.index, context=context).allowed

    # deciding ----------------------------------------------------------------------------------------------
    def decide_step(
        self,
        principal: Principal,
        request_id: str,
        approve: bool,
        comment: str = "",
        *,
        source_address: str | None = None,
    ) -> ShareRequest:
        """Approve or reject the open step; the last approval creates one grant per owner unit."""
        now = self.clock()
        comment = comment.strip()
        with transaction(self.sessions) as session:
            repo = self.repo(session)
            request = self._get(repo, request_id, lock=True)
            step = request.open_step()
            if step is None or request.status is not g.RequestStatus.PENDING:
                raise SharingConflictError("该申请不在审批中", f"the request is {request.status.value}, not pending")
            camera, context = self._step_subject(request, step)
            self.require(principal, AdminAction.GRANT_APPROVE, camera, context, source_address=source_address)
            if not approve and not comment:
                raise InvalidShareError("驳回须填写意见", "a rejection needs a comment")
            status = g.step_transition(step.status, StepEvent.APPROVE if approve else StepEvent.REJECT)
            following = [s for s in request.steps if s.position > step.position]
            final = approve and not following
            grants = self._plan_grants(repo, request) if final else []
            self._record_decision(principal, request, step, approve, comment, grants, now, source_address)
            repo.set_step(
                request.id, step.position, status, approver_id=principal.id, comment=comment or None, decided_at=now
            )
            if not approve:
                for later in following:
                    repo.set_step(request.id, later.position, g.step_transition(later.status, StepEvent.SKIP))
                repo.set_request_status(request.id, g.request_transition(request.status, RequestEvent.REJECT), now)
                repo.add_event(
                    "request.rejected",
                    request.requester_unit_code,
                    principal.id,
                    now,
                    f"共享申请被驳回：{comment}",
                    f"share request rejected: {comment}",
                    request_id=request.id,
                )
            elif following:
                nxt = following[0]
                repo.set_step(request.id, nxt.position, g.step_transition(nxt.status, StepEvent.OPEN))
                g.request_transition(request.status, RequestEvent.STEP_APPROVED)
                self._notify_step(repo, nxt, request.id, now, principal.id)
            else:
                final_status = g.request_transition(request.status, RequestEvent.FINAL_APPROVED)
                repo.set_request_status(request.id, final_status, now)
                self._add_grants(repo, grants, principal.id, now)
            result = self._get(repo, request.id)
        if final:
            self.refresh()
        return result

    def _record_decision(
        self,
        principal: Principal,
        request: ShareRequest,
        step: Step,
        approve: bool,
        comment: str,
        grants: Sequence[Grant],
        now: dt.datetime,
        source_address: str | None,
    ) -> None:
        self.record(
            request_change_record(
                AuditAction.APPROVAL,
                "step.approved" if approve else "step.rejected",
                principal,
                request,
                now,
                source_address,
                step=step.kind.value,
                position=str(step.position),
                comment=comment,
            )
        )
        purpose = purpose_of(request.purpose, request.case_number)
        for grant in grants:
            valid_until = grant.valid_until.isoformat()
            self.record(
                grant_change_record(
                    "grant.created", grant, principal, now, purpose, source_address, valid_until=valid_until
                )
            )

    @staticmethod
    def _plan_grants(repo: SharingRepository, request: ShareRequest) -> list[Grant]:
        """One grant per owner unit of the request's cameras (still in the archive)."""
        owners: dict[str, set[str]] = {}
        for camera in repo.cameras(request.camera_ids).values():
            owners.setdefault(camera.ref.owner_unit_code, set()).add(camera.ref.id)
        return [
            Grant(
                uuid.uuid4().hex,
                request.requester_unit_code,
                owner,
                ShareScope.CAMERA,
                frozenset(ids),
                request.modes,
                request.starts_at,
                request.ends_at,
                request_id=request.id,
            )
            for owner, ids in sorted(owners.items())
        ]

    @staticmethod
    def _add_grants(repo: SharingRepository, grants: Sequence[Grant], actor: str, now: dt.datetime) -> None:
        for grant in grants:
            repo.add_grant(grant, actor, now)
            count = len(grant.targets)
            notify_grant(
                repo,
                "grant.created",
                grant,
                actor,
                now,
                f"授权已生效（{count} 路）",
                f"grant created ({count} cameras)",
            )

    def withdraw(self, principal: Principal, request_id: str, *, source_address: str | None = None) -> ShareRequest:
        """The requesting unit takes its pending request back (someone there who may file requests)."""
        now = self.clock()
        with transaction(self.sessions) as session:
            repo = self.repo(session)
            request = self._get(repo, request_id, lock=True)
            if request.requester_unit_code != principal.unit_code:
                self.refuse(
                    principal,
                    "share_request.withdraw",
                    refusal("只能撤回本单位的申请", "only the requesting unit withdraws its request"),
                    source_address,
                )
            self.require(principal, AdminAction.SHARE_REQUEST, None, source_address=source_address)
            try:
                status = g.request_transition(request.status, RequestEvent.WITHDRAW)
            except g.IllegalTransitionError as exc:
                raise SharingConflictError("该申请已结束", f"the request is {request.status.value}") from exc
            self.record(
                request_change_record(
                    AuditAction.SHARE_REQUEST, "request.withdrawn", principal, request, now, source_address
                )
            )
            for step in request.steps:
                if step.status in (StepStatus.OPEN, StepStatus.WAITING):
                    repo.set_step(request.id, step.position, g.step_transition(step.status, StepEvent.SKIP))
            repo.set_request_status(request.id, status, now)
            repo.add_event(
                "request.withdrawn",
                principal.unit_code,
                principal.id,
                now,
                "共享申请已撤回",
                "share request withdrawn",
                request_id=request.id,
            )
            return self._get(repo, request.id)
