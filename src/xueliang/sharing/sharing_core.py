"""The core every part of the sharing service builds on: the grant index, the policy check and audit records.

:class:`~xueliang.sharing.grants.SharingService` is assembled from parts, each a subclass of :class:`SharingCore`:
the share directory (:mod:`~xueliang.sharing.share_directory`), share requests
(:mod:`~xueliang.sharing.share_requests`) and grants (:mod:`~xueliang.sharing.grants`).

The index of every active grant lives in memory, rebuilt and swapped after each change this process commits,
whenever the revocation bus reports a grant it holds, and when :meth:`SharingCore.sync` sees that another process
(or the CLI) changed grants without a message reaching this one. Every permission question goes through
:func:`~xueliang.domain.policy.decide`, who may see a sharing record too (``SHARE_READ`` with the record's
:class:`~xueliang.domain.policy.SharingParties`: :meth:`SharingCore.see`, :meth:`SharingCore.member`,
:meth:`SharingCore.oversees`); a refusal is an ``access_denied`` audit record, then
:class:`~xueliang.sharing.share_common.SharingForbiddenError`.

Order of every change, inside its transaction: read and check (the policy refuses here), write the audit records
of the change, then write the change. The records come before the first write because on SQLite the change's own
write lock would keep the audit outbox (written on another connection) waiting until it times out; written before,
a failing audit log (:class:`~xueliang.domain.audit.AuditUnavailableError`) leaves nothing changed: fail-closed.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Final, NoReturn

from sqlalchemy.orm import Session, sessionmaker

from xueliang.domain.audit import AuditEvent, AuditSink
from xueliang.domain.grants import Grant, StepKind
from xueliang.domain.policy import (
    EVERY_UNIT,
    Action,
    AdminAction,
    ApprovalContext,
    CameraRef,
    Decision,
    GrantIndex,
    SharingParties,
    decide,
)
from xueliang.domain.principals import Principal
from xueliang.sharing.revocation import Revocation, RevocationBus, RevocationBusError, Subscription
from xueliang.sharing.share_common import (
    SharingConfig,
    SharingForbiddenError,
    SharingNotFoundError,
    refusal_record,
)
from xueliang.store.models import utcnow
from xueliang.store.sharing import GrantsMark, ShareRequest, SharingRepository

log = logging.getLogger(__name__)
MAX_LIST: Final = 500  # the most records one list call returns


def owner_ref(owner: str | None) -> CameraRef | None:
    """The policy's view of "something owned by ``owner``" when no single camera is concerned."""
    return None if owner is None else CameraRef("*", owner)


def clamp(limit: int) -> int:
    return min(max(limit, 1), MAX_LIST)


def request_parties(request: ShareRequest) -> SharingParties:
    """A share request's parties: the requesting unit, its cameras' owner units, the units deciding its steps."""
    return SharingParties(
        request.requester_unit_code,
        frozenset(s.unit_code for s in request.steps if s.kind is StepKind.OWNER and s.unit_code),
        frozenset(s.unit_code for s in request.steps if s.unit_code),
    )


def grant_parties(grant: Grant) -> SharingParties:
    """A grant's parties: the grantee unit and the owner unit (when the grant names one)."""
    owners = frozenset() if grant.owner_unit_code is None else frozenset({grant.owner_unit_code})
    return SharingParties(grant.grantee_unit_code, owners)


