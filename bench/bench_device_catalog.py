"""Benchmark of merging a lower platform's GB/T 28181 catalog into the archive (``merge_catalog``), issue 3.

For SQLite (a temporary file) and PostgreSQL (a temporary database, with ``--postgres URL``), with N catalog
items (default 200,000: a county's lower platform) made like a real platform's catalog: the county and its
towns as regions, a business group, virtual organisations, and N cameras (type 131/132) with names, civil
codes, addresses, WGS-84 coordinates (3 % outside their county, as in real data), manufacturer, model, IP
address, ON/OFF status and the Info fields of both editions. Timed, each including its commit:

1. *first catalog*: the archive is empty, every camera is created from the catalog (validated, flagged);
2. *same catalog again*: nothing changed (a restart re-queries every catalog), only one status flipped in 1 %;
3. *catalog over an inventory*: the archive holds the same cameras from an inventory import; the catalog
   binds every channel and updates the device-owned fields (status, IP, manufacturer, model).

The baseline, measured in the same run: the plain bulk insert of N camera rows through
``CameraRepository.insert_many`` (``store/bulk.py``: executemany / COPY), rows built beforehand, plus commit.
The ratio is merge time / baseline. Goal: the first catalog well under 30 s on both databases. Figures are
printed, never asserted.

``--parallel`` merges as the worker-process entry points do: half of the items planned in a forked child.

    python bench/bench_device_catalog.py [--count 200000] [--postgres postgresql://postgres@127.0.0.1/postgres]
        [--parallel]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from xueliang.catalog.device_catalog import MergeSummary, merge_catalog
from xueliang.domain import divisions
from xueliang.domain.validator import normalise_raw
from xueliang.protocol.manscdp import CatalogItem
from xueliang.sim.inventory import MANUFACTURERS, PLACES, ROADS
from xueliang.store.cameras import CameraRepository, camera_row
from xueliang.store.crypto import FernetCipher
from xueliang.store.db import create_db_engine, make_session_factory, migrate, normalise_url, transaction
from xueliang.store.models import utcnow

PLATFORM_ID = "34150200002000000001"
COUNTY = "341502"
DIRECTIONS = ("东", "西", "南", "北")
OUTSIDE_SHARE = 0.03  # cameras whose coordinates lie outside their county (typos, swapped, another county)
TOWNS = tuple(f"{COUNTY}{n:03d}" for n in range(1, 21))  # 9-digit town codes, as platforms send them


def point(rng: random.Random, box: tuple[float, float, float, float], *, inside: bool) -> tuple[float, float]:
    """A point in the county's bounding box, inside the county (or, with ``inside`` false, anywhere in the box)."""
    while True:
        lon, lat = round(rng.uniform(box[0], box[2]), 6), round(rng.uniform(box[1], box[3]), 6)
        if not inside or divisions.contains(COUNTY, lon, lat):
            return lon, lat


def catalog(count: int, seed: int = 28181) -> list[CatalogItem]:
    """The catalog of a county's lower platform: tree nodes first, then ``count`` cameras."""
    rng = random.Random(seed)
    box = divisions.bbox(COUNTY)
    assert box is not None
    county_name = divisions.get(COUNTY).name  # type: ignore[union-attr]
    group = f"{COUNTY}00002150000001"
    orgs = [f"{COUNTY}00002160{n:06d}" for n in range(1, 9)]
    items = [
        CatalogItem(device_id=COUNTY, name=county_name),
        *(CatalogItem(device_id=town, name=f"{county_name}第{i + 1}街道", parent_id=COUNTY) for i, town in
          enumerate(TOWNS)),
        CatalogItem(device_id=group, name="雪亮工程", parent_id=PLATFORM_ID),
        *(CatalogItem(device_id=org, name=f"虚拟组织{i + 1}", parent_id=group, business_group_id=group) for i, org
          in enumerate(orgs)),
    ]  # fmt: skip
    for index in range(count):
        road, cross = rng.sample(ROADS, 2)
        address = f"{road}与{cross}路口" if rng.random() < 0.6 else f"{road}{rng.choice(PLACES)}"
        manufacturer, model = MANUFACTURERS[index % len(MANUFACTURERS)]
        on = rng.random() < 0.93
        direction = rng.randrange(len(DIRECTIONS))
        lon, lat = point(rng, box, inside=rng.random() >= OUTSIDE_SHARE)
        items.append(
            CatalogItem(
                device_id=f"{COUNTY}0000{'132' if index % 3 else '131'}0{index:06d}",
                name=f"{county_name}{address}{DIRECTIONS[direction]}",
                manufacturer=manufacturer,
                model=model,
                owner="Owner",
                civil_code=COUNTY,
                address=f"安徽省六安市{county_name}{address}",
                parental=0,
                parent_id=f"{PLATFORM_ID}/{orgs[index % len(orgs)]}",
                register_way=1,
                secrecy=0,
                ip_address=f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}",
                port=8000,
                status="ON" if on else "OFF",
                longitude=lon,
                latitude=lat,
                business_group_id=group,
                ptz_type=str(rng.randrange(1, 5)),
                room_type="1",
                supply_light_type=str(rng.choice((1, 2, 3))),
                direction_type=str(direction + 1) if rng.random() < 0.9 else "5",  # 10 %: name and field disagree
                resolution="5/6",
                download_speed="1/2/4",
                point_type=rng.choice("1233"),
                record_save_days=30,
            )
        )
    return items


