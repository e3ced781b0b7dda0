"""The archive validator: the one place the camera archive's rules live.

Two steps, both pure and cheap enough for 100,000 rows per import (tables are precomputed at import time; no
regex is compiled per row):

:func:`normalise_raw` turns raw values (sheet cells, JSON, catalog fields) into a typed
:class:`~xueliang.domain.archive.CameraRecord`: text is stripped, numbers parsed, labels turned into codes,
dates read in the usual Chinese spellings, coordinates converted to WGS-84 from the stated CRS (the submitted
values kept). A value that cannot be read is an error finding and leaves the field ``None``.

:func:`validate_record` applies the rules:

errors (a human submission is rejected):
  ``id.missing``, ``id.empty``, ``id.not_digits``, ``id.legacy_18``, ``id.length``, ``id.division`` (malformed),
  ``id.duplicate``, ``id.division_mismatch`` (ID digits 1-8 vs the division code), ``id.not_video_type``,
  ``code.unknown`` (a code field outside its table, with the accepted values), ``division.unknown``,
  ``coords.not_number``, ``coords.incomplete``, ``coords.range`` (outside WGS-84), ``coords.zero`` ((0, 0)),
  ``coords.outside_division``, ``coords.missing`` (class 1 and 2 points), ``install_time.future``,
  ``name.missing``; from normalising also ``value.too_long``, ``value.out_of_range``, ``value.not_number``,
  ``value.not_integer``, ``value.not_date``, ``value.not_bool``, ``value.not_digits``, ``crs.unknown``.
warnings (never block):
  ``id.network_mismatch`` (digit 14 fits the network field in neither edition), ``record_save_days.short``
  (under 30 days, under 90 for key position types; both configurable), ``management_unit.missing``,
  ``management_contact.missing``, ``install_time.missing``, ``record_save_days.missing`` (class 1 points, as
  GB/T 28181-2022 asks), ``name.naming_rule``.

Every finding names the field and the offending value, in Chinese and English.
"""

from __future__ import annotations

import datetime as dt
import math
import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache

from xueliang.domain import coords, divisions, ids, naming
from xueliang.domain.archive import (
    CODE_TABLES,
    DIRECTION,
    FIELDS,
    NETWORK,
    CameraRecord,
    CodeTable,
    Crs,
    FieldKind,
    FieldSpec,
    Finding,
    NamingRule,
    ValidationContext,
    error,
    warning,
)

__all__ = ["normalise_raw", "validate_record"]

# ------------------------------------------------------------------------------------------------ normalise

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
        findings.append(_unknown_code(spec.name, table, text))
    return code


def _unknown_code(field_name: str, table: CodeTable, value: str) -> Finding:
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


def _conv_float(spec: FieldSpec, value: object, findings: list[Finding]) -> object:
    number = _number(value)
    if number is None or not math.isfinite(number):
        zh, en = _label(spec)
        rule = "coords.not_number" if spec.name in ("longitude", "latitude") else "value.not_number"
        findings.append(error(spec.name, rule, f"{zh}不是数字：{value}", f"{en} is not a number: {value}", value))
        return None
    problem = _out_of_range(spec, number)
    if problem is not None:
        findings.append(problem)
        return None
    return number


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
        zh, en = _label(spec)
        findings.append(
            error(
                spec.name, "value.not_integer", f"{zh}不是整数：{value}", f"{en} is not a whole number: {value}", value
            )
        )
        return None
    problem = _out_of_range(spec, number)
    if problem is not None:
        findings.append(problem)
        return None
    return number


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
        zh, en = _label(spec)
        findings.append(
            error(
                spec.name,
                "value.not_date",
                f"{zh}不是有效日期（如2023-05-01）：{value}",
                f"{en} is not a valid date (e.g. 2023-05-01): {value}",
                value,
            )
        )
    return date


