"""Benchmark of the MANSCDP parser (issue 3): how many bodies per second one core turns into typed messages.

For each body, measured in the same run over the same bytes:

(a) the floor: bare ``lxml.etree.fromstring(body)`` (libxml2 decoding the declared charset, no checks);
(b) ``xueliang.protocol.manscdp.read_document``: size bound, charset decision, DTD refusal, repairs, lxml;
(c) ``xueliang.protocol.manscdp.parse``: (b) plus the typed message (Keepalive, CatalogResponse with items).

Bodies: a GB2312 Keepalive (the message a platform receives most: 200,000 devices every 60 s is 3,333/s), the
4-item 2016 GB2312 Catalog fragment of tests/data/manscdp/catalog_2016_gb2312.xml (a UDP-sized fragment),
and a 10,000-item 2022 GB18030 Catalog (the TCP-sized fragment of a lower platform). Prints messages/s and the
ratio of each time to (a); the encode rate of the Keepalive is printed for the simulator's sake.

    python bench/bench_manscdp.py [--count 20000] [--repeat 5]

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import CatalogItem, CatalogResponse, Charset, Edition, Keepalive

VECTOR = Path(__file__).resolve().parents[1] / "tests" / "data" / "manscdp" / "catalog_2016_gb2312.xml"


def _best(action: Callable[[], object], count: int, repeat: int) -> float:
    """The best of ``repeat`` runs of ``count`` calls, in seconds per call."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        for _ in range(count):
            action()
        best = min(best, time.perf_counter() - started)
    return best / count


def _large_catalog(items: int) -> bytes:
    generated = tuple(
        CatalogItem(
            f"34150300001320{n:06d}",
            name=f"裕安区梅山南路与解放路交叉口{n}号杆",
            manufacturer="Hikvision",
            model="DS-2CD3T46WDV3-I3",
            civil_code="341503",
            address=f"六安市裕安区梅山南路{n}号",
            parental=0,
            parent_id="34150000002000000001",
            register_way=1,
            secrecy=0,
            status="ON",
            longitude=116.49 + n * 1e-5,
            latitude=31.74 + n * 1e-5,
            ptz_type="3",
            grassroots_code="000000",
            point_type="2",
        )
        for n in range(items)
    )
    return CatalogResponse(1, "34150000002000000001", items, generated).encode(Edition.GB2022, Charset.GB18030)


def _row(label: str, seconds: float, floor: float, unit: str = "msg/s") -> None:
    print(f"  {label:<40} {1 / seconds:>12,.0f} {unit}   {seconds * 1e6:>10.1f} us   x{seconds / floor:.2f} of (a)")


def _bench(title: str, body: bytes, count: int, repeat: int) -> None:
    print(f"{title} ({len(body):,} bytes, {count:,} parses x {repeat})")
    floor = _best(lambda: etree.fromstring(body), count, repeat)  # the baseline, on our own trusted bytes
    _row("(a) lxml.etree.fromstring", floor, floor)
    _row("(b) manscdp.read_document", _best(lambda: manscdp.read_document(body), count, repeat), floor)
    _row("(c) manscdp.parse (typed message)", _best(lambda: manscdp.parse(body), count, repeat), floor)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="parses per run for the small bodies")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is reported")
    parser.add_argument("--large-items", type=int, default=10_000, help="items of the large catalog")
    args = parser.parse_args(argv)

    keepalive = Keepalive(4711, "34150300001320000031").encode(Edition.GB2016, Charset.GB2312)
    _bench("Keepalive, GB2312", keepalive, args.count, args.repeat)
    _bench("Catalog fragment, 4 items, 2016, GB2312", VECTOR.read_bytes(), args.count // 4, args.repeat)
    large = _large_catalog(args.large_items)
    _bench(f"Catalog, {args.large_items:,} items, 2022, GB18030", large, 1, max(args.repeat // 2, 2))
    per_catalog = _best(lambda: manscdp.parse(large), 1, max(args.repeat // 2, 2))
    print(f"  catalog items parsed per second: {args.large_items / per_catalog:,.0f}")

    message = Keepalive(4711, "34150300001320000031")
    encode = _best(lambda: message.encode(Edition.GB2016, Charset.GB2312), args.count, args.repeat)
    print(f"Keepalive encode, GB2312: {1 / encode:,.0f} msg/s ({encode * 1e6:.1f} us)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
