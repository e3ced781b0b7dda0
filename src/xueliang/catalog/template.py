"""The inventory import template (资源清单导入模板) a department fills in: ``xueliang inventory template -o FILE``.

Sheets:

- 资源清单: one column per archive field (:data:`~xueliang.domain.archive.FIELDS`, Chinese headers, ``*`` on the
  required ones) plus the per-row coordinate system column 坐标系 after the coordinates; one example row (a
  Lu'an camera that passes the validator; :mod:`xueliang.catalog.sheets` leaves it out of an import); dropdowns
  listing the Chinese labels of each code table (a warning, not a stop: codes and synonyms are accepted too);
  ID and code columns formatted as text so Excel cannot turn a 20-digit ID into ``3.41502E+19``.
- 填写说明: how to fill it in, then every field: Chinese and English name, meaning, required or not, the accepted
  codes and labels (``CodeTable.accepted``), and the coordinate system rule.
- 代码表 (hidden): the dropdown lists.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from xueliang.catalog.headers import CRS_FIELD
from xueliang.domain.archive import FIELDS, FieldKind, FieldSpec

__all__ = [
    "CODE_SHEET",
    "EXAMPLE_ID",
    "EXAMPLE_REMARK",
    "LEGEND_SHEET",
    "REQUIRED_FIELDS",
    "TEMPLATE_SHEET",
    "template_columns",
    "write_template",
]

TEMPLATE_SHEET = "资源清单"
LEGEND_SHEET = "填写说明"
CODE_SHEET = "代码表"
REQUIRED_FIELDS: frozenset[str] = frozenset({"platform_id", "name"})
EXAMPLE_ID = "34150200001320000001"
EXAMPLE_REMARK = "示例行，导入时自动忽略，可删除"
_VALIDATED_ROWS = 100_000  # rows below the header that carry the dropdowns and formats
_BOOL_LABELS = ("是", "否")
_CRS_LABELS = ("WGS-84", "GCJ-02", "BD-09")
_TEXT_FIELDS = frozenset({"platform_id", "division_code", "grassroots_code", "ipv4", "mac", "management_contact"})

#: field -> (meaning in Chinese, meaning in English)
MEANINGS: dict[str, tuple[str, str]] = {
    "platform_id": ("20位国标编码（GB/T 28181），前8位为行政区划（含基层编码），第11-13位为类型码131/132",
                    "20-digit GB/T 28181 ID: digits 1-8 the division, 11-13 the type code 131/132"),
    "name": ("设备名称，默认命名规则：行政区划名称+地址+监视方向，如“金安区梅山路与解放路交叉口东”",
             "camera name; default rule: division name + address + direction"),
    "division_code": ("行政区划代码（GB/T 2260，6位，可加2位基层编码），须与设备编码前几位一致",
                      "division code (GB/T 2260, 6 digits, optionally 2 grassroots digits); must match the ID"),
    "grassroots_code": ("基层组织编码（可选）", "grassroots organisation code (optional)"),
    "install_address": ("安装地址，尽量具体到路口、门牌", "install address, down to the crossing or house number"),
    "longitude": ("经度，十进制度数，默认WGS-84", "longitude, decimal degrees, WGS-84 unless stated"),
    "latitude": ("纬度，十进制度数，默认WGS-84", "latitude, decimal degrees, WGS-84 unless stated"),
    "camera_type": ("摄像机类型（GB/T 28181 PTZType）", "camera type (GB/T 28181 PTZType)"),
    "point_class": ("点位类型：一类点（重点）、二类点、三类点", "point class: 1 (key), 2 or 3"),
    "point_common_name": ("点位俗称，群众习惯的叫法", "the name people use for the spot"),
    "position_type": ("位置类型，1-8为重点部位（录像保存不少于90天）",
                      "position type; 1-8 are key sites (recordings kept at least 90 days)"),
    "room_type": ("安装在室外还是室内", "mounted outdoors or indoors"),
    "direction": ("监视方向（镜头朝向）", "monitoring direction (where the lens points)"),
    "supply_light": ("补光类型", "supply light"),
    "resolution": ("分辨率，如1920x1080", "resolution, e.g. 1920x1080"),
    "manufacturer": ("设备厂商", "manufacturer"),
    "model": ("设备型号", "model"),
    "ipv4": ("IPv4地址", "IPv4 address"),
    "ipv6": ("IPv6地址", "IPv6 address"),
    "mac": ("MAC地址，如A4:14:37:5C:2E:01", "MAC address, e.g. A4:14:37:5C:2E:01"),
    "network": ("摄像机所在网络", "the network the camera is on"),
    "owner_unit": ("建设单位名称（平台尚无的单位导入时自动创建）",
                   "owner (builder) unit name; units the platform does not know yet are created on import"),
    "management_unit": ("管理单位名称，一类点应填写", "management unit name; expected for class 1 points"),
    "management_contact": ("管理单位联系人及电话，一类点应填写", "management contact and phone; expected for class 1"),
    "install_time": ("安装时间，如2021-06-18，一类点应填写", "install date, e.g. 2021-06-18; expected for class 1"),
    "record_save_days": ("录像保存天数，一般不少于30天，重点部位不少于90天",
                         "days recordings are kept: at least 30, 90 for key sites"),
    "use": ("用途", "use"),
    "function_type": ("功能类型", "function type"),
    "encoding": ("视频编码格式", "video encoding"),
    "storage_location": ("录像存储位置", "where recordings are stored"),
    "access_protocol": ("接入平台的方式", "how the camera joins the platform"),
    "stream_url": ("取流地址（RTSP/ONVIF接入时填写），账号密码单独加密保存",
                   "stream URL (for RTSP/ONVIF access); credentials are split off and encrypted"),
    "shared": ("是否对外共享", "shared with other departments"),
    "upper_connected": ("是否已接入上级平台", "connected to the upper platform"),
    "status": ("设备状态", "device status"),
    "construction_category": ("建设类别", "construction category"),
    "install_height": ("安装高度，单位米", "install height in metres"),
    "view_distance": ("可视距离，单位米", "view distance in metres"),
    "horizontal_fov": ("水平视场角，单位度", "horizontal field angle in degrees"),
    "vertical_fov": ("垂直视场角，单位度", "vertical field angle in degrees"),
    "remark": ("备注", "remark"),
}  # fmt: skip

_CRS_NOTE_ZH = (
    "经纬度默认按WGS-84（GPS、北斗）填写。取自高德、腾讯地图的坐标是GCJ-02，取自百度地图的是BD-09，与WGS-84相差数百米："
    "请在“坐标系”列逐行注明（WGS-84 / GCJ-02 / BD-09），或导入时以 --crs gcj02|bd09 指定整个文件的坐标系。"
    "平台换算为WGS-84存档，并保留提交的原值。"
)
_CRS_NOTE_EN = (
    "Coordinates are WGS-84 (GPS, BeiDou) unless stated. Web maps give GCJ-02 (Amap, Tencent) or BD-09 (Baidu), "
    "hundreds of metres off: state it per row in the 坐标系 column (WGS-84 / GCJ-02 / BD-09) or for the whole file "
    "with the --crs gcj02|bd09 option of the import. The platform converts to WGS-84 and keeps what was submitted."
)
_NOTES: tuple[tuple[str, str], ...] = (
    ("带 * 的列必须填写；一类、二类点必须填写经纬度。",
     "Columns marked * are required; class 1 and 2 points need coordinates."),
    ("代码类字段可填代码或中文名称（如“1”或“球机”），可填值见下表；下拉框只列中文名称。",
     "Code fields take the code or the label (e.g. '1' or '球机'); the accepted values are listed below."),
    ("设备编码为20位数字，请保持文本格式（本模板已设置），否则Excel会转为科学计数法并丢失位数。",
     "Keep the 20-digit device ID formatted as text (as here), or Excel turns it into 3.41502E+19 and loses digits."),
    ("日期填写如2021-06-18；是否类字段填“是”或“否”。", "Dates as 2021-06-18; yes/no fields as 是 or 否."),
    ("列名可使用常见同义词（如“国标编码”“点位名称”），列的顺序不限，表头上方可有标题行。",
     "Columns may use common synonyms (国标编码, 点位名称 ...) in any order; title rows above the header are fine."),
    (f"第2行为示例（备注为“{EXAMPLE_REMARK}”），导入时自动忽略，也可删除。",
     "Row 2 is an example (see its remark); the import leaves it out, or delete it."),
    (_CRS_NOTE_ZH, _CRS_NOTE_EN),
)  # fmt: skip


def _example() -> dict[str, object]:
    return {
        "platform_id": EXAMPLE_ID,
        "name": "金安区梅山路与解放路交叉口东",
        "division_code": "341502",
        "install_address": "安徽省六安市金安区梅山路与解放路交叉口",
        "longitude": 116.53,
        "latitude": 31.77,
        CRS_FIELD: "WGS-84",
        "camera_type": "球机",
        "point_class": "一类点",
        "point_common_name": "梅山路口",
        "position_type": "交通干线",
        "room_type": "室外",
        "direction": "东",
        "supply_light": "红外补光",
        "resolution": "1920x1080",
        "manufacturer": "海康威视",
        "model": "DS-2DE4425IW-DE",
        "ipv4": "10.34.1.23",
        "mac": "A4:14:37:5C:2E:01",
        "network": "视频专网",
        "owner_unit": "六安市公安局金安分局",
        "management_unit": "六安市公安局金安分局",
        "management_contact": "张警官 0564-3337110",
        "install_time": dt.date(2021, 6, 18),
        "record_save_days": 90,
        "use": "治安",
        "function_type": "视频监控",
        "encoding": "H.265",
        "storage_location": "中心存储",
        "access_protocol": "GB/T 28181",
        "shared": "是",
        "upper_connected": "是",
        "status": "在用",
        "construction_category": "政府投资",
        "install_height": 6,
        "view_distance": 80,
        "horizontal_fov": 90,
        "vertical_fov": 50,
        "remark": EXAMPLE_REMARK,
    }


def template_columns() -> list[tuple[str, str]]:
    """(field, header) of the template's columns in order: FIELDS, with 坐标系 after the coordinates."""
    columns: list[tuple[str, str]] = []
    for spec in FIELDS:
        columns.append((spec.name, f"*{spec.zh}" if spec.name in REQUIRED_FIELDS else spec.zh))
        if spec.name == "latitude":
            columns.append((CRS_FIELD, "坐标系"))
    return columns