def _conv_bool(spec: FieldSpec, value: object, findings: list[Finding]) -> object:
    if isinstance(value, bool):
        return value
    key = _text_of(value).casefold()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    zh, en = _label(spec)
    findings.append(
        error(spec.name, "value.not_bool", f"{zh}应填“是”或“否”：{value}", f"{en} must be yes or no: {value}", value)
    )
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
        zh, en = _label(spec)
        findings.append(
            error(
                spec.name, "value.not_digits", f"{zh}应为数字代码：{text}", f"{en} must be a numeric code: {text}", text
            )
        )
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


# ------------------------------------------------------------------------------------------------- validate

_CODE_FIELDS: tuple[tuple[str, CodeTable, frozenset[str]], ...] = tuple(
    (name, table, frozenset(table.codes)) for name, table in CODE_TABLES.items()
)
_CODE_VALUES = operator.attrgetter(*(name for name, _table, _codes in _CODE_FIELDS))
_VALID_CODE_PAIRS: frozenset[tuple[int, str | None]] = frozenset(
    (k, code) for k, (_name, _table, codes) in enumerate(_CODE_FIELDS) for code in (*codes, None)
)
_VIDEO_TYPES_TEXT = "、".join(f"{t} {ids.type_meaning(t)[0]}" for t in sorted(ids.VIDEO_CHANNEL_TYPES))
_VIDEO_TYPES_TEXT_EN = ", ".join(f"{t} {ids.type_meaning(t)[1]}" for t in sorted(ids.VIDEO_CHANNEL_TYPES))
_CLASS_1 = "1"
_CLASSES_NEEDING_COORDS = frozenset({"1", "2"})


@lru_cache(maxsize=8192)
def _division_info(code: str) -> tuple[bool, str, str]:
    """(known, significant prefix, display name) of a division code."""
    known = divisions.is_known(code)
    return known, divisions.prefix(code), divisions.full_name(code) if known else code


