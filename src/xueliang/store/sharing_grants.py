"""Reads and writes of grants and sharing events, and the unit and camera look-ups every sharing query needs.

:class:`SharingLookups` translates unit codes and camera platform IDs to table keys and back (cached per session);
:class:`GrantRows` adds the grant and event queries on top of it. :class:`~xueliang.store.sharing.SharingRepository`
builds on both. The caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from xueliang.domain.grants import Grant, GrantStatus, ShareScope
from xueliang.domain.policy import CameraRef
from xueliang.store.models import Camera, Unit
from xueliang.store.sharing_tables import (
    EventRow,
    GrantRecord,
    LocatedCamera,
    ShareGrant,
    ShareGrantCamera,
    SharingEvent,
    mode_values,
    parse_modes,
)

Direction = Literal["held", "given", "all"]
GrantsMark = tuple[int, dt.datetime | None, dt.datetime | None]


class SharingLookups:
    """Unit codes and camera platform IDs to keys and back; ``default_owner`` owns cameras the archive gives no
    owner unit."""

    def __init__(self, session: Session, default_owner: str) -> None:
        self.session = session
        self.default_owner = default_owner
        self._unit_ids: dict[str, int] = {}
        self._unit_codes: dict[int, str] = {}

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


class GrantRows(SharingLookups):
    """Grants (with their cameras) and the sharing events the console polls."""

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
                modes=mode_values(grant.modes),
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
        return [record.grant for record in self._records(rows)]

    def _records(self, rows: Sequence[ShareGrant]) -> list[GrantRecord]:
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
        records = []
        for r in rows:
            scope = ShareScope(r.scope)
            targets = cameras.get(r.id, set()) if scope is ShareScope.CAMERA else set(r.divisions or ())
            if scope is ShareScope.CAMERA and not targets:
                continue  # every camera of it left the archive
            grant = Grant(
                r.id,
                self._unit_code(r.grantee_unit_id) or "",
                self._unit_code(r.owner_unit_id),
                scope,
                frozenset(targets),
                parse_modes(r.modes),
                r.valid_from,
                r.valid_until,
                GrantStatus(r.status),
                r.grantee_principal_id,
                r.request_id,
            )
            records.append(GrantRecord(grant, r.created_by, r.created_at, r.changed_by, r.changed_at, r.reason))
        return records

    def get_grant(self, grant_id: str, *, lock: bool = False) -> Grant | None:
        found = self.get_grant_record(grant_id, lock=lock)
        return None if found is None else found.grant

    def get_grant_record(self, grant_id: str, *, lock: bool = False) -> GrantRecord | None:
        query = select(ShareGrant).where(ShareGrant.id == grant_id)
        row = self.session.scalar(query.with_for_update() if lock else query)
        found = self._records([row]) if row is not None else []
        return found[0] if found else None

    def active_grants(self) -> list[Grant]:
        """Every ACTIVE grant (the policy index also checks each one's time window)."""
        rows = self.session.scalars(select(ShareGrant).where(ShareGrant.status == GrantStatus.ACTIVE.value))
        return self._grants(list(rows))

    def grants_mark(self) -> GrantsMark:
        """A cheap summary that changes whenever a grant is created, revoked, renewed or expires (any process)."""
        row = self.session.execute(
            select(
                func.count().filter(ShareGrant.status == GrantStatus.ACTIVE.value),
                func.max(ShareGrant.created_at),
                func.max(ShareGrant.changed_at),
            )
        ).one()
        return int(row[0] or 0), row[1], row[2]

    def grant_ids(self) -> list[str]:
        """Every grant's id, whatever its state (the audit report's "grants never used")."""
        return list(self.session.scalars(select(ShareGrant.id).order_by(ShareGrant.id)))

    def grants_of_request(self, request_id: str) -> list[Grant]:
        rows = self.session.scalars(
            select(ShareGrant).where(ShareGrant.request_id == request_id).order_by(ShareGrant.id)
        )
        return self._grants(list(rows))

    def grant_records(
        self, unit_code: str | None, direction: Direction, status: GrantStatus | None = None, limit: int = 100
    ) -> list[GrantRecord]:
        """Newest first: grants ``unit_code`` holds, gives (owns the cameras of), or both; every grant when None."""
        query = select(ShareGrant).order_by(ShareGrant.created_at.desc(), ShareGrant.id).limit(limit)
        if unit_code is not None:
            unit_id = self.unit_id(unit_code)
            if unit_id is None:
                return []
            held, given = ShareGrant.grantee_unit_id == unit_id, ShareGrant.owner_unit_id == unit_id
            query = query.where({"held": held, "given": given, "all": or_(held, given)}[direction])
        if status is not None:
            query = query.where(ShareGrant.status == status.value)
        return self._records(list(self.session.scalars(query)))

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

    def events(
        self, unit_code: str | None, after_id: int = 0, limit: int = 100, *, with_unscoped: bool = False
    ) -> list[EventRow]:
        """Events for ``unit_code`` (None: the security administrators' feed, events without a unit);
        ``with_unscoped`` adds that feed to a unit's events (a security administrator's view)."""
        unit_id = None if unit_code is None else self.unit_id(unit_code)
        if unit_code is not None and unit_id is None and not with_unscoped:
            return []
        conditions = []
        if unit_id is not None:
            conditions.append(SharingEvent.unit_id == unit_id)
        if unit_code is None or with_unscoped:
            conditions.append(SharingEvent.unit_id.is_(None))
        rows = self.session.scalars(
            select(SharingEvent)
            .where(or_(*conditions), SharingEvent.id > after_id)
            .order_by(SharingEvent.id)
            .limit(limit)
        )
        return [
            EventRow(
                r.id,
                r.at,
                r.kind,
                self._unit_code(r.unit_id),
                r.request_id,
                r.grant_id,
                r.actor,
                r.message_zh,
                r.message_en,
            )
            for r in rows
        ]
