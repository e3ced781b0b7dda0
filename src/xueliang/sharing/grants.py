"""Sharing service: the share directory, share requests through approval chains, grants, revocation (issue 5).

The service keeps the :class:`~xueliang.domain.policy.GrantIndex` of every active grant in memory, rebuilt and
swapped after each change it commits and whenever the revocation bus reports a grant it holds, so a play check is
a few dict probes (:meth:`SharingService.authorise`). Every permission question goes through
:func:`~xueliang.domain.policy.decide`; nothing here re-implements a rule. Each change leaves a ``sharing_event``
row for the console.

Errors (``status`` is the HTTP answer the API should give; every error has ``zh`` and ``en``)::

    SharingError
      SharingNotFoundError      404: unknown request, grant, camera or unit
      SharingForbiddenError     403: the policy refused (``decision`` says why)
      InvalidShareError         422: bad input the caller can fix
      SharingConflictError      409: the request or grant is not in a state that allows it
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from xueliang.domain import grants as g
from xueliang.domain.grants import Area, Grant, GrantEvent, RequestEvent, ShareScope, StepEvent, StepKind, StepStatus
from xueliang.domain.policy import Action, AdminAction, ApprovalContext, CameraRef, Decision, GrantIndex, decide
from xueliang.domain.principals import Mode, Principal
from xueliang.sharing.revocation import Revocation, RevocationBus, RevocationBusError, Subscription
from xueliang.store.db import transaction
from xueliang.store.models import utcnow
from xueliang.store.sharing import EventRow, LocatedCamera, Offer, ShareRequest, SharingRepository, Step

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file the requester uploaded earlier (stored by the file store; here only its reference)."""

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


@dataclass(frozen=True, slots=True)
class SharingConfig:
    platform_unit_code: str  # owns every camera the archive assigns to no unit
    bureau_unit_code: str  # the data bureau (数管局) deciding BUREAU steps
    chains: g.ApprovalChains = field(default_factory=g.ApprovalChains)
    max_window: dt.timedelta = dt.timedelta(days=366)


def _owner_ref(owner: str | None) -> CameraRef | None:
    """The policy's view of "something owned by ``owner``" when no single camera is concerned."""
    return None if owner is None else CameraRef("*", owner)


