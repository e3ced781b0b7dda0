"""The camera archive (一机一档): its fields, code tables and findings.

This module is the contract between every place a camera record enters the platform (inventory import, API
edits, later the GB/T 28181 catalog sync) and the one archive validator (:mod:`xueliang.domain.validator`).

Flow::

    raw values (cells of a sheet, JSON of an API call, catalog XML fields)
      -> validator.normalise_raw(raw) -> (CameraRecord, findings)   labels -> codes, text -> numbers/dates
      -> validator.validate_record(record, context) -> findings      rules: ID, division, coordinates, ...
    validator.check_camera(raw, context) runs both.

Findings carry a severity. Human input is rejected on any error; device input is stored and flagged. Codes are
stored as short strings (``"1"``, ``"video_private"``); each code table accepts its codes, its Chinese and
English labels and common synonyms (``球机``, ``dome``, ``1``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from xueliang.domain.coords import Crs as Crs  # re-exported: a record names its coordinate system

# --------------------------------------------------------------------------------------------------------------
# Findings


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with one field of one record, in both languages."""

    severity: Severity
    field: str  # a CameraRecord field name ("" for the record as a whole)
    rule: str  # machine-readable rule name, e.g. "id.malformed", "coords.outside_division"
    message_zh: str
    message_en: str
    value: str | None = None  # the offending value as submitted, for reports

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def message(self, language: str = "zh-CN") -> str:
        return self.message_en if language.startswith("en") else self.message_zh


def error(field_name: str, rule: str, zh: str, en: str, value: object = None) -> Finding:
    return Finding(Severity.ERROR, field_name, rule, zh, en, None if value is None else str(value))


def warning(field_name: str, rule: str, zh: str, en: str, value: object = None) -> Finding:
    return Finding(Severity.WARNING, field_name, rule, zh, en, None if value is None else str(value))


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


# --------------------------------------------------------------------------------------------------------------
# Code tables


@dataclass(frozen=True, slots=True)
class CodeEntry:
    code: str
    zh: str
    en: str
    synonyms: tuple[str, ...] = ()


def _key(text: str) -> str:
    return "".join(text.split()).casefold()


@dataclass(frozen=True, slots=True)
class CodeTable:
    """A closed list of codes with labels; :meth:`lookup` accepts codes, labels and synonyms."""

    name: str  # the CameraRecord field it belongs to
    zh: str
    en: str
    entries: tuple[CodeEntry, ...]
    _index: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for entry in self.entries:
            for alias in (entry.code, entry.zh, entry.en, *entry.synonyms):
                self._index.setdefault(_key(alias), entry.code)
            if entry.code.isdigit():  # "01" and "1.0" as spreadsheets write them
                self._index.setdefault(_key(entry.code.zfill(2)), entry.code)
                self._index.setdefault(_key(entry.code + ".0"), entry.code)

    def lookup(self, value: str) -> str | None:
        """The code for a code, label or synonym; None when unknown."""
        return self._index.get(_key(value))

    def label(self, code: str | None, language: str = "zh-CN") -> str:
        for entry in self.entries:
            if entry.code == code:
                return entry.en if language.startswith("en") else entry.zh
        return code or ""

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(entry.code for entry in self.entries)

    def accepted(self, language: str = "zh-CN") -> str:
        """The accepted values, for error messages and the template legend: ``1 球机, 2 半球, ...``."""
        if language.startswith("en"):
            return ", ".join(f"{e.code} {e.en}" for e in self.entries)
        return "、".join(f"{e.code} {e.zh}" for e in self.entries)


def _table(
    name: str, zh: str, en: str, *rows: tuple[str, str, str] | tuple[str, str, str, tuple[str, ...]]
) -> CodeTable:
    entries = tuple(CodeEntry(r[0], r[1], r[2], r[3] if len(r) > 3 else ()) for r in rows)
    return CodeTable(name, zh, en, entries)


