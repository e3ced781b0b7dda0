"""Normalising raw archive values: the first step of the archive validator (:mod:`xueliang.domain.validator`).

:func:`normalise_raw` turns raw values (sheet cells, JSON, catalog fields) into a typed
:class:`~xueliang.domain.archive.CameraRecord`: text is stripped, numbers parsed, labels turned into codes,
dates read in the usual Chinese spellings, coordinates converted to WGS-84 from the stated CRS (the submitted
values kept). A value that cannot be read is an error finding (``value.*``, ``code.unknown``,
``crs.unknown``) and leaves the field ``None``. Converters are chosen per field once, at import time, and
repeated values (codes, dates, divisions) are memoised: an import normalises 100,000 rows.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping

from xueliang.domain import coords
from xueliang.domain.archive import (
    FIELDS,
    CameraRecord,
    CodeTable,
    Crs,
    FieldKind,
    FieldSpec,
    Finding,
    error,
)

__all__ = ["normalise_raw", "unknown_code"]

_EMPTY = frozenset({"", "null", "none", "n/a", "na", "/", "-", "--", "—", "——", "无数据", "暂无"})
_TRUE = frozenset({"1", "是", "y", "yes", "true", "t", "已共享", "共享", "已接入", "接入", "√", "✓"})
_FALSE = frozenset({"0", "否", "n", "no", "false", "f", "未共享", "不共享", "未接入", "不接入", "×", "✗"})
_INT_RE = re.compile(r"^([+-]?\d+)(?:\.0*)?\s*(?:天|日|d|days?)?$", re.IGNORECASE)
_DATE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(\d{1,2})\s*日?)?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_COMPACT_DATE_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_CRS_ALIASES: dict[str, Crs] = {
    "wgs84": Crs.WGS84,
    "wgs": Crs.WGS84,
    "gps": Crs.WGS84,
    "cgcs2000": Crs.WGS84,
    "gcj02": Crs.GCJ02,
    "gcj": Crs.GCJ02,
    "高德": Crs.GCJ02,
    "腾讯": Crs.GCJ02,
    "火星坐标": Crs.GCJ02,
    "bd09": Crs.BD09,
    "bd": Crs.BD09,
    "百度": Crs.BD09,
}

Converter = Callable[[FieldSpec, object, list[Finding]], object]


def _is_empty(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().casefold() in _EMPTY
    return isinstance(value, float) and math.isnan(value)


def _text_of(value: object) -> str:
    """A cell as text; integral floats lose their ``.0`` (phone numbers, codes typed as numbers)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value).strip()


def _label(spec: FieldSpec) -> tuple[str, str]:
    return spec.zh, spec.en


def _conv_text(spec: FieldSpec, value: object, findings: list[Finding]) -> object:
    text = _text_of(value)
    if len(text) > spec.max_length:
        zh, en = _label(spec)
        findings.append(
            error(
                spec.name,
                "value.too_long",
                f"{zh}过长（{len(text)}字，最多{spec.max_length}字）",
                f"{en} is too long ({len(text)} characters, at most {spec.max_length})",
                text,
            )
        )
        return None
    return text


def _conv_code(spec: FieldSpec, value: object, findings: list[Finding]) -> object:
    table = spec.table
    assert table is not None
    text = _text_of(value)
    code = table.lookup(text)
    if code is None:
        findings.append(unknown_code(spec.name, table, text))
    return code


def unknown_code(field_name: str, table: CodeTable, value: str) -> Finding:
    return error(
        field_name,
        "code.unknown",
        f"{table.zh}的值“{value}”不在代码表中，可填：{table.accepted('zh-CN')}",
        f"{table.en} value '{value}' is not in the code table; accepted: {table.accepted('en')}",
        value,
    )


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    try:
        return float(text)
    except ValueError:
        pass
    try:  # 116，5 (full-width comma as decimal mark), 116.5°
        return float(text.strip().replace("，", ".").rstrip("°º").strip())
    except ValueError:
        return None


