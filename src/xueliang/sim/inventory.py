"""Sample inventories of a city (Lu'an by default) as departments submit them, for the demo and benchmarks.

Rows are dicts keyed by the Chinese template headers with cell text, as a clerk would type them: labels rather
than codes, coordinates in WGS-84, names following the default naming rule (division + address + direction).
Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

from xueliang.domain import divisions
from xueliang.domain.archive import CAMERA_TYPE, DIRECTION, NETWORK, POINT_CLASS, POSITION_TYPE, SUPPLY_LIGHT

LUAN_COUNTIES = ("341502", "341503", "341504", "341522", "341523", "341524", "341525")


@dataclass(frozen=True, slots=True)
class SampleUnit:
    name: str
    industry: str  # digits 9-10 of the IDs it builds
    network: str  # network code
    network_digit: str  # digit 14 of its IDs


SAMPLE_UNITS: tuple[SampleUnit, ...] = (
    SampleUnit("六安市公安局", "00", "video_private", "0"),
    SampleUnit("六安市交通运输局", "04", "industry_private", "8"),
    SampleUnit("六安市城市管理局", "08", "gov_extranet", "6"),
    SampleUnit("六安市教育局", "11", "gov_extranet", "6"),
    SampleUnit("六安市应急管理局", "90", "gov_extranet", "6"),
    SampleUnit("六安市文化和旅游局", "91", "internet", "7"),
)

ROADS = (
    "梅山路", "解放路", "皖西路", "人民路", "佛子岭路", "淠河路", "长江路", "南京路", "经三路", "云路街",
    "紫竹林路", "齐云路", "寿春路", "龙河路", "六安路", "高铁站路", "迎宾大道", "三元路", "文庙路", "和平路",
)  # fmt: skip
PLACES = ("广场", "汽车站", "小学门口", "中学门口", "农贸市场", "医院门口", "公园", "客运码头", "体育馆", "商业街")
HEADERS = (
    "设备编码", "设备名称", "行政区划代码", "安装地址", "经度", "纬度", "摄像机类型", "点位类型", "位置类型",
    "室内外", "监视方向", "补光类型", "分辨率", "厂商", "型号", "IP地址", "MAC地址", "所属网络", "建设单位",
    "管理单位", "联系方式", "安装时间", "录像保存天数", "用途", "接入方式", "取流地址", "是否共享",
    "设备状态", "安装高度(米)", "备注",
)  # fmt: skip
MANUFACTURERS = (("海康威视", "DS-2DE4425IW"), ("大华", "DH-SD49425XB"), ("宇视", "IPC-S242"), ("华为", "M2341"))


def _point_inside(rng: random.Random, code: str) -> tuple[float, float]:
    """A random WGS-84 point inside the division, by rejection sampling in its bounding box."""
    box = divisions.bbox(code)
    if box is None:
        raise ValueError(f"division {code} has no geometry")
    min_lon, min_lat, max_lon, max_lat = box
    for _ in range(1000):
        lon, lat = rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)
        if divisions.contains(code, lon, lat):
            return round(lon, 6), round(lat, 6)
    raise RuntimeError(f"no point found inside division {code}")


def sample_rows(count: int, *, seed: int = 2022, counties: tuple[str, ...] = LUAN_COUNTIES) -> Iterator[dict[str, str]]:
    """``count`` sample cameras spread over ``counties``, each a dict of header -> cell text."""
    rng = random.Random(seed)
    serials: dict[str, int] = {}
    for index in range(count):
        county = counties[index % len(counties)]
        unit = SAMPLE_UNITS[rng.randrange(len(SAMPLE_UNITS))]
        prefix = f"{county}00{unit.industry}132{unit.network_digit}"
        serials[prefix] = serials.get(prefix, 0) + 1
        road, cross = rng.sample(ROADS, 2)
        address = f"{road}与{cross}路口" if rng.random() < 0.6 else f"{road}{rng.choice(PLACES)}"
        direction = DIRECTION.entries[rng.randrange(8)].zh
        division_name = divisions.get(county).name  # type: ignore[union-attr]
        lon, lat = _point_inside(rng, county)
        point_class = rng.choices(("1", "2", "3"), weights=(2, 3, 5))[0]
        position = POSITION_TYPE.entries[rng.randrange(len(POSITION_TYPE.entries))]
        maker, model = MANUFACTURERS[rng.randrange(len(MANUFACTURERS))]
        installed = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3000))
        save_days = 90 if position.code in {"1", "2", "3", "4", "5", "6", "7", "8"} else 30
        ip = f"10.{34 + index // 65025 % 200}.{index // 255 % 255}.{index % 255 + 1}"
        yield {
            "设备编码": f"{prefix}{serials[prefix]:06d}",
            "设备名称": f"{division_name}{address}{direction}",
            "行政区划代码": county,
            "安装地址": f"安徽省六安市{division_name}{address}",
            "经度": f"{lon}",
            "纬度": f"{lat}",
            "摄像机类型": CAMERA_TYPE.entries[rng.randrange(4)].zh,
            "点位类型": POINT_CLASS.label(point_class),
            "位置类型": position.zh,
            "室内外": "室外",
            "监视方向": direction,
            "补光类型": SUPPLY_LIGHT.entries[rng.randrange(4)].zh,
            "分辨率": rng.choice(("1920x1080", "2560x1440", "3840x2160")),
            "厂商": maker,
            "型号": model,
            "IP地址": ip,
            "MAC地址": ":".join(f"{rng.randrange(256):02X}" for _ in range(6)),
            "所属网络": NETWORK.label(unit.network),
            "建设单位": unit.name,
            "管理单位": unit.name,
            "联系方式": f"0564-{rng.randrange(3000000, 3999999)}",
            "安装时间": installed.isoformat(),
            "录像保存天数": str(save_days),
            "用途": "治安" if unit.industry == "00" else "其他",
            "接入方式": "GB/T 28181",
            "取流地址": "",
            "是否共享": rng.choice(("是", "否")),
            "设备状态": "在用",
            "安装高度(米)": f"{rng.choice((3.5, 4.5, 6, 8))}",
            "备注": "",
        }