CAMERA_TYPE = _table(
    "camera_type",
    "摄像机类型",
    "Camera type",
    ("1", "球机", "dome", ("球型", "球型摄像机", "高速球", "快球", "PTZ")),
    ("2", "半球", "half-dome", ("半球机", "半球型", "半球摄像机")),
    ("3", "固定枪机", "fixed bullet", ("枪机", "固定枪", "枪型", "枪式", "bullet", "box")),
    ("4", "遥控枪机", "remote bullet", ("遥控枪", "电动变焦枪机")),
    ("5", "遥控半球", "remote half-dome", ()),
    ("6", "多目设备全景拼接通道", "panoramic", ("全景", "全景摄像机", "全景拼接")),
    ("7", "多目设备分割通道", "multi-lens", ("多目", "多目摄像机", "鹰眼")),
)
POINT_CLASS = _table(
    "point_class",
    "点位类型",
    "Point class",
    ("1", "一类点", "class 1", ("一类", "1类", "一类视频监控点")),
    ("2", "二类点", "class 2", ("二类", "2类", "二类视频监控点")),
    ("3", "三类点", "class 3", ("三类", "3类", "三类视频监控点")),
)
POSITION_TYPE = _table(
    "position_type",
    "位置类型",
    "Position type",
    ("1", "省际检查站", "inter-provincial checkpoint", ("检查站",)),
    ("2", "党政机关", "party/government organs", ("党政机关周边",)),
    ("3", "车站码头", "stations and docks", ("车站", "码头", "车站、码头")),
    ("4", "中心广场", "central squares", ("广场",)),
    ("5", "体育场馆", "stadiums", ("体育场", "体育馆")),
    ("6", "商业中心", "commercial centres", ("商圈",)),
    ("7", "宗教场所", "religious sites", ()),
    ("8", "校园周边", "around schools", ("学校周边", "校园")),
    ("9", "治安复杂区域", "complex public-order areas", ()),
    ("10", "交通干线", "trunk roads", ("主干道", "交通要道")),
)
KEY_POSITION_TYPES: frozenset[str] = frozenset({"1", "2", "3", "4", "5", "6", "7", "8"})
ROOM_TYPE = _table(
    "room_type",
    "室内外",
    "Indoor/outdoor",
    ("1", "室外", "outdoor", ()),
    ("2", "室内", "indoor", ()),
)
DIRECTION = _table(
    "direction",
    "监视方向",
    "Monitoring direction",
    ("1", "东", "east", ("东向", "朝东", "E", "向东")),
    ("2", "西", "west", ("西向", "朝西", "W", "向西")),
    ("3", "南", "south", ("南向", "朝南", "S", "向南")),
    ("4", "北", "north", ("北向", "朝北", "N", "向北")),
    ("5", "东南", "south-east", ("东南向", "SE", "southeast")),
    ("6", "东北", "north-east", ("东北向", "NE", "northeast")),
    ("7", "西南", "south-west", ("西南向", "SW", "southwest")),
    ("8", "西北", "north-west", ("西北向", "NW", "northwest")),
)
SUPPLY_LIGHT = _table(
    "supply_light",
    "补光类型",
    "Supply light",
    ("1", "无补光", "none", ("无",)),
    ("2", "红外补光", "infrared", ("红外",)),
    ("3", "白光补光", "white light", ("白光",)),
    ("4", "激光补光", "laser", ("激光",)),
    ("9", "其他", "other", ()),
)
USE_TYPE = _table(
    "use",
    "用途",
    "Use",
    ("1", "治安", "public order", ("社会治安", "治安监控")),
    ("2", "交通", "traffic", ("交通监控",)),
    ("3", "重点", "key site", ("重点部位",)),
    ("9", "其他", "other", ()),
)
FUNCTION_TYPE = _table(
    "function_type",
    "功能类型",
    "Function type",
    ("1", "视频监控", "video surveillance", ("视频采集", "普通监控")),
    ("2", "车辆卡口", "vehicle checkpoint", ("卡口", "车辆抓拍")),
    ("3", "人员卡口", "person checkpoint", ("人脸卡口", "人脸抓拍", "人像卡口")),
    ("4", "移动执法", "mobile enforcement", ("执法记录仪",)),
    ("9", "其他", "other", ()),
)
ENCODING = _table(
    "encoding",
    "编码格式",
    "Encoding",
    ("h264", "H.264", "H.264", ("H264", "AVC")),
    ("h265", "H.265", "H.265", ("H265", "HEVC")),
    ("svac", "SVAC", "SVAC", ()),
    ("mpeg4", "MPEG-4", "MPEG-4", ("MPEG4",)),
    ("other", "其他", "other", ()),
)
STORAGE_LOCATION = _table(
    "storage_location",
    "存储位置",
    "Storage location",
    ("1", "前端存储", "on the camera", ("前端", "SD卡", "本地")),
    ("2", "NVR/DVR", "NVR/DVR", ("NVR", "DVR", "硬盘录像机")),
    ("3", "中心存储", "central storage", ("中心", "平台存储", "平台")),
    ("4", "云存储", "cloud storage", ("云",)),
    ("9", "其他", "other", ()),
)
NETWORK = _table(
    "network",
    "所属网络",
    "Network",
    ("integration", "整合域", "integration domain", ("整合网", "视频整合域")),
    ("video_private", "视频专网", "video private network", ("公安视频专网", "视频传输网")),
    ("gov_extranet", "电子政务外网", "e-government extranet", ("政务外网", "政务网")),
    ("industry_private", "行业专网", "industry private network", ("行业网", "专网")),
    ("internet", "互联网", "internet", ("公网", "因特网")),
)
ACCESS_PROTOCOL = _table(
    "access_protocol",
    "接入方式",
    "Access protocol",
    ("gb28181", "GB/T 28181", "GB/T 28181", ("GB28181", "国标", "GB/T28181", "28181")),
    ("rtsp", "RTSP", "RTSP", ()),
    ("onvif", "ONVIF", "ONVIF", ()),
)
STATUS = _table(
    "status",
    "设备状态",
    "Device status",
    ("1", "在用", "in service", ("正常", "启用", "使用中")),
    ("2", "故障", "faulty", ("维修", "维修中", "损坏")),
    ("3", "停用", "decommissioned", ("拆除", "报废", "停止使用")),
)
CONSTRUCTION_CATEGORY = _table(
    "construction_category",
    "建设类别",
    "Construction category",
    ("1", "政府投资", "government-funded", ("政府", "财政投资")),
    ("2", "企业自建", "enterprise self-built", ("企业", "自建")),
    ("3", "社会资源", "social resource", ("社会", "社会面")),
    ("9", "其他", "other", ()),
)

