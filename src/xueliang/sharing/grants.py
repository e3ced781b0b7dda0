"""Sharing service: the share directory, share requests through approval chains, grants, revocation (issue 5).

:class:`SharingService` is assembled from parts over :class:`~xueliang.sharing.sharing_core.SharingCore` (the grant
index, the policy check, audit records): :class:`~xueliang.sharing.share_directory.ShareDirectory`,
:class:`~xueliang.sharing.share_requests.ShareRequests`, and the grants here: reading them (their parties only),
revoking, renewing, expiring, and the notifications (``sharing_event`` rows) the console polls. Every change is
audited inside its transaction before it is written (fail-closed, see the core's docstring).

Errors (``status`` is the HTTP answer the API should give; every error has ``zh`` and ``en``), from
:mod:`xueliang.sharing.share_common` and re-exported here::

    SharingError
      SharingNotFoundError      404: unknown request, grant, offer, camera or unit
      SharingForbiddenError     403: the policy refused, or the caller is no party to the record
      InvalidShareError         422: bad input the caller can fix
      SharingConflictError      409: the request or grant is not in a state that allows it
"""

from __future__ import annotations

import datetime as dt

from xueliang.domain import grants as g
from xueliang.domain.grants import Grant, GrantEvent
from xueliang.domain.policy import AdminAction
from xueliang.domain.principals import Principal
from xueliang.sharing.revocation import Revocation
from xueliang.sharing.share_common import (
    Attachment,
    InvalidShareError,
    NewShareRequest,
    SharingConfig,
    SharingConflictError,
    SharingError,
    SharingForbiddenError,
    SharingNotFoundError,
    purpose_of,
)
from xueliang.sharing.share_directory import ShareDirectory
from xueliang.sharing.share_requests import ShareRequests, grant_change_record, notify_grant
from xueliang.sharing.sharing_core import clamp, grant_parties, owner_ref
from xueliang.store.db import transaction
from xueliang.store.sharing import Direction, EventRow, GrantRecord, SharingRepository

__all__ = [
    "Attachment",
    "InvalidShareError",
    "NewShareRequest",
    "SharingConfig",
    "SharingConflictError",
    "SharingError",
    "SharingForbiddenError",
    "SharingNotFoundError",
    "SharingService",
]