def _fmt(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _check_id(record: CameraRecord, context: ValidationContext, out: list[Finding]) -> str | None:
    """ID rules; returns the ID text when it is well formed (digits 1-8 division, 11-13 type, 14 network)."""
    text = record.platform_id.strip()
    if not text:
        out.append(error("platform_id", "id.missing", "缺少设备编码", "the device ID is missing"))
        return None
    problem = ids.id_error(text)
    if problem is not None:
        out.append(error("platform_id", problem.rule, problem.message_zh, problem.message_en, text))
        return None
    if context.id_taken(text):
        out.append(
            error(
                "platform_id",
                "id.duplicate",
                f"设备编码重复，已被其他摄像机使用：{text}",
                f"duplicate device ID, already used by another camera: {text}",
                text,
            )
        )
    type_code = text[10:13]
    if type_code not in ids.VIDEO_CHANNEL_TYPES:
        type_zh, type_en = ids.type_meaning(type_code)
        out.append(
            error(
                "platform_id",
                "id.not_video_type",
                f"设备编码第11-13位类型码{type_code}（{type_zh}）不是视频通道类型，应为：{_VIDEO_TYPES_TEXT}",
                f"type code {type_code} ({type_en}) in digits 11-13 is not a video channel type; "
                f"expected {_VIDEO_TYPES_TEXT_EN}",
                text,
            )
        )
    return text


def _check_division(record: CameraRecord, gb: str | None, out: list[Finding]) -> str | None:
    """Division rules; returns the division code coordinates are checked against (stated, else the ID's)."""
    code = record.division_code
    if code:
        known, stated_prefix, _name = _division_info(code)
        if not known:
            out.append(
                error(
                    "division_code",
                    "division.unknown",
                    f"行政区划代码不存在（GB/T 2260）：{code}",
                    f"unknown division code (GB/T 2260): {code}",
                    code,
                )
            )
            return None
        if gb is not None:
            id_prefix = _division_info(gb[:8])[1]
            common = min(len(id_prefix), len(stated_prefix))
            if id_prefix[:common] != stated_prefix[:common]:
                out.append(
                    error(
                        "platform_id",
                        "id.division_mismatch",
                        f"设备编码前8位{gb[:8]}与行政区划代码{code}不一致",
                        f"digits 1-8 of the device ID ({gb[:8]}) do not match the division code {code}",
                        gb,
                    )
                )
        return code
    if gb is not None and _division_info(gb[:8])[0]:
        return gb[:8]
    return None


def _check_coords(record: CameraRecord, division_code: str | None, out: list[Finding]) -> None:
    """Coordinate rules; ``division_code`` is the stated division, or the ID's when none was stated."""
    lon, lat = record.longitude, record.latitude
    if lon is None and lat is None:
        if record.point_class in _CLASSES_NEEDING_COORDS:
            out.append(
                error(
                    "longitude",
                    "coords.missing",
                    f"{record.point_class}类点必须填写经纬度",
                    f"class {record.point_class} points need longitude and latitude",
                )
            )
        return
    if lon is None or lat is None:
        missing = "latitude" if lat is None else "longitude"
        out.append(
            error(
                missing,
                "coords.incomplete",
                "经度和纬度须同时填写",
                "longitude and latitude must be given together",
                lon if lat is None else lat,
            )
        )
        return
    if not coords.in_wgs84_range(lon, lat):
        shown = f"{lon}, {lat}"
        out.append(
            error(
                "longitude",
                "coords.range",
                f"经纬度超出WGS-84范围（经度-180~180，纬度-90~90）：{shown}",
                f"coordinates outside WGS-84 (longitude -180..180, latitude -90..90): {shown}",
                shown,
            )
        )
        return
    if lon == 0.0 and lat == 0.0:
        out.append(error("longitude", "coords.zero", "经纬度为(0, 0)，不是有效位置", "coordinates are (0, 0)", "0, 0"))
        return
    if division_code is None or divisions.contains(division_code, lon, lat) is not False:
        return
    shown = f"{_fmt(lon)}, {_fmt(lat)}"
    _known, _prefix, name = _division_info(division_code)
    tolerance = divisions.tolerance_m(division_code) or 0.0
    found = divisions.locate(lon, lat)
    where_zh = f"，该点位于{divisions.full_name(found.code)}" if found else ""
    where_en = f"; the point lies in {divisions.full_name(found.code)} ({found.code})" if found else ""
    if divisions.contains(division_code, lat, lon):
        where_zh += "（经纬度是否填反？）"
        where_en += " (longitude and latitude swapped?)"
    out.append(
        error(
            "longitude",
            "coords.outside_division",
            f"经纬度（{shown}）不在行政区划{name}（{division_code}）范围内（容差{tolerance:g}米）{where_zh}",
            f"coordinates ({shown}) lie outside the division {name} ({division_code}), "
            f"tolerance {tolerance:g} m{where_en}",
            shown,
        )
    )


def _check_codes(record: CameraRecord, out: list[Finding]) -> None:
    values = _CODE_VALUES(record)
    if _VALID_CODE_PAIRS.issuperset(enumerate(values)):  # the common case, checked in C
        return
    for value, (name, table, codes) in zip(values, _CODE_FIELDS, strict=True):
        if value is not None and value not in codes:
            out.append(_unknown_code(name, table, str(value)))


def _check_network(record: CameraRecord, gb: str | None, out: list[Finding]) -> None:
    if gb is None or record.network is None:
        return
    digit = gb[13]
    if ids.network_digit_matches(digit, record.network) is not False:
        return
    zh16, en16 = ids.network_digit_meaning(digit, ids.Edition.GB2016)
    zh22, en22 = ids.network_digit_meaning(digit, ids.Edition.GB2022)
    network_zh, network_en = NETWORK.label(record.network), NETWORK.label(record.network, "en")
    out.append(
        warning(
            "network",
            "id.network_mismatch",
            f"设备编码第14位网络标识{digit}（2016版：{zh16}；2022版：{zh22}）与所属网络“{network_zh}”不符",
            f"network digit {digit} of the device ID (2016: {en16}; 2022: {en22}) contradicts "
            f"the network '{network_en}'",
            record.network,
        )
    )


def _check_retention(record: CameraRecord, context: ValidationContext, out: list[Finding]) -> None:
    days = record.record_save_days
    if days is None:
        return
    key = record.position_type in context.key_position_types
    minimum = context.min_save_days_key if key else context.min_save_days
    if days < minimum:
        why_zh = "重点部位" if key else "一般点位"
        why_en = "key positions" if key else "ordinary positions"
        out.append(
            warning(
                "record_save_days",
                "record_save_days.short",
                f"录像保存天数{days}天少于{why_zh}要求的{minimum}天",
                f"record save days {days} is below the {minimum} days required for {why_en}",
                days,
            )
        )


def _check_class_1(record: CameraRecord, out: list[Finding]) -> None:
    if record.point_class != _CLASS_1:
        return
    for name, zh, en in (
        ("management_unit", "管理单位", "management unit"),
        ("management_contact", "联系方式", "contact"),
        ("install_time", "安装时间", "install time"),
        ("record_save_days", "录像保存天数", "record save days"),
    ):
        value = getattr(record, name)
        if value is None or value == "":
            out.append(
                warning(
                    name,
                    f"{name}.missing",
                    f"一类点应填写{zh}（GB/T 28181-2022）",
                    f"class 1 points should have a {en} (GB/T 28181-2022)",
                )
            )


def _check_name(
    record: CameraRecord, context: ValidationContext, division_code: str | None, out: list[Finding]
) -> None:
    name = record.name.strip()
    if not name:
        out.append(error("name", "name.missing", "缺少设备名称", "the camera name is missing"))
        return
    rule = context.naming_rule
    if not rule.enabled or naming.matches(rule.template, name, division_code, record.direction):
        return
    zh, en = naming.describe(rule.template)
    example = "，例如“裕安区梅山南路与皋城路交叉口东”" if rule.template == NamingRule().template else ""
    example_en = ", e.g. '裕安区梅山南路与皋城路交叉口东'" if example else ""
    direction_zh = f"，监视方向为“{DIRECTION.label(record.direction)}”" if record.direction else ""
    direction_en = f", direction {DIRECTION.label(record.direction, 'en')}" if record.direction else ""
    out.append(
        warning(
            "name",
            "name.naming_rule",
            f"设备名称不符合命名规则（{zh}{direction_zh}）{example}：{name}",
            f"the name does not follow the naming rule ({en}{direction_en}){example_en}: {name}",
            name,
        )
    )


def validate_record(record: CameraRecord, context: ValidationContext) -> list[Finding]:
    """See the module docstring for the rules."""
    out: list[Finding] = []
    gb = _check_id(record, context, out)
    division_code = _check_division(record, gb, out)
    _check_codes(record, out)
    _check_coords(record, division_code, out)
    if record.install_time is not None and record.install_time > context.today:
        out.append(
            error(
                "install_time",
                "install_time.future",
                f"安装时间晚于今天：{record.install_time.isoformat()}",
                f"the install time is in the future: {record.install_time.isoformat()}",
                record.install_time.isoformat(),
            )
        )
    _check_network(record, gb, out)
    _check_retention(record, context, out)
    if record.point_class == _CLASS_1:
        _check_class_1(record, out)
    _check_name(record, context, division_code, out)
    return out


def check_camera(
    raw: Mapping[str, object], context: ValidationContext, *, crs: Crs = Crs.WGS84
) -> tuple[CameraRecord, list[Finding]]:
    """normalise + validate: the one entry point for every record that enters the archive."""
    record, findings = normalise_raw(raw, crs=crs)
    findings.extend(validate_record(record, context))
    return record, findings
