"""The sharing tables (migration ``0004c``) and the plain records the sharing repository returns.

Tables: ``share_offer`` (the directory: what a unit publishes, by camera, division or unit, with modes and a
sensitivity), ``share_request`` with ``share_request_camera`` (the cameras it resolved to, an area included) and
``approval_step`` (the chain, one row per step, in order), ``share_grant`` with ``share_grant_camera``, and
``sharing_event`` (what the console shows a unit: filed, approved, rejected, granted, revoked, expired, renewed).
Units and cameras are referenced by their tables' keys; the records carry codes and platform IDs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.domain.grants import Grant, RequestStatus, Sensitivity, ShareScope, StepKind, StepStatus
from xueliang.domain.policy import CameraRef
from xueliang.domain.principals import Mode
from xueliang.store.models import Base, utcnow


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
class GrantRecord:
    """A grant with who created it and who last changed it, and why (revoke and renew reasons)."""

    grant: Grant
    created_by: str
    created_at: dt.datetime
    changed_by: str | None
    changed_at: dt.datetime | None
    reason: str | None


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


def parse_modes(values: Iterable[str]) -> frozenset[Mode]:
    return frozenset(Mode(v) for v in values)


def mode_values(modes: Iterable[Mode]) -> list[str]:
    return sorted(m.value for m in modes)
