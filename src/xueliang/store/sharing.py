"""Share directory, share requests, approval steps, grants and sharing events (migration ``0004c``).

Units and cameras are referenced by their tables' keys (``unit.id``, ``camera.id``) and translated to codes and
platform IDs here, so the domain and the services only ever see codes. Users and principals are plain string ids:
the accounts tables land separately and carry no foreign key from here. The caller owns the transaction.

The tables and the records returned live in :mod:`xueliang.store.sharing_tables` (re-exported here); grants and
events in :mod:`xueliang.store.sharing_grants`; this module adds the directory and the share requests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, or_, select, update

from xueliang.domain.grants import RequestStatus, Sensitivity, ShareScope, StepKind, StepStatus
from xueliang.domain.principals import Mode
from xueliang.store.models import Camera, utcnow
from xueliang.store.sharing_grants import Direction, GrantRows, GrantsMark, SharingLookups
from xueliang.store.sharing_tables import (
    ApprovalStepRow,
    EventRow,
    GrantRecord,
    LocatedCamera,
    Offer,
    ShareGrant,
    ShareGrantCamera,
    ShareOffer,
    ShareRequest,
    ShareRequestCamera,
    ShareRequestRow,
    SharingEvent,
    Step,
    mode_values,
    parse_modes,
)

__all__ = [
    "ApprovalStepRow",
    "Direction",
    "EventRow",
    "GrantRecord",
    "GrantsMark",
    "LocatedCamera",
    "Offer",
    "ShareGrant",
    "ShareGrantCamera",
    "ShareOffer",
    "ShareRequest",
    "ShareRequestCamera",
    "ShareRequestRow",
    "SharingEvent",
    "SharingLookups",
    "SharingRepository",
    "Step",
]


class SharingRepository(GrantRows):
    """Reads and writes of the sharing tables; ``default_owner`` owns cameras whose archive names no owner."""

    # the share directory -----------------------------------------------------------------------------------
    def publish(
        self,
        owner: str,
        scope: ShareScope,
        target: str | None,
        modes: frozenset[Mode],
        sensitivity: Sensitivity,
        by: str,
    ) -> Offer:
        """Add an offer, or replace the modes and sensitivity of the same (owner, scope, target) offer."""
        owner_id = self._require_unit(owner)
        camera_pk: int | None = None
        if scope is ShareScope.CAMERA:
            assert target is not None
            camera_pk = self.cameras([target])[target].pk
        division = target if scope is ShareScope.DIVISION else None
        existing = self.session.scalar(
            select(ShareOffer).where(
                ShareOffer.owner_unit_id == owner_id,
                ShareOffer.scope == scope.value,
                ShareOffer.camera_id.is_(None) if camera_pk is None else ShareOffer.camera_id == camera_pk,
                ShareOffer.division_code.is_(None) if division is None else ShareOffer.division_code == division,
            )
        )
        row = existing or ShareOffer(
            owner_unit_id=owner_id, scope=scope.value, camera_id=camera_pk, division_code=division
        )
        row.modes, row.sensitivity, row.published_by, row.updated_at = (
            mode_values(modes),
            sensitivity.value,
            by,
            utcnow(),
        )
        self.session.add(row)
        self.session.flush()
        return Offer(row.id, owner, scope, target if camera_pk else None, division, modes, sensitivity)

    def unpublish(self, offer_id: int) -> bool:
        return bool(self.session.execute(delete(ShareOffer).where(ShareOffer.id == offer_id)).rowcount)  # type: ignore[attr-defined]

    def _offers(self, query: Any) -> list[Offer]:
        rows = self.session.execute(query)
        return [
            Offer(
                o.id,
                self._unit_code(o.owner_unit_id) or "",
                ShareScope(o.scope),
                platform_id,
                o.division_code,
                parse_modes(o.modes),
                Sensitivity(o.sensitivity),
            )
            for o, platform_id in rows
        ]

    @staticmethod
    def _offer_query() -> Any:
        return select(ShareOffer, Camera.platform_id).outerjoin(Camera, Camera.id == ShareOffer.camera_id)

    def get_offer(self, offer_id: int) -> Offer | None:
        found = self._offers(self._offer_query().where(ShareOffer.id == offer_id))
        return found[0] if found else None

    def offers_for(self, cameras: Sequence[LocatedCamera]) -> dict[str, list[Offer]]:
        """The offers covering each camera: its own, its owner unit's, and its owner's divisions containing it."""
        owners = {c.ref.owner_unit_code for c in cameras}
        owner_ids = [i for i in (self.unit_id(o) for o in owners) if i is not None]
        pks = [c.pk for c in cameras]
        if not pks:
            return {}
        offers = self._offers(
            self._offer_query().where((ShareOffer.camera_id.in_(pks)) | (ShareOffer.owner_unit_id.in_(owner_ids)))
        )
        result: dict[str, list[Offer]] = {}
        for camera in cameras:
            ref = camera.ref
            result[ref.id] = [
                o
                for o in offers
                if o.owner_unit_code == ref.owner_unit_code
                and (
                    o.scope is ShareScope.UNIT
                    or (o.scope is ShareScope.CAMERA and o.camera_id == ref.id)
                    or (o.scope is ShareScope.DIVISION and (ref.division_code or "").startswith(o.division_code or "-"))
                )
            ]
        return result

    def offers_of(self, owner: str | None) -> list[Offer]:
        """The offers of one owner unit, or of every unit when ``owner`` is None (the whole directory)."""
        query = self._offer_query()
        if owner is not None:
            owner_id = self.unit_id(owner)
            if owner_id is None:
                return []
            query = query.where(ShareOffer.owner_unit_id == owner_id)
        return self._offers(query.order_by(ShareOffer.owner_unit_id, ShareOffer.id))

    # share requests and their steps ------------------------------------------------------------------------
    def add_request(self, request: ShareRequest, camera_pks: Sequence[int]) -> None:
        self.session.add(
            ShareRequestRow(
                id=request.id,
                requester_unit_id=self._require_unit(request.requester_unit_code),
                requester_id=request.requester_id,
                modes=mode_values(request.modes),
                starts_at=request.starts_at,
                ends_at=request.ends_at,
                purpose=request.purpose,
                case_number=request.case_number,
                attachments=list(request.attachments),
                area=request.area,
                sensitivity=request.sensitivity.value,
                status=request.status.value,
                created_at=request.created_at,
            )
        )
        self.session.flush()
        self.session.add_all(
            ShareRequestCamera(request_id=request.id, camera_id=pk) for pk in sorted(set(pk for pk in camera_pks))
        )
        self.session.add_all(
            ApprovalStepRow(
                request_id=request.id,
                position=s.position,
                kind=s.kind.value,
                unit_id=None if s.unit_code is None else self._require_unit(s.unit_code),
                status=s.status.value,
            )
            for s in request.steps
        )
        self.session.flush()

    def get_request(self, request_id: str, *, lock: bool = False) -> ShareRequest | None:
        if lock:  # the row lock (PostgreSQL) before the batch read below
            locked = select(ShareRequestRow.id).where(ShareRequestRow.id == request_id).with_for_update()
            if self.session.scalar(locked) is None:
                return None
        found = self.get_requests([request_id])
        return found[0] if found else None

    def get_requests(self, request_ids: Iterable[str]) -> list[ShareRequest]:
        """The requests with their cameras and steps, in the order of ``request_ids`` (unknown ids left out)."""
        wanted = list(dict.fromkeys(request_ids))
        if not wanted:
            return []
        rows = {r.id: r for r in self.session.scalars(select(ShareRequestRow).where(ShareRequestRow.id.in_(wanted)))}
        cameras: dict[str, list[str]] = {}
        for request_id, platform_id in self.session.execute(
            select(ShareRequestCamera.request_id, Camera.platform_id)
            .join(Camera, Camera.id == ShareRequestCamera.camera_id)
            .where(ShareRequestCamera.request_id.in_(wanted))
            .order_by(Camera.platform_id)
        ):
            cameras.setdefault(request_id, []).append(platform_id)
        steps: dict[str, list[Step]] = {}
        for s in self.session.scalars(
            select(ApprovalStepRow)
            .where(ApprovalStepRow.request_id.in_(wanted))
            .order_by(ApprovalStepRow.request_id, ApprovalStepRow.position)
        ):
            steps.setdefault(s.request_id, []).append(
                Step(
                    s.position,
                    StepKind(s.kind),
                    self._unit_code(s.unit_id),
                    StepStatus(s.status),
                    s.approver_id,
                    s.comment,
                    s.decided_at,
                )
            )
        return [
            ShareRequest(
                row.id,
                self._unit_code(row.requester_unit_id) or "",
                row.requester_id,
                tuple(cameras.get(row.id, ())),
                parse_modes(row.modes),
                row.starts_at,
                row.ends_at,
                row.purpose,
                row.case_number,
                tuple(row.attachments or ()),
                row.area,
                Sensitivity(row.sensitivity),
                RequestStatus(row.status),
                tuple(steps.get(row.id, ())),
                row.created_at,
            )
            for row in (rows.get(i) for i in wanted)
            if row is not None
        ]

    def requests_of(self, unit_code: str, status: RequestStatus | None = None, limit: int | None = None) -> list[str]:
        """Ids of the requests ``unit_code`` filed, oldest first (``limit``: the newest ones, newest first)."""
        unit_id = self.unit_id(unit_code)
        query = select(ShareRequestRow.id).where(ShareRequestRow.requester_unit_id == unit_id)
        if status is not None:
            query = query.where(ShareRequestRow.status == status.value)
        if limit is None:
            return list(self.session.scalars(query.order_by(ShareRequestRow.created_at, ShareRequestRow.id)))
        newest = query.order_by(ShareRequestRow.created_at.desc(), ShareRequestRow.id.desc()).limit(limit)
        return list(self.session.scalars(newest))

    def open_step_requests(self, unit_code: str, with_security: bool, limit: int) -> list[str]:
        """Ids of requests (oldest first) whose open step belongs to ``unit_code``'s unit, or is a security step
        when ``with_security``: the candidates for a principal's "to decide" box (the policy filters them)."""
        conditions = []
        unit_id = self.unit_id(unit_code)
        if unit_id is not None:
            conditions.append(ApprovalStepRow.unit_id == unit_id)
        if with_security:
            conditions.append(ApprovalStepRow.kind == StepKind.SECURITY.value)
        if not conditions:
            return []
        query = (
            select(ApprovalStepRow.request_id)
            .join(ShareRequestRow, ShareRequestRow.id == ApprovalStepRow.request_id)
            .where(ApprovalStepRow.status == StepStatus.OPEN.value, or_(*conditions))
            .order_by(ShareRequestRow.created_at, ShareRequestRow.id)
            .limit(limit)
        )
        return list(self.session.scalars(query))

    def set_request_status(self, request_id: str, status: RequestStatus, decided_at: dt.datetime | None) -> None:
        self.session.execute(
            update(ShareRequestRow)
            .where(ShareRequestRow.id == request_id)
            .values(status=status.value, decided_at=decided_at)
        )

    def set_step(
        self,
        request_id: str,
        position: int,
        status: StepStatus,
        *,
        approver_id: str | None = None,
        comment: str | None = None,
        decided_at: dt.datetime | None = None,
    ) -> None:
        self.session.execute(
            update(ApprovalStepRow)
            .where(ApprovalStepRow.request_id == request_id, ApprovalStepRow.position == position)
            .values(status=status.value, approver_id=approver_id, comment=comment, decided_at=decided_at)
        )
