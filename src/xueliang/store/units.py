"""Repository of units (建设单位/管理单位)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from xueliang.store.models import Unit, utcnow


@dataclass(frozen=True, slots=True)
class UnitInfo:
    id: int
    code: str
    name: str
    kind: str
    division_code: str | None
    auto_created: bool


@dataclass(frozen=True, slots=True)
class NewUnit:
    code: str
    name: str
    kind: str = "other"
    division_code: str | None = None
    auto_created: bool = False


def _info(unit: Unit) -> UnitInfo:
    return UnitInfo(unit.id, unit.code, unit.name, unit.kind, unit.division_code, unit.auto_created)


class UnitRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> list[UnitInfo]:
        return [_info(u) for u in self.session.scalars(select(Unit).order_by(Unit.code))]

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(Unit)) or 0)

    def get_by_code(self, code: str) -> UnitInfo | None:
        unit = self.session.scalar(select(Unit).where(Unit.code == code))
        return None if unit is None else _info(unit)

    def find_by_name(self, name: str) -> list[UnitInfo]:
        return [_info(u) for u in self.session.scalars(select(Unit).where(Unit.name == name).order_by(Unit.code))]

    def codes_by_id(self, ids: Iterable[int]) -> dict[int, str]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = self.session.execute(select(Unit.id, Unit.code).where(Unit.id.in_(wanted)))
        return {row.id: row.code for row in rows}

    def ids_by_code(self, codes: Iterable[str] | None = None) -> dict[str, int]:
        """Code -> id for ``codes`` (all units when None)."""
        statement = select(Unit.code, Unit.id)
        if codes is not None:
            wanted = sorted(set(codes))
            if not wanted:
                return {}
            statement = statement.where(Unit.code.in_(wanted))
        return {row.code: row.id for row in self.session.execute(statement)}

    def create(self, unit: NewUnit) -> UnitInfo:
        return self.create_many([unit])[0]

    def create_many(self, units: Sequence[NewUnit]) -> list[UnitInfo]:
        if not units:
            return []
        now = utcnow()
        self.session.execute(
            insert(Unit),
            [
                {
                    "code": u.code,
                    "name": u.name,
                    "kind": u.kind,
                    "division_code": u.division_code,
                    "auto_created": u.auto_created,
                    "created_at": now,
                }
                for u in units
            ],
        )
        ids = self.ids_by_code(u.code for u in units)
        return [UnitInfo(ids[u.code], u.code, u.name, u.kind, u.division_code, u.auto_created) for u in units]

    def names_by_code(self) -> Mapping[str, str]:
        return {row.code: row.name for row in self.session.execute(select(Unit.code, Unit.name))}
