"""The core every part of the sharing service builds on: the grant index, the policy check and audit records.

:class:`~xueliang.sharing.grants.SharingService` is assembled from parts, each a subclass of :class:`SharingCore`:
the share directory (:mod:`~xueliang.sharing.share_directory`), share requests
(:mod:`~xueliang.sharing.share_requests`) and grants (:mod:`~xueliang.sharing.grants`).

The index of every active grant lives in memory, rebuilt and swapped after each change this process commits,
whenever the revocation bus reports a grant it holds, and when :meth:`SharingCore.sync` sees that another process
(or the CLI) changed grants without a message reaching this one. Every permission question goes through
:func:`~xueliang.domain.policy.decide`; a refusal is an ``access_denied`` audit record, then
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
from xueliang.domain.policy import Action, ApprovalContext, CameraRef, Decision, GrantIndex, decide
from xueliang.domain.principals import Principal
from xueliang.sharing.revocation import Revocation, RevocationBus, RevocationBusError, Subscription
from xueliang.sharing.share_common import (
    SharingConfig,
    SharingForbiddenError,
    SharingNotFoundError,
    refusal,
    refusal_record,
    takes_part,
)
from xueliang.store.models import utcnow
from xueliang.store.sharing import GrantsMark, SharingRepository

log = logging.getLogger(__name__)
MAX_LIST: Final = 500  # the most records one list call returns


def owner_ref(owner: str | None) -> CameraRef | None:
    """The policy's view of "something owned by ``owner``" when no single camera is concerned."""
    return None if owner is None else CameraRef("*", owner)


def clamp(limit: int) -> int:
    return min(max(limit, 1), MAX_LIST)


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

    def member(self, principal: Principal, what: str, source_address: str | None) -> None:
        """Refuse principals whose roles take no part in sharing (the system administrator, the auditor)."""
        if not takes_part(principal):
            decision = refusal("该角色不参与视频共享", "this role takes no part in sharing")
            self.refuse(principal, what, decision, source_address)

    def record(self, event: AuditEvent) -> None:
        """One audit record on the sink (AuditUnavailableError propagates: the caller's change must not commit)."""
        if self.audit is not None:
            self.audit.record(event)
