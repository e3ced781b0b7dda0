"""Generate a realistic Lu'an inventory (资源清单) as a department submits it: N rows x 30 columns.

Every row is valid for the archive: 20-digit IDs whose first six digits are the county in the division column
(``3415xx00`` + industry + type 132 + network digit + serial), coordinates in WGS-84 inside that county (its rough
centre plus jitter, checked against the shipped boundary), names following the default naming rule (division
name + address + direction), code-table values as the Chinese labels a clerk types, install dates as date cells,
record-save days meeting the retention rule. The xlsx has a title row above the header, as departments' sheets
do, and is written with xlsxwriter in constant-memory mode; the csv is UTF-8 with BOM (or GB18030).

    python bench/gen_inventory.py --rows 100000 -o /tmp/luan.xlsx
    python bench/gen_inventory.py --rows 1000 -o /tmp/luan.csv --encoding gb18030
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
import time
from collections.abc import Iterator
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

#: county code -> rough centre (lon, lat), WGS-84
COUNTY_CENTRES: dict[str, tuple[float, float]] = {
    "341502": (116.60, 31.80),  # 金安区
    "341503": (116.40, 31.70),  # 裕安区
    "341504": (115.91, 31.85),  # 叶集区
    "341522": (116.28, 32.35),  # 霍邱县
    "341523": (116.95, 31.46),  # 舒城县
    "341524": (115.75, 31.45),  # 金寨县
    "341525": (116.33, 31.40),  # 霍山县
}
JITTER_DEG = 0.08

#: (unit name, industry digits 9-10 of its IDs, network code)
UNITS: tuple[tuple[str, str, str], ...] = (
    ("六安市公安局", "00", "video_private"),
    ("六安市交通运输局", "04", "industry_private"),
    ("六安市城市管理局", "08", "gov_extranet"),
    ("六安市教育局", "11", "gov_extranet"),
    ("六安市应急管理局", "90", "gov_extranet"),
    ("六安市文化和旅游局", "91", "internet"),
)
HEADERS: tuple[str, ...] = (
    "设备编码", "设备名称", "行政区划代码", "安装地址", "经度", "纬度", "摄像机类型", "点位类型", "位置类型",
    "室内外", "监视方向", "补光类型", "分辨率", "厂商", "型号", "IP地址", "MAC地址", "所属网络", "建设单位",
    "管理单位", "联系方式", "安装时间", "录像保存天数", "用途", "接入方式", "取流地址", "是否共享",
    "设备状态", "安装高度(米)", "备注",
)  # fmt: skip
ROADS = (
    "梅山路", "解放路", "皖西路", "人民路", "佛子岭路", "淠河路", "长江路", "南京路", "经三路", "云路街",
    "紫竹林路", "齐云路", "寿春路", "龙河路", "六安路", "高铁站路", "迎宾大道", "三元路", "文庙路", "和平路",
)  # fmt: skip
PLACES = ("广场", "汽车站", "小学门口", "中学门口", "农贸市场", "医院门口", "公园", "客运码头", "体育馆", "商业街")
MODELS = (("海康威视", "DS-2DE4425IW"), ("大华", "DH-SD49425XB"), ("宇视", "IPC-S242"), ("华为", "M2341"))
RESOLUTIONS = ("1920x1080", "2560x1440", "3840x2160")
TITLE = "六安市公共安全视频监控资源清单"

Cell = str | float | int | dt.date


def _point(rng: random.Random, county: str) -> tuple[float, float]:
    lon0, lat0 = COUNTY_CENTRES[county]
    for _ in range(100):
        lon = round(lon0 + rng.uniform(-JITTER_DEG, JITTER_DEG), 6)
        lat = round(lat0 + rng.uniform(-JITTER_DEG, JITTER_DEG), 6)
        if divisions.contains(county, lon, lat):
            return lon, lat
    return lon0, lat0


def rows(count: int, *, seed: int = 2022) -> Iterator[list[Cell]]:
    """``count`` rows of typed cells in HEADERS order, deterministic for a seed."""
    rng = random.Random(seed)
    counties = tuple(COUNTY_CENTRES)
    names = {code: divisions.get(code).name for code in counties}  # type: ignore[union-attr]
    serials: dict[str, int] = {}
    directions = DIRECTION.entries
    positions = POSITION_TYPE.entries
    for index in range(count):
        county = counties[index % len(counties)]
        unit, industry, network = UNITS[rng.randrange(len(UNITS))]
        prefix = f"{county}00{industry}132{ids.default_network_digit(network)}"
        serial = serials[prefix] = serials.get(prefix, 0) + 1
        road, cross = rng.sample(ROADS, 2)
        address = f"{road}与{cross}交叉口" if rng.random() < 0.6 else f"{road}{rng.choice(PLACES)}"
        direction = directions[rng.randrange(len(directions))].zh
        lon, lat = _point(rng, county)
        point_class = rng.choices(("1", "2", "3"), weights=(2, 3, 5))[0]
        position = positions[rng.randrange(len(positions))]
        maker, model = MODELS[rng.randrange(len(MODELS))]
        yield [
            f"{prefix}{serial:06d}",
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
            RESOLUTIONS[rng.randrange(3)],
            maker,
            model,
            f"10.{34 + index // 65025 % 200}.{index // 255 % 255}.{index % 255 + 1}",
            ":".join(f"{rng.randrange(256):02X}" for _ in range(6)),
            NETWORK.label(network),
            unit,
            unit,
            f"0564-{rng.randrange(3000000, 3999999)}",
            dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3000)),
            90 if position.code in KEY_POSITION_TYPES else 30,
            "治安" if industry == "00" else "其他",
            "GB/T 28181",
            "",
            "是" if rng.random() < 0.5 else "否",
            "在用",
            rng.choice((3.5, 4.5, 6, 8)),
            "",
        ]


def write_xlsx(path: Path, count: int, *, seed: int = 2022, title: bool = True) -> None:
    """The inventory as a department's xlsx: a merged title row, the header, then the rows."""
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("资源清单")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    row_index = 0
    if title:
        sheet.merge_range(0, 0, 0, len(HEADERS) - 1, TITLE, workbook.add_format({"bold": True, "align": "center"}))
        row_index = 1
    sheet.write_row(row_index, 0, HEADERS, workbook.add_format({"bold": True}))
    for cells in rows(count, seed=seed):
        row_index += 1
        for col, value in enumerate(cells):
            if isinstance(value, dt.date):
                sheet.write_datetime(row_index, col, value, date_format)
            elif isinstance(value, str):
                if value:
                    sheet.write_string(row_index, col, value)
            else:
                sheet.write_number(row_index, col, value)
    workbook.close()


def write_csv(path: Path, count: int, *, seed: int = 2022, encoding: str = "utf-8-sig") -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for cells in rows(count, seed=seed):
            writer.writerow(c.isoformat() if isinstance(c, dt.date) else c for c in cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("-o", "--output", type=Path, default=Path("luan_inventory.xlsx"), help="*.xlsx or *.csv")
    parser.add_argument("--encoding", default="utf-8-sig", help="csv only: utf-8-sig (default) or gb18030")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.output.suffix.casefold() == ".csv":
        write_csv(args.output, args.rows, seed=args.seed, encoding=args.encoding)
    else:
        write_xlsx(args.output, args.rows, seed=args.seed)
    elapsed = time.perf_counter() - started
    size = args.output.stat().st_size / 1e6
    print(f"{args.rows:,} rows x {len(HEADERS)} columns -> {args.output} ({size:.1f} MB) in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
