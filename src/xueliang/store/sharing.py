"""Share directory, share requests, approval steps, grants and sharing events (migration ``0004c``).

Units and cameras are referenced by their tables' keys (``unit.id``, ``camera.id``) and translated to codes and
platform IDs here, so the domain and the services only ever see codes. Users and principals are plain string ids:
the accounts tables land separately and carry no foreign key from here. The caller owns the transaction.

Tables: ``share_offer`` (the directory: what a unit publishes, by camera, division or unit, with modes and a
sensitivity), ``share_request`` with ``share_request_camera`` (the cameras it resolved to, an area included) and
``approval_step`` (the chain, one row per step, in order), ``share_grant`` with ``share_grant_camera``, and
``sharing_event`` (what the console shows a unit: filed, approved, rejected, granted, revoked, expired, renewed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from xueliang.domain.grants import Grant, GrantStatus, RequestStatus, Sensitivity, ShareScope, StepKind, StepStatus
from xueliang.domain.policy import CameraRef
from xueliang.domain.principals import Mode
from xueliang.store.models import Base, Camera, Unit, utcnow


class ShareOffer(Base):
    __tablename__ = "share_offer"
    __table_args__ = (
        Index("ix_share_offer_owner_unit_id", "owner_unit_id"),
        Index("ix_share_offer_camera_id", "camera_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    scope: Mapped[str] = mapped_column(String(16))
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"))
    division_code: Mapped[str | None] = mapped_column(String(12))
    modes: Mapped[list[str]] = mapped_column(JSON)
    sensitivity: Mapped[str] = mapped_column(String(8))
    published_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ShareRequestRow(Base):
    __tablename__ = "share_request"
    __table_args__ = (Index("ix_share_request_requester_unit_id_status", "requester_unit_id", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    requester_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    requester_id: Mapped[str] = mapped_column(String(64))
    modes: Mapped[list[str]] = mapped_column(JSON)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime)
    purpose: Mapped[str] = mapped_column(String(500))
    case_number: Mapped[str] = mapped_column(String(100))
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # stored file references
    area: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sensitivity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ShareRequestCamera(Base):
    __tablename__ = "share_request_camera"

    request_id: Mapped[str] = mapped_column(ForeignKey("share_request.id", ondelete="CASCADE"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"), primary_key=True)


class ApprovalStepRow(Base):
    __tablename__ = "approval_step"
    __table_args__ = (
        Index("ix_approval_step_request_id_position", "request_id", "position", unique=True),
        Index("ix_approval_step_unit_id_status", "unit_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("share_request.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))  # owner / bureau unit
    status: Mapped[str] = mapped_column(String(16))
    approver_id: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(String(1000))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ShareGrant(Base):
    __tablename__ = "share_grant"
    __table_args__ = (
        Index("ix_share_grant_status_valid_until", "status", "valid_until"),
        Index("ix_share_grant_grantee_unit_id", "grantee_unit_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str | None] = mapped_column(ForeignKey("share_request.id", ondelete="SET NULL"))
    grantee_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    grantee_principal_id: Mapped[str | None] = mapped_column(String(64))
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"))
    scope: Mapped[str] = mapped_column(String(16))
    divisions: Mapped[list[str]] = mapped_column(JSON, default=list)  # DIVISION scope: code prefixes
    modes: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[dt.datetime] = mapped_column(DateTime)
    valid_until: Mapped[dt.datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(String(500))  # of the last revoke / renew


class ShareGrantCamera(Base):
    __tablename__ = "share_grant_camera"
    __table_args__ = (Index("ix_share_grant_camera_camera_id", "camera_id"),)

    grant_id: Mapped[str] = mapped_column(ForeignKey("share_grant.id", ondelete="CASCADE"), primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"), primary_key=True)


class SharingEvent(Base):
    """A notification for the console. ``unit_id`` is the unit that should see it (NULL: security admins)."""

    __tablename__ = "sharing_event"
    __table_args__ = (Index("ix_sharing_event_unit_id_id", "unit_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    request_id: Mapped[str | None] = mapped_column(String(32))
    grant_id: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    message_zh: Mapped[str] = mapped_column(String(500))
    message_en: Mapped[str] = mapped_column(String(500))


@dataclass(frozen=True, slots=True)
class LocatedCamera:
    pk: int
    ref: CameraRef
    longitude: float | None
    latitude: float | None


@dataclass(frozen=True, slots=True)
class Offer:
    id: int
    owner_unit_code: str
    scope: ShareScope
    camera_id: str | None
    division_code: str | None
    modes: frozenset[Mode]
    sensitivity: Sensitivity


@dataclass(frozen=True, slots=True)
class Step:
    position: int
    kind: StepKind
    unit_code: str | None
    status: StepStatus
    approver_id: str | None = None
    comment: str | None = None
    decided_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ShareRequest:
    id: str
    requester_unit_code: str
    requester_id: str
    camera_ids: tuple[str, ...]
    modes: frozenset[Mode]
    starts_at: dt.datetime
    ends_at: dt.datetime
    purpose: str
    case_number: str
    attachments: tuple[dict[str, Any], ...]
    area: dict[str, Any] | None
    sensitivity: Sensitivity
    status: RequestStatus
    steps: tuple[Step, ...]
    created_at: dt.datetime

    def open_step(self) -> Step | None:
        return next((s for s in self.steps if s.status is StepStatus.OPEN), None)


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    at: dt.datetime
    kind: str
    unit_code: str | None
    request_id: str | None
    grant_id: str | None
    actor: str
    message_zh: str
    message_en: str


def _modes(values: Iterable[str]) -> frozenset[Mode]:
    return frozenset(Mode(v) for v in values)


def _sorted_modes(modes: Iterable[Mode]) -> list[str]:
    return sorted(m.value for m in modes)


class SharingRepository:
    """Reads and writes of the sharing tables; ``default_owner`` owns cameras whose archive names no owner."""

    def __init__(self, session: Session, default_owner: str) -> None:
        self.session = session
        self.default_owner = default_owner
        self._unit_ids: dict[str, int] = {}
        self._unit_codes: dict[int, str] = {}

    # units and cameras -------------------------------------------------------------------------------------
    def unit_id(self, code: str) -> int | None:
        if code not in self._unit_ids:
            found = self.session.scalar(select(Unit.id).where(Unit.code == code))
            if found is None:
                return None
            self._unit_ids[code], self._unit_codes[found] = found, code
        return self._unit_ids[code]

    def _require_unit(self, code: str) -> int:
        found = self.unit_id(code)
        if found is None:
            raise LookupError(f"unknown unit {code!r}")
        return found

    def _unit_code(self, pk: int | None) -> str | None:
        if pk is None:
            return None
        if pk not in self._unit_codes:
            code = self.session.scalar(select(Unit.code).where(Unit.id == pk))
            if code is None:
                return None
            self._unit_codes[pk], self._unit_ids[code] = code, pk
        return self._unit_codes[pk]

    def _camera_query(self) -> Any:
        return select(
            Camera.id, Camera.platform_id, Camera.division_code, Camera.longitude, Camera.latitude, Unit.code
        ).outerjoin(Unit, Unit.id == Camera.owner_unit_id)

    def _located(self, row: Any) -> LocatedCamera:
        ref = CameraRef(row.platform_id, row.code or self.default_owner, row.division_code)
        return LocatedCamera(row.id, ref, row.longitude, row.latitude)

    def cameras(self, platform_ids: Iterable[str]) -> dict[str, LocatedCamera]:
        wanted = sorted(set(platform_ids))
        if not wanted:
            return {}
        rows = self.session.execute(self._camera_query().where(Camera.platform_id.in_(wanted)))
        return {row.platform_id: self._located(row) for row in rows}

    def cameras_in_box(self, west: float, south: float, east: float, north: float) -> list[LocatedCamera]:
        query = (
            self._camera_query()
            .where(Camera.longitude.between(west, east), Camera.latitude.between(south, north))
            .order_by(Camera.platform_id)
        )
        return [self._located(row) for row in self.session.execute(query)]

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
            _sorted_modes(modes),
            sensitivity.value,
            by,
            utcnow(),
        )
        self.session.add(row)
        self.session.flush()
        return Offer(row.id, owner, scope, target if camera_pk else None, division, modes, sensitivity)

    def unpublish(self, offer_id: int) -> bool:
        return bool(self.session.execute(delete(ShareOffer).where(ShareOffer.id == offer_id)).rowcount)  # type: ignore[attr-defined]

    def offers_for(self, cameras: Sequence[LocatedCamera]) -> dict[str, list[Offer]]:
        """The offers covering each camera: its own, its owner unit's, and its owner's divisions containing it."""
        owners = {c.ref.owner_unit_code for c in cameras}
        owner_ids = [i for i in (self.unit_id(o) for o in owners) if i is not None]
        pks = [c.pk for c in cameras]
        if not pks:
            return {}
        rows = self.session.execute(
            select(ShareOffer, Camera.platform_id)
            .outerjoin(Camera, Camera.id == ShareOffer.camera_id)
            .where((ShareOffer.camera_id.in_(pks)) | (ShareOffer.owner_unit_id.in_(owner_ids)))
        )
        offers: list[Offer] = []
        for offer, platform_id in rows:
            owner = self._unit_code(offer.owner_unit_id) or ""
            offers.append(
                Offer(
                    offer.id,
                    owner,
                    ShareScope(offer.scope),
                    platform_id,
                    offer.division_code,
                    _modes(offer.modes),
                    Sensitivity(offer.sensitivity),
                )
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

    def offers_of(self, owner: str) -> list[Offer]:
        owner_id = self.unit_id(owner)
        if owner_id is None:
            return []
        rows = self.session.execute(
            select(ShareOffer, Camera.platform_id)
            .outerjoin(Camera, Camera.id == ShareOffer.camera_id)
            .where(ShareOffer.owner_unit_id == owner_id)
            .order_by(ShareOffer.id)
        )
        return [
            Offer(o.id, owner, ShareScope(o.scope), pid, o.division_code, _modes(o.modes), Sensitivity(o.sensitivity))
            for o, pid in rows
        ]

    # share requests and their steps ------------------------------------------------------------------------
    def add_request(self, request: ShareRequest, camera_pks: Sequence[int]) -> None:
        self.session.add(
            ShareRequestRow(
                id=request.id,
                requester_unit_id=self._require_unit(request.requester_unit_code),
                requester_id=request.requester_id,
                modes=_sorted_modes(request.modes),
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
        query = select(ShareRequestRow).where(ShareRequestRow.id == request_id)
        row = self.session.scalar(query.with_for_update() if lock else query)
        if row is None:
            return None
        cameras = self.session.scalars(
            select(Camera.platform_id)
            .join(ShareRequestCamera, ShareRequestCamera.camera_id == Camera.id)
            .where(ShareRequestCamera.request_id == request_id)
            .order_by(Camera.platform_id)
        )
        steps = self.session.scalars(
            select(ApprovalStepRow).where(ApprovalStepRow.request_id == request_id).order_by(ApprovalStepRow.position)
        )
        return ShareRequest(
            row.id,
            self._unit_code(row.requester_unit_id) or "",
            row.requester_id,
            tuple(cameras),
            _modes(row.modes),
            row.starts_at,
            row.ends_at,
            row.purpose,
            row.case_number,
            tuple(row.attachments or ()),
            row.area,
            Sensitivity(row.sensitivity),
            RequestStatus(row.status),
            tuple(
                Step(
                    s.position,
                    StepKind(s.kind),
                    self._unit_code(s.unit_id),
                    StepStatus(s.status),
                    s.approver_id,
                    s.comment,
                    s.decided_at,
                )
                for s in steps
            ),
            row.created_at,
        )

    def requests_of(self, unit_code: str) -> list[str]:
        unit_id = self.unit_id(unit_code)
        return list(
            self.session.scalars(
                select(ShareRequestRow.id)
                .where(ShareRequestRow.requester_unit_id == unit_id)
                .order_by(ShareRequestRow.created_at, ShareRequestRow.id)
            )
        )

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

    # grants ------------------------------------------------------------------------------------------------
    def add_grant(self, grant: Grant, by: str, at: dt.datetime) -> None:
        camera_pks: list[int] = []
        if grant.scope is ShareScope.CAMERA:
            found = self.cameras(grant.targets)
            missing = sorted(set(grant.targets) - set(found))
            if missing:
                raise LookupError(f"unknown cameras {missing}")
            camera_pks = sorted(c.pk for c in found.values())
        self.session.add(
            ShareGrant(
                id=grant.id,
                request_id=grant.request_id,
                grantee_unit_id=self._require_unit(grant.grantee_unit_code),
                grantee_principal_id=grant.grantee_principal_id,
                owner_unit_id=None if grant.owner_unit_code is None else self._require_unit(grant.owner_unit_code),
                scope=grant.scope.value,
                divisions=sorted(grant.targets) if grant.scope is ShareScope.DIVISION else [],
                modes=_sorted_modes(grant.modes),
                valid_from=grant.valid_from,
                valid_until=grant.valid_until,
                status=grant.status.value,
                created_by=by,
                created_at=at,
            )
        )
        self.session.flush()
        self.session.add_all(ShareGrantCamera(grant_id=grant.id, camera_id=pk) for pk in camera_pks)
        self.session.flush()

    def _grants(self, rows: Sequence[ShareGrant]) -> list[Grant]:
        ids = [r.id for r in rows if r.scope == ShareScope.CAMERA.value]
        cameras: dict[str, set[str]] = {}
        for chunk in (ids[i : i + 5000] for i in range(0, len(ids), 5000)):
            pairs = self.session.execute(
                select(ShareGrantCamera.grant_id, Camera.platform_id)
                .join(Camera, Camera.id == ShareGrantCamera.camera_id)
                .where(ShareGrantCamera.grant_id.in_(chunk))
            )
            for grant_id, platform_id in pairs:
                cameras.setdefault(grant_id, set()).add(platform_id)
        grants = []
        for r in rows:
            scope = ShareScope(r.scope)
            targets = cameras.get(r.id, set()) if scope is ShareScope.CAMERA else set(r.divisions or ())
            if scope is ShareScope.CAMERA and not targets:
                continue  # every camera of it left the archive
            grants.append(
                Grant(
                    r.id,
                    self._unit_code(r.grantee_unit_id) or "",
                    self._unit_code(r.owner_unit_id),
                    scope,
                    frozenset(targets),
                    _modes(r.modes),
                    r.valid_from,
                    r.valid_until,
                    GrantStatus(r.status),
                    r.grantee_principal_id,
                    r.request_id,
                )
            )
        return grants

    def get_grant(self, grant_id: str, *, lock: bool = False) -> Grant | None:
        query = select(ShareGrant).where(ShareGrant.id == grant_id)
        row = self.session.scalar(query.with_for_update() if lock else query)
        found = self._grants([row]) if row is not None else []
        return found[0] if found else None

    def active_grants(self) -> list[Grant]:
        """Every ACTIVE grant (the policy index also checks each one's time window)."""
        rows = self.session.scalars(select(ShareGrant).where(ShareGrant.status == GrantStatus.ACTIVE.value))
        return self._grants(list(rows))

    def grants_of_request(self, request_id: str) -> list[Grant]:
        rows = self.session.scalars(
            select(ShareGrant).where(ShareGrant.request_id == request_id).order_by(ShareGrant.id)
        )
        return self._grants(list(rows))

    def due_for_expiry(self, now: dt.datetime) -> list[str]:
        return list(
            self.session.scalars(
                select(ShareGrant.id)
                .where(ShareGrant.status == GrantStatus.ACTIVE.value, ShareGrant.valid_until <= now)
                .order_by(ShareGrant.id)
            )
        )

    def change_grant(
        self,
        grant_id: str,
        status: GrantStatus,
        by: str,
        at: dt.datetime,
        reason: str | None = None,
        valid_until: dt.datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status.value, "changed_by": by, "changed_at": at, "reason": reason}
        if valid_until is not None:
            values["valid_until"] = valid_until
        self.session.execute(update(ShareGrant).where(ShareGrant.id == grant_id).values(**values))

    # events ------------------------------------------------------------------------------------------------
    def add_event(
        self,
        kind: str,
        unit_code: str | None,
        actor: str,
        at: dt.datetime,
        zh: str,
        en: str,
        *,
        request_id: str | None = None,
        grant_id: str | None = None,
    ) -> None:
        unit_id = None if unit_code is None else self.unit_id(unit_code)
        self.session.add(
            SharingEvent(
                at=at,
                kind=kind,
                unit_id=unit_id,
                request_id=request_id,
                grant_id=grant_id,
                actor=actor,
                message_zh=zh,
                message_en=en,
            )
        )

    def events(self, unit_code: str | None, after_id: int = 0, limit: int = 100) -> list[EventRow]:
        """Events for ``unit_code`` (None: the security administrators' feed, events without a unit)."""
        unit_id = None if unit_code is None else self.unit_id(unit_code)
        if unit_code is not None and unit_id is None:
            return []
        condition = SharingEvent.unit_id.is_(None) if unit_id is None else SharingEvent.unit_id == unit_id
        rows = self.session.scalars(
            select(SharingEvent).where(condition, SharingEvent.id > after_id).order_by(SharingEvent.id).limit(limit)
        )
        return [
            EventRow(r.id, r.at, r.kind, unit_code, r.request_id, r.grant_id, r.actor, r.message_zh, r.message_en)
            for r in rows
        ]
