"""``xueliang demo``: a demo city on the embedded SQLite database.

Steps: 1. a data directory of its own (``./xueliang-demo`` unless told otherwise)  2. the platform built as
``serve`` builds it  3. on first start, a sample Lu'an inventory written as a department's xlsx and imported
through the real import pipeline  4. serve the API and console. What the demo shows grows with the product.
"""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from xueliang.app import Platform
from xueliang.catalog.importer import ImportOptions, ImportResult
from xueliang.sim.inventory import HEADERS, sample_rows

DEMO_FILE = "六安市示例资源清单.xlsx"


def write_sample_inventory(path: Path, count: int, *, seed: int = 2022) -> None:
    """A department-style workbook: a title row above the header, labels instead of codes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet("资源清单")
    title = workbook.add_format({"bold": True, "font_size": 14})
    sheet.merge_range(0, 0, 0, len(HEADERS) - 1, "六安市公共场所视频监控资源整合接入清单（示例）", title)
    sheet.write_row(1, 0, HEADERS)
    for offset, row in enumerate(sample_rows(count, seed=seed)):
        sheet.write_row(2 + offset, 0, [row[header] for header in HEADERS])
    workbook.close()


def archive_is_empty(platform: Platform) -> bool:
    from xueliang.catalog.service import CameraQuery
    from xueliang.store.cameras import PageRequest

    return not platform.catalog.list_cameras(CameraQuery(), PageRequest(limit=1)).items


def seed_demo(platform: Platform, count: int) -> ImportResult | None:
    """Import the sample inventory once; None when the archive already has cameras."""
    if not archive_is_empty(platform):
        return None
    source = platform.settings.data_dir / "demo" / DEMO_FILE
    write_sample_inventory(source, count)
    return platform.catalog.import_file(
        source.read_bytes(),
        source.name,
        ImportOptions(),
        report_xlsx=source.with_name(source.name + ".errors.xlsx"),
        report_json=source.with_name(source.name + ".errors.json"),
    )
