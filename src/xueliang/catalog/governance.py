"""Archive governance (一机一档治理): completeness and accuracy per unit and division, every finding, and
duplicate-construction candidates.

- Completeness (建档率-style): a camera is complete when every field of :data:`REQUIRED_FIELDS` is filled, and
  for class 1 points also :data:`CLASS_1_REQUIRED_FIELDS` (GB/T 28181-2022 asks those four of them); the
  report gives complete / all and the fill rate of every archive field.
- Accuracy: every stored camera is validated again with today's rules (the naming rule may have changed since
  it was imported); the share of cameras with errors and with warnings, and each finding.
- Duplicate construction (集约建设: no two departments' cameras on one spot): cameras of different owner units
  within ``distance_m`` (15 m by default) facing the same direction. A grid of cells at least ``distance_m``
  wide, keyed by direction, so each camera is compared only with the cameras of its own and the eight
  neighbouring cells: O(n) for a city.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from xueliang.domain import divisions
from xueliang.domain.archive import FIELDS, CameraRecord, ValidationContext
from xueliang.domain.coords import haversine_m
from xueliang.domain.validator import validate_record

DEFAULT_DUPLICATE_DISTANCE_M = 15.0
REQUIRED_FIELDS: tuple[str, ...] = (
    "platform_id",
    "name",
    "division_code",
    "install_address",
    "longitude",
    "latitude",
    "camera_type",
    "point_class",
    "position_type",
    "direction",
    "network",
    "owner_unit",
)
CLASS_1_REQUIRED_FIELDS: tuple[str, ...] = ("management_unit", "management_contact", "install_time", "record_save_days")
_M_PER_DEG_LAT_MIN = 110_574.0  # the shortest degree of latitude (at the equator): cells err on the large side
_M_PER_DEG_LON_EQUATOR = 111_320.0
_FIELD_NAMES = tuple(spec.name for spec in FIELDS)


def _filled(value: object) -> bool:
    return value is not None and value != ""


def is_complete(record: CameraRecord) -> bool:
    required = REQUIRED_FIELDS + CLASS_1_REQUIRED_FIELDS if record.point_class == "1" else REQUIRED_FIELDS
    return all(_filled(getattr(record, name)) for name in required)


@dataclass(slots=True)
class GroupFigures:
    """Completeness and accuracy of one unit, one division, or all cameras in scope."""

    code: str
    name: str
    cameras: int = 0
    complete: int = 0
    with_errors: int = 0
    with_warnings: int = 0
    filled: Counter[str] = field(default_factory=Counter)

    def add(self, record: CameraRecord, complete: bool, errors: bool, warnings: bool) -> None:
        self.cameras += 1
        self.complete += complete
        self.with_errors += errors
        self.with_warnings += warnings
        for name in _FIELD_NAMES:
            if _filled(getattr(record, name)):
                self.filled[name] += 1

    def _rate(self, count: int) -> float:
        return round(count / self.cameras, 4) if self.cameras else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "cameras": self.cameras,
            "complete": self.complete,
            "completeness_rate": self._rate(self.complete),
            "with_errors": self.with_errors,
            "with_warnings": self.with_warnings,
            "accuracy_rate": self._rate(self.cameras - self.with_errors),
            "warning_rate": self._rate(self.with_warnings),
            "field_fill_rates": {name: self._rate(self.filled[name]) for name in _FIELD_NAMES},
        }


@dataclass(frozen=True, slots=True)
class FindingItem:
    platform_id: str
    name: str
    owner_unit: str | None
    division_code: str | None
    severity: str
    field: str
    rule: str
    message_zh: str
    message_en: str
    value: str | None


@dataclass(frozen=True, slots=True)
class CameraRef:
    platform_id: str
    name: str
    owner_unit: str
    owner_unit_name: str
    longitude: float
    latitude: float
    direction: str


@dataclass(frozen=True, slots=True)
class DuplicateCandidate:
    first: CameraRef
    second: CameraRef
    distance_m: float


@dataclass(slots=True)
class GovernanceReport:
    division: str | None
    unit: str | None
    distance_m: float
    total: GroupFigures
    by_unit: list[GroupFigures]
    by_division: list[GroupFigures]
    findings: list[FindingItem]
    duplicates: list[DuplicateCandidate]

    def findings_by_rule(self) -> dict[str, int]:
        return dict(Counter(f.rule for f in self.findings).most_common())

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": {"division": self.division, "unit": self.unit},
            "required_fields": list(REQUIRED_FIELDS),
            "class_1_required_fields": list(CLASS_1_REQUIRED_FIELDS),
            "duplicate_distance_m": self.distance_m,
            "total": self.total.to_dict(),
            "by_unit": [g.to_dict() for g in self.by_unit],
            "by_division": [g.to_dict() for g in self.by_division],
            "findings_by_rule": self.findings_by_rule(),
            "findings": [dataclasses.asdict(f) for f in self.findings],
            "duplicates": [
                {
                    "first": dataclasses.asdict(d.first),
                    "second": dataclasses.asdict(d.second),
                    "distance_m": d.distance_m,
                }
                for d in self.duplicates
            ],
        }


def county_of(division_code: str | None) -> str:
    if not division_code:
        return ""
    return division_code[:6] if len(division_code) > 6 else division_code


def build_report(
    cameras: Iterable[tuple[CameraRecord, str | None]],
    context: ValidationContext,
    *,
    division: str | None = None,
    unit: str | None = None,
    distance_m: float = DEFAULT_DUPLICATE_DISTANCE_M,
) -> GovernanceReport:
    """The report over ``cameras`` (each record with its owner unit's name)."""
    total = GroupFigures("", "全部 / all")
    by_unit: dict[str, GroupFigures] = {}
    by_division: dict[str, GroupFigures] = {}
    findings: list[FindingItem] = []
    refs: list[CameraRef] = []
    division_names: dict[str, str] = {}
    for record, owner_name in cameras:
        found = validate_record(record, context)
        errors = any(f.is_error for f in found)
        complete = is_complete(record)
        owner = record.owner_unit or ""
        county = county_of(record.division_code)
        if county not in division_names:
            division_names[county] = (divisions.full_name(county) or county) if county else "未填写行政区划 / none"
        unit_group = by_unit.get(owner)
        if unit_group is None:
            unit_group = by_unit[owner] = GroupFigures(owner, owner_name or "未填写建设单位 / none")
        division_group = by_division.get(county)
        if division_group is None:
            division_group = by_division[county] = GroupFigures(county, division_names[county])
        for group in (total, unit_group, division_group):
            group.add(record, complete, errors, bool(found) and not all(f.is_error for f in found))
        findings.extend(
            FindingItem(
                record.platform_id,
                record.name,
                record.owner_unit,
                record.division_code,
                f.severity.value,
                f.field,
                f.rule,
                f.message_zh,
                f.message_en,
                f.value,
            )
            for f in found
        )
        if record.longitude is not None and record.latitude is not None and record.direction and owner:
            refs.append(
                CameraRef(
                    record.platform_id,
                    record.name,
                    owner,
                    owner_name or owner,
                    record.longitude,
                    record.latitude,
                    record.direction,
                )
            )
    return GovernanceReport(
        division,
        unit,
        distance_m,
        total,
        sorted(by_unit.values(), key=lambda g: g.code),
        sorted(by_division.values(), key=lambda g: g.code),
        findings,
        find_duplicates(refs, distance_m),
    )


def find_duplicates(cameras: Sequence[CameraRef], distance_m: float) -> list[DuplicateCandidate]:
    """Pairs of cameras of different owner units within ``distance_m`` facing the same direction."""
    if not cameras or distance_m <= 0:
        return []
    max_abs_lat = min(89.0, max(abs(c.latitude) for c in cameras))
    cell_lat = distance_m / _M_PER_DEG_LAT_MIN
    cell_lon = distance_m / (_M_PER_DEG_LON_EQUATOR * math.cos(math.radians(max_abs_lat)))
    grid: dict[tuple[str, int, int], list[int]] = defaultdict(list)
    for index, camera in enumerate(cameras):
        grid[
            (camera.direction, math.floor(camera.latitude / cell_lat), math.floor(camera.longitude / cell_lon))
        ].append(index)
    pairs: list[DuplicateCandidate] = []
    for (direction, y, x), members in grid.items():
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                neighbours = grid.get((direction, y + dy, x + dx))
                if not neighbours:
                    continue
                for i in members:
                    a = cameras[i]
                    for j in neighbours:
                        if j <= i:
                            continue
                        b = cameras[j]
                        if a.owner_unit == b.owner_unit:
                            continue
                        distance = haversine_m(a.longitude, a.latitude, b.longitude, b.latitude)
                        if distance <= distance_m:
                            first, second = (a, b) if a.platform_id <= b.platform_id else (b, a)
                            pairs.append(DuplicateCandidate(first, second, round(distance, 2)))
    pairs.sort(key=lambda p: (p.first.platform_id, p.second.platform_id))
    return pairs
