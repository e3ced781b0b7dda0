"""The catalog's entry points for worker processes (submitted through ``xueliang.jobs.JobRunner``).

Each takes the database URL and the data directory, not live objects: a worker opens (and keeps, for the next
job) its own engine. Results and errors are plain picklable values.
"""

from __future__ import annotations

import threading
from pathlib import Path

from xueliang.catalog import governance
from xueliang.catalog.importer import ImportOptions, ImportResult
from xueliang.catalog.service import CameraQuery, CatalogService
from xueliang.store.db import create_db_engine, make_session_factory

PRELOAD = (
    "xueliang.catalog.worker",
    "xueliang.catalog.sheets",
    "xueliang.catalog.device_catalog",
    "xueliang.domain.validator",
)
_services: dict[tuple[str, str], CatalogService] = {}
_lock = threading.Lock()


def _service(database_url: str, data_dir: str) -> CatalogService:
    with _lock:
        service = _services.get((database_url, data_dir))
        if service is None:
            engine = create_db_engine(database_url)
            service = CatalogService(make_session_factory(engine), data_dir=Path(data_dir))
            _services[(database_url, data_dir)] = service
        return service


def import_upload(
    database_url: str, data_dir: str, job_id: str, upload: str, filename: str, options: ImportOptions
) -> ImportResult:
    """Import an uploaded file; the error report of a rejected import goes next to the upload."""
    folder = Path(upload).parent
    return _service(database_url, data_dir).import_file(
        Path(upload).read_bytes(),
        filename,
        options,
        report_xlsx=folder / "report.xlsx",
        report_json=folder / "report.json",
        job_id=job_id,
    )


def governance_report(
    database_url: str, data_dir: str, query: CameraQuery, distance_m: float
) -> governance.GovernanceReport:
    return _service(database_url, data_dir).governance_report(query, distance_m=distance_m)


def export_file(database_url: str, data_dir: str, query: CameraQuery, fmt: str, out: str) -> int:
    return _service(database_url, data_dir).export_file(query, fmt, Path(out))
