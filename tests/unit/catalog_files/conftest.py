"""Helpers for the file-format tests: workbooks built in memory with openpyxl, as Excel/WPS would save them.

Under pytest's importlib mode a test module cannot import this file, so the helpers come as fixtures.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet


class Books:
    """Build openpyxl workbooks and save them to bytes."""

    @staticmethod
    def sheet(rows: Sequence[Sequence[object]], title: str = "Sheet1") -> tuple[openpyxl.Workbook, Worksheet]:
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.title = title
        for row in rows:
            sheet.append(list(row))
        return workbook, sheet

    @staticmethod
    def save(workbook: openpyxl.Workbook) -> bytes:
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()


@pytest.fixture
def books() -> Books:
    return Books()


@pytest.fixture
def xlsx_of() -> Callable[[Sequence[Sequence[object]]], bytes]:
    """rows -> xlsx bytes (one sheet, first row at A1)."""

    def build(rows: Sequence[Sequence[object]]) -> bytes:
        workbook, _sheet = Books.sheet(rows)
        return Books.save(workbook)

    return build


@pytest.fixture
def inventory_data() -> Path:
    """tests/data/inventory"""
    return Path(__file__).resolve().parents[2] / "data" / "inventory"
