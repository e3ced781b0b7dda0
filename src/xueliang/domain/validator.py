"""The archive validator: the one place the camera archive's rules live.

Two steps, both pure and cheap enough for 100,000 rows per import (tables are precomputed at import time; no
regex is compiled per row):

:func:`normalise_raw` (in :mod:`xueliang.domain.normalise`, re-exported here) turns raw values into a typed
:class:`~xueliang.domain.archive.CameraRecord`; a value that cannot be read is an error finding.

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

import operator
from collections.abc import Mapping
from functools import lru_cache

from xueliang.domain import coords, divisions, ids, naming
from xueliang.domain.archive import (
    CODE_TABLES,
    DIRECTION,
    NETWORK,
    CameraRecord,
    CodeTable,
    Crs,
    Finding,
    NamingRule,
    ValidationContext,
    error,
    warning,
)
from xueliang.domain.normalise import normalise_raw as normalise_raw
from xueliang.domain.normalise import unknown_code

__all__ = ["check_camera", "normalise_raw", "validate_record"]

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
            out.append(unknown_code(name, table, str(value)))


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
