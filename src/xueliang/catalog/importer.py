"""Inventory import: a :class:`SourceTable` -> the archive validator per row -> one transaction, all rows or none.

Steps of :func:`import_table`:

1. In one transaction: load the units, the naming rule and the cameras the sheet names (create mode: which IDs
   exist; upsert mode: the stored records, to merge with the row).
2. Per row: ``check_camera`` with ``id_taken`` backed by the database (create mode) and by the rows before it
   (duplicates within the file); 建设单位/管理单位 values resolved to unit codes (unknown names planned as new
   units unless ``strict_units``). Findings become :class:`RowProblem` items located by row number and
   column letter + header, as the clerk sees the sheet.
3. Any error: nothing is written (status ``rejected``). Dry run: nothing is written (``validated``). Otherwise
   the planned units are created and the rows inserted (create) or merged (upsert), then committed.

Upsert writes only what the row supplied (a non-empty cell): the stored record is merged with the row before
validation, so a sheet that only updates 录像保存天数 is validated as the whole camera it describes, and
archive fields that a later GB/T 28181 catalog sync will not supply stay as they were.

Imports are CPU-heavy. :func:`run_import_job` is the entry point a worker process runs (``jobs.JobRunner``):
it opens its own engine from the database URL.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from xueliang.catalog.errors import InvalidOptionsError
from xueliang.catalog.sheets import collector_paused
from xueliang.catalog.table import RowProblem, SourceTable
from xueliang.catalog.units import UnitDirectory
from xueliang.domain.archive import CameraRecord, Crs, Finding, ValidationContext
from xueliang.domain.validator import check_camera
from xueliang.store.cameras import (
    RECORD_FIELDS,
    CameraRepository,
    StoredCamera,
    camera_row,
    columns_for_fields,
)
from xueliang.store.crypto import Cipher
from xueliang.store.db import transaction
from xueliang.store.models import utcnow
from xueliang.store.units import NewUnit, UnitRepository

ImportMode = Literal["create", "upsert"]
ANALYZE_AFTER_ROWS = 1000  # refresh planner statistics after importing this many rows
_RECORD_FIELD_SET = frozenset(RECORD_FIELDS)
_SUBMITTED = frozenset({"submitted_longitude", "submitted_latitude", "submitted_crs"})


@dataclass(frozen=True, slots=True)
class ImportOptions:
    unit: str | None = None  # default 建设单位 (unit code) for rows that name none
    mode: ImportMode = "create"
    dry_run: bool = False
    crs: Crs = Crs.WGS84  # coordinate system of the sheet, unless a row's 坐标系 column says otherwise
    strict_units: bool = False  # unknown units are row errors instead of being created


@dataclass(slots=True)
class ImportResult:
    filename: str
    status: str  # "committed" | "validated" (dry run) | "rejected"
    mode: ImportMode
    dry_run: bool
    rows_total: int = 0
    rows_created: int = 0
    rows_updated: int = 0
    rows_rejected: int = 0  # rows with at least one error
    error_count: int = 0
    warning_count: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    created_units: list[NewUnit] = field(default_factory=list)
    seconds: float = 0.0
    job_id: str | None = None
    report_xlsx: str | None = None
    report_json: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status != "rejected"


def finding_dict(finding: Finding) -> dict[str, Any]:
    """A finding as the camera row stores it (``camera.findings``) and the API returns it."""
    return {
        "severity": finding.severity.value,
        "field": finding.field,
        "rule": finding.rule,
        "message_zh": finding.message_zh,
        "message_en": finding.message_en,
        "value": finding.value,
    }


def file_problem(rule: str, zh: str, en: str, severity: str = "error", value: str = "") -> RowProblem:
    """A problem with the file as a whole (row 0)."""
    return RowProblem(0, "", "", value, severity, rule, zh, en)


@dataclass(slots=True)
class _Accepted:
    record: CameraRecord
    warnings: list[dict[str, Any]]
    existing: bool
    columns: frozenset[str]  # upsert of an existing camera: the columns the row supplied


class _Ids:
    """``ValidationContext.id_taken`` for one import: the database (create mode) and the rows seen so far."""

    def __init__(self, cameras: CameraRepository, candidates: set[str], existing: set[str], check_db: bool) -> None:
        self.cameras, self.candidates, self.existing, self.check_db = cameras, candidates, existing, check_db
        self.seen: set[str] = set()

    def taken(self, platform_id: str) -> bool:
        if platform_id in self.seen:
            return True
        if not self.check_db:
            return False
        if platform_id in self.existing:
            return True
        if platform_id not in self.candidates:  # the validator normalised it differently: ask the database
            self.candidates.add(platform_id)
            if self.cameras.existing_ids([platform_id]):
                self.existing.add(platform_id)
                return True
        return False


def _merged(existing: StoredCamera, values: Mapping[str, str]) -> dict[str, object]:
    """The stored record overlaid with the row's non-empty cells (stored coordinates are WGS-84 already)."""
    raw: dict[str, object] = {
        k: v for k, v in existing.record.as_dict().items() if v is not None and v != "" and k not in _SUBMITTED
    }
    supplies_coordinates = "longitude" in values or "latitude" in values
    if supplies_coordinates:
        raw.pop("longitude", None)
        raw.pop("latitude", None)
    raw.update(values)
    if not supplies_coordinates:
        raw["crs"] = Crs.WGS84.value
    return raw


def _column_labels(table: SourceTable) -> dict[str, str]:
    labels = {c.field: f"{c.letter} {c.header}" for c in table.columns if c.field}
    if "crs" in labels:
        labels["submitted_crs"] = labels["crs"]
    return labels