def _choices(field_name: str) -> tuple[str, ...] | None:
    spec = next((s for s in FIELDS if s.name == field_name), None)
    if field_name == CRS_FIELD:
        return _CRS_LABELS
    if spec is None:
        return None
    if spec.kind is FieldKind.BOOL:
        return _BOOL_LABELS
    if spec.table is not None:
        return tuple(entry.zh for entry in spec.table.entries)
    return None


def write_template(path: Path) -> None:
    """Write the import template (xlsx) to ``path``."""
    workbook = xlsxwriter.Workbook(str(path))
    try:
        formats = {
            "header": workbook.add_format(
                {"bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center", "valign": "vcenter"}
            ),
            "required": workbook.add_format(
                {"bold": True, "bg_color": "#FCE4D6", "font_color": "#C00000", "border": 1, "align": "center"}
            ),
            "text": workbook.add_format({"num_format": "@"}),
            "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
            "example": workbook.add_format({"font_color": "#808080", "italic": True}),
            "example_text": workbook.add_format({"font_color": "#808080", "italic": True, "num_format": "@"}),
            "example_date": workbook.add_format({"font_color": "#808080", "italic": True, "num_format": "yyyy-mm-dd"}),
            "wrap": workbook.add_format({"text_wrap": True, "valign": "top"}),
            "bold": workbook.add_format({"bold": True, "font_size": 14}),
        }
        sheet = workbook.add_worksheet(TEMPLATE_SHEET)
        legend = workbook.add_worksheet(LEGEND_SHEET)
        codes = workbook.add_worksheet(CODE_SHEET)
        ranges = _write_code_sheet(codes)
        _write_main(sheet, formats, ranges)
        _write_legend(legend, formats)
        codes.hide()
        sheet.activate()
    finally:
        workbook.close()