def flip_some(items: list[CatalogItem], share: float = 0.01) -> list[CatalogItem]:
    """The same catalog with the status of ``share`` of the cameras flipped."""
    rng = random.Random(7)
    out = []
    for item in items:
        if item.status is not None and rng.random() < share:
            item = dataclasses.replace(item, status="OFF" if item.status == "ON" else "ON")
        out.append(item)
    return out


def inventory_rows(items: list[CatalogItem]) -> list[dict[str, Any]]:
    """The cameras of the catalog as an inventory import writes them (source import), rows built in advance."""
    now = utcnow()
    rows = []
    for item in items:
        if item.status is None:
            continue
        record, _findings = normalise_raw(
            {
                "platform_id": item.device_id,
                "name": f"{item.name}（档案）",
                "division_code": COUNTY,
                "install_address": item.address,
                "longitude": item.longitude,
                "latitude": item.latitude,
                "network": "video_private",
                "point_class": "3",
            }
        )
        rows.append(camera_row(record, unit_ids={}, cipher=_CIPHER, findings=[], source="import", now=now))
    return rows


_CIPHER = FernetCipher(Fernet.generate_key())  # inventory rows carry no credentials; camera_row wants a cipher


PARALLEL = {"parallel": False}  # --parallel: plan half of the items in a forked child, as the worker process does


def timed_merge(sessions: sessionmaker[Session], items: list[CatalogItem]) -> tuple[float, MergeSummary]:
    started = time.perf_counter()
    summary = merge_catalog(sessions, PLATFORM_ID, items, complete=True, at=utcnow(), parallel=PARALLEL["parallel"])
    return time.perf_counter() - started, summary


def baseline(sessions: sessionmaker[Session], rows: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    with transaction(sessions) as session:
        CameraRepository(session).insert_many(rows)
    return time.perf_counter() - started


def run(label: str, fresh: Any, items: list[CatalogItem]) -> None:
    count = sum(1 for i in items if i.status is not None)
    print(f"{label}, {len(items):,} items ({count:,} cameras):")
    with fresh() as engine:
        sessions = make_session_factory(engine)
        first, summary = timed_merge(sessions, items)
        print(f"  first catalog (creates every camera):   {first:6.2f} s   {summary}")
        again, summary = timed_merge(sessions, flip_some(items))
        print(f"  same catalog again (1 % status flips):  {again:6.2f} s   {summary}")
    rows = inventory_rows(items)
    with fresh() as engine:
        sessions = make_session_factory(engine)
        base = baseline(sessions, rows)
        print(f"  baseline: bulk insert of {len(rows):,} camera rows (store/bulk.py): {base:6.2f} s")
        bound, summary = timed_merge(sessions, items)
        print(f"  catalog over an inventory (binds all):  {bound:6.2f} s   {summary}")
    print(
        f"  ratios to the baseline: first catalog {first / base:.1f}x, again {again / base:.1f}x, "
        f"over an inventory {bound / base:.1f}x"
    )


@contextlib.contextmanager
def sqlite_database(work: Path) -> Iterator[Engine]:
    path = work / f"{uuid.uuid4().hex}.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[Engine]:
    name = f"xueliang_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
    engine = create_db_engine(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=200_000, help="cameras in the catalog")
    parser.add_argument("--postgres", help="an administrative URL; a temporary database is created and dropped")
    parser.add_argument("--parallel", action="store_true", help="merge as the worker process does (two processes)")
    args = parser.parse_args()
    PARALLEL["parallel"] = args.parallel
    print(f"merge_catalog(parallel={args.parallel})")
    started = time.perf_counter()
    items = catalog(args.count)
    print(f"generated {len(items):,} catalog items in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="xueliang-bench-") as work:
        run("SQLite", lambda: sqlite_database(Path(work)), items)
    if args.postgres:
        admin_url = normalise_url(args.postgres)
        run("PostgreSQL", lambda: postgres_database(admin_url), items)


if __name__ == "__main__":
    main()
