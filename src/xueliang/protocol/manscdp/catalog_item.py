"""One catalog item (a device, channel, region, system, business group or virtual organisation), both editions.

The layout differs between editions (shared/GB28181.md section 2): 2016 has Owner, SafetyWay, CertNum,
Certifiable, ErrCode, EndTime and an ``Info`` with PTZType, PositionType, RoomType, UseType, SupplyLightType,
DirectionType, Resolution, BusinessGroupID, DownloadSpeed and the SVC modes; 2022 drops those six item fields and
PositionType/UseType, adds SecurityLevelCode and an item-level BusinessGroupID, allows several parents in
ParentID (``a/b``), and extends ``Info`` (GrassrootsCode, PointType, MAC, InstallTime, field angles, ...).

Reading accepts every field at either level (devices mix the layouts); writing uses the layout of the edition
asked for and leaves out what that edition does not have (:meth:`CatalogItem.for_edition` is what survives).
Codes (PTZType, RoomType, ...) are kept as the text received: the archive normaliser turns them into codes.
Numbers and times that do not read are left ``None`` and their raw text kept in ``malformed``; elements we do
not know (``StreamNum``, ``MaxCamera``, ``DeviceType``) are kept in ``extra`` (``Info/X`` for those inside
``Info``), except anything that looks like a credential. The password is never part of ``repr``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from xueliang.domain.ids import Edition, is_video_channel_type
from xueliang.protocol.manscdp.charset import looks_garbled
from xueliang.protocol.manscdp.errors import MessageError
from xueliang.protocol.manscdp.values import Writer, read_datetime, read_float, read_int
from xueliang.protocol.manscdp.xml import PLACEHOLDERS, Node, key_of, local_name

__all__ = ["CatalogEvent", "CatalogItem"]


class CatalogEvent(enum.StrEnum):
    """Item-level ``Event`` of a Catalog NOTIFY. DEL carries the ID only; ADD and UPDATE the full item."""

    ON = "ON"
    OFF = "OFF"
    VLOST = "VLOST"
    DEFECT = "DEFECT"
    ADD = "ADD"
    DEL = "DEL"
    UPDATE = "UPDATE"


class _At(enum.Enum):
    ITEM = "item"
    INFO = "info"


_I, _N = _At.ITEM, _At.INFO


@dataclass(frozen=True, slots=True)
class _Spec:
    attr: str
    xml: str
    kind: str  # str | int | float | datetime
    at2016: _At | None
    at2022: _At | None

    def at(self, edition: Edition) -> _At | None:
        return self.at2022 if edition is Edition.GB2022 else self.at2016


_SPECS: tuple[_Spec, ...] = (
    _Spec("device_id", "DeviceID", "str", _I, _I),
    _Spec("event", "Event", "str", _I, _I),
    _Spec("name", "Name", "str", _I, _I),
    _Spec("manufacturer", "Manufacturer", "str", _I, _I),
    _Spec("model", "Model", "str", _I, _I),
    _Spec("owner", "Owner", "str", _I, None),
    _Spec("civil_code", "CivilCode", "str", _I, _I),
    _Spec("block", "Block", "str", _I, _I),
    _Spec("address", "Address", "str", _I, _I),
    _Spec("parental", "Parental", "int", _I, _I),
    _Spec("parent_id", "ParentID", "str", _I, _I),
    _Spec("safety_way", "SafetyWay", "int", _I, None),
    _Spec("register_way", "RegisterWay", "int", _I, _I),
    _Spec("security_level_code", "SecurityLevelCode", "str", None, _I),
    _Spec("cert_num", "CertNum", "str", _I, None),
    _Spec("certifiable", "Certifiable", "int", _I, None),
    _Spec("err_code", "ErrCode", "int", _I, None),
    _Spec("end_time", "EndTime", "datetime", _I, None),
    _Spec("secrecy", "Secrecy", "int", _I, _I),
    _Spec("ip_address", "IPAddress", "str", _I, _I),
    _Spec("port", "Port", "int", _I, _I),
    _Spec("password", "Password", "str", _I, _I),
    _Spec("status", "Status", "str", _I, _I),
    _Spec("longitude", "Longitude", "float", _I, _I),
    _Spec("latitude", "Latitude", "float", _I, _I),
    _Spec("business_group_id", "BusinessGroupID", "str", _N, _I),
    # Info
    _Spec("ptz_type", "PTZType", "str", _N, _N),
    _Spec("photoelectric_imaging_type", "PhotoelectricImagingType", "str", None, _N),
    _Spec("capture_position_type", "CapturePositionType", "str", None, _N),
    _Spec("position_type", "PositionType", "str", _N, None),
    _Spec("room_type", "RoomType", "str", _N, _N),
    _Spec("use_type", "UseType", "str", _N, None),
    _Spec("supply_light_type", "SupplyLightType", "str", _N, _N),
    _Spec("direction_type", "DirectionType", "str", _N, _N),
    _Spec("resolution", "Resolution", "str", _N, _N),
    _Spec("stream_number_list", "StreamNumberList", "str", None, _N),
    _Spec("download_speed", "DownloadSpeed", "str", _N, _N),
    _Spec("svc_space_support_mode", "SVCSpaceSupportMode", "int", _N, _N),
    _Spec("svc_time_support_mode", "SVCTimeSupportMode", "int", _N, _N),
    _Spec("ssvc_ratio_support_list", "SSVCRatioSupportList", "str", None, _N),
    _Spec("mobile_device_type", "MobileDeviceType", "int", None, _N),
    _Spec("horizontal_field_angle", "HorizontalFieldAngle", "float", None, _N),
    _Spec("vertical_field_angle", "VerticalFieldAngle", "float", None, _N),
    _Spec("max_view_distance", "MaxViewDistance", "float", None, _N),
    _Spec("grassroots_code", "GrassrootsCode", "str", None, _N),
    _Spec("point_type", "PointType", "str", None, _N),
    _Spec("point_common_name", "PointCommonName", "str", None, _N),
    _Spec("mac", "MAC", "str", None, _N),
    _Spec("function_type", "FunctionType", "str", None, _N),
    _Spec("encode_type", "EncodeType", "str", None, _N),
    _Spec("install_time", "InstallTime", "str", None, _N),
    _Spec("management_unit", "ManagementUnit", "str", None, _N),
    _Spec("contact_info", "ContactInfo", "str", None, _N),
    _Spec("record_save_days", "RecordSaveDays", "int", None, _N),
    _Spec("industrial_classification", "IndustrialClassification", "str", None, _N),
)
_BY_KEY: dict[str, _Spec] = {spec.xml.lower(): spec for spec in _SPECS}
_READERS: dict[str, Callable[[str], object]] = {
    "str": lambda text: text,
    "int": read_int,
    "float": read_float,
    "datetime": read_datetime,
}
_SECRET_WORDS = ("password", "passwd", "pwd", "secret")
_ONLINE = {"on": True, "online": True, "ok": True, "1": True, "off": False, "offline": False, "0": False}


@dataclass(frozen=True, slots=True, repr=False)
class CatalogItem:
    """One ``<Item>`` of a Catalog response or NOTIFY. ``None`` means not sent."""

    device_id: str
    event: str | None = None  # CatalogEvent value in NOTIFY items (upper-cased), None in responses
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    owner: str | None = None  # 2016
    civil_code: str | None = None
    block: str | None = None
    address: str | None = None
    parental: int | None = None
    parent_id: str | None = None  # 2022: several, "a/b" (see parent_ids)
    safety_way: int | None = None  # 2016
    register_way: int | None = None
    security_level_code: str | None = None  # 2022: GB 35114 A/B/C
    cert_num: str | None = None  # 2016
    certifiable: int | None = None  # 2016
    err_code: int | None = None  # 2016
    end_time: dt.datetime | None = None  # 2016: certificate expiry
    secrecy: int | None = None
    ip_address: str | None = None
    port: int | None = None
    password: str | None = field(default=None, repr=False)
    status: str | None = None  # ON/OFF as received (see online)
    longitude: float | None = None
    latitude: float | None = None
    business_group_id: str | None = None  # 2016 in Info, 2022 on the item
    ptz_type: str | None = None
    photoelectric_imaging_type: str | None = None  # 2022
    capture_position_type: str | None = None  # 2022
    position_type: str | None = None  # 2016
    room_type: str | None = None
    use_type: str | None = None  # 2016
    supply_light_type: str | None = None
    direction_type: str | None = None
    resolution: str | None = None
    stream_number_list: str | None = None  # 2022
    download_speed: str | None = None
    svc_space_support_mode: int | None = None
    svc_time_support_mode: int | None = None
    ssvc_ratio_support_list: str | None = None  # 2022
    mobile_device_type: int | None = None  # 2022
    horizontal_field_angle: float | None = None  # 2022, degrees
    vertical_field_angle: float | None = None  # 2022, degrees
    max_view_distance: float | None = None  # 2022, metres
    grassroots_code: str | None = None  # 2022
    point_type: str | None = None  # 2022: 1/2/3 class, 9 other
    point_common_name: str | None = None  # 2022
    mac: str | None = None  # 2022
    function_type: str | None = None  # 2022
    encode_type: str | None = None  # 2022
    install_time: str | None = None  # 2022, as received
    management_unit: str | None = None  # 2022
    contact_info: str | None = None  # 2022
    record_save_days: int | None = None  # 2022
    industrial_classification: str | None = None  # 2022
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)  # vendor elements, "Info/X" inside Info
    malformed: Mapping[str, str] = field(default_factory=dict, hash=False)  # element -> raw text that did not read

    def __repr__(self) -> str:
        """The fields that are set, never the password."""
        shown = [
            f"{spec.attr}={getattr(self, spec.attr)!r}"
            for spec in _SPECS
            if spec.attr != "password" and getattr(self, spec.attr) is not None
        ]
        if self.password is not None:
            shown.append("password=<hidden>")
        if self.extra:
            shown.append(f"extra={dict(self.extra)!r}")
        if self.malformed:
            shown.append(f"malformed={dict(self.malformed)!r}")
        return f"CatalogItem({', '.join(shown)})"

    # ------------------------------------------------------------------------------------------- reading

    @classmethod
    def parse(cls, node: Node) -> CatalogItem:
        """Read an ``<Item>``; a :class:`MessageError` when it has no DeviceID (nothing to store it under)."""
        values: dict[str, object] = {}
        extra: dict[str, str] = {}
        malformed: dict[str, str] = {}
        _read_level(node.element, values, extra, malformed, "")
        if not values.get("device_id"):
            raise MessageError("message.item", "catalog item without DeviceID")
        event = values.get("event")
        if isinstance(event, str):
            values["event"] = event.upper()
        return cls(**values, extra=extra, malformed=malformed)  # type: ignore[arg-type]

    @property
    def parent_ids(self) -> tuple[str, ...]:
        """The parents named in ParentID (2022 allows several, separated by ``/``)."""
        if not self.parent_id:
            return ()
        return tuple(part.strip() for part in self.parent_id.split("/") if part.strip())

    @property
    def online(self) -> bool | None:
        """Status as a flag: ON/ONLINE/OK true, OFF/OFFLINE false, None when absent or unknown."""
        return None if self.status is None else _ONLINE.get(self.status.lower())

    @property
    def name_garbled(self) -> bool:
        """The name looks garbled by a GBK/UTF-8 mix-up upstream (stored as received, flagged)."""
        return self.name is not None and looks_garbled(self.name)

    @property
    def is_video_channel(self) -> bool:
        """The ID's type digits (11-13) name a camera or IPC."""
        return len(self.device_id) == 20 and is_video_channel_type(self.device_id[10:13])

    # ------------------------------------------------------------------------------------------- writing

    def for_edition(self, edition: Edition | str) -> CatalogItem:
        """This item without the fields ``edition``'s layout lacks: what encoding in that edition keeps."""
        chosen = Edition(edition)
        dropped = {spec.attr: None for spec in _SPECS if spec.at(chosen) is None}
        return dataclasses.replace(self, **dropped)  # type: ignore[arg-type]

    def write(self, writer: Writer, edition: Edition) -> None:
        writer.open("Item")
        info: list[tuple[str, object]] = []
        for spec in _SPECS:
            at = spec.at(edition)
            if at is None:
                continue
            value = getattr(self, spec.attr)
            if value is None:
                continue
            if at is _At.ITEM:
                writer.field(spec.xml, value)
            else:
                info.append((spec.xml, value))
        writer.fields({k: v for k, v in self.extra.items() if not k.startswith("Info/")})
        info_extra = {k[5:]: v for k, v in self.extra.items() if k.startswith("Info/")}
        if info or info_extra:
            writer.open("Info")
            for name, value in info:
                writer.field(name, value)
            writer.fields(info_extra)
            writer.close()
        writer.close()


