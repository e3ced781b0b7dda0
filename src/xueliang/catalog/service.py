"""The catalog service: the camera archive (一机一档) as the API and the CLI use it. No HTTP here.

- cameras: list (filters, sort, keyset pages), get, put (create or replace, through the archive validator:
  human input is rejected on errors), delete;
- inventory import (:mod:`xueliang.catalog.importer`): one transaction, all rows or none; error reports;
- governance report (:mod:`xueliang.catalog.governance`) and the resource list export (资源清单);
- units and the operational settings (the naming rule).

Filters arrive as people write them (a unit code or name, a network code or label) and are resolved here;
a value that cannot be used raises :class:`~xueliang.catalog.errors.InvalidQueryError` with the accepted values.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from xueliang.catalog import governance
from xueliang.catalog.errors import CameraNotFoundError, CameraRejectedError, InvalidQueryError
from xueliang.catalog.importer import (
    ImportOptions,
    ImportResult,
    file_problem,
    finding_dict,
    import_table,
)
from xueliang.catalog.table import ExportRow, SourceTable, TableError
from xueliang.catalog.units import UnitDirectory
from xueliang.domain import divisions, naming
from xueliang.domain.archive import (
    CAMERA_TYPE,
    NETWORK,
    POINT_CLASS,
    CodeTable,
    Crs,
    Finding,
    NamingRule,
    ValidationContext,
)
from xueliang.domain.validator import check_camera
from xueliang.store import settings as setting_keys
from xueliang.store.cameras import (
    RECORD_FIELDS,
    CameraFilter,
    CameraPage,
    CameraRepository,
    CursorError,
    PageRequest,
    StoredCamera,
    camera_row,
    columns_for_fields,
)
from xueliang.store.crypto import Cipher, cipher_for, split_credentials
from xueliang.store.db import transaction
from xueliang.store.import_jobs import ImportJobInfo, ImportJobRepository
from xueliang.store.models import utcnow
from xueliang.store.settings import SettingRepository
from xueliang.store.units import UnitInfo, UnitRepository

EXPORT_FORMATS = ("xlsx", "csv", "geojson")
MAX_PAGE = 500
_ALL_COLUMNS = columns_for_fields(RECORD_FIELDS)


@dataclass(frozen=True, slots=True)
class CameraQuery:
    """Camera filters as a person writes them; every one optional."""

    division: str | None = None  # division code: the division and every division under it
    unit: str | None = None  # owner unit (建设单位): code or name
    network: str | None = None  # code or label (视频专网)
    camera_type: str | None = None
    point_class: str | None = None
    q: str | None = None  # text in name, address, point common name, or ID (6+ digits: ID prefix)
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat


@dataclass(slots=True)
class PutResult:
    camera: StoredCamera
    created: bool
    findings: list[Finding]  # warnings (errors reject the record)


@lru_cache(maxsize=4096)
def division_name(code: str | None) -> str:
    """The full name of a division (安徽省六安市裕安区), or the code when unknown."""
    if not code:
        return ""
    return divisions.full_name(code) or code


def _code_filter(parameter: str, table: CodeTable, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    code = table.lookup(value)
    if code is None:
        raise InvalidQueryError(
            parameter,
            f"{table.zh}“{value}”不在代码表中，可用：{table.accepted('zh-CN')}",
            f"{table.en} '{value}' is not in its code table; accepted: {table.accepted('en')}",
        )
    return code


class CatalogService:
    """Built once per process by the composition root; every method opens its own transaction."""

    def __init__(self, sessions: sessionmaker[Session], *, data_dir: Path, cipher: Cipher | None = None) -> None:
        self.sessions = sessions
        self.data_dir = data_dir
        self._cipher = cipher

    def cipher(self) -> Cipher:
        """The secrets cipher; its key file is created on first use."""
        if self._cipher is None:
            self._cipher = cipher_for(self.data_dir)
        return self._cipher

    # ------------------------------------------------------------------------------------------- settings

    def _naming_rule(self, session: Session) -> NamingRule:
        stored = SettingRepository(session).get(setting_keys.NAMING_RULE)
        if not isinstance(stored, dict):
            return NamingRule()
        return NamingRule(
            template=str(stored.get("template", NamingRule().template)), enabled=bool(stored.get("enabled", True))
        )

    def naming_rule(self) -> NamingRule:
        with self.sessions() as session:
            return self._naming_rule(session)

    def set_naming_rule(self, rule: NamingRule) -> NamingRule:
        """Store the naming rule; raises InvalidQueryError for a template with unknown placeholders."""
        try:
            naming.validate_template(rule.template)
        except ValueError as exc:
            zh, _, en = str(exc).partition(" / ")
            raise InvalidQueryError("template", zh, en or zh) from exc
        with transaction(self.sessions) as session:
            SettingRepository(session).put(
                setting_keys.NAMING_RULE, {"template": rule.template, "enabled": rule.enabled}
            )
        return rule

    def validation_context(self, session: Session) -> ValidationContext:
        return ValidationContext(naming_rule=self._naming_rule(session))

    # ---------------------------------------------------------------------------------------------- units

    def list_units(self) -> list[UnitInfo]:
        with self.sessions() as session:
            return UnitRepository(session).all()

    # -------------------------------------------------------------------------------------------- cameras

    def _filter(self, session: Session, query: CameraQuery) -> CameraFilter:
        prefix = None
        if query.division is not None and query.division.strip():
            code = query.division.strip()
            if not (code.isascii() and code.isdigit() and 2 <= len(code) <= 12):
                raise InvalidQueryError(
                    "division",
                    f"行政区划代码应为2至12位数字：{code}",
                    f"a division code is 2 to 12 digits: {code}",
                )
            if not divisions.is_known(code):
                raise InvalidQueryError(
                    "division",
                    f"没有行政区划代码为 {code} 的行政区划（GB/T 2260），请检查代码",
                    f"no administrative division has the code {code} (GB/T 2260): check the code",
                )
            prefix = divisions.prefix(code)
        owner_id = None
        if query.unit is not None and query.unit.strip():
            directory = UnitDirectory(UnitRepository(session).all(), creating_hint=False)
            resolution = directory.resolve("owner_unit", query.unit, strict=True)
            if resolution.code is None:
                assert resolution.finding is not None
                raise InvalidQueryError("unit", resolution.finding.message_zh, resolution.finding.message_en)
            owner_id = directory.by_code[resolution.code].id
        if query.bbox is not None:
            min_lon, min_lat, max_lon, max_lat = query.bbox
            if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
                raise InvalidQueryError(
                    "bbox",
                    "bbox 应为 最小经度,最小纬度,最大经度,最大纬度（WGS-84，最小值不大于最大值）",
                    "bbox is minLon,minLat,maxLon,maxLat in WGS-84 degrees, each minimum not above its maximum",
                )
        return CameraFilter(
            division_prefix=prefix,
            owner_unit_id=owner_id,
            network=_code_filter("network", NETWORK, query.network),
            camera_type=_code_filter("camera_type", CAMERA_TYPE, query.camera_type),
            point_class=_code_filter("point_class", POINT_CLASS, query.point_class),
            q=query.q.strip() if query.q and query.q.strip() else None,
            bbox=query.bbox,
        )

    def list_cameras(self, query: CameraQuery, page: PageRequest) -> CameraPage:
        if not 1 <= page.limit <= MAX_PAGE:
            raise InvalidQueryError("limit", f"limit 应在 1 到 {MAX_PAGE} 之间", f"limit must be 1 to {MAX_PAGE}")
        with self.sessions() as session:
            filters = self._filter(session, query)
            try:
                return CameraRepository(session).list(filters, page)
            except CursorError as exc:
                raise InvalidQueryError(
                    "cursor",
                    "分页游标无效：请使用上一页返回的 next_cursor，且排序参数保持不变",
                    "the cursor is not valid: pass the next_cursor of the previous page with the same sort and order",
                ) from exc

    def get_camera(self, platform_id: str) -> StoredCamera:
        with self.sessions() as session:
            camera = CameraRepository(session).get(platform_id)
        if camera is None:
            raise CameraNotFoundError(platform_id)
        return camera

    def put_camera(self, platform_id: str, raw: Mapping[str, object], *, crs: Crs = Crs.WGS84) -> PutResult:
        """Create or replace one camera (human input: rejected with the findings on any error)."""
        values = {k: v for k, v in raw.items() if v is not None}
        stated = values.get("platform_id")
        if stated is not None and str(stated).strip() != platform_id:
            raise InvalidQueryError(
                "platform_id",
                f"请求体中的设备编码 {stated} 与路径中的 {platform_id} 不一致",
                f"the device ID {stated} in the body differs from {platform_id} in the path",
            )
        values["platform_id"] = platform_id
        with transaction(self.sessions) as session:
            cameras, units = CameraRepository(session), UnitRepository(session)
            existing = cameras.get(platform_id)
            context = dataclasses.replace(self.validation_context(session), id_taken=lambda _id: False)
            record, findings = check_camera(values, context, crs=crs)
            directory = UnitDirectory(units.all(), creating_hint=False)
            for field_name in ("owner_unit", "management_unit"):
                value = getattr(record, field_name)
                if value:
                    resolution = directory.resolve(field_name, value, strict=True)
                    setattr(record, field_name, resolution.code)
                    if resolution.finding is not None:
                        findings.append(resolution.finding)
            if any(f.is_error for f in findings):
                raise CameraRejectedError(platform_id, findings)
            row = camera_row(
                record,
                unit_ids=units.ids_by_code(),
                cipher=self.cipher(),
                findings=[finding_dict(f) for f in findings],
                source="api",
                now=utcnow(),
            )
            if existing is None:
                cameras.insert_many([row])
            else:
                columns = _ALL_COLUMNS
                url = split_credentials(record.stream_url)[0] if record.stream_url else None
                if row["stream_credentials"] is None and url is not None and url == existing.record.stream_url:
                    columns = columns - {"stream_credentials"}  # the same URL sent back: keep its credentials
                cameras.update_many([row], [columns])
            stored = cameras.get(platform_id)
        assert stored is not None
        return PutResult(stored, existing is None, findings)

    def delete_camera(self, platform_id: str) -> None:
        with transaction(self.sessions) as session:
            if not CameraRepository(session).delete(platform_id):
                raise CameraNotFoundError(platform_id)

    def stream_url_with_credentials(self, platform_id: str) -> str | None:
        """For the media service pulling an RTSP stream. Never log what it returns."""
        with self.sessions() as session:
            return CameraRepository(session).stream_url_with_credentials(platform_id, self.cipher())

    # ---------------------------------------------------------------------------------------- inventory

    def next_free_id(self, prefix14: str) -> str:
        """The ID with the next free serial under ``prefix14`` (division 8 + industry 2 + type 3 + network 1).

        A suggestion, not a reservation: the ID is taken when a camera is written with it (the unique
        constraint decides a race). Raises InvalidQueryError for a malformed prefix or a full range.
        """
        from xueliang.domain import ids

        try:
            ids.next_free_serial(prefix14, ())  # checks the prefix before touching the database
            with self.sessions() as session:
                return ids.next_free_serial(prefix14, CameraRepository(session).ids_with_prefix(prefix14.strip()))
        except ids.IdError as exc:
            raise InvalidQueryError("prefix", exc.message_zh, exc.message_en) from exc

    def import_table(self, table: SourceTable, options: ImportOptions) -> ImportResult:
        """Validate and import a table: all rows or none (see :mod:`xueliang.catalog.importer`)."""
        return import_table(self.sessions, self.cipher, table, options, self.validation_context)

    def import_file(
        self,
        data: bytes,
        filename: str,
        options: ImportOptions,
        *,
        report_xlsx: Path,
        report_json: Path,
        job_id: str | None = None,
    ) -> ImportResult:
        """Read, import and record an inventory file; on rejection write the error report to the given paths."""
        from xueliang.catalog.sheets import read_table

        job_id = job_id or uuid.uuid4().hex
        with transaction(self.sessions) as session:
            ImportJobRepository(session).start(
                job_id, filename=filename, unit_code=options.unit, mode=options.mode, dry_run=options.dry_run
            )
        try:
            try:
                result = self.import_table(read_table(data, filename), options)
            except TableError as exc:
                result = ImportResult(filename, "rejected", options.mode, options.dry_run)
                result.problems.append(file_problem("table.unreadable", exc.zh, exc.en))
                result.error_count = 1
        except Exception as exc:
            with transaction(self.sessions) as session:
                ImportJobRepository(session).finish(job_id, status="failed", message=type(exc).__name__)
            raise
        result.job_id = job_id
        if not result.accepted:
            write_reports(result, report_xlsx, report_json)
        with transaction(self.sessions) as session:
            ImportJobRepository(session).finish(
                job_id,
                status=result.status,
                rows_total=result.rows_total,
                rows_created=result.rows_created,
                rows_updated=result.rows_updated,
                error_count=result.error_count,
                warning_count=result.warning_count,
                created_units=[f"{u.code} {u.name}" for u in result.created_units],
                report_xlsx=result.report_xlsx,
                report_json=result.report_json,
            )
        return result

    def import_job(self, job_id: str) -> ImportJobInfo | None:
        with self.sessions() as session:
            return ImportJobRepository(session).get(job_id)

    # -------------------------------------------------------------------------------- governance, export

    def governance_report(
        self,
        query: CameraQuery | None = None,
        *,
        distance_m: float = governance.DEFAULT_DUPLICATE_DISTANCE_M,
    ) -> governance.GovernanceReport:
        query = query or CameraQuery()
        with self.sessions() as session:
            filters = self._filter(session, query)
            context = dataclasses.replace(self.validation_context(session), id_taken=lambda _id: False)
            cameras = CameraRepository(session).iter_grouped(filters)
            return governance.build_report(
                ((c.record, c.owner_unit_name) for c in cameras),
                context,
                division=query.division,
                unit=query.unit,
                distance_m=distance_m,
            )

    def export_rows(self, query: CameraQuery | None = None) -> Iterator[ExportRow]:
        """The resource list (资源清单): matching cameras grouped by division, then owner unit."""
        with self.sessions() as session:
            filters = self._filter(session, query or CameraQuery())
            for camera in CameraRepository(session).iter_grouped(filters):
                yield ExportRow(
                    record=camera.record,
                    division_name=division_name(camera.record.division_code),
                    owner_unit_name=camera.owner_unit_name or "",
                    management_unit_name=camera.management_unit_name or "",
                )

    def export_file(self, query: CameraQuery, fmt: str, out: Path) -> int:
        """Write the resource list as xlsx, csv or geojson; returns the number of cameras written (GeoJSON leaves
        out cameras without coordinates)."""
        from xueliang.catalog.export_files import write_export

        if fmt not in EXPORT_FORMATS:
            raise InvalidQueryError(
                "format", f"导出格式应为 {'、'.join(EXPORT_FORMATS)}", f"the format must be one of {EXPORT_FORMATS}"
            )
        with self.sessions() as session:  # resolve the filters first: a bad one fails before a file exists
            self._filter(session, query)
        return write_export(self.export_rows(query), fmt, out)


def error_report_paths(source: Path) -> tuple[Path, Path]:
    """Where a rejected import's error report goes: next to the input, ``清单.xlsx`` -> ``清单.errors.xlsx``."""
    return source.with_name(source.stem + ".errors.xlsx"), source.with_name(source.stem + ".errors.json")


