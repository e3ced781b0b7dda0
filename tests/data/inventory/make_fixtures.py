"""Rebuild the inventory fixtures of this folder: ``python tests/data/inventory/make_fixtures.py``.

- ``department_messy.xlsx``: a department's sheet as it really arrives (built with openpyxl, as Excel/WPS write
  them): two merged title rows, its own header words (国标编码, 点位名称, 区划代码, 朝向 ...), a 序号 column, the
  建设单位 merged down over all rows, an ID typed as a number (Excel shows 3.41503E+19), a division code and
  coordinates as numbers, numbers stored as text with stray spaces, dates as date cells and as text, labels
  instead of codes, a blank row in the middle, a signature footer, formatted but empty trailing rows; and three
  bad rows (unknown label, coordinates outside the county, no name).
- ``department_gb18030.csv``: a csv saved by Excel on a Chinese Windows: GB18030, comma-separated.

tests/unit/catalog_files/test_fixtures.py says what each file must read as.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
from openpyxl.styles import Alignment, Font, PatternFill

HERE = Path(__file__).resolve().parent

MESSY_HEADERS = (
    "序号", "国标编码", "点位名称", "区划代码", "详细地址", "经度", "纬度", "设备类型", "点位级别", "朝向",
    "所属网络", "建设单位", "联系电话", "安装日期", "存储天数", "备注",
)  # fmt: skip
MESSY_ROWS: tuple[tuple[object, ...], ...] = (
    (1, "34150300041320200001", "裕安区梅山南路与皋城路交叉口东", 341503, "裕安区梅山南路与皋城路交叉口",
     116.4952, 31.7388, "球机", "一类点", "东", "行业专网", "六安市交通运输局", "0564-3921001",
     dt.datetime(2021, 5, 6), 90, ""),
    (2, "34150300041320200002", "裕安区皖西大道汽车站西", "341503", "裕安区皖西大道汽车站",
     " 116.4811 ", "31.7452", "固定枪机", "二类点", "西", "行业专网", None, "0564-3921001",
     "2021/5/6", "30天", "数字以文本保存"),
    (None, None, None, None, None, None, None, None, None, None, None, None, None, None, None, None),
    (4, 3.41503000413202e19, "裕安区解放路与人民路交叉口南", 341503, "裕安区解放路与人民路交叉口",
     116.45, 31.72, "半球", "三类点", "南", "行业专网", None, "", "2020年8月1日", 30, "编码被Excel转成数字"),
    (5, "34150300041320200005", "裕安区佛子岭路东北", 341503, "裕安区佛子岭路", 116.47, 31.76, "飞碟",
     "三类点", "东北", "行业专网", None, "", dt.datetime(2019, 1, 2), 30, "未知摄像机类型"),
    (6, "34150300041320200006", "裕安区淠河路北", 341503, "裕安区淠河路", 117.9, 30.5, "球机", "三类点", "北",
     "行业专网", None, "", dt.datetime(2019, 1, 2), 30, "坐标不在裕安区"),
    (7, "34150300041320200007", None, 341503, "裕安区云路街", 116.48, 31.75, "球机", "三类点", "北",
     "行业专网", None, "", dt.datetime(2019, 1, 2), 30, "缺少名称"),
)  # fmt: skip
GB18030_HEADERS = (
    "设备编码",
    "设备名称",
    "行政区划代码",
    "经度",
    "纬度",
    "摄像机类型",
    "监视方向",
    "所属网络",
    "建设单位",
)
GB18030_ROWS = (
    ("34152200001320000001", "霍邱县城关镇光明大道与蓼城路交叉口东南", "341522", "116.2781", "32.3531", "球机", "东南",
     "视频专网", "霍邱县公安局"),
    ("34152200001320000002", "霍邱县新店镇新店大街西北", "341522", "116.1990", "32.4012", "枪机", "西北", "视频专网",
     "霍邱县公安局"),
    ("34152200001320000003", "霍邱县冯井镇政府门口北", "341522", "116.3523", "32.2187", "半球机", "北向", "视频专网",
     "霍邱县公安局"),
)  # fmt: skip


def make_messy(path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "交通局资源清单"
    width = len(MESSY_HEADERS)
    sheet.cell(1, 1, "六安市交通运输局公共视频监控资源清单").font = Font(bold=True, size=16)
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    sheet.cell(1, 1).alignment = Alignment(horizontal="center")
    sheet.cell(2, 1, "填报单位（盖章）：六安市交通运输局        填报日期：2024年3月")
    sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    for col, header in enumerate(MESSY_HEADERS, start=1):
        cell = sheet.cell(3, col, header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for offset, values in enumerate(MESSY_ROWS):
        for col, value in enumerate(values, start=1):
            if value is not None:
                cell = sheet.cell(4 + offset, col, value)
                if isinstance(value, dt.datetime):
                    cell.number_format = "yyyy-mm-dd"
    first, last = 4, 3 + len(MESSY_ROWS)
    owner_col = MESSY_HEADERS.index("建设单位") + 1
    sheet.merge_cells(start_row=first, start_column=owner_col, end_row=last, end_column=owner_col)
    sheet.cell(last + 2, 2, "填表人：王五")
    for row in range(last + 3, last + 8):  # formatted, empty
        for col in range(1, width + 3):
            sheet.cell(row, col).fill = PatternFill("solid", fgColor="FFFFFF")
    workbook.save(path)


def make_gb18030(path: Path) -> None:
    lines = [",".join(GB18030_HEADERS), *(",".join(row) for row in GB18030_ROWS)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gb18030"))


if __name__ == "__main__":
    make_messy(HERE / "department_messy.xlsx")
    make_gb18030(HERE / "department_gb18030.csv")
    print(f"written to {HERE}")
