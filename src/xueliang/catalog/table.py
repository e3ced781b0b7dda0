"""Tabular inventory data as the import and export pipeline sees it, independent of the file format.

``xueliang.catalog.sheets`` reads a department's xlsx/csv into a :class:`SourceTable` (header row found, headers
mapped to archive fields, cells as stripped text). The import service validates each :class:`SourceRow` with the
archive validator and reports :class:`RowProblem` items, which ``xueliang.catalog.reports`` writes as xlsx/JSON.
The export writers take :class:`ExportRow` items.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xueliang.domain.archive import CameraRecord


class TableError(Exception):
    """The file as a whole cannot be read as an inventory (not a spreadsheet, no header row, ...)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


@dataclass(slots=True)
class SourceColumn:
    index: int  # 0-based column index in the sheet
    letter: str  # spreadsheet column letter, "A", "AB"
    header: str  # header text as written
    field: str | None  # CameraRecord field name (or "crs" for a per-row coordinate system column); None if unknown


@dataclass(slots=True)
class SourceRow:
    row_number: int  # 1-based row number as a spreadsheet program shows it
    values: dict[str, str]  # field name -> cell text, stripped; empty cells left out


@dataclass(slots=True)
class SourceTable:
    filename: str
    sheet: str  # sheet name ("" for csv)
    header_row: int  # 1-based
    columns: list[SourceColumn]
    rows: list[SourceRow]
    encoding: str | None = None  # csv only: the encoding detected
    unknown_headers: list[str] = field(default_factory=list)

    def column_of(self, field_name: str) -> SourceColumn | None:
        for column in self.columns:
            if column.field == field_name:
                return column
        return None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One finding on one row of an imported file, located as a clerk would look for it."""

    row_number: int  # 0 for problems with the file as a whole
    column: str  # "C 设备编码" (letter and header) or "" when not tied to a column
    field: str
    value: str
    severity: str  # "error" | "warning"
    rule: str
    message_zh: str
    message_en: str


@dataclass(slots=True)
class ExportRow:
    """One camera of the resource list, with the names the export shows beside the codes."""

    record: CameraRecord
    division_name: str  # full name, e.g. 安徽省六安市裕安区
    owner_unit_name: str
    management_unit_name: str