def write_reports(result: ImportResult, xlsx: Path, json_path: Path) -> None:
    """The error report of a rejected import, as xlsx and JSON (row, column, value, message zh + en)."""
    from xueliang.catalog.reports import write_error_report

    xlsx.parent.mkdir(parents=True, exist_ok=True)
    write_error_report(
        result.problems,
        xlsx,
        json_path,
        summary={
            "文件 file": result.filename,
            "模式 mode": result.mode,
            "数据行 rows": result.rows_total,
            "结果 result": "已拒绝，未写入任何数据 / rejected, nothing was written",
        },
    )
    result.report_xlsx, result.report_json = str(xlsx), str(json_path)


def summary(result: ImportResult, *, max_problems: int | None = None) -> dict[str, Any]:
    """An import result as JSON for the API and ``--json`` output."""
    problems = result.problems if max_problems is None else result.problems[:max_problems]
    return {
        "job_id": result.job_id,
        "filename": result.filename,
        "status": result.status,
        "accepted": result.accepted,
        "mode": result.mode,
        "dry_run": result.dry_run,
        "rows_total": result.rows_total,
        "rows_created": result.rows_created,
        "rows_updated": result.rows_updated,
        "rows_rejected": result.rows_rejected,
        "error_count": result.error_count,
        "warning_count": result.warning_count,
        "created_units": [
            {"code": u.code, "name": u.name, "kind": u.kind, "division_code": u.division_code}
            for u in result.created_units
        ],
        "problems": [dataclasses.asdict(p) for p in problems],
        "problems_truncated": len(problems) < len(result.problems),
        "seconds": round(result.seconds, 3),
    }
