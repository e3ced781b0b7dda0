"""Reading a department's inventory file (xlsx, xls, csv) into a :class:`~xueliang.catalog.table.SourceTable`.

Bytes in, table out; no database, no HTTP. :func:`read_table` takes the file as departments really fill it:

- xlsx/xlsm/xlsb/xls/ods through python-calamine; the first visible worksheet with a recognisable header row
  (or the one named by ``sheet``);
- csv/txt in UTF-8 (with or without BOM), GB18030 (what Excel on a Chinese Windows writes) or UTF-16 with BOM
  (Excel's "Unicode text"), delimited by ``,`` ``;`` ``\\t`` or ``|`` (sniffed from the header row);
- title rows above the header (found: the row among the first 20 with the most recognised headers, at least two
  and one of them the ID or the name), two-level headers (a header cell merged down over a sub-header row),
  vertically merged data cells (建设单位 spanning many rows: the value is filled into every row of the range),
  numbers stored as text, IDs stored as numbers, Excel dates, blank rows and columns, a signature footer.

Cells become stripped text as :class:`~xueliang.catalog.table.SourceRow` carries them: numbers as Python's
shortest round-trip text with no ``.0`` for whole numbers (``116.5``, ``90``), except those too large to be
exact (a 20-digit ID that Excel turned into ``3.41502E+19``), which keep the exponent so the validator rejects
them instead of accepting invented digits; dates as ``YYYY-MM-DD``; booleans as ``TRUE``/``FALSE``.

Speed: the sheet is read once by calamine (``to_python``); the work after it is column-wise with C-level
builtins (``itemgetter``, ``zip``, ``map(str.strip)``), per-cell Python only for non-text cells, and one dict
per row (bench/bench_import.py measures it against the bare calamine read).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gc
import io
import itertools
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import cast

from python_calamine import CalamineWorkbook, PasswordError, SheetTypeEnum, SheetVisibleEnum

from xueliang.catalog import headers
from xueliang.catalog.table import SourceColumn, SourceRow, SourceTable, TableError
from xueliang.catalog.template import EXAMPLE_ID, EXAMPLE_REMARK
from xueliang.domain.archive import FIELD_BY_NAME, FieldKind

__all__ = ["HEADER_SCAN_ROWS", "cell_text", "collector_paused", "column_letter", "read_table"]

HEADER_SCAN_ROWS = 20
_MIN_HEADERS = 2
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SPREADSHEET_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xlsb", ".xls", ".ods", ".et"})
_DELIMITERS = (",", ";", "\t", "|")
_EXACT_FLOAT_LIMIT = 1e15  # below this a whole float prints as its integer without losing digits
_EXACT_FLOAT_DIGITS = len(repr(_EXACT_FLOAT_LIMIT - 1))  # "999999999999999.0"
_FOOTER = re.compile(r"^(填表人|填报人|制表人|审核人|负责人|单位负责人|填报日期|制表日期|填表日期|说明|注)\s*[:：]")

Grid = list[list[object]]
Merge = tuple[tuple[int, int], tuple[int, int]]  # ((first row, first col), (last row, last col)), 0-based


def read_table(data: bytes, filename: str, *, sheet: str | None = None) -> SourceTable:
    """Read an inventory file. Raises :class:`TableError` (zh + en) when it is not a spreadsheet or csv, is
    empty, has no recognisable header row, or maps two columns to one field."""
    if not data.strip():
        raise TableError(f"文件“{filename}”是空的", f"the file '{filename}' is empty")
    with collector_paused():
        if data.startswith((_ZIP_MAGIC, _OLE_MAGIC)):
            return _read_workbook(data, filename, sheet)
        if PurePath(filename).suffix.casefold() in _SPREADSHEET_SUFFIXES:
            raise _not_readable(filename)
        return _read_csv(data, filename)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a sheet becomes millions of small objects (none of them in
    cycles): otherwise it rescans them again and again. bench/bench_import.py, 100,000 x 30 xlsx: read_table
    4.3 s -> 3.4 s; around the import service's validation and insert of the same rows: 11.8 s -> 8.5 s.
    Re-entrant: an inner pause leaves the collector as the outer one set it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ------------------------------------------------------------------------------------------------ cells


def _float_text(value: float) -> str:
    if value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT:
        return str(int(value))
    return repr(value)


def cell_text(value: object) -> str:
    """A cell as the text :class:`SourceRow` carries (see the module docstring)."""
    if type(value) is str:
        return value.strip()
    if type(value) is float:
        return _float_text(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _date_text(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return cell_text(value)


def _floats_text(column: Sequence[float]) -> list[str]:
    """A column of floats at C speed: ``repr`` then whole numbers without ``.0`` (``_float_text`` per cell)."""
    return [
        text[:-2] if text[-2:] == ".0" and len(text) <= _EXACT_FLOAT_DIGITS + (text[0] == "-") else text
        for text in map(repr, column)
    ]


def _column_texts(column: Sequence[object], convert: Callable[[object], str]) -> list[str]:
    try:
        return list(map(str.strip, column))  # type: ignore[arg-type]  # the common case: a column of text
    except TypeError:  # numbers, dates: str.strip refuses anything but str
        pass
    kinds = set(map(type, column))
    if kinds == {float}:
        return _floats_text(column)  # type: ignore[arg-type]
    if kinds == {dt.date}:
        return list(map(dt.date.isoformat, column))  # type: ignore[arg-type]
    return list(map(convert, column))


def column_letter(index: int) -> str:
    """0 -> "A", 27 -> "AB"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# ------------------------------------------------------------------------------------------------ header