class SharingCore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: SharingConfig,
        bus: RevocationBus,
        clock: Callable[[], dt.datetime] = utcnow,
        audit: AuditSink | None = None,
    ) -> None:
        self.sessions, self.config, self.bus, self.clock = sessions, config, bus, clock
        self.audit = audit  # sharing changes are audit records (fail-closed) when set
        self._lock = threading.Lock()
        self._index = GrantIndex()
        self._active: frozenset[str] = frozenset()
        self._mark: GrantsMark | None = None
        self._subscription: Subscription = bus.subscribe(self._on_revocation)
        self.refresh()

    # the in-memory index -----------------------------------------------------------------------------------
    @property
    def index(self) -> GrantIndex:
        return self._index

    def refresh(self) -> GrantIndex:
        with self.sessions() as session:
            repo = self.repo(session)
            mark = repo.grants_mark()
            active = repo.active_grants()
        built = GrantIndex(active)
        with self._lock:
            self._index, self._active, self._mark = built, frozenset(a.id for a in active), mark
        return built

    def sync(self) -> list[str]:
        """Rebuild the index when grants changed elsewhere without a bus message reaching this process (the CLI
        in the embedded layout); grants that left it are published as revoked. Returns their ids."""
        with self.sessions() as session:
            mark = self.repo(session).grants_mark()
        if mark == self._mark:
            return []
        before = self._active
        self.refresh()
        gone = sorted(before - self._active)
        for grant_id in gone:
            self.publish_revocation(Revocation(grant_id, "revoked"))
        return gone

    def _on_revocation(self, revocation: Revocation) -> None:
        if revocation.grant_id in self._index:
            self.refresh()

    def publish_revocation(self, revocation: Revocation) -> None:
        try:
            self.bus.publish(revocation)
        except RevocationBusError:
            log.exception("revocation of %s not published; play tokens expire on their own", revocation.grant_id)

    def close(self) -> None:
        self._subscription.close()

    def repo(self, session: Session) -> SharingRepository:
        return SharingRepository(session, self.config.platform_unit_code)

    # decisions and records ---------------------------------------------------------------------------------
    def authorise(
        self, principal: Principal, action: Action, camera: CameraRef, now: dt.datetime | None = None
    ) -> Decision:
        return decide(principal, action, camera, now or self.clock(), self._index)

    def camera(self, platform_id: str) -> CameraRef:
        with self.sessions() as session:
            found = self.repo(session).cameras([platform_id]).get(platform_id)
        if found is None:
            raise SharingNotFoundError(f"摄像机 {platform_id} 不存在", f"camera {platform_id} does not exist")
        return found.ref

    def require(
        self,
        principal: Principal,
        action: Action,
        camera: CameraRef | None,
        context: ApprovalContext | None = None,
        *,
        source_address: str | None = None,
    ) -> None:
        """The policy allows it, or an ``access_denied`` audit record and SharingForbiddenError."""
        decision = decide(principal, action, camera, self.clock(), self._index, context=context)
        if not decision.allowed:
            camera_id = None if camera is None or camera.id == "*" else camera.id
            event = refusal_record(
                principal, str(action), decision, self.clock(), camera_id=camera_id, source_address=source_address
            )
            self.record(event)
            raise SharingForbiddenError(decision)

    def refuse(self, principal: Principal, what: str, decision: Decision, source_address: str | None) -> NoReturn:
        """Refuse a read the caller is no party to, after its ``access_denied`` audit record."""
        self.record(refusal_record(principal, what, decision, self.clock(), source_address=source_address))
        raise SharingForbiddenError(decision)

    def may_see(self, principal: Principal, parties: SharingParties) -> Decision:
        """The policy's SHARE_READ for a record with these parties."""
        return decide(principal, AdminAction.SHARE_READ, None, self.clock(), self._index, context=parties)

    def see(self, principal: Principal, what: str, parties: SharingParties, source_address: str | None) -> None:
        """Refuse (after its ``access_denied`` record, naming ``what`` was read) a record the policy does not show."""
        decision = self.may_see(principal, parties)
        if not decision.allowed:
            self.refuse(principal, what, decision, source_address)

    def member(self, principal: Principal, what: str, source_address: str | None) -> None:
        """Refuse a list of the caller's own unit's records (or the directory) to whom the policy shows none: the
        system administrator, the auditor, API keys without the ``share.read`` scope."""
        self.see(principal, what, SharingParties.of_unit(principal.unit_code), source_address)

    def oversees(self, principal: Principal) -> bool:
        """Whether the policy shows ``principal`` every unit's records (the security administrator)."""
        return self.may_see(principal, EVERY_UNIT).allowed

    def record(self, event: AuditEvent) -> None:
        """One audit record on the sink (AuditUnavailableError propagates: the caller's change must not commit)."""
        if self.audit is not None:
            self.audit.record(event)
