"""Benchmark of the inventory import (issue 2): a generated N-row x 30-column Lu'an xlsx.

(a) the bare read of the file with python-calamine (``load_workbook`` + ``to_python`` of the sheet): the floor;
(b) ``xueliang.catalog.sheets.read_table``: header found, synonyms mapped, merged cells filled, rows as text;
(c) the full import through the catalog service (``import_file``: read, validate, commit) into a fresh SQLite
    data directory, created and migrated before the clock starts.

Prints seconds, rows/s and the ratio to (a). Goal: (c) under 5 s for 100,000 rows on the reference machine.

    python bench/bench_import.py [--rows 100000] [--repeat 3] [--file INVENTORY.xlsx]

The generated file is cached in the temp directory (generating 100,000 rows takes longer than reading them).
"""

from __future__ import annotations

import argparse
import gc
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import python_calamine

import gen_inventory
from xueliang.catalog.sheets import read_table


def _time(action: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    timings: list[float] = []
    result: object = None
    for _ in range(repeat):
        result = None
        gc.collect()
        started = time.perf_counter()
        result = action()
        timings.append(time.perf_counter() - started)
    return timings, result


def _bare_read(data: bytes) -> int:
    workbook = python_calamine.load_workbook(io.BytesIO(data))
    rows = workbook.get_sheet_by_index(0).to_python()
    return len(rows)


def _report(label: str, timings: list[float], rows: int, baseline: float | None) -> None:
    best = min(timings)
    spread = f" (median {statistics.median(timings):.2f} s of {len(timings)})" if len(timings) > 1 else ""
    ratio = f", {best / baseline:.2f}x the bare read" if baseline else ""
    print(f"{label:<44} {best:6.2f} s{spread}  {rows / best:>10,.0f} rows/s{ratio}")


def _full_import(data: bytes, filename: str, work: Path) -> Callable[[], tuple[float, object]] | str:
    """The service's import on a fresh data directory per call (built and migrated outside the timing):
    a callable returning (seconds, result), or why it is unavailable."""
    try:
        from xueliang.app import build_platform
        from xueliang.catalog.importer import ImportOptions
        from xueliang.catalog.service import CatalogService
        from xueliang.config import Settings
    except ImportError as exc:
        return f"the catalog service cannot be imported ({exc})"
    if not hasattr(CatalogService, "import_file"):
        return "xueliang.catalog.service.CatalogService has no import_file yet"
    counter = iter(range(1_000_000))

    def run() -> tuple[float, object]:
        data_dir = work / f"data-{next(counter)}"
        platform = build_platform(Settings(data_dir=data_dir, database_url=None))
        try:
            gc.collect()
            started = time.perf_counter()
            result = platform.catalog.import_file(
                data,
                filename,
                ImportOptions(),
                report_xlsx=data_dir / "report.xlsx",
                report_json=data_dir / "report.json",
            )
            return time.perf_counter() - started, result
        finally:
            platform.close()

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best counts")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument("--file", type=Path, help="an inventory xlsx to use instead of a generated one")
    parser.add_argument("--skip-import", action="store_true", help="measure (a) and (b) only")
    args = parser.parse_args(argv)

    if args.file is not None:
        path = args.file
    else:
        cache = Path(tempfile.gettempdir()) / "xueliang-bench"
        cache.mkdir(exist_ok=True)
        path = cache / f"luan_{args.rows}_{args.seed}.xlsx"
        if not path.exists():
            print(f"generating {args.rows:,} rows -> {path} ...", flush=True)
            partial = path.with_suffix(".part.xlsx")
            gen_inventory.write_xlsx(partial, args.rows, seed=args.seed)
            partial.replace(path)
    data = path.read_bytes()
    print(f"file: {path} ({len(data) / 1e6:.1f} MB)")

    timings, height = _time(lambda: _bare_read(data), args.repeat)
    baseline = min(timings)
    _report("(a) bare read (python-calamine)", timings, int(str(height)), None)

    timings, table = _time(lambda: read_table(data, path.name), args.repeat)
    rows = len(table.rows)  # type: ignore[attr-defined]
    columns = sum(1 for c in table.columns if c.field)  # type: ignore[attr-defined]
    _report(f"(b) read_table ({rows:,} rows, {columns} fields)", timings, rows, baseline)
    del table

    if args.skip_import:
        return 0
    with tempfile.TemporaryDirectory(prefix="xueliang-bench-") as work:
        run = _full_import(data, path.name, Path(work))
        if isinstance(run, str):
            print(f"(c) full import: unavailable: {run}")
            return 0
        runs = [run() for _ in range(args.repeat)]
        timings, result = [seconds for seconds, _result in runs], runs[-1][1]
        status = getattr(result, "status", "?")
        created = getattr(result, "rows_created", "?")
        errors, warnings = getattr(result, "error_count", "?"), getattr(result, "warning_count", "?")
        _report("(c) full import, SQLite", timings, rows, baseline)
        print(f"    status {status}, created {created}, errors {errors}, warnings {warnings}")
        seconds = min(timings) * 100_000 / max(rows, 1)
        verdict = "meets" if seconds < 5.0 else "misses"
        scaled = "" if rows == 100_000 else f" (scaled linearly to 100,000 rows: {seconds:.1f} s)"
        print(f"    {verdict} the goal of under 5 s for 100,000 rows{scaled}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
