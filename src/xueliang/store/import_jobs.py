"""Repository of import jobs: one row per inventory import, with its counts and error report paths."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xueliang.store.models import ImportJob, utcnow


@dataclass(frozen=True, slots=True)
class ImportJobInfo:
    id: str
    filename: str
    unit_code: str | None
    mode: str
    dry_run: bool
    status: str
    rows_total: int
    rows_created: int
    rows_updated: int
    error_count: int
    warning_count: int
    created_units: list[str]
    message: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    report_xlsx: str | None
    report_json: str | None


def _info(job: ImportJob) -> ImportJobInfo:
    return ImportJobInfo(
        job.id,
        job.filename,
        job.unit_code,
        job.mode,
        job.dry_run,
        job.status,
        job.rows_total,
        job.rows_created,
        job.rows_updated,
        job.error_count,
        job.warning_count,
        list(job.created_units or []),
        job.message,
        job.started_at,
        job.finished_at,
        job.report_xlsx,
        job.report_json,
    )


class ImportJobRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def start(self, job_id: str, *, filename: str, unit_code: str | None, mode: str, dry_run: bool) -> None:
        self.session.add(
            ImportJob(
                id=job_id,
                filename=filename[:300],
                unit_code=unit_code,
                mode=mode,
                dry_run=dry_run,
                status="running",
                rows_total=0,
                rows_created=0,
                rows_updated=0,
                error_count=0,
                warning_count=0,
                created_units=[],
                started_at=utcnow(),
            )
        )
        self.session.flush()

    def finish(self, job_id: str, **values: Any) -> None:
        job = self.session.get(ImportJob, job_id)
        if job is None:
            raise KeyError(job_id)
        for key, value in values.items():
            setattr(job, key, value)
        job.finished_at = utcnow()
        self.session.flush()

    def get(self, job_id: str) -> ImportJobInfo | None:
        job = self.session.scalar(select(ImportJob).where(ImportJob.id == job_id))
        return None if job is None else _info(job)