@dataclass(frozen=True, slots=True)
class _Header:
    last_row: int  # 0-based index of the last header row; data follows
    texts: list[str]


def _fill_merged(grid: Grid, merges: Sequence[Merge]) -> None:
    """Copy each vertically merged cell's value into every row of its range (first column of the range), except
    rows that are otherwise blank: a merge drawn over a blank line does not make a camera of it."""
    height = len(grid)
    for (first_row, first_col), (last_row, _last_col) in merges:
        if last_row <= first_row or first_row >= height:
            continue
        top = grid[first_row]
        if first_col >= len(top):
            continue
        value = top[first_col]
        for row in itertools.islice(grid, first_row + 1, min(last_row, height - 1) + 1):
            if first_col < len(row) and any(row):
                row[first_col] = value


def _find_header(grid: Grid, merges: Sequence[Merge]) -> _Header | None:
    best: tuple[int, int, list[str]] | None = None
    for index, row in enumerate(grid[:HEADER_SCAN_ROWS]):
        texts = [cell_text(cell) for cell in row]
        count, anchored = headers.score(texts)
        if count >= _MIN_HEADERS and anchored and (best is None or count > best[1]):
            best = (index, count, texts)
    if best is None:
        return None
    index, _count, texts = best
    # Two-level headers: header cells merged down over the next row, or a group title merged across columns
    # with the real headers below it. Sub-headers take precedence where present.
    last = index
    for (first_row, first_col), (last_row, last_col) in merges:
        if first_row != index:
            continue
        if last_row > index:
            last = max(last, min(last_row, index + 2, len(grid) - 1))
        elif last_col > first_col and index + 1 < len(grid):
            below = grid[index + 1][first_col : last_col + 1]
            if any(headers.match(cell_text(cell)) for cell in below):
                last = max(last, index + 1)
    for row in grid[index + 1 : last + 1]:
        for col, cell in enumerate(row[: len(texts)]):
            text = cell_text(cell)
            if text:
                texts[col] = text
    return _Header(last, texts)


# ------------------------------------------------------------------------------------------------ table


