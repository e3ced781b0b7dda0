"""Column headers of departments' inventories -> archive field names.

Departments head their columns in their own words: ``设备编码``, ``国标编码``, ``*设备名称``, ``经度(WGS84)``,
``ＩＰ地址``, ``Longitude``, ``CivilCode``. :func:`match` reduces a header to a key (NFKC, so full-width becomes
half-width; the content of parentheses, ``*`` required markers, whitespace and case dropped) and looks it up in a
table built once at import time from :data:`~xueliang.domain.archive.FIELDS` (zh and en headers, field names)
and the synonyms below.

Each name has a rank. Rank 0 names say unambiguously what the column holds (``国标编码``); rank 1 names are
generic or loose (``编码``, ``地址``, ``维护单位``). When a sheet has a rank-0 and a rank-1 column for the same
field, the rank-0 column wins and the other is left unmapped (a sheet with an internal ``设备编号`` beside the
``国标编码`` is common); two columns of the same best rank are a :class:`~xueliang.catalog.table.TableError`.

``crs`` is not an archive field: it is a per-row coordinate system column (``坐标系``), which
:func:`xueliang.domain.validator.normalise_raw` reads.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from xueliang.catalog.table import TableError
from xueliang.domain.archive import FIELD_BY_NAME, FIELDS

__all__ = [
    "CRS_FIELD",
    "IGNORED",
    "LOOSE",
    "STRONG",
    "Resolved",
    "header_key",
    "is_ignored",
    "label_of",
    "match",
    "resolve",
    "score",
]

CRS_FIELD = "crs"

STRONG, LOOSE = 0, 1

#: field -> (rank-0 synonyms, rank-1 synonyms), besides the FIELDS zh/en headers and the field name itself.
#: GB/T 28181 catalog element names (DeviceID, CivilCode, PTZType ...) are listed so platform exports import.
_SYNONYMS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "platform_id": (
        ("设备编码", "国标编码", "国标ID", "国标编号", "设备国标编码", "国标设备编码", "设备ID", "摄像机编码",
         "点位编码", "通道编码", "视频通道编码", "设备唯一编码", "DeviceID", "GBID", "Device ID"),
        ("设备编号", "编码", "编号", "摄像机编号", "点位编号"),
    ),
    "name": (
        ("设备名称", "点位名称", "摄像机名称", "监控点名称", "监控点位名称", "视频点位名称", "通道名称",
         "Camera name", "Device name"),
        ("名称",),
    ),
    "division_code": (
        ("行政区划", "行政区划代码", "区划代码", "行政区划编码", "区划编码", "行政区域代码", "CivilCode"),
        ("所属区划",),
    ),
    "grassroots_code": (("基层组织编码", "基层单位编码", "BusinessGroupID"), ()),
    "install_address": (
        ("安装地址", "详细地址", "安装位置", "点位地址", "设备地址", "Address"),
        ("地址", "位置", "具体位置"),
    ),
    "longitude": (("经度", "longitude", "lng", "lon", "东经", "经度坐标"), ("long",)),
    "latitude": (("纬度", "latitude", "lat", "北纬", "纬度坐标"), ()),
    "camera_type": (("摄像机类型", "设备类型", "摄像机型式", "摄像机类别", "相机类型", "PTZType", "云台类型"), ()),
    "point_class": (("点位类型", "点位级别", "点位分类", "点位等级", "监控点位类型", "点位类别"), ()),
    "point_common_name": (("点位俗称", "俗称"), ()),
    "position_type": (("位置类型", "点位位置类型", "摄像机位置类型", "PositionType"), ()),
    "room_type": (("室内外", "室内/室外", "室内或室外", "室内外类型", "RoomType"), ()),
    "direction": (("监视方向", "朝向", "监控方向", "拍摄方向", "摄像机朝向", "DirectionType"), ("方向",)),
    "supply_light": (("补光类型", "补光", "补光方式", "补光属性", "SupplyLightType"), ()),
    "resolution": (("分辨率", "图像分辨率", "Resolution"), ("像素",)),
    "manufacturer": (("厂商", "设备厂商", "品牌", "生产厂商", "厂家", "设备厂家", "设备品牌", "Manufacturer"), ()),
    "model": (("型号", "设备型号", "规格型号", "Model"), ()),
    "ipv4": (("IP地址", "IPv4", "IPv4地址", "设备IP", "IPAddress"), ("IP",)),
    "ipv6": (("IPv6地址", "IPv6"), ()),
    "mac": (("MAC地址", "MAC", "物理地址"), ()),
    "network": (("所属网络", "网络类型", "所属网络类型", "接入网络", "网络区域"), ("网络",)),
    "owner_unit": (("建设单位", "所属单位", "产权单位", "权属单位", "建设部门"), ("所属部门",)),
    "management_unit": (("管理单位", "管理部门"), ("维护单位", "运维单位")),
    "management_contact": (
        ("联系方式", "联系人电话", "联系电话", "管理单位联系方式", "联系人及电话", "负责人电话", "Contact"),
        ("联系人", "电话"),
    ),
    "install_time": (("安装时间", "建设时间", "安装日期", "建设日期", "建成时间", "投入使用时间"), ("启用时间",)),
    "record_save_days": (
        ("录像保存天数", "存储天数", "录像存储天数", "保存天数", "录像保存时间", "录像天数", "存储时长"),
        (),
    ),
    "use": (("用途", "设备用途", "摄像机用途", "监控用途", "UseType"), ()),
    "function_type": (("功能类型", "摄像机功能类型"), ("功能",)),
    "encoding": (("编码格式", "视频编码", "视频编码格式", "编码方式"), ()),
    "storage_location": (("存储位置", "录像存储位置", "存储方式"), ()),
    "access_protocol": (("接入方式", "接入协议", "接入类型"), ("协议",)),
    "stream_url": (("取流地址", "RTSP地址", "视频流地址", "流地址", "RTSP", "播放地址"), ("URL",)),
    "shared": (("是否共享", "是否对外共享", "共享属性"), ("共享",)),
    "upper_connected": (("是否接入上级", "是否上联", "是否接入上级平台"), ("是否联网", "是否接入")),
    "status": (("设备状态", "运行状态", "使用状态", "Status"), ("状态",)),
    "construction_category": (("建设类别", "建设类型", "投资类型"), ("建设方式",)),
    "install_height": (("安装高度", "杆高"), ("高度",)),
    "view_distance": (("可视距离", "监控距离"), ()),
    "horizontal_fov": (("水平视场角", "水平视角"), ()),
    "vertical_fov": (("垂直视场角", "垂直视角"), ()),
    "remark": (("备注", "备注信息", "Remark"), ("说明",)),
    CRS_FIELD: (("坐标系", "坐标类型", "坐标系统", "坐标体系", "crs", "Coordinate system"), ()),
}  # fmt: skip

#: Headers that are understood but carry nothing for the archive (row numbers): not listed as unknown.
IGNORED: frozenset[str] = frozenset({"序号", "no", "no.", "index", "行号"})

_PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕")
_DROP = re.compile(r"[\s*※:：]+")


def header_key(text: str) -> str:
    """The lookup key of a header: ``' 经度（WGS84）* '`` and ``'经度'`` give the same key."""
    folded = unicodedata.normalize("NFKC", text)
    bare = _DROP.sub("", _PARENS.sub("", folded)).casefold()
    if bare:
        return bare
    return _DROP.sub("", folded).strip("()[]【】〔〕").casefold()  # "(备注)": the parentheses were all of it


def _build() -> dict[str, tuple[str, int]]:
    index: dict[str, tuple[str, int]] = {}

    def add(name: str, field_name: str, rank: int) -> None:
        key = header_key(name)
        known = index.get(key)
        if known is not None and known[0] != field_name:
            raise AssertionError(f"header synonym {name!r} maps to both {known[0]} and {field_name}")
        if known is None or rank < known[1]:
            index[key] = (field_name, rank)

    for spec in FIELDS:
        for name in (spec.zh, spec.en, spec.name, spec.name.replace("_", "")):
            add(name, spec.name, STRONG)
    for field_name, (strong, loose) in _SYNONYMS.items():
        if field_name != CRS_FIELD and field_name not in FIELD_BY_NAME:
            raise AssertionError(f"synonyms for unknown field {field_name}")
        for name in strong:
            add(name, field_name, STRONG)
        for name in loose:
            add(name, field_name, LOOSE)
    return index


_INDEX: dict[str, tuple[str, int]] = _build()
_IGNORED_KEYS = frozenset(header_key(h) for h in IGNORED)


def match(header: str) -> tuple[str, int] | None:
    """(field name, rank) for a header; None when it is not recognised."""
    return _INDEX.get(header_key(header))


def is_ignored(header: str) -> bool:
    return header_key(header) in _IGNORED_KEYS


def label_of(field_name: str) -> str:
    """The template's Chinese header of a field (``坐标系`` for the crs column)."""
    spec = FIELD_BY_NAME.get(field_name)
    return spec.zh if spec is not None else "坐标系"


