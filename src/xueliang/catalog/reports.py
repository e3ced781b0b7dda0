"""Error reports of an inventory import, for the clerk who has to fix the sheet: xlsx and JSON.

The xlsx has the sheet 错误报告 (one line per problem: row, column, value, severity, the problem in Chinese and in
English; errors first, then warnings, each by row; frozen header, autofilter) and the sheet 汇总 (the summary the
importer passes, the counts, and the problems per rule). The JSON is
``{"summary": {...}, "problems": [{row, column, field, value, severity, rule, message_zh, message_en}]}``,
UTF-8, not ASCII-escaped. Nothing here decides what a problem is: the import service does.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import xlsxwriter

from xueliang.catalog.table import RowProblem

__all__ = ["REPORT_SHEET", "SUMMARY_SHEET", "error_report_bytes", "sorted_problems", "write_error_report"]

REPORT_SHEET = "错误报告"
SUMMARY_SHEET = "汇总"
_HEADERS = ("行号 Row", "列 Column", "值 Value", "级别 Severity", "问题 Problem (zh)", "Problem (en)")
_WIDTHS = (9, 22, 28, 12, 70, 70)
_SEVERITY_LABEL = {"error": "错误 error", "warning": "警告 warning"}
_EXCEL_TEXT_LIMIT = 32767


def sorted_problems(problems: Sequence[RowProblem]) -> list[RowProblem]:
    """Errors first, then warnings (then anything else); each by row, otherwise as given."""
    order = {"error": 0, "warning": 1}
    return sorted(problems, key=lambda p: (order.get(p.severity, 2), p.row_number))


def write_error_report(
    problems: Sequence[RowProblem],
    xlsx_path: Path | None,
    json_path: Path | None,
    *,
    summary: Mapping[str, object] | None = None,
) -> None:
    """Write the report as xlsx and/or JSON (either path may be None)."""
    ordered = sorted_problems(problems)
    if xlsx_path is not None:
        _write_xlsx(ordered, str(xlsx_path), summary)
    if json_path is not None:
        json_path.write_bytes(_json_bytes(ordered, summary))


def error_report_bytes(
    problems: Sequence[RowProblem], fmt: str, *, summary: Mapping[str, object] | None = None
) -> bytes:
    """The report as ``fmt`` ("xlsx" or "json") in memory, e.g. for an API response."""
    ordered = sorted_problems(problems)
    if fmt == "json":
        return _json_bytes(ordered, summary)
    if fmt != "xlsx":
        raise ValueError(f"unknown report format {fmt!r}; use 'xlsx' or 'json'")
    # constant-memory mode needs a file; a report can list every row of a 100,000-row sheet
    handle, name = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        _write_xlsx(ordered, name, summary)
        return Path(name).read_bytes()
    finally:
        os.unlink(name)


# ------------------------------------------------------------------------------------------------ JSON


def _problem_dict(problem: RowProblem) -> dict[str, object]:
    return {
        "row": problem.row_number,
        "column": problem.column,
        "field": problem.field,
        "value": problem.value,
        "severity": problem.severity,
        "rule": problem.rule,
        "message_zh": problem.message_zh,
        "message_en": problem.message_en,
    }


def _json_bytes(ordered: Sequence[RowProblem], summary: Mapping[str, object] | None) -> bytes:
    document = {"summary": _summary(ordered, summary), "problems": [_problem_dict(p) for p in ordered]}
    return json.dumps(document, ensure_ascii=False, indent=1, default=str).encode("utf-8")


def _summary(ordered: Sequence[RowProblem], summary: Mapping[str, object] | None) -> dict[str, object]:
    out: dict[str, object] = dict(summary or {})
    severities = Counter(p.severity for p in ordered)
    out.setdefault("errors", severities.get("error", 0))
    out.setdefault("warnings", severities.get("warning", 0))
    out.setdefault("rows_with_errors", len({p.row_number for p in ordered if p.severity == "error"}))
    return out


# ------------------------------------------------------------------------------------------------ xlsx


def _cell(value: object) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        text = "、".join(str(v) for v in value)
    elif isinstance(value, Mapping):
        text = json.dumps(value, ensure_ascii=False, default=str)
    elif isinstance(value, bool):
        text = "是 yes" if value else "否 no"
    else:
        text = "" if value is None else str(value)
    return text[:_EXCEL_TEXT_LIMIT]


def _write_xlsx(ordered: Sequence[RowProblem], target: str, summary: Mapping[str, object] | None) -> None:
    workbook = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_numbers": False})
    try:
        header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        top = workbook.add_format({"valign": "top"})
        error = workbook.add_format({"font_color": "#C00000", "bold": True, "valign": "top"})
        warn = workbook.add_format({"font_color": "#9C5700", "valign": "top"})
        sheet = workbook.add_worksheet(REPORT_SHEET)
        for col, width in enumerate(_WIDTHS):
            sheet.set_column(col, col, width, wrap if col >= 4 else top)
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, _HEADERS, header)
        for index, problem in enumerate(ordered, start=1):
            sheet.write_number(index, 0, problem.row_number, top)
            sheet.write_string(index, 1, _cell(problem.column), top)
            sheet.write_string(index, 2, _cell(problem.value), top)
            label = _SEVERITY_LABEL.get(problem.severity, problem.severity)
            sheet.write_string(index, 3, label, error if problem.severity == "error" else warn)
            sheet.write_string(index, 4, _cell(problem.message_zh), wrap)
            sheet.write_string(index, 5, _cell(problem.message_en), wrap)
        sheet.autofilter(0, 0, max(len(ordered), 1), len(_HEADERS) - 1)
        _write_summary(workbook.add_worksheet(SUMMARY_SHEET), ordered, summary, header, wrap)
    finally:
        workbook.close()


def _write_summary(
    sheet: xlsxwriter.worksheet.Worksheet,
    ordered: Sequence[RowProblem],
    summary: Mapping[str, object] | None,
    header: object,
    wrap: object,
) -> None:
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 12)
    sheet.set_column(2, 3, 70, wrap)
    row = 0
    sheet.write_row(row, 0, ("项目 Item", "值 Value"), header)
    for key, value in _summary(ordered, summary).items():
        row += 1
        sheet.write_string(row, 0, _cell(key))
        if isinstance(value, int | float) and not isinstance(value, bool):
            sheet.write_number(row, 1, value)
        else:
            sheet.write_string(row, 1, _cell(value))
    row += 2
    sheet.write_row(row, 0, ("规则 Rule", "次数 Count", "示例 Example (zh)", "Example (en)"), header)
    examples: dict[tuple[str, str], RowProblem] = {}
    counts: Counter[tuple[str, str]] = Counter()
    for problem in ordered:
        rule = (problem.severity, problem.rule)
        counts[rule] += 1
        examples.setdefault(rule, problem)
    for (severity, rule_name), count in counts.most_common():
        row += 1
        example = examples[severity, rule_name]
        sheet.write_string(row, 0, f"{_SEVERITY_LABEL.get(severity, severity)}: {rule_name}")
        sheet.write_number(row, 1, count)
        sheet.write_string(row, 2, _cell(example.message_zh))
        sheet.write_string(row, 3, _cell(example.message_en))