def _out_of_range(spec: FieldSpec, number: float) -> Finding | None:
    if (spec.low is not None and number < spec.low) or (spec.high is not None and number > spec.high):
        zh, en = _label(spec)
        return error(
            spec.name,
            "value.out_of_range",
            f"{zh}超出范围（{spec.low:g}-{spec.high:g}）：{number:g}",
            f"{en} out of range ({spec.low:g}-{spec.high:g}): {number:g}",
            number,
        )
    return None


def _unreadable(spec: FieldSpec, rule: str, zh_problem: str, en_problem: str, value: object) -> Finding:
    """An error for a value of ``spec`` that cannot be read: "<field><problem>：<value>" in both languages."""
    zh, en = _label(spec)
    return error(spec.name, rule, f"{zh}{zh_problem}：{value}", f"{en} {en_problem}: {value}", value)


def _bounded(spec: FieldSpec, number: float, findings: list[Finding]) -> float | None:
    problem = _out_of_range(spec, number)
    if problem is not None:
        findings.append(problem)
        return None
    return number


def _conv_float(spec: FieldSpec, value: object, findings: list[Finding]) -> object:
    number = _number(value)
    if number is None or not math.isfinite(number):
        rule = "coords.not_number" if spec.name in ("longitude", "latitude") else "value.not_number"
        findings.append(_unreadable(spec, rule, "不是数字", "is not a number", value))
        return None
    return _bounded(spec, number, findings)


def _conv_int(spec: FieldSpec, value: object, findings: list[Finding]) -> object:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        match = _INT_RE.match(value.strip())
        if match:
            number = int(match.group(1))
    if number is None:
        findings.append(_unreadable(spec, "value.not_integer", "不是整数", "is not a whole number", value))
        return None
    return _bounded(spec, number, findings)


def _parse_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2_958_466:  # an Excel serial day number
            return _EXCEL_EPOCH + dt.timedelta(days=int(value))
        return None
    text = str(value).strip()
    match = _DATE_RE.match(text) or _COMPACT_DATE_RE.match(text)
    if match is None:
        return None
    year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _conv_date(spec: FieldSpec, value: object, findings: list[Finding]) -> object:
    date = _parse_date(value)
    if date is None:
        example_zh, example_en = "不是有效日期（如2023-05-01）", "is not a valid date (e.g. 2023-05-01)"
        findings.append(_unreadable(spec, "value.not_date", example_zh, example_en, value))
    return date


def _conv_bool(spec: FieldSpec, value: object, findings: list[Finding]) -> object:
    if isinstance(value, bool):
        return value
    key = _text_of(value).casefold()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    findings.append(_unreadable(spec, "value.not_bool", "应填“是”或“否”", "must be yes or no", value))
    return None


def _conv_id(spec: FieldSpec, value: object, findings: list[Finding]) -> object:
    if isinstance(value, float):
        findings.append(
            error(
                spec.name,
                "id.not_digits",
                f"设备编码以数值格式保存，精度已丢失，请将该列设为文本格式：{value}",
                f"the device ID was stored as a number and lost digits; format the column as text: {value}",
                value,
            )
        )
        return None
    return _text_of(value)


def _conv_digits(spec: FieldSpec, value: object, findings: list[Finding]) -> object:
    text = _text_of(value)
    if not (text.isascii() and text.isdigit()):
        findings.append(_unreadable(spec, "value.not_digits", "应为数字代码", "must be a numeric code", text))
        return None
    if spec.name == "division_code" and len(text) in (9, 12):  # statistical (town/village) codes
        text = text[:6]
    if len(text) > spec.max_length:
        return _conv_text(spec, text, findings)
    return text