CODE_TABLES: dict[str, CodeTable] = {
    t.name: t
    for t in (
        CAMERA_TYPE,
        POINT_CLASS,
        POSITION_TYPE,
        ROOM_TYPE,
        DIRECTION,
        SUPPLY_LIGHT,
        USE_TYPE,
        FUNCTION_TYPE,
        ENCODING,
        STORAGE_LOCATION,
        NETWORK,
        ACCESS_PROTOCOL,
        STATUS,
        CONSTRUCTION_CATEGORY,
    )
}

# --------------------------------------------------------------------------------------------------------------
# The record


@dataclass(slots=True)
class CameraRecord:
    """One camera's archive, typed. ``None`` means not supplied. Code fields hold codes of CODE_TABLES."""

    platform_id: str = ""  # 20-digit ID, unique on the platform (设备编码)
    name: str = ""  # 设备名称
    division_code: str | None = None  # 行政区划代码 (2-8 digits, GB/T 2260 + grassroots)
    grassroots_code: str | None = None  # 基层组织编码
    point_class: str | None = None  # 点位类型 一/二/三类
    point_common_name: str | None = None  # 点位俗称
    manufacturer: str | None = None
    model: str | None = None
    ipv4: str | None = None
    ipv6: str | None = None
    mac: str | None = None
    camera_type: str | None = None  # PTZType
    function_type: str | None = None
    supply_light: str | None = None
    encoding: str | None = None
    storage_location: str | None = None
    install_address: str | None = None
    longitude: float | None = None  # WGS-84
    latitude: float | None = None  # WGS-84
    submitted_longitude: float | None = None  # as the submitter wrote it, in submitted_crs
    submitted_latitude: float | None = None
    submitted_crs: str | None = None  # Crs value
    position_type: str | None = None
    room_type: str | None = None
    direction: str | None = None
    network: str | None = None
    owner_unit: str | None = None  # 建设单位: unit code (the store resolves names to codes)
    management_unit: str | None = None  # 管理单位: unit code
    management_contact: str | None = None  # 联系方式
    install_time: dt.date | None = None
    record_save_days: int | None = None
    use: str | None = None
    status: str | None = None
    resolution: str | None = None
    shared: bool | None = None  # 是否对外共享
    upper_connected: bool | None = None  # 是否接入上级
    construction_category: str | None = None
    install_height: float | None = None  # metres
    view_distance: float | None = None  # metres
    horizontal_fov: float | None = None  # degrees
    vertical_fov: float | None = None  # degrees
    access_protocol: str | None = None
    stream_url: str | None = None  # without credentials; credentials are split off and encrypted by the store
    remark: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