@dataclass(frozen=True, slots=True)
class Resolved:
    """Headers of one header row mapped to fields: ``fields[i]`` for column i (None: not used)."""

    fields: list[str | None]
    unknown: list[str]  # headers not recognised, as written
    shadowed: list[str]  # recognised but left out because a better-named column holds the same field


def resolve(headers: Sequence[str], letters: Sequence[str]) -> Resolved:
    """Map a header row. Two columns for one field with the same best rank raise :class:`TableError`."""
    found: list[tuple[str, int] | None] = [match(h) if h else None for h in headers]
    best: dict[str, int] = {}
    for hit in found:
        if hit is not None:
            best[hit[0]] = min(best.get(hit[0], hit[1]), hit[1])
    fields: list[str | None] = []
    owner: dict[str, int] = {}
    unknown: list[str] = []
    shadowed: list[str] = []
    for index, (header, hit) in enumerate(zip(headers, found, strict=True)):
        if hit is None:
            fields.append(None)
            if header and not is_ignored(header):
                unknown.append(header)
            continue
        field_name, rank = hit
        if rank > best[field_name]:
            fields.append(None)
            shadowed.append(header)
            continue
        if field_name in owner:
            first = owner[field_name]
            label = label_of(field_name)
            raise TableError(
                f"列 {letters[first]}“{headers[first]}”和列 {letters[index]}“{header}”都对应字段“{label}”，"
                "请删除或改名其中一列",
                f"columns {letters[first]} '{headers[first]}' and {letters[index]} '{header}' both map to the "
                f"field {field_name} ({label}); remove or rename one of them",
            )
        owner[field_name] = index
        fields.append(field_name)
    return Resolved(fields, unknown, shadowed)


def score(headers: Sequence[str]) -> tuple[int, bool]:
    """How header-like a row is: (distinct fields recognised, has an ID or name column)."""
    fields = {hit[0] for hit in map(match, headers) if hit is not None}
    return len(fields), bool(fields & {"platform_id", "name"})