def _write_code_sheet(codes: xlsxwriter.worksheet.Worksheet) -> dict[str, str]:
    """One column per dropdown list; returns field -> the list's range as a formula."""
    ranges: dict[str, str] = {}
    col = 0
    for field_name, _header in template_columns():
        choices = _choices(field_name)
        if choices is None:
            continue
        codes.write_string(0, col, field_name)
        for row, label in enumerate(choices, start=1):
            codes.write_string(row, col, label)
        letter = xl_col_to_name(col)
        ranges[field_name] = f"='{CODE_SHEET}'!${letter}$2:${letter}${len(choices) + 1}"
        col += 1
    return ranges


def _width(spec: FieldSpec | None, header: str) -> int:
    if spec is not None and spec.kind is FieldKind.TEXT and spec.max_length >= 200:
        return 30
    if spec is not None and spec.name == "platform_id":
        return 23
    return max(10, 2 * len(header) + 2)


def _write_main(sheet: xlsxwriter.worksheet.Worksheet, formats: dict[str, object], ranges: dict[str, str]) -> None:
    specs = {spec.name: spec for spec in FIELDS}
    example = _example()
    for col, (field_name, header) in enumerate(template_columns()):
        spec = specs.get(field_name)
        is_text = field_name in _TEXT_FIELDS
        is_date = spec is not None and spec.kind is FieldKind.DATE
        column_format = formats["text"] if is_text else formats["date"] if is_date else None
        sheet.set_column(col, col, _width(spec, header), column_format)
        sheet.write_string(0, col, header, formats["required" if field_name in REQUIRED_FIELDS else "header"])
        value = example.get(field_name)
        if isinstance(value, dt.date):
            sheet.write_datetime(1, col, value, formats["example_date"])
        elif isinstance(value, int | float):
            sheet.write_number(1, col, value, formats["example"])
        elif value is not None:
            sheet.write_string(1, col, str(value), formats["example_text" if is_text else "example"])
        source = ranges.get(field_name)
        if source is not None:
            title = spec.zh if spec is not None else "坐标系"
            sheet.data_validation(
                1,
                col,
                _VALIDATED_ROWS,
                col,
                {
                    "validate": "list",
                    "source": source,
                    "error_type": "warning",
                    "error_title": title[:32],
                    "error_message": "不在下拉列表中：也可填写代码或同义词，导入时校验。"[:255],
                    "input_title": title[:32],
                    "input_message": "从下拉列表选择，或填写代码（见“填写说明”）"[:255],
                },
            )
    sheet.freeze_panes(1, 2)
    sheet.set_row(0, 24)