def _read_level(
    element: Any, values: dict[str, object], extra: dict[str, str], bad: dict[str, str], prefix: str
) -> None:
    """Read the children of an item (``prefix`` "") or of its Info ("Info/"); the first value of a field wins.

    The catalog hot path (10,000 items x ~25 elements per TCP message): it iterates the lxml element itself with
    :func:`~xueliang.protocol.manscdp.xml.clean_value` inlined instead of wrapping each child in a Node, which
    bench/bench_manscdp.py measured at 25 % less time for the items of a fragment."""
    by_key, placeholders = _BY_KEY, PLACEHOLDERS
    for child in element:
        tag = child.tag
        if tag.__class__ is not str:
            continue
        key = key_of(tag)
        spec = by_key.get(key)
        if spec is None:
            if key == "info" and not prefix:
                _read_level(child, values, extra, bad, "Info/")
            elif len(child) == 0:
                _keep(extra, prefix + local_name(tag), (child.text or "").strip())
            else:
                node = Node(child)
                for name, text in node.others(frozenset()).items():
                    _keep(extra, f"{prefix}{node.name}/{name}", text)
            continue
        text = child.text
        if not text or spec.attr in values:
            continue
        raw = text.strip()
        if not raw or (len(raw) <= 12 and raw.casefold() in placeholders):
            continue
        if spec.kind == "str":
            values[spec.attr] = raw
            continue
        value = _READERS[spec.kind](raw)
        if value is None:
            bad.setdefault(spec.xml, raw)
        else:
            values[spec.attr] = value


def _keep(extra: dict[str, str], name: str, text: str) -> None:
    lowered = name.lower()
    if not any(word in lowered for word in _SECRET_WORDS):
        extra.setdefault(name, text)


FIELD_NAMES: tuple[str, ...] = tuple(spec.attr for spec in _SPECS)