class FieldKind(enum.Enum):
    TEXT = "text"
    CODE = "code"
    FLOAT = "float"
    INT = "int"
    DATE = "date"
    BOOL = "bool"
    ID = "id"  # 20-digit ID
    DIGITS = "digits"  # numeric code kept as text (division, grassroots)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    zh: str
    en: str
    kind: FieldKind
    table: CodeTable | None = None
    max_length: int = 255
    low: float | None = None  # bounds for numbers
    high: float | None = None


def _spec(name: str, zh: str, en: str, kind: FieldKind, **kw: object) -> FieldSpec:
    return FieldSpec(name, zh, en, kind, **kw)  # type: ignore[arg-type]


_T, _C, _F, _I, _D, _B = (
    FieldKind.TEXT,
    FieldKind.CODE,
    FieldKind.FLOAT,
    FieldKind.INT,
    FieldKind.DATE,
    FieldKind.BOOL,
)

#: Every archive field in template order, with its Chinese and English header.
FIELDS: tuple[FieldSpec, ...] = (
    _spec("platform_id", "设备编码", "Device ID", FieldKind.ID, max_length=20),
    _spec("name", "设备名称", "Name", _T, max_length=200),
    _spec("division_code", "行政区划代码", "Division code", FieldKind.DIGITS, max_length=8),
    _spec("grassroots_code", "基层组织编码", "Grassroots code", FieldKind.DIGITS, max_length=12),
    _spec("install_address", "安装地址", "Install address", _T, max_length=300),
    _spec("longitude", "经度", "Longitude", _F),
    _spec("latitude", "纬度", "Latitude", _F),
    _spec("camera_type", "摄像机类型", "Camera type", _C, table=CAMERA_TYPE),
    _spec("point_class", "点位类型", "Point class", _C, table=POINT_CLASS),
    _spec("point_common_name", "点位俗称", "Point common name", _T, max_length=200),
    _spec("position_type", "位置类型", "Position type", _C, table=POSITION_TYPE),
    _spec("room_type", "室内外", "Indoor/outdoor", _C, table=ROOM_TYPE),
    _spec("direction", "监视方向", "Direction", _C, table=DIRECTION),
    _spec("supply_light", "补光类型", "Supply light", _C, table=SUPPLY_LIGHT),
    _spec("resolution", "分辨率", "Resolution", _T, max_length=64),
    _spec("manufacturer", "厂商", "Manufacturer", _T, max_length=100),
    _spec("model", "型号", "Model", _T, max_length=100),
    _spec("ipv4", "IP地址", "IPv4 address", _T, max_length=15),
    _spec("ipv6", "IPv6地址", "IPv6 address", _T, max_length=45),
    _spec("mac", "MAC地址", "MAC address", _T, max_length=17),
    _spec("network", "所属网络", "Network", _C, table=NETWORK),
    _spec("owner_unit", "建设单位", "Owner unit", _T, max_length=100),
    _spec("management_unit", "管理单位", "Management unit", _T, max_length=100),
    _spec("management_contact", "联系方式", "Contact", _T, max_length=100),
    _spec("install_time", "安装时间", "Install time", _D),
    _spec("record_save_days", "录像保存天数", "Record save days", _I, low=0, high=3650),
    _spec("use", "用途", "Use", _C, table=USE_TYPE),
    _spec("function_type", "功能类型", "Function type", _C, table=FUNCTION_TYPE),
    _spec("encoding", "编码格式", "Encoding", _C, table=ENCODING),
    _spec("storage_location", "存储位置", "Storage location", _C, table=STORAGE_LOCATION),
    _spec("access_protocol", "接入方式", "Access protocol", _C, table=ACCESS_PROTOCOL),
    _spec("stream_url", "取流地址", "Stream URL", _T, max_length=500),
    _spec("shared", "是否共享", "Shared", _B),
    _spec("upper_connected", "是否接入上级", "Connected upward", _B),
    _spec("status", "设备状态", "Device status", _C, table=STATUS),
    _spec("construction_category", "建设类别", "Construction category", _C, table=CONSTRUCTION_CATEGORY),
    _spec("install_height", "安装高度(米)", "Install height (m)", _F, low=0, high=500),
    _spec("view_distance", "可视距离(米)", "View distance (m)", _F, low=0, high=100000),
    _spec("horizontal_fov", "水平视场角", "Horizontal field angle", _F, low=0, high=360),
    _spec("vertical_fov", "垂直视场角", "Vertical field angle", _F, low=0, high=180),
    _spec("remark", "备注", "Remark", _T, max_length=500),
)
FIELD_BY_NAME: dict[str, FieldSpec] = {f.name: f for f in FIELDS}