def _problem(row_number: int, finding: Finding, labels: Mapping[str, str], values: Mapping[str, str]) -> RowProblem:
    field_name = finding.field
    # the cell as the clerk wrote it (行业专网), not the normalised value (industry_private)
    value = values.get(field_name) or finding.value or ""
    return RowProblem(
        row_number,
        labels.get(field_name, ""),
        field_name,
        value,
        finding.severity.value,
        finding.rule,
        finding.message_zh,
        finding.message_en,
    )


@collector_paused()  # hundreds of thousands of short-lived objects, none in cycles
def import_table(
    sessions: sessionmaker[Session],
    cipher: Callable[[], Cipher],
    table: SourceTable,
    options: ImportOptions,
    context: Callable[[Session], ValidationContext],
) -> ImportResult:
    """Validate every row of ``table`` and write all of them or none (see the module docstring)."""
    started = time.perf_counter()
    result = ImportResult(table.filename, "rejected", options.mode, options.dry_run, rows_total=len(table.rows))
    for header in table.unknown_headers:
        result.problems.append(
            file_problem(
                "header.unknown",
                f"未识别的列“{header}”，已忽略；字段名称见导入模板",
                f"column '{header}' is not recognised and was ignored; see the import template for field names",
                "warning",
                header,
            )
        )
    if not table.rows:
        result.problems.append(
            file_problem("table.empty", "表格中没有数据行", "the table has no data rows below its header row")
        )
        _count(result)
        return result

    with transaction(sessions) as session:
        cameras, units = CameraRepository(session), UnitRepository(session)
        directory = UnitDirectory(units.all())
        if options.unit is not None and options.unit not in directory.by_code:
            raise InvalidOptionsError(
                f"没有代码为 {options.unit} 的单位：默认建设单位（--unit）须为已登记单位的代码（见 /api/v1/units）",
                f"no unit has the code {options.unit}: the default owner unit (--unit) must be the code of a "
                "registered unit (see /api/v1/units)",
            )
        candidates = {row.values["platform_id"].strip() for row in table.rows if row.values.get("platform_id")}
        stored: dict[str, StoredCamera] = {}
        if options.mode == "upsert":
            stored = cameras.get_many(candidates)
            ids = _Ids(cameras, candidates, set(stored), check_db=False)
        else:
            ids = _Ids(cameras, candidates, cameras.existing_ids(candidates), check_db=True)
        validation = dataclasses.replace(context(session), id_taken=ids.taken, source="human")
        labels = _column_labels(table)

        accepted: list[_Accepted] = []
        for row in table.rows:
            record, findings, item = _check_row(row.values, options, stored, validation, directory)
            if record.platform_id:
                ids.seen.add(record.platform_id)
            for finding in findings:
                result.problems.append(_problem(row.row_number, finding, labels, row.values))
            if item is None:
                result.rows_rejected += 1
            elif not result.rows_rejected:
                accepted.append(item)
        _count(result)
        result.created_units = directory.created_units()
        if result.rows_rejected:
            result.status = "rejected"
        elif options.dry_run:
            result.status = "validated"
        else:
            _write(session, cameras, units, cipher, accepted, result)
            result.status = "committed"
    result.seconds = time.perf_counter() - started
    return result


def _check_row(
    values: Mapping[str, str],
    options: ImportOptions,
    stored: Mapping[str, StoredCamera],
    validation: ValidationContext,
    directory: UnitDirectory,
) -> tuple[CameraRecord, list[Finding], _Accepted | None]:
    existing = stored.get(values.get("platform_id", "").strip()) if stored else None
    raw: Mapping[str, object]
    if existing is not None:
        raw = _merged(existing, values)
    elif options.unit and not values.get("owner_unit"):
        raw = {**values, "owner_unit": options.unit}
    else:
        raw = values
    record, findings = check_camera(raw, validation, crs=options.crs)
    for field_name in ("owner_unit", "management_unit"):
        value = getattr(record, field_name)
        if value:
            resolution = directory.resolve(
                field_name, value, strict=options.strict_units, division_code=record.division_code
            )
            setattr(record, field_name, resolution.code)
            if resolution.finding is not None:
                findings.append(resolution.finding)
    if any(f.is_error for f in findings):
        return record, findings, None
    warnings = [finding_dict(f) for f in findings]
    supplied = columns_for_fields(k for k in values if k in _RECORD_FIELD_SET) if existing is not None else frozenset()
    return record, findings, _Accepted(record, warnings, existing is not None, supplied)


def _count(result: ImportResult) -> None:
    result.error_count = sum(1 for p in result.problems if p.severity == "error")
    result.warning_count = len(result.problems) - result.error_count


def _write(
    session: Session,
    cameras: CameraRepository,
    units: UnitRepository,
    cipher: Callable[[], Cipher],
    accepted: list[_Accepted],
    result: ImportResult,
) -> None:
    units.create_many(result.created_units)
    unit_ids = units.ids_by_code()
    now = utcnow()
    the_cipher = cipher()
    new_rows, update_rows, update_columns = [], [], []
    for item in accepted:
        row = camera_row(item.record, unit_ids=unit_ids, cipher=the_cipher, findings=item.warnings, source="import",
                         now=now)  # fmt: skip
        if item.existing:
            update_rows.append(row)
            update_columns.append(item.columns)
        else:
            new_rows.append(row)
    cameras.insert_many(new_rows)
    cameras.update_many(update_rows, update_columns)
    result.rows_created, result.rows_updated = len(new_rows), len(update_rows)
    if len(accepted) >= ANALYZE_AFTER_ROWS:
        cameras.analyze()
    session.flush()
