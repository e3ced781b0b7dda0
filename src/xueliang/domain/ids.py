"""The 20-digit GB/T 28181 ID (编码规则A): the one codec of the platform.

Layout (shared/GB28181.md section 1)::

    digits 1-8    centre code: administrative division (GB/T 2260) 2 province, 2 city, 2 county, 2 grassroots
    digits 9-10   industry (行业编码)
    digits 11-13  type (类型编码)
    digit  14     network (网络标识)
    digits 15-20  serial (设备序号)

The industry and network tables differ between the 2016 and 2022 editions; :func:`explain` shows both.
18-digit IDs of the 2011 edition are recognised and refused with their own message.

Exceptions: :class:`IdError` (a ``ValueError``) carries a machine-readable ``rule`` and bilingual messages.

Sources for the tables: GB/T 28181-2016 annex D and GB/T 28181-2022 annex E as reproduced in open-source
GB/T 28181 stacks (wvp-GB28181-pro's DeviceTypeEnum and IndustryCodeTypeEnum, and two independent C/C++
headers); entries only one source gave are marked "(?)" below.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from xueliang.domain import divisions

__all__ = [
    "ID_LENGTH",
    "VIDEO_CHANNEL_TYPES",
    "Edition",
    "GbId",
    "IdError",
    "default_network_digit",
    "explain",
    "id_error",
    "industry_meaning",
    "is_video_channel_type",
    "network_digit_matches",
    "network_digit_meaning",
    "next_free_serial",
    "type_meaning",
]

ID_LENGTH = 20
LEGACY_ID_LENGTH = 18
MAX_SERIAL = 999_999


class Edition(enum.StrEnum):
    GB2016 = "2016"
    GB2022 = "2022"


class IdError(ValueError):
    """Text that is not a usable 20-digit ID. ``rule``: id.empty, id.not_digits, id.legacy_18, id.length,
    id.division, id.prefix, id.full."""

    def __init__(self, rule: str, message_zh: str, message_en: str, value: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.rule = rule
        self.message_zh = message_zh
        self.message_en = message_en
        self.value = value


# ------------------------------------------------------------------------------------------------- tables

#: GB/T 2260 province-level codes with English names (digits 1-2 must be one of these).
PROVINCES_EN: dict[str, str] = {
    "11": "Beijing",
    "12": "Tianjin",
    "13": "Hebei",
    "14": "Shanxi",
    "15": "Inner Mongolia",
    "21": "Liaoning",
    "22": "Jilin",
    "23": "Heilongjiang",
    "31": "Shanghai",
    "32": "Jiangsu",
    "33": "Zhejiang",
    "34": "Anhui",
    "35": "Fujian",
    "36": "Jiangxi",
    "37": "Shandong",
    "41": "Henan",
    "42": "Hubei",
    "43": "Hunan",
    "44": "Guangdong",
    "45": "Guangxi",
    "46": "Hainan",
    "50": "Chongqing",
    "51": "Sichuan",
    "52": "Guizhou",
    "53": "Yunnan",
    "54": "Tibet",
    "61": "Shaanxi",
    "62": "Gansu",
    "63": "Qinghai",
    "64": "Ningxia",
    "65": "Xinjiang",
    "71": "Taiwan",
    "81": "Hong Kong",
    "82": "Macao",
}

Meaning = tuple[str, str]  # (zh, en)

_INDUSTRY_COMMON: dict[str, Meaning] = {
    "00": ("社会治安路面接入", "public order: roads and public areas"),
    "01": ("社会治安社区接入", "public order: communities and buildings"),
    "02": ("社会治安内部接入", "public order: police premises"),
    "03": ("社会治安其他接入", "public order: other"),
    "04": ("交通路面接入", "traffic: roads"),
    "05": ("交通卡口接入", "traffic: checkpoints and junctions"),
    "06": ("交通内部接入", "traffic: internal"),
    "07": ("交通其他接入", "traffic: other"),
    "08": ("城市管理接入", "city management"),
    "09": ("卫生环保接入", "health and environment"),
    "10": ("商检海关接入", "inspection and customs"),
    "11": ("教育部门接入", "education"),
}
_INDUSTRY_2016: dict[str, Meaning] = {
    **_INDUSTRY_COMMON,
    "40": ("农林牧渔业接入", "agriculture, forestry, husbandry, fishery"),
    "41": ("采矿企业接入", "mining enterprises"),
    "42": ("制造企业接入", "manufacturing enterprises"),
    "43": ("冶金企业接入", "metallurgy enterprises"),
    "44": ("电力企业接入", "power enterprises"),
    "45": ("燃气企业接入", "gas enterprises"),
    "46": ("建筑企业接入", "construction enterprises"),
    "47": ("物流企业接入", "logistics enterprises"),
    "48": ("邮政企业接入", "postal enterprises"),
    "49": ("信息企业接入", "information enterprises"),
    "50": ("住宿和餐饮业接入", "accommodation and catering"),
    "51": ("金融企业接入", "finance enterprises"),
    "52": ("房地产业接入", "real estate"),
    "53": ("商务服务业接入", "business services"),
    "54": ("水利企业接入", "water conservancy enterprises"),
    "55": ("娱乐企业接入", "entertainment enterprises"),
}
# 2022: 12-14 added (two sources); 40-59 follow the 20 sections A-T of GB/T 4754 (40-45 two sources,
# 46-59 one source (?), consistent with the GB/T 4754 order).
_INDUSTRY_2022: dict[str, Meaning] = {
    **_INDUSTRY_COMMON,
    "12": ("民航接入", "civil aviation"),
    "13": ("铁路接入", "railway"),
    "14": ("航运接入", "shipping"),
    "40": ("农、林、牧、渔业接入", "GB/T 4754 A: agriculture, forestry, husbandry, fishery"),
    "41": ("采矿业接入", "GB/T 4754 B: mining"),
    "42": ("制造业接入", "GB/T 4754 C: manufacturing"),
    "43": ("电力、热力、燃气及水生产和供应业接入", "GB/T 4754 D: power, heat, gas and water supply"),
    "44": ("建筑业接入", "GB/T 4754 E: construction"),
    "45": ("批发和零售业接入", "GB/T 4754 F: wholesale and retail"),
    "46": ("交通运输、仓储和邮政业接入", "GB/T 4754 G: transport, storage and post"),
    "47": ("住宿和餐饮业接入", "GB/T 4754 H: accommodation and catering"),
    "48": ("信息传输、软件和信息技术服务业接入", "GB/T 4754 I: information and software services"),
    "49": ("金融业接入", "GB/T 4754 J: finance"),
    "50": ("房地产业接入", "GB/T 4754 K: real estate"),
    "51": ("租赁和商务服务业接入", "GB/T 4754 L: leasing and business services"),
    "52": ("科学研究和技术服务业接入", "GB/T 4754 M: research and technical services"),
    "53": ("水利、环境和公共设施管理业接入", "GB/T 4754 N: water, environment, public facilities"),
    "54": ("居民服务、修理和其他服务业接入", "GB/T 4754 O: resident and repair services"),
    "55": ("教育接入", "GB/T 4754 P: education"),
    "56": ("卫生和社会工作接入", "GB/T 4754 Q: health and social work"),
    "57": ("文化、体育和娱乐业接入", "GB/T 4754 R: culture, sports and entertainment"),
    "58": ("公共管理、社会保障和社会组织接入", "GB/T 4754 S: public administration and social organisations"),
    "59": ("国际组织接入", "GB/T 4754 T: international organisations"),
}


def _industry_range(code: int, edition: Edition) -> Meaning:
    if code <= 39:
        return ("政府机关预留", "reserved (government)")
    if code <= 79:
        return ("企业/事业单位预留", "reserved (enterprises and institutions)")
    if code <= 89:
        return ("居民自建", "built by residents")
    if edition is Edition.GB2022:
        return ("其他主体/自定义 (?)", "other owners / custom (?)")
    return ("其他主体", "other owners")


def industry_meaning(industry: str, edition: Edition | str = Edition.GB2022) -> Meaning:
    """(zh, en) meaning of digits 9-10 in an edition."""
    ed = Edition(edition)
    table = _INDUSTRY_2022 if ed is Edition.GB2022 else _INDUSTRY_2016
    found = table.get(industry)
    if found is not None:
        return found
    return _industry_range(int(industry), ed)


_BOTH = frozenset({Edition.GB2016, Edition.GB2022})
_ONLY_2022 = frozenset({Edition.GB2022})
_ONLY_2016 = frozenset({Edition.GB2016})

#: type code -> (zh, en, editions that define it)
_TYPES: dict[str, tuple[str, str, frozenset[Edition]]] = {
    "111": ("DVR", "DVR", _BOTH),
    "112": ("视频服务器", "video server", _BOTH),
    "113": ("编码器", "encoder", _BOTH),
    "114": ("解码器", "decoder", _BOTH),
    "115": ("视频切换矩阵", "video switching matrix", _BOTH),
    "116": ("音频切换矩阵", "audio switching matrix", _BOTH),
    "117": ("报警控制器", "alarm controller", _BOTH),
    "118": ("网络视频录像机（NVR）", "network video recorder (NVR)", _BOTH),
    "120": ("在线视频图像信息采集系统", "online video image collection system", _ONLY_2022),
    "121": ("视频卡口", "video checkpoint", _ONLY_2022),
    "122": ("多目设备", "multi-lens device", _ONLY_2022),
    "123": ("停车场出入口控制设备", "car park entrance control device", _ONLY_2022),
    "124": ("人员出入口控制设备", "personnel entrance control device", _ONLY_2022),
    "125": ("安检设备", "security inspection device", _ONLY_2022),
    "130": ("混合硬盘录像机（HVR）", "hybrid video recorder (HVR)", _BOTH),
    "131": ("摄像机", "camera", _BOTH),
    "132": ("网络摄像机（IPC）", "IP camera (IPC)", _BOTH),
    "133": ("显示器", "display", _BOTH),
    "134": ("报警输入设备", "alarm input device", _BOTH),
    "135": ("报警输出设备", "alarm output device", _BOTH),
    "136": ("语音输入设备", "voice input device", _BOTH),
    "137": ("语音输出设备", "voice output device", _BOTH),
    "138": ("移动传输设备", "mobile transmission device", _BOTH),
    "139": ("其他外围设备", "other peripheral device", _BOTH),
    "140": ("报警输出设备（继电器或触发器控制）", "alarm output device (relay or trigger)", _ONLY_2022),
    "141": ("道闸", "barrier gate", _ONLY_2022),
    "142": ("智能门", "smart door", _ONLY_2022),
    "143": ("凭证识别单元", "credential reader", _ONLY_2022),
    "200": ("中心信令控制服务器（平台）", "central signalling control server (platform)", _BOTH),
    "201": ("Web应用服务器", "web application server", _BOTH),
    "202": ("媒体分发服务器 (?)", "media distribution server (?)", _ONLY_2016),
    "203": ("代理服务器", "proxy server", _BOTH),
    "204": ("安全服务器", "security server", _BOTH),
    "205": ("报警服务器", "alarm server", _BOTH),
    "206": ("数据库服务器", "database server", _BOTH),
    "207": ("GIS服务器", "GIS server", _BOTH),
    "208": ("管理服务器", "management server", _BOTH),
    "209": ("接入网关", "access gateway", _BOTH),
    "210": ("媒体存储服务器", "media storage server", _BOTH),
    "211": ("信令安全路由网关", "signalling security routing gateway", _BOTH),
    "215": ("业务分组", "business group", _BOTH),
    "216": ("虚拟组织", "virtual organisation", _BOTH),
    "300": ("中心用户", "centre user", _BOTH),
    "400": ("终端用户", "terminal user", _BOTH),
    "500": ("视频图像信息综合应用平台", "video image application platform", _ONLY_2022),
    "501": ("视频图像信息运维管理平台", "video image operations platform", _ONLY_2022),
    "502": ("视频图像分析系统", "video image analysis system", _ONLY_2022),
    "503": ("视频图像信息数据库", "video image database", _ONLY_2022),
    "505": ("视频图像分析设备 (?)", "video image analysis device (?)", _ONLY_2022),
}


def _type_range(code: int) -> Meaning:
    if 111 <= code <= 130:
        return ("扩展的前端主设备类型", "front-end main device (extension)")
    if 131 <= code <= 199:
        return ("扩展的前端外围设备类型", "front-end peripheral device (extension)")
    if 200 <= code <= 299:
        return ("扩展的平台设备类型", "platform device (extension)")
    if 300 <= code <= 399:
        return ("中心用户", "centre user")
    if 400 <= code <= 499:
        return ("终端用户", "terminal user")
    if 500 <= code <= 599:
        return ("平台外接服务器", "external server of the platform")
    if code >= 600:
        return ("扩展类型", "extension type")
    return ("未定义类型", "undefined type")


def type_meaning(type_code: str) -> Meaning:
    """(zh, en) meaning of digits 11-13, noting when only one edition defines it."""
    entry = _TYPES.get(type_code)
    if entry is None:
        return _type_range(int(type_code))
    zh, en, editions = entry
    if editions == _ONLY_2022:
        return f"{zh}（2022版新增）", f"{en} (added in 2022)"
    if editions == _ONLY_2016:
        return f"{zh}（2016版）", f"{en} (2016 edition)"
    return zh, en


#: Types whose IDs name a video source (a channel the platform can play). 131 camera, 132 IPC (2022:
#: "IPC / online video image collection device"). The 2022 additions 120-125 are front-end main devices
#: (systems, checkpoints, multi-lens devices, gates) and 140-143 are peripherals without video, so none of
#: them is a video channel type.
VIDEO_CHANNEL_TYPES: frozenset[str] = frozenset({"131", "132"})


def is_video_channel_type(type_code: str | int) -> bool:
    return (f"{type_code:03d}" if isinstance(type_code, int) else type_code) in VIDEO_CHANNEL_TYPES


# Network digit (14): its meaning, and which of the platform's five networks (archive.NETWORK codes) it
# stands for. 2016: 0-4 监控报警专网, 5 公安信息网, 6 政务网, 7 Internet, 8 社会资源接入网, 9 reserved.
# 2022: 0/1 公安视频传输网, 2 行业专网, 3 政法信息网, 4 公安移动信息网, 5 公安信息网, 6 电子政务外网,
# 7 互联网等公共网络, 8 专线, 9 reserved. 整合域 (integration) has no digit of its own.
_NETWORK_2016: dict[str, tuple[str, str, frozenset[str]]] = {
    **{d: ("监控报警专网", "monitoring and alarm private network", frozenset({"video_private"})) for d in "01234"},
    "5": ("公安信息网", "police information network", frozenset()),
    "6": ("政务网", "government network", frozenset({"gov_extranet"})),
    "7": ("Internet网", "internet", frozenset({"internet"})),
    "8": ("社会资源接入网", "social-resource access network", frozenset({"industry_private"})),
    "9": ("预留", "reserved", frozenset()),
}
_NETWORK_2022: dict[str, tuple[str, str, frozenset[str]]] = {
    **{d: ("公安视频传输网", "police video transmission network", frozenset({"video_private"})) for d in "01"},
    "2": ("行业专网", "industry private network", frozenset({"industry_private"})),
    "3": ("政法信息网", "political-legal information network", frozenset()),
    "4": ("公安移动信息网", "police mobile information network", frozenset()),
    "5": ("公安信息网", "police information network", frozenset()),
    "6": ("电子政务外网", "e-government extranet", frozenset({"gov_extranet"})),
    "7": ("互联网等公共网络", "internet and other public networks", frozenset({"internet"})),
    "8": ("专线", "leased line", frozenset({"video_private", "industry_private"})),
    "9": ("预留", "reserved", frozenset()),
}
_NETWORKS_WITHOUT_DIGIT = frozenset({"integration"})
_DEFAULT_DIGIT = {"video_private": "0", "industry_private": "2", "gov_extranet": "6", "internet": "7"}


def network_digit_meaning(digit: str, edition: Edition | str = Edition.GB2022) -> Meaning:
    table = _NETWORK_2022 if Edition(edition) is Edition.GB2022 else _NETWORK_2016
    zh, en, _networks = table[digit]
    return zh, en


def network_digit_matches(digit: str, network_code: str) -> bool | None:
    """Whether the ID's network digit fits the archive's network field in either edition.

    None when it cannot be judged: the network has no digit (整合域), the digit is reserved (9), or the
    network code is not one of the five."""
    if network_code in _NETWORKS_WITHOUT_DIGIT or digit == "9" or digit not in _NETWORK_2022:
        return None
    if network_code not in _DEFAULT_DIGIT:
        return None
    return network_code in _NETWORK_2016[digit][2] or network_code in _NETWORK_2022[digit][2]


def default_network_digit(network_code: str) -> str | None:
    """The digit to put in a new ID for a network, one that means it in both editions where possible."""
    return _DEFAULT_DIGIT.get(network_code)


# ----------------------------------------------------------------------------------------------- the ID


def _check(text: str) -> None:
    if not text:
        raise IdError("id.empty", "设备编码为空", "the device ID is empty", text)
    if not (text.isascii() and text.isdigit()):
        raise IdError(
            "id.not_digits",
            f"设备编码只能由数字组成：{text}",
            f"the device ID must consist of digits only: {text}",
            text,
        )
    if len(text) == LEGACY_ID_LENGTH:
        raise IdError(
            "id.legacy_18",
            f"18位编码（GB/T 28181-2011版）已不再使用，请换发20位编码：{text}",
            f"18-digit 2011-edition ID, no longer accepted; assign a 20-digit ID: {text}",
            text,
        )
    if len(text) != ID_LENGTH:
        raise IdError(
            "id.length",
            f"设备编码应为20位数字，实为{len(text)}位：{text}",
            f"the device ID must have 20 digits, it has {len(text)}: {text}",
            text,
        )
    if text[:2] not in PROVINCES_EN:
        raise IdError(
            "id.division",
            f"设备编码第1-2位不是省级行政区划代码：{text[:2]}",
            f"digits 1-2 of the device ID are not a province code: {text[:2]}",
            text,
        )
    if text[2:4] == "00" and text[4:8] != "0000":
        raise IdError(
            "id.division",
            f"设备编码第3-4位（市级）为00时，第5-8位也应为0：{text[:8]}",
            f"digits 5-8 of the device ID must be 0 when the city digits 3-4 are 00: {text[:8]}",
            text,
        )


def id_error(text: str) -> IdError | None:
    """The reason ``text`` (already stripped) is not a valid 20-digit ID, or None when it is one.

    The allocation-free check for hot paths (the archive validator); :meth:`GbId.parse` raises the same errors.
    """
    try:
        _check(text)
    except IdError as exc:
        return exc
    return None


@dataclass(frozen=True, slots=True)
class GbId:
    """A valid 20-digit ID. Build with :meth:`parse` or :meth:`build`; the constructor validates too."""

    text: str

    def __post_init__(self) -> None:
        _check(self.text)

    @classmethod
    def parse(cls, text: str) -> GbId:
        """Parse an ID (surrounding whitespace ignored). Raises :class:`IdError`."""
        return cls(text.strip())

    @classmethod
    def build(cls, division: str, industry: str, type_code: str, network: str, serial: int | str) -> GbId:
        """Assemble an ID; ``division`` may have 2-8 digits (padded with zeros to 8)."""
        number = int(serial)
        if not 0 <= number <= MAX_SERIAL:
            raise IdError(
                "id.length",
                f"设备序号超出范围（0-999999）：{serial}",
                f"serial out of range (0-999999): {serial}",
                str(serial),
            )
        return cls(f"{division.ljust(8, '0')}{industry}{type_code}{network}{number:06d}")

    def __str__(self) -> str:
        return self.text

    @property
    def division(self) -> str:
        """Digits 1-8, the centre code."""
        return self.text[:8]

    @property
    def division_prefix(self) -> str:
        """The significant digits of the centre code (``34150300`` -> ``341503``, ``34000000`` -> ``34``)."""
        return divisions.prefix(self.text[:8])

    @property
    def province(self) -> str:
        return self.text[0:2]

    @property
    def city(self) -> str:
        return self.text[2:4]

    @property
    def county(self) -> str:
        return self.text[4:6]

    @property
    def grassroots(self) -> str:
        return self.text[6:8]

    @property
    def industry(self) -> str:
        return self.text[8:10]

    @property
    def type_code(self) -> str:
        return self.text[10:13]

    @property
    def network(self) -> str:
        return self.text[13]

    @property
    def serial(self) -> str:
        return self.text[14:20]

    @property
    def prefix14(self) -> str:
        return self.text[:14]

    @property
    def is_video_channel(self) -> bool:
        return self.type_code in VIDEO_CHANNEL_TYPES


# ---------------------------------------------------------------------------------------------- allocation


def next_free_serial(prefix14: str, used_ids: Iterable[str]) -> str:
    """The full ID under ``prefix14`` (digits 1-14) with the next free serial.

    The serial is one above the highest used; when 999999 is taken, the lowest free serial from 000001 up.
    Serial 000000 is never allocated. IDs in ``used_ids`` with another prefix are ignored. Raises
    :class:`IdError` (rule id.prefix) for a malformed prefix and (rule id.full) when all serials are used.
    """
    prefix = prefix14.strip()
    if len(prefix) != 14 or not (prefix.isascii() and prefix.isdigit()):
        raise IdError(
            "id.prefix",
            f"编码前缀应为14位数字：{prefix14}",
            f"the ID prefix must be 14 digits: {prefix14}",
            prefix14,
        )
    _check(prefix + "000001")
    used: set[int] = set()
    for text in used_ids:
        t = text.strip()
        if len(t) == ID_LENGTH and t.startswith(prefix) and t[14:].isdigit() and t[14:].isascii():
            used.add(int(t[14:]))
    highest = max(used, default=0)
    if highest < MAX_SERIAL:
        return f"{prefix}{highest + 1:06d}"
    for candidate in range(1, MAX_SERIAL + 1):
        if candidate not in used:
            return f"{prefix}{candidate:06d}"
    raise IdError(
        "id.full",
        f"编码前缀{prefix}下的设备序号已全部用完",
        f"every serial under the prefix {prefix} is in use",
        prefix,
    )


# ------------------------------------------------------------------------------------------------- explain

ExplainRow = tuple[str, str, str, str, str]  # label_zh, label_en, digits, meaning_zh, meaning_en


def _both(zh16: str, en16: str, zh22: str, en22: str) -> Meaning:
    if zh16 == zh22:
        return zh22, en22
    return f"2016版：{zh16}；2022版：{zh22}", f"2016 edition: {en16}; 2022 edition: {en22}"


def _division_row(label_zh: str, label_en: str, digits: str, code: str) -> ExplainRow:
    if digits == "00":
        return (label_zh, label_en, digits, "未使用", "not used")
    division = divisions.get(code)
    if division is None:
        return (label_zh, label_en, digits, "未知的行政区划代码", f"unknown division code {code}")
    if division.level is divisions.Level.PROVINCE:
        return (label_zh, label_en, digits, division.name, f"{PROVINCES_EN[code[:2]]} ({code[:2]})")
    return (label_zh, label_en, digits, division.name, f"{division.name} ({code})")


def explain(id_text: str) -> list[ExplainRow]:
    """The parts of an ID with their meanings in Chinese and English, for ``xueliang id explain``.

    Raises :class:`IdError` when the text is not a valid 20-digit ID (including 18-digit 2011-edition IDs)."""
    gb = GbId.parse(id_text)
    full = divisions.full_name(gb.division)
    rows: list[ExplainRow] = [
        (
            "中心编码（行政区划）",
            "centre code (division)",
            gb.division,
            full or "未知的行政区划代码",
            f"{full} (GB/T 2260 {gb.division_prefix})" if full else f"unknown division {gb.division_prefix}",
        ),
        _division_row("省级", "province", gb.province, gb.province),
        _division_row("市级", "city", gb.city, gb.province + gb.city),
        _division_row("县级", "county", gb.county, gb.province + gb.city + gb.county),
        (
            ("基层接入单位", "grassroots unit", gb.grassroots, "未使用", "not used")
            if gb.grassroots == "00"
            else ("基层接入单位", "grassroots unit", gb.grassroots, f"基层接入单位{gb.grassroots}", "local unit")
        ),
    ]
    industry = _both(*industry_meaning(gb.industry, Edition.GB2016), *industry_meaning(gb.industry, Edition.GB2022))
    rows.append(("行业编码", "industry", gb.industry, *industry))
    type_zh, type_en = type_meaning(gb.type_code)
    if gb.is_video_channel:
        type_zh, type_en = f"{type_zh}（视频通道）", f"{type_en} (video channel)"
    rows.append(("类型编码", "type", gb.type_code, type_zh, type_en))
    network = _both(
        *network_digit_meaning(gb.network, Edition.GB2016), *network_digit_meaning(gb.network, Edition.GB2022)
    )
    rows.append(("网络标识", "network", gb.network, *network))
    rows.append(("设备序号", "serial", gb.serial, str(int(gb.serial)), str(int(gb.serial))))
    return rows