#: Fields a GB/T 28181 catalog sync supplies; an upsert from an inventory keeps the others.
CATALOG_SUPPLIED_FIELDS: frozenset[str] = frozenset(
    {
        "name",
        "manufacturer",
        "model",
        "division_code",
        "install_address",
        "ipv4",
        "longitude",
        "latitude",
        "camera_type",
        "position_type",
        "room_type",
        "use",
        "supply_light",
        "direction",
        "resolution",
        "status",
    }
)

# --------------------------------------------------------------------------------------------------------------
# The validator's interface (implemented in xueliang.domain.validator)


@dataclass(frozen=True, slots=True)
class NamingRule:
    """How camera names must read. ``template`` uses {division}, {address}, {direction} and literal text."""

    template: str = "{division}{address}{direction}"
    enabled: bool = True


@dataclass(slots=True)
class ValidationContext:
    """What the rules need beyond the record itself."""

    today: dt.date = field(default_factory=dt.date.today)
    naming_rule: NamingRule = field(default_factory=NamingRule)
    key_position_types: frozenset[str] = KEY_POSITION_TYPES
    min_save_days: int = 30
    min_save_days_key: int = 90
    #: True when the ID is already taken by another camera (the store answers; the importer also tracks the batch)
    id_taken: Callable[[str], bool] = field(default=lambda _id: False)
    #: for device input: report errors but the caller stores the record anyway
    source: str = "human"  # "human" | "device"
