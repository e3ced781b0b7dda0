"""The auditor's views of the audit log: records, export, usage report, chain verification (issue 5).

Only a principal the policy allows :attr:`~xueliang.domain.policy.AdminAction.AUDIT_READ` (the auditor) reads the
log; anyone else is refused after an ``access_denied`` record. Every read is itself an audit record, written before
anything is shown: if the log cannot take it, :class:`~xueliang.domain.audit.AuditUnavailableError` propagates and
nothing is shown (fail-closed). Reads are recorded as :data:`READ_ACTION` (``audit_read``, not a use of video)
with ``details.object = "audit_log"`` and ``details.view`` naming the view.

Errors: :class:`AuditForbiddenError` (403), :class:`~xueliang.sharing.audit.AuditQueryError` (bad filters: 422),
:class:`ExportTooLargeError` (422: narrow the filters).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from xueliang.domain.audit import AuditAction, AuditEvent
from xueliang.domain.policy import AdminAction, GrantIndex, decide
from xueliang.domain.principals import Principal
from xueliang.sharing.audit import SEARCH_MAX, AuditLog, AuditPage, ChainReport, UsageReport
from xueliang.store.audit import AuditRecord
from xueliang.store.models import utcnow

READ_ACTION: Final = AuditAction.AUDIT_READ
EXPORT_MAX: Final = 100_000  # records in one export
_NO_GRANTS: Final = GrantIndex()  # reading the log concerns no camera


class AuditForbiddenError(Exception):
    status = 403

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


class ExportTooLargeError(Exception):
    status = 422
    zh = f"超过 {EXPORT_MAX} 条记录，请缩小时间范围或增加筛选条件"
    en = f"more than {EXPORT_MAX} records: narrow the time window or add filters"


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of a search or export; ``since`` inclusive, ``until`` exclusive."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str | None = None
    unit: str | None = None
    camera: str | None = None
    action: str | None = None
    grant: str | None = None

    def as_details(self) -> dict[str, str]:
        values = {name: getattr(self, name) for name in self.__slots__}
        return {k: v.isoformat() if isinstance(v, dt.datetime) else str(v) for k, v in values.items() if v is not None}


class AuditViews:
    def __init__(self, audit: AuditLog, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.audit = audit
        self.clock = clock

    def _admit(self, principal: Principal, view: str, source_address: str | None, **details: str) -> None:
        """The policy's AUDIT_READ, then the read's own record (both before anything is shown)."""
        decision = decide(principal, AdminAction.AUDIT_READ, None, self.clock(), _NO_GRANTS)
        refused = not decision.allowed
        self.audit.record(
            AuditEvent(
                action=AuditAction.ACCESS_DENIED if refused else READ_ACTION,
                at=self.clock(),
                actor=principal.id,
                actor_unit=principal.unit_code,
                source_address=source_address,
                outcome="refused" if refused else "ok",
                details={"object": "audit_log", "view": view, **details}
                | ({"action": AdminAction.AUDIT_READ.value, "reason": decision.reason_en} if refused else {}),
            )
        )
        if refused:
            raise AuditForbiddenError(decision.reason_zh, decision.reason_en)

    def records(
        self,
        principal: Principal,
        query: AuditQuery,
        limit: int = 100,
        cursor: str | None = None,
        source_address: str | None = None,
    ) -> AuditPage:
        """Newest first, a page of ``limit``; pass ``next_cursor`` back as ``cursor`` for the next."""
        self._admit(principal, "records", source_address, **query.as_details())
        return self._page(query, limit, cursor)

    def _page(self, query: AuditQuery, limit: int, cursor: str | None) -> AuditPage:
        return self.audit.search(
            since=query.since,
            until=query.until,
            actor=query.actor,
            unit=query.unit,
            camera=query.camera,
            action=query.action,
            grant=query.grant,
            limit=limit,
            cursor=cursor,
        )

    def export(
        self, principal: Principal, query: AuditQuery, fmt: str, source_address: str | None = None
    ) -> tuple[bytes, int]:
        """The matching records as xlsx or csv, and how many; refuses past :data:`EXPORT_MAX` records."""
        self._admit(principal, "export", source_address, format=fmt, **query.as_details())
        records = list(self._all(query, EXPORT_MAX + 1))
        if len(records) > EXPORT_MAX:
            raise ExportTooLargeError
        return self.audit.export(records, fmt), len(records)

    def _all(self, query: AuditQuery, most: int) -> Iterator[AuditRecord]:
        cursor: str | None = None
        count = 0
        while True:
            page = self._page(query, SEARCH_MAX, cursor)
            for record in page.records:
                yield record
                count += 1
                if count >= most:
                    return
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def usage(
        self, principal: Principal, since: dt.datetime, until: dt.datetime, source_address: str | None = None
    ) -> UsageReport:
        self._admit(principal, "usage", source_address, since=since.isoformat(), until=until.isoformat())
        return self.audit.usage_report(since, until)

    def verify(self, principal: Principal, source_address: str | None = None) -> ChainReport:
        """The chain as written so far (the writer appends queued records within a second)."""
        self._admit(principal, "verify", source_address)
        return self.audit.verify()
