"""Video access: the policy's answer for one use of one camera, and its audit record (issue 5).

Every entry point that serves video (the play call, snapshots, PTZ, later playback and export) asks
:meth:`VideoAccess.authorise` and gets a :class:`Ticket` (what is allowed: treatment, grant, purpose) or
:class:`AccessDeniedError`. Both outcomes leave an audit record, and the record is written before the video is
served: if the audit log cannot take it, :class:`~xueliang.domain.audit.AuditUnavailableError` propagates and
nothing is served (fail-closed). The rules themselves are :func:`xueliang.domain.policy.decide`'s; this module
only resolves the camera, asks, and records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from xueliang.domain.audit import AuditAction, AuditEvent, AuditSink
from xueliang.domain.policy import Action, CameraRef, Decision
from xueliang.domain.principals import Mode, Principal, Treatment
from xueliang.sharing.grants import SharingNotFoundError, SharingService
from xueliang.store.models import utcnow

PURPOSE_CACHE_SIZE = 4096


class AccessDeniedError(Exception):
    """The policy refused; ``decision`` says why in both languages."""

    status = 403

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason_en)
        self.decision = decision
        self.zh = decision.reason_zh
        self.en = decision.reason_en


@dataclass(frozen=True, slots=True)
class Ticket:
    """One allowed use: who, which camera, how (treatment), under which grant and for what purpose."""

    principal: Principal
    camera: CameraRef
    action: Action
    treatment: Treatment
    grant_id: str | None
    purpose: str | None
    source_address: str | None


class VideoAccess:
    """Policy decisions for video and the audit records they leave."""

    def __init__(self, sharing: SharingService, audit: AuditSink, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.sharing = sharing
        self.audit = audit
        self.clock = clock
        self._purposes: dict[str, str | None] = {}

    def camera(self, camera_id: str) -> CameraRef | None:
        """The policy's view of a camera (owner unit, division); None when the archive has no such camera."""
        try:
            return self.sharing.camera(camera_id)
        except SharingNotFoundError:
            return None

    def authorise(
        self, principal: Principal, action: Action, camera: CameraRef, source_address: str | None = None
    ) -> Ticket:
        """The ticket for this use, or AccessDeniedError; a refusal is an audit record too (fail-closed)."""
        decision = self.sharing.authorise(principal, action, camera, self.clock())
        if not decision.allowed:
            # a grant made by another process (the CLI, another API process without Redis) may not have reached
            # this index yet: one cheap check of the grant table's mark before refusing
            self.sharing.sync()
            decision = self.sharing.authorise(principal, action, camera, self.clock())
        if not decision.allowed:
            self.audit.record(
                AuditEvent(
                    action=AuditAction.ACCESS_DENIED,
                    at=self.clock(),
                    actor=principal.id,
                    actor_unit=principal.unit_code,
                    camera_id=camera.id,
                    source_address=source_address,
                    outcome="refused",
                    details={"action": str(action), "reason": decision.reason_en},
                )
            )
            raise AccessDeniedError(decision)
        treatment = decision.treatment or Treatment.FULL
        purpose = self._purpose(decision.grant_id)
        return Ticket(principal, camera, action, treatment, decision.grant_id, purpose, source_address)

    def allows(self, principal: Principal, action: Action, camera: CameraRef) -> bool:
        """Whether ``action`` would be allowed now (no record: for showing or hiding a link)."""
        return self.sharing.authorise(principal, action, camera, self.clock()).allowed

    def record(
        self,
        action: AuditAction,
        ticket: Ticket,
        *,
        session_id: str | None = None,
        outcome: str = "ok",
        **details: str,
    ) -> None:
        """An audit record of a use under ``ticket``; raises AuditUnavailableError when it cannot be written."""
        details = {"treatment": ticket.treatment.value, **details}
        if isinstance(ticket.action, Mode):
            details.setdefault("mode", ticket.action.value)
        self.audit.record(
            AuditEvent(
                action=action,
                at=self.clock(),
                actor=ticket.principal.id,
                actor_unit=ticket.principal.unit_code,
                camera_id=ticket.camera.id,
                grant_id=ticket.grant_id,
                session_id=session_id,
                source_address=ticket.source_address,
                purpose=ticket.purpose,
                outcome=outcome,
                details=details,
            )
        )

    def _purpose(self, grant_id: str | None) -> str | None:
        """The purpose and case number of the request behind a grant (cached: grants do not change purpose)."""
        if grant_id is None:
            return None
        if grant_id not in self._purposes:
            if len(self._purposes) >= PURPOSE_CACHE_SIZE:
                self._purposes.clear()
            self._purposes[grant_id] = self._lookup_purpose(grant_id)
        return self._purposes[grant_id]

    def _lookup_purpose(self, grant_id: str) -> str | None:
        try:
            request_id = self.sharing.grant(grant_id).request_id
            if request_id is None:
                return None
            request = self.sharing.request(request_id)
        except SharingNotFoundError:
            return None
        return f"{request.purpose} ({request.case_number})"