def _build(grid: Grid, header: _Header, *, filename: str, sheet: str, encoding: str | None) -> SourceTable:
    texts = header.texts
    while texts and not texts[-1]:
        texts.pop()
    letters = [column_letter(i) for i in range(len(texts))]
    resolved = headers.resolve(texts, letters)
    columns = [
        SourceColumn(index, letters[index], text, resolved.fields[index]) for index, text in enumerate(texts) if text
    ]
    mapped = [(index, name) for index, name in enumerate(resolved.fields) if name is not None]
    start = header.last_row + 1
    rows = _rows(grid, start, mapped)
    return SourceTable(
        filename=filename,
        sheet=sheet,
        header_row=header.last_row + 1,
        columns=columns,
        rows=rows,
        encoding=encoding,
        # not recognised, or shadowed by a better-named column for the same field: either way not imported
        unknown_headers=[c.header for c in columns if c.field is None and not headers.is_ignored(c.header)],
    )


def _converter(field_name: str) -> Callable[[object], str]:
    spec = FIELD_BY_NAME.get(field_name)
    return _date_text if spec is not None and spec.kind is FieldKind.DATE else cell_text


def _rows(grid: Grid, start: int, mapped: list[tuple[int, str]]) -> list[SourceRow]:
    body = grid[start:]
    if not body or not mapped:
        return []
    indexes = [index for index, _name in mapped]
    if len(indexes) == 1:
        picked: list[tuple[object, ...]] = [(row[indexes[0]],) for row in body]
    else:
        picked = list(map(operator.itemgetter(*indexes), body))
    kept = list(map(any, picked))  # calamine gives "" for empty cells: blank rows drop out here
    numbers = list(itertools.compress(range(start + 1, start + 1 + len(body)), kept))
    picked = list(itertools.compress(picked, kept))
    if not picked:
        return []
    columns = [
        _column_texts(column, _converter(name))
        for column, (_index, name) in zip(zip(*picked, strict=True), mapped, strict=True)
    ]
    # Columns filled on every row go into each row's dict at C speed; only the others are filtered per cell.
    full = [k for k, column in enumerate(columns) if all(column)]
    sparse = [k for k, column in enumerate(columns) if any(column) and not all(column)]
    full_fields = tuple(mapped[k][1] for k in full)
    sparse_fields = tuple(mapped[k][1] for k in sparse)
    full_values = zip(*(columns[k] for k in full), strict=True) if full else itertools.repeat(())
    rows: list[SourceRow] = []
    append = rows.append
    if not sparse:
        for number, values in zip(numbers, full_values, strict=False):
            append(SourceRow(number, dict(zip(full_fields, values, strict=True))))
    else:
        sparse_values = zip(*(columns[k] for k in sparse), strict=True)
        for number, values, maybe in zip(numbers, full_values, sparse_values, strict=False):
            cells = dict(zip(full_fields, values, strict=True))
            for name, text in zip(sparse_fields, maybe, strict=True):
                if text:
                    cells[name] = text
            if cells:  # not a row of blanks only
                append(SourceRow(number, cells))
    while rows and len(rows[-1].values) == 1 and _FOOTER.match(next(iter(rows[-1].values.values()))):
        rows.pop()  # 填表人：…  审核人：…
    return [row for row in rows[:1] if not _is_example(row)] + rows[1:]


def _is_example(row: SourceRow) -> bool:
    """The template's example row, left in by the clerk."""
    return row.values.get("platform_id") == EXAMPLE_ID and row.values.get("remark") == EXAMPLE_REMARK


def _no_header(filename: str, where: str, where_en: str) -> TableError:
    return TableError(
        f"文件“{filename}”{where}前{HEADER_SCAN_ROWS}行中找不到表头行（至少需要两个可识别的列名，且包含设备编码或设备名称，"
        "可参照导入模板）",
        f"no header row found in the first {HEADER_SCAN_ROWS} rows of '{filename}'{where_en} (at least two recognised "
        "column names are needed, one of them the device ID or name; see the import template)",
    )


def _not_readable(filename: str) -> TableError:
    return TableError(
        f"文件“{filename}”不是可读取的Excel表格或CSV文件",
        f"'{filename}' is not a readable Excel workbook or CSV file",
    )