_CONVERTERS: dict[FieldKind, Converter] = {
    FieldKind.TEXT: _conv_text,
    FieldKind.CODE: _conv_code,
    FieldKind.FLOAT: _conv_float,
    FieldKind.INT: _conv_int,
    FieldKind.DATE: _conv_date,
    FieldKind.BOOL: _conv_bool,
    FieldKind.ID: _conv_id,
    FieldKind.DIGITS: _conv_digits,
}
#: Conversions of text that depend on the text alone are memoised per field: sheets repeat the same labels,
#: dates and codes on every row. Bounded, so hostile input cannot grow it without end.
_MEMO_KINDS = frozenset({FieldKind.CODE, FieldKind.INT, FieldKind.DATE, FieldKind.BOOL, FieldKind.DIGITS})
_MEMO_LIMIT = 4096
Memo = dict[str, tuple[object, tuple[Finding, ...]]]
#: field name -> (spec, converter, longest text kept as is (-1: convert it), memo or None), precomputed once
_PLAN: dict[str, tuple[FieldSpec, Converter, int, Memo | None]] = {
    f.name: (
        f,
        _CONVERTERS[f.kind],
        f.max_length if f.kind is FieldKind.TEXT else -1,
        {} if f.kind in _MEMO_KINDS else None,
    )
    for f in FIELDS
}
_MAX_EMPTY_MARKER = max(len(m) for m in _EMPTY)


_CRS_NOISE = re.compile(r"[\s\-_]")


def _crs_of(value: object) -> Crs | None:
    """``WGS-84``, ``gcj02``, ``高德``, ``百度`` ... -> Crs; None when unknown."""
    if isinstance(value, Crs):
        return value
    return _CRS_ALIASES.get(_CRS_NOISE.sub("", str(value)).casefold())


def normalise_raw(raw: Mapping[str, object], *, crs: Crs = Crs.WGS84) -> tuple[CameraRecord, list[Finding]]:
    """Turn raw values keyed by CameraRecord field names into a typed record.

    Accepts strings (cells as text, numbers stored as text, labels instead of codes) and already-typed values.
    Coordinates are converted from ``crs`` (or the row's own ``crs`` key) to WGS-84, the submitted values kept.
    Problems (not a number, unknown code, too long) become error findings; the field is then left None.
    """
    record = CameraRecord()
    findings: list[Finding] = []
    plan = _PLAN.get
    empty = _EMPTY
    for key, value in raw.items():
        planned = plan(key)
        if planned is None:
            continue
        spec, convert, keep_up_to, memo = planned
        if type(value) is str:
            text = value.strip()
            size = len(text)
            if not size or (size <= _MAX_EMPTY_MARKER and text.casefold() in empty):
                continue
            if size <= keep_up_to:
                setattr(record, key, text)
                continue
            if memo is not None:
                hit = memo.get(text)
                if hit is None:
                    produced: list[Finding] = []
                    hit = (convert(spec, text, produced), tuple(produced))
                    if len(memo) < _MEMO_LIMIT:
                        memo[text] = hit
                setattr(record, key, hit[0])
                if hit[1]:
                    findings.extend(hit[1])
                continue
            value = text
        elif _is_empty(value):
            continue
        setattr(record, key, convert(spec, value, findings))
    if record.platform_id is None:
        record.platform_id = ""
    if record.name is None:
        record.name = ""
    row_crs = Crs(crs)
    stated = raw.get("crs")
    if not _is_empty(stated):
        found = _crs_of(stated)
        if found is None:
            findings.append(
                error(
                    "submitted_crs",
                    "crs.unknown",
                    f"坐标系应为 wgs84、gcj02 或 bd09：{stated}",
                    f"the coordinate system must be wgs84, gcj02 or bd09: {stated}",
                    stated,
                )
            )
        else:
            row_crs = found
    lon, lat = record.longitude, record.latitude
    if lon is not None and lat is not None:
        record.submitted_longitude, record.submitted_latitude = lon, lat
        record.submitted_crs = row_crs.value
        if row_crs is not Crs.WGS84 and coords.in_wgs84_range(lon, lat):
            record.longitude, record.latitude = coords.to_wgs84(lon, lat, row_crs)
    return record, findings
