"""Sample inventories of a city (Lu'an by default) as departments submit them, for the demo and benchmarks.

Rows follow the Chinese template headers (HEADERS): labels rather than codes, coordinates in WGS-84 inside
the right county, IDs whose division, industry and network digits agree with the other columns, names
following the default naming rule (division + address + direction). Deterministic for a given seed.
:func:`sample_cells` gives typed cells (numbers, dates) as a spreadsheet holds them, :func:`sample_rows` the
same as text, and :func:`write_xlsx` / :func:`write_csv` write a department-style file.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter

from xueliang.domain import divisions, ids
from xueliang.domain.archive import (
    CAMERA_TYPE,
    DIRECTION,
    KEY_POSITION_TYPES,
    NETWORK,
    POINT_CLASS,
    POSITION_TYPE,
    SUPPLY_LIGHT,
)

LUAN_COUNTIES = ("341502", "341503", "341504", "341522", "341523", "341524", "341525")


@dataclass(frozen=True, slots=True)
class SampleUnit:
    name: str
    industry: str  # digits 9-10 of the IDs it builds
    network: str  # network code


SAMPLE_UNITS: tuple[SampleUnit, ...] = (
    SampleUnit("六安市公安局", "00", "video_private"),
    SampleUnit("六安市交通运输局", "04", "industry_private"),
    SampleUnit("六安市城市管理局", "08", "gov_extranet"),
    SampleUnit("六安市教育局", "11", "gov_extranet"),
    SampleUnit("六安市应急管理局", "90", "gov_extranet"),
    SampleUnit("六安市文化和旅游局", "91", "internet"),
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


Cell = str | float | int | dt.date
TITLE = "六安市公共场所视频监控资源整合接入清单（示例）"


def sample_cells(count: int, *, seed: int = 2022, counties: tuple[str, ...] = LUAN_COUNTIES) -> Iterator[list[Cell]]:
    """``count`` sample cameras spread over ``counties``, each a list of typed cells in HEADERS order."""
    rng = random.Random(seed)
    names = {code: divisions.full_name(code).removeprefix("安徽省六安市") for code in counties}
    serials: dict[str, int] = {}
    for index in range(count):
        county = counties[index % len(counties)]
        unit = SAMPLE_UNITS[rng.randrange(len(SAMPLE_UNITS))]
        prefix = f"{county}00{unit.industry}132{ids.default_network_digit(unit.network)}"
        serials[prefix] = serials.get(prefix, 0) + 1
        road, cross = rng.sample(ROADS, 2)
        address = f"{road}与{cross}路口" if rng.random() < 0.6 else f"{road}{rng.choice(PLACES)}"
        direction = DIRECTION.entries[rng.randrange(8)].zh
        lon, lat = _point_inside(rng, county)
        point_class = rng.choices(("1", "2", "3"), weights=(2, 3, 5))[0]
        position = POSITION_TYPE.entries[rng.randrange(len(POSITION_TYPE.entries))]
        maker, model = MANUFACTURERS[rng.randrange(len(MANUFACTURERS))]
        yield [
            f"{prefix}{serials[prefix]:06d}",
            f"{names[county]}{address}{direction}",
            county,
            f"安徽省六安市{names[county]}{address}",
            lon,
            lat,
            CAMERA_TYPE.entries[rng.randrange(4)].zh,
            POINT_CLASS.label(point_class),
            position.zh,
            "室外",
            direction,
            SUPPLY_LIGHT.entries[rng.randrange(4)].zh,
            rng.choice(("1920x1080", "2560x1440", "3840x2160")),
            maker,
            model,
            f"10.{34 + index // 65025 % 200}.{index // 255 % 255}.{index % 255 + 1}",
            ":".join(f"{rng.randrange(256):02X}" for _ in range(6)),
            NETWORK.label(unit.network),
            unit.name,
            unit.name,
            f"0564-{rng.randrange(3000000, 3999999)}",
            dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3000)),
            90 if position.code in KEY_POSITION_TYPES else 30,
            "治安" if unit.industry == "00" else "其他",
            "GB/T 28181",
            "",
            rng.choice(("是", "否")),
            "在用",
            rng.choice((3.5, 4.5, 6, 8)),
            "",
        ]


def _text(cell: Cell) -> str:
    return cell.isoformat() if isinstance(cell, dt.date) else str(cell)


def sample_rows(count: int, *, seed: int = 2022, counties: tuple[str, ...] = LUAN_COUNTIES) -> Iterator[dict[str, str]]:
    """The same cameras as :func:`sample_cells`, each a dict of header -> cell text."""
    for cells in sample_cells(count, seed=seed, counties=counties):
        yield {header: _text(cell) for header, cell in zip(HEADERS, cells, strict=True)}


def write_xlsx(path: Path, count: int, *, seed: int = 2022, title: bool = True) -> None:
    """The inventory as a department's xlsx: a merged title row, the header, then typed cells."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("资源清单")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    row_index = 0
    if title:
        sheet.merge_range(0, 0, 0, len(HEADERS) - 1, TITLE, workbook.add_format({"bold": True, "align": "center"}))
        row_index = 1
    sheet.write_row(row_index, 0, HEADERS, workbook.add_format({"bold": True}))
    for cells in sample_cells(count, seed=seed):
        row_index += 1
        for column, value in enumerate(cells):
            if isinstance(value, dt.date):
                sheet.write_datetime(row_index, column, value, date_format)
            elif isinstance(value, str):
                if value:
                    sheet.write_string(row_index, column, value)
            else:
                sheet.write_number(row_index, column, value)
    workbook.close()


def write_csv(path: Path, count: int, *, seed: int = 2022, encoding: str = "utf-8-sig") -> None:
    """The inventory as csv (Excel's UTF-8 with BOM by default; ``gb18030`` as Chinese Windows saves it)."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for cells in sample_cells(count, seed=seed):
            writer.writerow(_text(cell) for cell in cells)
