"""Generate a realistic Lu'an inventory (资源清单) as a department submits it: N rows x 30 columns.

The rows come from ``xueliang.sim.inventory`` (the demo uses the same): 20-digit IDs whose first six digits are
the county in the division column, coordinates in WGS-84 inside that county, names following the default
naming rule, code-table values as the Chinese labels a clerk types, install dates as date cells, record-save
days meeting the retention rule. The xlsx has a title row above the header, as departments' sheets do; the
csv is UTF-8 with BOM (or GB18030).

    python bench/gen_inventory.py --rows 100000 -o /tmp/luan.xlsx
    python bench/gen_inventory.py --rows 1000 -o /tmp/luan.csv --encoding gb18030
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from xueliang.sim.inventory import HEADERS, write_csv, write_xlsx


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