class SharingService(ShareDirectory, ShareRequests):
    """The share directory, share requests, grants and their notifications, over one grant index."""

    def check_may_request(self, principal: Principal, *, source_address: str | None = None) -> None:
        """Refuse (403) a principal who may not file share requests (asked before it uploads an attachment)."""
        self.require(principal, AdminAction.SHARE_REQUEST, None, source_address=source_address)

    def grant_ids(self) -> list[str]:
        with self.sessions() as session:
            return self.repo(session).grant_ids()

    # reading grants ----------------------------------------------------------------------------------------
    def grant(self, grant_id: str) -> Grant:
        return self._grant_record(grant_id).grant

    def _grant_record(self, grant_id: str) -> GrantRecord:
        with self.sessions() as session:
            found = self.repo(session).get_grant_record(grant_id)
        if found is None:
            raise SharingNotFoundError(f"授权 {grant_id} 不存在", f"grant {grant_id} does not exist")
        return found

    def grant_record(self, principal: Principal, grant_id: str, *, source_address: str | None = None) -> GrantRecord:
        """The grant, for its parties only: the grantee unit, the owner unit, security administrators."""
        record = self._grant_record(grant_id)
        self.see(principal, "grant.read", grant_parties(record.grant), source_address)
        return record

    def grant_records(
        self,
        principal: Principal,
        direction: Direction = "held",
        status: g.GrantStatus | None = None,
        limit: int = 100,
        *,
        source_address: str | None = None,
    ) -> list[GrantRecord]:
        """``held``: grants to the caller's unit; ``given``: grants on its cameras; ``all``: both, or every grant
        for a security administrator. Newest first."""
        self.member(principal, "grant.list", source_address)
        unit = None if direction == "all" and self.oversees(principal) else principal.unit_code
        with self.sessions() as session:
            return self.repo(session).grant_records(unit, direction, status, clamp(limit))

    def grants_of_request(self, request_id: str) -> list[Grant]:
        with self.sessions() as session:
            return self.repo(session).grants_of_request(request_id)

    # changing grants ---------------------------------------------------------------------------------------
    def revoke(
        self, principal: Principal, grant_id: str, reason: str = "", *, source_address: str | None = None
    ) -> Grant:
        """Revoke at once: the index is rebuilt before this returns, then every subscriber hears of it."""
        grant = self._change(principal, grant_id, GrantEvent.REVOKE, reason, None, source_address)
        self.publish_revocation(Revocation(grant.id, "revoked"))
        return grant

    def renew(
        self,
        principal: Principal,
        grant_id: str,
        until: dt.datetime,
        reason: str = "",
        *,
        source_address: str | None = None,
    ) -> Grant:
        """Move the grant's end to ``until`` (an expired grant comes back; a revoked one never does)."""
        return self._change(principal, grant_id, GrantEvent.RENEW, reason, until, source_address)

    def _change(
        self,
        principal: Principal,
        grant_id: str,
        event: GrantEvent,
        reason: str,
        until: dt.datetime | None,
        source_address: str | None,
    ) -> Grant:
        now = self.clock()
        reason = reason.strip()
        action = AdminAction.GRANT_REVOKE if event is GrantEvent.REVOKE else AdminAction.GRANT_RENEW
        with transaction(self.sessions) as session:
            repo = self.repo(session)
            grant = repo.get_grant(grant_id, lock=True)
            if grant is None:
                raise SharingNotFoundError(f"授权 {grant_id} 不存在", f"grant {grant_id} does not exist")
            self.require(principal, action, owner_ref(grant.owner_unit_code), source_address=source_address)
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
            verb_zh, verb_en = ("已撤销", "revoked") if event is GrantEvent.REVOKE else ("已续期", "renewed")
            extra = {"reason": reason} | ({} if until is None else {"valid_until": until.isoformat()})
            self._record_grant(repo, f"grant.{verb_en}", grant, principal, now, source_address, **extra)
            repo.change_grant(grant.id, status, principal.id, now, reason or None, until)
            notify_grant(repo, f"grant.{verb_en}", grant, principal.id, now, f"授权{verb_zh}", f"grant {verb_en}")
            changed = repo.get_grant(grant.id)
        self.refresh()
        assert changed is not None  # it was there, locked, a moment ago
        return changed

    def _record_grant(
        self,
        repo: SharingRepository,
        change: str,
        grant: Grant,
        actor: Principal | None,
        now: dt.datetime,
        source_address: str | None = None,
        **details: str,
    ) -> None:
        request = None if grant.request_id is None else repo.get_request(grant.request_id)
        purpose = None if request is None else purpose_of(request.purpose, request.case_number)
        self.record(grant_change_record(change, grant, actor, now, purpose, source_address, **details))

    def expire_due(self) -> list[str]:
        """Mark grants past their window expired (the periodic job; it also :meth:`sync`\\ s); returns their ids."""
        self.sync()
        now = self.clock()
        with transaction(self.sessions) as session:
            repo = self.repo(session)
            expired = [grant for grant in map(repo.get_grant, repo.due_for_expiry(now)) if grant is not None]
            for grant in expired:
                self._record_grant(repo, "grant.expired", grant, None, now)
            for grant in expired:
                repo.change_grant(grant.id, g.grant_transition(grant.status, GrantEvent.EXPIRE), "system", now)
                notify_grant(repo, "grant.expired", grant, "system", now, "授权已到期", "grant expired")
        if expired:
            self.refresh()
            for grant in expired:
                self.publish_revocation(Revocation(grant.id, "expired"))
        return [grant.id for grant in expired]

    # notifications -----------------------------------------------------------------------------------------
    def events(self, unit_code: str | None, after_id: int = 0, limit: int = 100) -> list[EventRow]:
        with self.sessions() as session:
            return self.repo(session).events(unit_code, after_id, clamp(limit))

    def events_for(
        self, principal: Principal, after_id: int = 0, limit: int = 100, *, source_address: str | None = None
    ) -> list[EventRow]:
        """The caller's unit's notifications (a security administrator also gets the unit-less security feed)."""
        self.member(principal, "sharing_event.list", source_address)
        with self.sessions() as session:
            repo = self.repo(session)
            return repo.events(principal.unit_code, after_id, clamp(limit), with_unscoped=self.oversees(principal))
