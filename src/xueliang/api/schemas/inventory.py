"""Import and export models."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class RowProblemOut(BaseModel):
    row_number: int = Field(description="spreadsheet row number (0: the file as a whole)")
    column: str = Field(description="column letter and header, e.g. 'C 设备编码'")
    field: str
    value: str
    severity: str = Field(description="error | warning")
    rule: str
    message_zh: str
    message_en: str


class CreatedUnitOut(BaseModel):
    code: str
    name: str
    kind: str
    division_code: str | None


class ImportSummaryOut(BaseModel):
    job_id: str | None
    filename: str
    status: str = Field(description="committed | validated (dry run) | rejected")
    accepted: bool
    mode: str
    dry_run: bool
    rows_total: int
    rows_created: int
    rows_updated: int
    rows_rejected: int
    error_count: int
    warning_count: int
    created_units: list[CreatedUnitOut]
    problems: list[RowProblemOut] = Field(description="at most 1,000; the reports hold them all")
    problems_truncated: bool
    seconds: float
    report_xlsx_url: str | None = None
    report_json_url: str | None = None


class ImportJobOut(BaseModel):
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
    started_at: dt.datetime
    finished_at: dt.datetime | None
    report_xlsx_url: str | None
    report_json_url: str | None
