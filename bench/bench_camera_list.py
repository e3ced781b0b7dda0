"""Benchmark of ``GET /api/v1/cameras`` with a division filter and a text query over 200,000 cameras (issue 2).

For SQLite (a temporary data directory) and PostgreSQL (a temporary database, when the server answers):

1. generate N cameras spread over Lu'an's seven counties and bulk insert them (``CameraRepository.insert_many``);
2. call the real app (FastAPI ``TestClient``) with ``division=<county>&q=<text>&limit=50``, the county rotating
   over the seven, for a common two-character query (路口, in about 60 % of the addresses) and a rarer
   three-character one (皋城路, about 0.2 %), and print p50/p95 in milliseconds;
3. the baseline, measured in the same run: the same requests with the text condition as a plain
   ``search_text LIKE '%q%'`` scan (no gram index) and the division as one code range, as a first
   implementation would do it; the ratio is baseline p95 / our p95.

Goal: p95 under 50 ms on both databases. Figures are printed, never asserted.

    python bench/bench_camera_list.py [--cameras 200000] [--requests 200] [--postgres URL | --no-postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import ColumnElement, create_engine, text
from sqlalchemy.engine import make_url

from xueliang.api.app import create_app
from xueliang.app import Platform, build_platform
from xueliang.config import Settings
from xueliang.domain import divisions
from xueliang.domain.archive import CameraRecord
from xueliang.store import cameras as camera_store
from xueliang.store import search
from xueliang.store.cameras import CameraRepository, camera_row
from xueliang.store.db import create_db_engine, normalise_url, transaction
from xueliang.store.models import Camera, utcnow
from xueliang.store.units import NewUnit, UnitRepository

COUNTIES = ("341502", "341503", "341504", "341522", "341523", "341524", "341525")
UNITS = (
    ("GA", "六安市公安局", "00", "0"),
    ("JT", "六安市交通运输局", "04", "8"),
    ("CG", "六安市城市管理局", "08", "6"),
    ("JY", "六安市教育局", "11", "6"),
    ("YJ", "六安市应急管理局", "90", "6"),
    ("WL", "六安市文化和旅游局", "91", "7"),
)
NETWORKS = {"0": "video_private", "8": "industry_private", "6": "gov_extranet", "7": "internet"}
ROADS = (
    "梅山路", "解放路", "皖西路", "人民路", "佛子岭路", "淠河路", "长江路", "南京路", "经三路", "云路街",
    "紫竹林路", "齐云路", "寿春路", "龙河路", "六安路", "高铁站路", "迎宾大道", "三元路", "文庙路", "和平路",
)  # fmt: skip
PLACES = ("广场", "汽车站", "小学门口", "中学门口", "农贸市场", "医院门口", "公园", "客运码头", "体育馆", "商业街")
DIRECTIONS = ("东", "西", "南", "北", "东南", "东北", "西南", "西北")
RARE_ROAD = "皋城路"
QUERIES = (("路口", "common, 2 characters"), (RARE_ROAD, "rarer, 3 characters"))


def generate(count: int, seed: int = 2022) -> Iterator[CameraRecord]:
    rng = random.Random(seed)
    boxes = {c: divisions.bbox(c) for c in COUNTIES}
    names = {c: divisions.get(c).name for c in COUNTIES}  # type: ignore[union-attr]
    for index in range(count):
        county = COUNTIES[index % len(COUNTIES)]
        code, _name, industry, digit = UNITS[rng.randrange(len(UNITS))]
        road, cross = rng.sample(ROADS, 2)
        if rng.random() < 0.002:
            road = RARE_ROAD
        address = f"{road}与{cross}路口" if rng.random() < 0.6 else f"{road}{rng.choice(PLACES)}"
        direction = rng.randrange(8)
        box = boxes[county]
        assert box is not None
        yield CameraRecord(
            platform_id=f"{county}00{industry}132{digit}{index:06d}",
            name=f"{names[county]}{address}{DIRECTIONS[direction]}",
            division_code=county,
            install_address=f"安徽省六安市{names[county]}{address}",
            longitude=round(rng.uniform(box[0], box[2]), 6),
            latitude=round(rng.uniform(box[1], box[3]), 6),
            camera_type=str(rng.randrange(1, 5)),
            point_class=rng.choice("1223333"),
            position_type=str(rng.randrange(1, 11)),
            room_type="1",
            direction=str(direction + 1),
            network=NETWORKS[digit],
            owner_unit=code,
            management_unit=code,
            management_contact="0564-3333333",
            install_time=dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(3000)),
            record_save_days=30,
            manufacturer="海康威视",
            status="1",
        )


def populate(platform: Platform, count: int) -> None:
    with transaction(platform.sessions) as session:
        UnitRepository(session).create_many([NewUnit(code, name, "department", "341500") for code, name, _, _ in UNITS])
    with platform.sessions() as session:
        unit_ids = UnitRepository(session).ids_by_code()
    started = time.perf_counter()
    cipher, now = platform.catalog.cipher(), utcnow()
    rows = [
        camera_row(r, unit_ids=unit_ids, cipher=cipher, findings=[], source="import", now=now) for r in generate(count)
    ]
    built = time.perf_counter()
    with transaction(platform.sessions) as session:
        repository = CameraRepository(session)
        repository.insert_many(rows)
        repository.analyze()
    done = time.perf_counter()
    print(
        f"  {count:,} cameras: rows built in {built - started:.2f} s, bulk insert + commit {done - built:.2f} s "
        f"({count / (done - built):,.0f} rows/s)"
    )


def measure(client: TestClient, q: str, requests: int) -> list[float]:
    for index in range(20):  # warm-up: caches, statement compilation
        client.get("/api/v1/cameras", params={"division": COUNTIES[index % 7], "q": q, "limit": 50})
    timings = []
    for index in range(requests):
        params = {"division": COUNTIES[index % 7], "q": q, "limit": 50}
        started = time.perf_counter()
        response = client.get("/api/v1/cameras", params=params)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
        assert response.json()["items"], params
    return timings


def percentiles(timings: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return cuts[49], cuts[94]


@contextlib.contextmanager
def plain_like_scan() -> Iterator[None]:
    """The baseline: text as ``search_text LIKE '%q%'`` alone, the division as one range of codes."""
    original_condition = CameraRepository._text_condition
    original_branches = camera_store.DIVISION_BRANCHES

    def like_only(self: CameraRepository, q: str) -> ColumnElement[bool] | None:
        norm = search.normalise(q)
        return Camera.search_text.like(f"%{norm}%") if norm else None

    CameraRepository._text_condition = like_only  # type: ignore[method-assign]
    camera_store.DIVISION_BRANCHES = 0
    try:
        yield
    finally:
        CameraRepository._text_condition = original_condition  # type: ignore[method-assign]
        camera_store.DIVISION_BRANCHES = original_branches


def run(label: str, platform: Platform, count: int, requests: int) -> None:
    print(f"{label}:")
    populate(platform, count)
    with TestClient(create_app(platform)) as client:
        for q, what in QUERIES:
            ours = percentiles(measure(client, q, requests))
            with plain_like_scan():
                baseline = percentiles(measure(client, q, requests))
            print(
                f"  division + q={q} ({what}): p50 {ours[0]:6.1f} ms  p95 {ours[1]:6.1f} ms   "
                f"plain LIKE scan: p50 {baseline[0]:6.1f} ms  p95 {baseline[1]:6.1f} ms   "
                f"ratio (p95) {baseline[1] / ours[1]:5.1f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("XUELIANG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        help="an administrative URL; a temporary database is created and dropped",
    )
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="xueliang-bench-") as work:
        platform = build_platform(Settings(data_dir=Path(work) / "sqlite"))
        try:
            run(f"SQLite {platform.engine.dialect.server_version_info}", platform, args.cameras, args.requests)
        finally:
            platform.close()

        if args.no_postgres:
            return
        admin_url = normalise_url(args.postgres)
        name = f"xueliang_bench_{uuid.uuid4().hex[:10]}"
        try:
            admin: Any = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"))
        except Exception as exc:  # any reason: the server is optional
            print(f"PostgreSQL not reachable ({type(exc).__name__}): skipped")
            return
        try:
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            engine = create_db_engine(url)
            platform = build_platform(Settings(data_dir=Path(work) / "pg"), engine=engine)
            try:
                version = ".".join(str(v) for v in engine.dialect.server_version_info or ())
                run(f"PostgreSQL {version}", platform, args.cameras, args.requests)
            finally:
                platform.close()
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