# ------------------------------------------------------------------------------------------------ xlsx, xls


def _read_workbook(data: bytes, filename: str, sheet: str | None) -> SourceTable:
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except PasswordError as exc:
        raise TableError(
            f"文件“{filename}”有密码保护，请取消密码后再导入",
            f"'{filename}' is password-protected; remove the password and import again",
        ) from exc
    except Exception as exc:  # calamine reports corrupt zips, XML and OLE files with several exception types
        raise _not_readable(filename) from exc
    with workbook:
        if sheet is not None:
            if sheet not in workbook.sheet_names:
                raise TableError(
                    f"文件“{filename}”中没有工作表“{sheet}”，现有：{'、'.join(workbook.sheet_names)}",
                    f"'{filename}' has no sheet '{sheet}'; it has: {', '.join(workbook.sheet_names)}",
                )
            names = [sheet]
        else:
            names = [
                meta.name
                for meta in workbook.sheets_metadata
                if meta.typ == SheetTypeEnum.WorkSheet and meta.visible == SheetVisibleEnum.Visible
            ]
        any_cells = False
        for name in names:
            try:
                worksheet = workbook.get_sheet_by_name(name)
                grid = cast(Grid, worksheet.to_python(skip_empty_area=False))
                merges: list[Merge] = worksheet.merged_cell_ranges or []
            except Exception as exc:
                raise _not_readable(filename) from exc
            if not grid:
                continue
            any_cells = True
            _fill_merged(grid, merges)
            header = _find_header(grid, merges)
            if header is not None:
                return _build(grid, header, filename=filename, sheet=name, encoding=None)
    if not any_cells:
        raise TableError(f"文件“{filename}”中没有数据", f"'{filename}' contains no data")
    if sheet is not None:
        raise _no_header(filename, f"的工作表“{sheet}”", f", sheet '{sheet}'")
    raise _no_header(filename, "各工作表", "")


# ------------------------------------------------------------------------------------------------ csv


def _decode(data: bytes, filename: str) -> tuple[str, str]:
    """The text and the encoding it was read in: UTF-8 (strictly), else GB18030."""
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16"), "utf-16"
    except UnicodeDecodeError as exc:
        raise _not_readable(filename) from exc
    if b"\x00" in data[:65536]:
        raise _not_readable(filename)  # binary, not text
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise _not_readable(filename) from exc


def _parse(text: str, delimiter: str, limit: int | None = None) -> Grid:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    records = itertools.islice(reader, limit) if limit is not None else reader
    return [list(record) for record in records]


def _read_csv(data: bytes, filename: str) -> SourceTable:
    text, encoding = _decode(data, filename)
    head = text[:131072]
    choice: tuple[int, str, _Header] | None = None
    try:
        for delimiter in _DELIMITERS:
            if delimiter not in head:
                continue
            header = _find_header(_parse(head, delimiter, HEADER_SCAN_ROWS), ())
            if header is not None:
                count = headers.score(header.texts)[0]
                if choice is None or count > choice[0]:
                    choice = (count, delimiter, header)
        if choice is None:
            raise _no_header(filename, "", "")
        _count, delimiter, header = choice
        grid = _parse(text, delimiter)
    except csv.Error as exc:
        raise TableError(
            f"CSV文件“{filename}”格式错误：{exc}", f"the CSV file '{filename}' is malformed: {exc}"
        ) from exc
    if '="' in text:  # ="34150200001320000001", the trick that keeps Excel from turning IDs into numbers
        grid = [[_unwrap_formula(cell) for cell in row] for row in grid]
    width = len(header.texts)
    for row in grid:
        if len(row) < width:
            row.extend([""] * (width - len(row)))
    return _build(grid, header, filename=filename, sheet="", encoding=encoding)


def _unwrap_formula(cell: object) -> object:
    if isinstance(cell, str) and cell.startswith('="') and cell.endswith('"'):
        return cell[2:-1]
    return cell