class SharingService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: SharingConfig,
        bus: RevocationBus,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.sessions, self.config, self.bus, self.clock = sessions, config, bus, clock
        self._lock = threading.Lock()
        self._index = GrantIndex()
        self._subscription: Subscription = bus.subscribe(self._on_revocation)
        self.refresh()

    # the in-memory index -----------------------------------------------------------------------------------
    @property
    def index(self) -> GrantIndex:
        return self._index

    def refresh(self) -> GrantIndex:
        with self.sessions() as session:
            active = self._repo(session).active_grants()
        built = GrantIndex(active)
        with self._lock:
            self._index = built
        return built

    def _on_revocation(self, revocation: Revocation) -> None:
        if revocation.grant_id in self._index:
            self.refresh()

    def close(self) -> None:
        self._subscription.close()

    def _repo(self, session: Session) -> SharingRepository:
        return SharingRepository(session, self.config.platform_unit_code)

    # decisions ---------------------------------------------------------------------------------------------
    def authorise(
        self, principal: Principal, action: Action, camera: CameraRef, now: dt.datetime | None = None
    ) -> Decision:
        return decide(principal, action, camera, now or self.clock(), self._index)

    def camera(self, platform_id: str) -> CameraRef:
        with self.sessions() as session:
            found = self._repo(session).cameras([platform_id]).get(platform_id)
        if found is None:
            raise SharingNotFoundError(f"摄像机 {platform_id} 不存在", f"camera {platform_id} does not exist")
        return found.ref

    def _require(
        self, principal: Principal, action: Action, camera: CameraRef | None, context: ApprovalContext | None = None
    ) -> None:
        decision = decide(principal, action, camera, self.clock(), self._index, context=context)
        if not decision.allowed:
            raise SharingForbiddenError(decision)

    # the share directory -----------------------------------------------------------------------------------
    def publish(
        self,
        principal: Principal,
        scope: ShareScope,
        target: str | None,
        modes: frozenset[Mode],
        sensitivity: g.Sensitivity = g.Sensitivity.NORMAL,
        owner_unit_code: str | None = None,
    ) -> Offer:
        """Put a camera, a division (of the owner's cameras) or all of a unit's cameras in the share directory."""
        if not modes:
            raise InvalidShareError("至少选择一种共享方式", "choose at least one mode")
        with transaction(self.sessions) as session:
            repo = self._repo(session)
            owner = owner_unit_code or principal.unit_code
            if scope is ShareScope.CAMERA:
                camera = repo.cameras([target or ""]).get(target or "")
                if camera is None:
                    raise SharingNotFoundError(f"摄像机 {target} 不存在", f"camera {target} does not exist")
                owner = camera.ref.owner_unit_code
            elif scope is ShareScope.DIVISION and not (target and target.isdigit() and 2 <= len(target) <= 12):
                raise InvalidShareError("行政区划代码应为 2 至 12 位数字", "a division code is 2 to 12 digits")
            elif scope is ShareScope.UNIT:
                target = None
            if repo.unit_id(owner) is None:
                raise SharingNotFoundError(f"单位 {owner} 不存在", f"unit {owner} does not exist")
            self._require(principal, AdminAction.SHARE_PUBLISH, _owner_ref(owner))
            offer = repo.publish(owner, scope, target, modes, sensitivity, principal.id)
            repo.add_event(
                "offer.published",
                owner,
                principal.id,
                self.clock(),
                f"发布共享目录（{scope.value}）",
                f"published to the share directory ({scope.value})",
            )
        return offer

    def offers(self, owner_unit_code: str) -> list[Offer]:
        with self.sessions() as session:
            return self._repo(session).offers_of(owner_unit_code)

    # share requests ----------------------------------------------------------------------------------------
    def file_request(self, principal: Principal, new: NewShareRequest) -> ShareRequest:
        """Resolve the cameras (listed, or published ones inside the area), build the chain, open its first step."""
        now = self.clock()
        self._validate(new, now)
        with transaction(self.sessions) as session:
            repo = self._repo(session)
            if repo.unit_id(principal.unit_code) is None:
                raise SharingNotFoundError(
                    f"单位 {principal.unit_code} 不存在", f"unit {principal.unit_code} does not exist"
                )
            cameras = self._resolve(repo, principal, new)
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

    def _validate(self, new: NewShareRequest, now: dt.datetime) -> None:
        if not new.modes:
            raise InvalidShareError("至少选择一种共享方式", "choose at least one mode")
        if bool(new.cameras) == (new.area is not None):
            raise InvalidShareError("请指定摄像机或区域（二选一）", "give either cameras or an area, not both")
        if not new.starts_at < new.ends_at or new.ends_at <= now:
            raise InvalidShareError("时间范围无效", "the time window must end after it starts, in the future")
        if new.ends_at - new.starts_at > self.config.max_window:
            raise InvalidShareError(
                "授权期限过长", f"the time window is longer than {self.config.max_window.days} days"
            )
        if not new.purpose.strip() or not new.case_number.strip():
            raise InvalidShareError(
                "须填写用途和案件或文书编号", "a purpose and a case or document number are required"
            )
        for attachment in new.attachments:
            if not attachment.name or not attachment.path or attachment.size < 0 or len(attachment.sha256) != 64:
                raise InvalidShareError("附件引用无效", f"attachment {attachment.name!r} is not a valid stored file")

    def _resolve(self, repo: SharingRepository, principal: Principal, new: NewShareRequest) -> list[LocatedCamera]:
        if new.area is not None:
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
            self._require(principal, AdminAction.SHARE_REQUEST, camera.ref)
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

    def _notify_step(self, repo: SharingRepository, step: Step, request_id: str, at: dt.datetime, actor: str) -> None:
        repo.add_event(
            "step.open",
            step.unit_code,
            actor,
            at,
            f"待审批（{step.kind.value}）",
            f"approval awaited ({step.kind.value})",
            request_id=request_id,
        )

    def request(self, request_id: str) -> ShareRequest:
        with self.sessions() as session:
            return self._get_request(self._repo(session), request_id)

    def _get_request(self, repo: SharingRepository, request_id: str, lock: bool = False) -> ShareRequest:
        found = repo.get_request(request_id, lock=lock)
        if found is None:
            raise SharingNotFoundError(f"共享申请 {request_id} 不存在", f"share request {request_id} does not exist")
        return found

    def decide_step(self, principal: Principal, request_id: str, approve: bool, comment: str = "") -> ShareRequest:
        """Approve or reject the open step; the last approval creates one grant per owner unit."""
        now = self.clock()
        with transaction(self.sessions) as session:
            repo = self._repo(session)
            request = self._get_request(repo, request_id, lock=True)
            step = request.open_step()
            if step is None or request.status is not g.RequestStatus.PENDING:
                raise SharingConflictError("该申请不在审批中", f"the request is {request.status.value}, not pending")
            context = ApprovalContext(request.requester_unit_code, step.kind, self.config.bureau_unit_code)
            owner = _owner_ref(step.unit_code) if step.kind is StepKind.OWNER else None
            self._require(principal, AdminAction.GRANT_APPROVE, owner, context)
            if not approve and not comment.strip():
                raise InvalidShareError("驳回须填写意见", "a rejection needs a comment")
            status = g.step_transition(step.status, StepEvent.APPROVE if approve else StepEvent.REJECT)
            repo.set_step(
                request.id,
                step.position,
                status,
                approver_id=principal.id,
                comment=comment.strip() or None,
                decided_at=now,
            )
            following = [s for s in request.steps if s.position > step.position]
            if not approve:
                for later in following:
                    repo.set_step(request.id, later.position, g.step_transition(later.status, StepEvent.SKIP))
                repo.set_request_status(request.id, g.request_transition(request.status, RequestEvent.REJECT), now)
                repo.add_event(
                    "request.rejected",
                    request.requester_unit_code,
                    principal.id,
                    now,
                    f"共享申请被驳回：{comment.strip()}",
                    f"share request rejected: {comment.strip()}",
                    request_id=request.id,
                )
            elif following:
                nxt = following[0]
                repo.set_step(request.id, nxt.position, g.step_transition(nxt.status, StepEvent.OPEN))
                g.request_transition(request.status, RequestEvent.STEP_APPROVED)
                self._notify_step(repo, nxt, request.id, now, principal.id)
            else:
                repo.set_request_status(
                    request.id, g.request_transition(request.status, RequestEvent.FINAL_APPROVED), now
                )
                self._create_grants(repo, request, principal.id, now)
            result = self._get_request(repo, request.id)
        if result.status is g.RequestStatus.APPROVED:
            self.refresh()
        return result

    def _create_grants(self, repo: SharingRepository, request: ShareRequest, actor: str, now: dt.datetime) -> None:
        cameras = repo.cameras(request.camera_ids)
        owners: dict[str, set[str]] = {}
        for camera in cameras.values():
            owners.setdefault(camera.ref.owner_unit_code, set()).add(camera.ref.id)
        for owner, ids in sorted(owners.items()):
            grant = Grant(
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
            repo.add_grant(grant, actor, now)
            for unit in (request.requester_unit_code, owner):
                repo.add_event(
                    "grant.created",
                    unit,
                    actor,
                    now,
                    f"授权已生效（{len(ids)} 路）",
                    f"grant created ({len(ids)} cameras)",
                    request_id=request.id,
                    grant_id=grant.id,
                )

    def withdraw(self, principal: Principal, request_id: str) -> ShareRequest:
        now = self.clock()
        with transaction(self.sessions) as session:
            repo = self._repo(session)
            request = self._get_request(repo, request_id, lock=True)
            if request.requester_unit_code != principal.unit_code:
                raise SharingForbiddenError(
                    Decision(
                        False, None, None, "只能撤回本单位的申请", "only the requesting unit withdraws its request"
                    )
                )
            try:
                status = g.request_transition(request.status, RequestEvent.WITHDRAW)
            except g.IllegalTransitionError as exc:
                raise SharingConflictError("该申请已结束", f"the request is {request.status.value}") from exc
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
            return self._get_request(repo, request.id)

    # grants ------------------------------------------------------------------------------------------------
    def grant(self, grant_id: str) -> Grant:
        with self.sessions() as session:
            return self._get_grant(self._repo(session), grant_id)

    def grants_of_request(self, request_id: str) -> list[Grant]:
        with self.sessions() as session:
            return self._repo(session).grants_of_request(request_id)

    def _get_grant(self, repo: SharingRepository, grant_id: str, lock: bool = False) -> Grant:
        found = repo.get_grant(grant_id, lock=lock)
        if found is None:
            raise SharingNotFoundError(f"授权 {grant_id} 不存在", f"grant {grant_id} does not exist")
        return found

    def _change(
        self,
        principal: Principal,
        grant_id: str,
        event: GrantEvent,
        action: AdminAction,
        reason: str,
        until: dt.datetime | None = None,
    ) -> Grant:
        now = self.clock()
        with transaction(self.sessions) as session:
            repo = self._repo(session)
            grant = self._get_grant(repo, grant_id, lock=True)
            self._require(principal, action, _owner_ref(grant.owner_unit_code))
            try:
                status = g.grant_transition(grant.status, event)
            except g.IllegalTransitionError as exc:
                raise SharingConflictError(
                    f"授权状态为 {grant.status.value}，不能{'撤销' if event is GrantEvent.REVOKE else '续期'}",
                    f"the grant is {grant.status.value}: cannot {event.value}",
                ) from exc
            if until is not None and (
                until <= now or until <= grant.valid_from or until - grant.valid_from > self.config.max_window
            ):
                raise InvalidShareError(
                    "续期截止时间无效", "the renewal must end in the future, within the maximum window"
                )
            repo.change_grant(grant.id, status, principal.id, now, reason.strip() or None, until)
            verb_zh, verb_en = ("已撤销", "revoked") if event is GrantEvent.REVOKE else ("已续期", "renewed")
            for unit in {grant.grantee_unit_code, grant.owner_unit_code}:
                repo.add_event(
                    f"grant.{verb_en}",
                    unit,
                    principal.id,
                    now,
                    f"授权{verb_zh}",
                    f"grant {verb_en}",
                    request_id=grant.request_id,
                    grant_id=grant.id,
                )
            changed = self._get_grant(repo, grant.id)
        self.refresh()
        return changed

    def revoke(self, principal: Principal, grant_id: str, reason: str = "") -> Grant:
        """Revoke at once: the index is rebuilt before this returns, then every subscriber hears of it."""
        grant = self._change(principal, grant_id, GrantEvent.REVOKE, AdminAction.GRANT_REVOKE, reason)
        self._publish(Revocation(grant.id, "revoked"))
        return grant

    def renew(self, principal: Principal, grant_id: str, until: dt.datetime, reason: str = "") -> Grant:
        return self._change(principal, grant_id, GrantEvent.RENEW, AdminAction.GRANT_RENEW, reason, until)

    def expire_due(self) -> list[str]:
        """Mark grants past their window expired (a periodic job); returns their ids."""
        now = self.clock()
        with transaction(self.sessions) as session:
            repo = self._repo(session)
            expired = repo.due_for_expiry(now)
            for grant_id in expired:
                grant = self._get_grant(repo, grant_id)
                repo.change_grant(grant_id, g.grant_transition(grant.status, GrantEvent.EXPIRE), "system", now)
                for unit in {grant.grantee_unit_code, grant.owner_unit_code}:
                    repo.add_event(
                        "grant.expired",
                        unit,
                        "system",
                        now,
                        "授权已到期",
                        "grant expired",
                        request_id=grant.request_id,
                        grant_id=grant_id,
                    )
        if expired:
            self.refresh()
            for grant_id in expired:
                self._publish(Revocation(grant_id, "expired"))
        return expired

    def _publish(self, revocation: Revocation) -> None:
        try:
            self.bus.publish(revocation)
        except RevocationBusError:
            log.exception("revocation of %s not published; play tokens expire on their own", revocation.grant_id)

    # events ------------------------------------------------------------------------------------------------
    def events(self, unit_code: str | None, after_id: int = 0, limit: int = 100) -> list[EventRow]:
        with self.sessions() as session:
            return list(self._repo(session).events(unit_code, after_id, min(max(limit, 1), 500)))