def _write_legend(legend: xlsxwriter.worksheet.Worksheet, formats: dict[str, object]) -> None:
    widths = (16, 22, 20, 8, 44, 44, 60, 60)
    for col, width in enumerate(widths):
        legend.set_column(col, col, width, formats["wrap"])
    legend.write_string(0, 0, "资源清单导入模板 填写说明 / How to fill in the inventory template", formats["bold"])
    row = 1
    for zh, en in _NOTES:
        row += 1
        legend.write_string(row, 0, f"{row - 1}.")
        legend.merge_range(row, 1, row, 5, zh, formats["wrap"])
        legend.merge_range(row, 6, row, 7, en, formats["wrap"])
        legend.set_row(row, 48 if len(zh) > 60 else 30)
    row += 2
    legend.write_row(
        row,
        0,
        ("列名", "Column", "字段 Field", "必填", "说明", "Meaning", "可填值", "Accepted values"),
        formats["header"],
    )
    legend.freeze_panes(row + 1, 1)
    for field_name, header in template_columns():
        row += 1
        spec = next((s for s in FIELDS if s.name == field_name), None)
        if spec is None:  # the coordinate system column
            legend.write_row(
                row,
                0,
                ("坐标系", "Coordinate system", CRS_FIELD, "", _CRS_NOTE_ZH, _CRS_NOTE_EN, "、".join(_CRS_LABELS)),
            )
            legend.write_string(row, 7, ", ".join(_CRS_LABELS))
            continue
        zh, en = MEANINGS.get(spec.name, (spec.zh, spec.en))
        if spec.name == "longitude":
            zh, en = f"{zh}。{_CRS_NOTE_ZH}", f"{en}. {_CRS_NOTE_EN}"
        accepted_zh, accepted_en = _accepted(spec)
        legend.write_row(
            row,
            0,
            (header.lstrip("*"), spec.en, spec.name, "是" if spec.name in REQUIRED_FIELDS else "", zh, en),
        )
        legend.write_string(row, 6, accepted_zh)
        legend.write_string(row, 7, accepted_en)


def _accepted(spec: FieldSpec) -> tuple[str, str]:
    if spec.table is not None:
        return spec.table.accepted("zh-CN"), spec.table.accepted("en")
    if spec.kind is FieldKind.BOOL:
        return "是、否", "是 (yes), 否 (no)"
    if spec.kind is FieldKind.ID:
        return "20位数字", "20 digits"
    if spec.kind is FieldKind.DIGITS:
        return f"数字代码，最多{spec.max_length}位", f"a numeric code, at most {spec.max_length} digits"
    if spec.kind is FieldKind.DATE:
        return "日期，如2021-06-18", "a date, e.g. 2021-06-18"
    if spec.kind in (FieldKind.INT, FieldKind.FLOAT) and spec.low is not None and spec.high is not None:
        return f"数字，{spec.low:g}-{spec.high:g}", f"a number, {spec.low:g}-{spec.high:g}"
    if spec.kind is FieldKind.FLOAT:
        return "数字", "a number"
    return f"文字，最多{spec.max_length}字", f"text, at most {spec.max_length} characters"
