"""The resource list (资源清单) as files: xlsx, csv, GeoJSON. Rows stream in; nothing holds the whole list.

- **xlsx**: sheet 资源清单, one camera per row as the rows arrive (grouped by division, then owner unit: the
  service orders them), the division and owner unit names in front, code-table values as labels, coordinates as
  numbers; frozen header, autofilter, column widths. Sheet 汇总: cameras counted by division x owner unit x camera
  type (rows) and network (columns), with unit subtotals, division totals and a grand total. Written with
  xlsxwriter in constant-memory mode, so 200,000 rows cost little memory.
- **csv**: the same columns, UTF-8 with BOM so that Excel opens the Chinese text correctly.
- **geojson**: a FeatureCollection (RFC 7946) of Points in WGS-84, ``[longitude, latitude]``; cameras without
  coordinates are left out and counted (``without_coordinates`` in the collection and in :class:`ExportResult`).
  Properties carry the codes and, for code fields, the labels (``camera_type`` and ``camera_type_label``).

The headers are the template's (Chinese, or English with ``language="en"``), so an exported csv/xlsx can be
imported again: the name columns in front (行政区划名称) and the unit code columns at the end are not archive
fields and are ignored by the import.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter

from xueliang.catalog.table import ExportRow
from xueliang.domain.archive import CAMERA_TYPE, FIELDS, NETWORK, FieldKind, FieldSpec

__all__ = ["EXPORT_FORMATS", "LIST_SHEET", "SUMMARY_SHEET", "ExportResult", "export", "write_export"]

EXPORT_FORMATS = ("xlsx", "csv", "geojson")
LIST_SHEET = "资源清单"
SUMMARY_SHEET = "汇总"
_UNSET = "未填"
_EXCEL_TEXT_LIMIT = 32767

Cell = str | int | float | dt.date | None


@dataclass(frozen=True, slots=True)
class ExportResult:
    written: int  # cameras written (features, for GeoJSON)
    without_coordinates: int = 0  # GeoJSON: cameras left out for want of coordinates


@dataclass(frozen=True, slots=True)
class _Column:
    zh: str
    en: str
    get: Callable[[ExportRow], Cell]
    width: int
    kind: FieldKind = FieldKind.TEXT

    def header(self, language: str) -> str:
        return self.en if language.startswith("en") else self.zh


def _english(language: str) -> bool:
    return language.startswith("en")


def _field_getter(spec: FieldSpec, language: str) -> Callable[[ExportRow], Cell]:
    name = spec.name
    if spec.table is not None:
        labels = {e.code: (e.en if _english(language) else e.zh) for e in spec.table.entries}

        def label(row: ExportRow) -> Cell:
            code = getattr(row.record, name)
            return None if code is None else labels.get(code, code)

        return label
    if spec.kind is FieldKind.BOOL:
        yes, no = ("yes", "no") if _english(language) else ("是", "否")

        def boolean(row: ExportRow) -> Cell:
            value = getattr(row.record, name)
            return None if value is None else yes if value else no

        return boolean
    if name == "management_unit":
        return lambda row: row.management_unit_name or row.record.management_unit
    return lambda row: getattr(row.record, name)


def _width(spec: FieldSpec) -> int:
    if spec.name == "platform_id":
        return 23
    return 30 if spec.kind is FieldKind.TEXT and spec.max_length >= 200 else 12


def _columns(language: str) -> list[_Column]:
    columns = [
        _Column("序号", "No.", lambda row: None, 7, FieldKind.INT),  # filled in by the writers
        _Column("行政区划名称", "Division", lambda row: row.division_name or row.record.division_code, 24),
        _Column("建设单位", "Owner unit", lambda row: row.owner_unit_name or row.record.owner_unit, 22),
    ]
    for spec in FIELDS:
        if spec.name == "owner_unit":
            continue
        width = (
            23 if spec.name == "platform_id" else 30 if spec.kind is FieldKind.TEXT and spec.max_length >= 200 else 12
        )
        columns.append(_Column(spec.zh, spec.en, _field_getter(spec, language), width, spec.kind))
    columns.append(_Column("建设单位编码", "Owner unit code", lambda row: row.record.owner_unit, 16))
    columns.append(_Column("管理单位编码", "Management unit code", lambda row: row.record.management_unit, 16))
    return columns


def export(rows: Iterable[ExportRow], fmt: str, out: Path, *, language: str = "zh-CN") -> ExportResult:
    """Write the resource list to ``out`` as ``fmt`` (xlsx, csv or geojson). The file appears whole or not at
    all: it is written beside ``out`` and renamed at the end."""
    writers = {"xlsx": _write_xlsx, "csv": _write_csv, "geojson": _write_geojson}
    writer = writers.get(fmt)
    if writer is None:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    partial = out.with_name(f".{out.name}.part")
    try:
        result = writer(rows, partial, language)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return result


def write_export(rows: Iterable[ExportRow], fmt: str, out: Path, *, language: str = "zh-CN") -> int:
    """Write the resource list; returns the number of cameras written (see :func:`export`)."""
    return export(rows, fmt, out, language=language).written


# ------------------------------------------------------------------------------------------------ csv


def _csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _write_csv(rows: Iterable[ExportRow], out: Path, language: str) -> ExportResult:
    columns = _columns(language)
    getters = [column.get for column in columns[1:]]
    count = 0
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(column.header(language) for column in columns)
        for count, row in enumerate(rows, start=1):  # count is the result
            writer.writerow([str(count), *(_csv_text(get(row)) for get in getters)])
    return ExportResult(count)


# ------------------------------------------------------------------------------------------------ GeoJSON


def _properties(row: ExportRow, specs: tuple[FieldSpec, ...], language: str) -> dict[str, object]:
    record = row.record
    props: dict[str, object] = {
        "division_name": row.division_name,
        "owner_unit_name": row.owner_unit_name,
        "management_unit_name": row.management_unit_name,
    }
    english = _english(language)
    for spec in specs:
        value = getattr(record, spec.name)
        if value is None:
            continue
        props[spec.name] = value.isoformat() if isinstance(value, dt.date) else value
        if spec.table is not None:
            props[f"{spec.name}_label"] = spec.table.label(value, "en" if english else "zh-CN")
    return props


def _write_geojson(rows: Iterable[ExportRow], out: Path, language: str) -> ExportResult:
    specs = tuple(s for s in FIELDS if s.name not in ("longitude", "latitude"))
    written = skipped = 0
    with out.open("w", encoding="utf-8") as handle:
        handle.write('{"type": "FeatureCollection", "features": [\n')
        for row in rows:
            lon, lat = row.record.longitude, row.record.latitude
            if lon is None or lat is None:
                skipped += 1
                continue
            feature = {
                "type": "Feature",
                "id": row.record.platform_id,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": _properties(row, specs, language),
            }
            if written:
                handle.write(",\n")
            handle.write(json.dumps(feature, ensure_ascii=False, default=str))
            written += 1
        handle.write(f'\n], "without_coordinates": {skipped}}}\n')
    return ExportResult(written, skipped)


# ------------------------------------------------------------------------------------------------ xlsx


Counts = dict[str | None, int]  # network code (None: not set) -> cameras


class _Tally:
    """Counts by division -> owner unit -> camera type -> network, each level in the order first seen."""

    def __init__(self) -> None:
        self.tree: dict[str, dict[str, dict[str, Counts]]] = {}
        self.networks: set[str | None] = set()

    def add(self, row: ExportRow) -> None:
        record = row.record
        units = self.tree.setdefault(row.division_name or record.division_code or _UNSET, {})
        types = units.setdefault(row.owner_unit_name or record.owner_unit or _UNSET, {})
        counts = types.setdefault(record.camera_type or "", {})
        counts[record.network] = counts.get(record.network, 0) + 1
        self.networks.add(record.network)


def _add_into(target: Counts, counts: Counts) -> None:
    for network, number in counts.items():
        target[network] = target.get(network, 0) + number


def _cell_value(value: Cell) -> Cell:
    if isinstance(value, str) and len(value) > _EXCEL_TEXT_LIMIT:
        return value[:_EXCEL_TEXT_LIMIT]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


def _write_xlsx(rows: Iterable[ExportRow], out: Path, language: str) -> ExportResult:
    columns = _columns(language)
    workbook = xlsxwriter.Workbook(str(out), {"constant_memory": True, "strings_to_numbers": False})
    try:
        header = workbook.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "vcenter"}
        )
        date = workbook.add_format({"num_format": "yyyy-mm-dd"})
        sheet = workbook.add_worksheet(LIST_SHEET)
        for index, column in enumerate(columns):
            sheet.set_column(index, index, column.width)
        sheet.freeze_panes(1, 4)
        sheet.set_row(0, 30)
        sheet.write_row(0, 0, [column.header(language) for column in columns], header)
        getters = [column.get for column in columns[1:]]
        tally = _Tally()
        count = 0
        for count, row in enumerate(rows, start=1):  # count is the result
            tally.add(row)
            sheet.write_number(count, 0, count)
            for col, get in enumerate(getters, start=1):
                value = _cell_value(get(row))
                if value is None or value == "":
                    continue
                if isinstance(value, str):
                    sheet.write_string(count, col, value)
                elif isinstance(value, dt.date):
                    sheet.write_datetime(count, col, value, date)
                else:
                    sheet.write_number(count, col, value)
        sheet.autofilter(0, 0, max(count, 1), len(columns) - 1)
        _write_summary(workbook, tally, language, header)
    finally:
        workbook.close()
    return ExportResult(count)


def _write_summary(workbook: xlsxwriter.Workbook, tally: _Tally, language: str, header: object) -> None:
    english = _english(language)
    bold = workbook.add_format({"bold": True, "bg_color": "#F2F2F2"})
    total_format = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "top": 1})
    sheet = workbook.add_worksheet(SUMMARY_SHEET)
    networks: list[str | None] = [e.code for e in NETWORK.entries]
    networks += sorted(n for n in tally.networks if n is not None and n not in networks)
    if None in tally.networks:
        networks.append(None)
    unset = "not set" if english else _UNSET
    network_names = [NETWORK.label(n, language) if n is not None else unset for n in networks]
    titles = ("Division", "Owner unit", "Camera type") if english else ("行政区划", "建设单位", "摄像机类型")
    total_word, subtotal_word, grand_word = (
        ("Total", "Subtotal", "Grand total") if english else ("合计", "小计", "总计")
    )
    sheet.set_column(0, 0, 26)
    sheet.set_column(1, 1, 24)
    sheet.set_column(2, 2, 16)
    sheet.set_column(3, 3 + len(networks), 12)
    sheet.freeze_panes(1, 3)
    sheet.write_row(0, 0, [*titles, *network_names, total_word], header)
    row = 0

    def line(labels: tuple[str, str, str], counts: Counts, style: object = None) -> None:
        nonlocal row
        row += 1
        sheet.write_row(row, 0, labels, style)
        values = [counts.get(n, 0) for n in networks]
        sheet.write_row(row, 3, [*values, sum(values)], style)

    grand: Counts = {}
    for division, units in tally.tree.items():
        division_total: Counts = {}
        for unit, types in units.items():
            unit_total: Counts = {}
            for camera_type, counts in types.items():
                type_name = CAMERA_TYPE.label(camera_type, language) if camera_type else unset
                line((division, unit, type_name), counts)
                _add_into(unit_total, counts)
            line((division, unit, subtotal_word), unit_total, bold)
            _add_into(division_total, unit_total)
        line((division, total_word, ""), division_total, bold)
        _add_into(grand, division_total)
    line((grand_word, "", ""), grand, total_format)
