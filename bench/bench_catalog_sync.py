"""Benchmark: a lower platform's catalog of 200,000 channels, from the Catalog query to the archive commit (issue 3).

The real :class:`~xueliang.signaling.service.SignalingService`, built by :func:`xueliang.app.build_platform`
(so the merge runs in the job worker process through ``WorkerCatalogSink``), on uvloop in this process, with a
temporary data directory and SQLite (or a temporary PostgreSQL database with ``--postgres URL``). One simulated
lower platform (``xueliang.sim``, kind ``platform``, ``--channels`` cameras under its tree of regions, business
group and virtual organisations) runs in a child process, connects over TCP and registers with digest. Automatic
synchronisation at registration is switched off; the benchmark calls ``service.catalog_sync(device_id)`` itself
(the operator's path: DeviceInfo, Catalog query, fragments assembled, merge in the worker, subscription) and
times it, broken down as

- *DeviceInfo, query -> first fragment*: the DeviceInfo round trip, then the Catalog query until the first
  fragment arrives (the simulator encodes each fragment as it sends it);
- *transfer + assembly*: first to last fragment (TCP MESSAGEs of ``--items-per-message`` items, one at a time,
  each parsed, answered and fed to the assembler on the platform's event loop);
- *merge*: from the first part handed to the sink (``WorkerCatalogSink`` takes the catalog in parts of
  ``sync.CATALOG_PART_ITEMS`` items while the fragments arrive, merged in the job worker as they come) to the
  commit of the last part; *last fragment -> commit* is what the merge adds after the transfer.

*First fragment -> commit* is the platform's own share (the simulator's encoding runs beside it on the same two
cores). ``--hand-off whole`` gives the sink the catalog whole after its last fragment, as before the parts.

It is run once per ``--items-per-message`` value (default 1,000 and the simulator's default 100), each against a
fresh database: both are first catalogs. The archive is then checked to hold one camera per channel, bound to the
device. Goal: under 30 s from the query to the commit.

The baseline, in the same run and on the same kind of database: the plain bulk insert of as many camera rows
through ``store/bulk.py`` (``baseline`` of bench/bench_device_catalog.py, rows built beforehand, plus commit). The
ratio is the sync time over it. Printed, never asserted. On this 2-core machine the default run (SQLite) takes
about 2 minutes, with ``--postgres`` about 4.

    python bench/bench_catalog_sync.py [--channels 200000] [--items-per-message 1000,100]
        [--postgres postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs installed; runtime only
from sqlalchemy import Engine, func, select

from bench_device_catalog import baseline, catalog, inventory_rows, postgres_database, sqlite_database
from bench_keepalive import run_loop
from xueliang.app import Platform, build_platform
from xueliang.config import Settings
from xueliang.protocol.manscdp import CatalogEvent, CatalogItem
from xueliang.signaling.service import CatalogIntake, CatalogSink, PartedCatalogSink, SignalingService
from xueliang.store.db import make_session_factory, normalise_url
from xueliang.store.models import Camera, Device, DeviceChannel

PLATFORM_ID = "34150000002000000001"
PASSWORD = "bench-password-1"
GOAL = 30.0


# --- the lower platform (child process) ----------------------------------------------------------------------
def lower_platform(pipe: Connection, options: dict[str, Any]) -> None:
    """Run one simulated lower platform until the parent says stop; sends its device ID once registered."""
    from xueliang.sim.config import SimConfig
    from xueliang.sim.devices import DeviceSimulator

    async def main() -> None:
        simulator = DeviceSimulator(SimConfig(**options))
        await simulator.start()
        await simulator.wait_registered(timeout=60)
        pipe.send(simulator.device_ids[0])
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        await simulator.stop(unregister=False)

    run_loop(main())


# --- instruments -----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Marks:
    """Times (perf_counter) of what happened during one sync."""

    fragments: int = 0
    first_fragment: float = 0.0
    last_fragment: float = 0.0
    feed_seconds: float = 0.0
    merge_started: float = 0.0  # the first part handed over (or the whole catalog)
    merge_ended: float = 0.0
    parts: int = 0
    items: list[CatalogItem] = dataclasses.field(default_factory=list)


class WholeHandOff:
    """The hand-off before the catalog went over in parts (``--hand-off whole``): the sink's ``merge`` with every
    item once the last fragment is in, so the merge cannot overlap the transfer."""

    def __init__(self, inner: CatalogSink) -> None:
        self.inner = inner

    def merge(self, device_id: str, items: list[CatalogItem], complete: bool) -> Awaitable[object]:
        return self.inner.merge(device_id, items, complete)

    def apply_events(self, device_id: str, events: list[tuple[CatalogEvent | None, CatalogItem]]) -> Awaitable[object]:
        return self.inner.apply_events(device_id, events)


class TimedIntake:
    """A catalog going over in parts, with the hand-off of each part and the end of the merge noted."""

    def __init__(self, inner: CatalogIntake, marks: Marks) -> None:
        self.inner = inner
        self.marks = marks

    def add(self, items: list[CatalogItem]) -> None:
        if not self.marks.merge_started:
            self.marks.merge_started = time.perf_counter()
        self.marks.parts += 1
        self.marks.items.extend(items)
        self.inner.add(items)

    async def finish(self, items: list[CatalogItem], complete: bool) -> object:
        if not self.marks.merge_started:
            self.marks.merge_started = time.perf_counter()
        self.marks.items.extend(items)
        try:
            return await self.inner.finish(items, complete)
        finally:
            self.marks.merge_ended = time.perf_counter()


class TimedSink:
    """The platform's sink, with the start and end of a whole catalog's merge noted."""

    def __init__(self, inner: CatalogSink, marks: Marks) -> None:
        self.inner = inner
        self.marks = marks

    async def merge(self, device_id: str, items: list[CatalogItem], complete: bool) -> object:
        self.marks.merge_started = time.perf_counter()
        self.marks.items = items
        try:
            return await self.inner.merge(device_id, items, complete)
        finally:
            self.marks.merge_ended = time.perf_counter()

    def apply_events(self, device_id: str, events: list[tuple[CatalogEvent | None, CatalogItem]]) -> Awaitable[object]:
        return self.inner.apply_events(device_id, events)


class TimedPartedSink(TimedSink):
    """... and of a catalog handed over in parts (the platform's ``WorkerCatalogSink``)."""

    def open_catalog(self, device_id: str) -> CatalogIntake:
        assert isinstance(self.inner, PartedCatalogSink)
        return TimedIntake(self.inner.open_catalog(device_id), self.marks)


def instrument(service: SignalingService, marks: Marks, hand_off: str) -> None:
    """Note every catalog fragment the assembler is fed (and the time spent in it), and every merge."""
    assembler = service.commands.catalogs
    feed = assembler.feed

    def timed_feed(fragment: Any, now: float) -> Any:
        started = time.perf_counter()
        if not marks.fragments:
            marks.first_fragment = started
        marks.fragments += 1
        try:
            return feed(fragment, now)
        finally:
            marks.last_fragment = time.perf_counter()
            marks.feed_seconds += marks.last_fragment - started

    setattr(assembler, "feed", timed_feed)  # noqa: B010 - instrumenting one instance, not the class
    if hand_off == "whole" or not isinstance(service.sink, PartedCatalogSink):
        service.sink = TimedSink(WholeHandOff(service.sink), marks)
    else:
        service.sink = TimedPartedSink(service.sink, marks)


def cpu_of(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def workers_cpu(exclude: int) -> float:
    """CPU seconds of this process's children (the job worker, the forkserver), the simulator excepted."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        if child.pid != exclude:
            with contextlib.suppress(psutil.Error):
                total += cpu_of(child)
    return total


def archive_cameras(engine: Engine, device_id: str) -> tuple[int, int]:
    """(channels of the device bound to an archive camera, distinct such cameras in the archive)."""
    sessions = make_session_factory(engine)
    with sessions() as session:
        query = (
            select(func.count(DeviceChannel.id), func.count(func.distinct(Camera.id)))
            .select_from(DeviceChannel)
            .join(Device, Device.id == DeviceChannel.device_pk)
            .join(Camera, Camera.id == DeviceChannel.camera_id)
            .where(Device.device_id == device_id, DeviceChannel.kind == "camera", DeviceChannel.gone.is_(False))
        )
        bound, cameras = session.execute(query).one()
    return int(bound), int(cameras)


# --- one sync --------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class SyncFigures:
    total: float
    platform: float  # first fragment -> commit
    merge: float
    cameras: int


async def sync_once(platform: Platform, channels: int, per_message: int, hand_off: str) -> SyncFigures:
    service = platform.signaling
    assert service is not None
    service.config = dataclasses.replace(service.config, sync_on_register=False)  # the benchmark syncs itself
    marks = Marks()
    instrument(service, marks, hand_off)
    loop = asyncio.get_running_loop()
    await service.start()
    await asyncio.wrap_future(platform.jobs.submit(os.getpid))  # the worker process is up before the clock runs
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    options = {
        "server_host": "127.0.0.1",
        "server_port": service.address[1],
        "server_id": PLATFORM_ID,
        "password": PASSWORD,
        "kind": "platform",
        "channels": channels,
        "transport": "tcp",
        "tcp_catalog_items": per_message,
    }
    simulator = context.Process(target=lower_platform, args=(child, options), daemon=True)
    simulator.start()
    try:
        device_id = await loop.run_in_executor(None, parent.recv)
        while not service.is_online(device_id):
            await asyncio.sleep(0.01)
        assert simulator.pid is not None
        sim_process = psutil.Process(simulator.pid)
        sim_cpu0, own_cpu0, workers_cpu0 = cpu_of(sim_process), time.process_time(), workers_cpu(simulator.pid)
        started = time.perf_counter()
        result = await service.catalog_sync(device_id)
        ended = time.perf_counter()
        sim_cpu = cpu_of(sim_process) - sim_cpu0
        own_cpu, workers = time.process_time() - own_cpu0, workers_cpu(simulator.pid) - workers_cpu0
        parent.send("stop")
        simulator.join(timeout=30)
    finally:
        if simulator.is_alive():
            simulator.terminate()
        await service.stop()
    bound, cameras = archive_cameras(platform.engine, device_id)
    total, merge = ended - started, marks.merge_ended - marks.merge_started
    platform_share = marks.merge_ended - marks.first_fragment
    print(
        f"  {result.status}: {result.received:,} items (SumNum {result.expected}) in {result.fragments:,} fragments, "
        f"{result.duplicates} duplicates; merged: {result.merged}"
    )
    print(f"  query -> commit (catalog_sync):       {total:7.2f} s   goal < {GOAL:.0f} s")
    print(f"  first fragment -> commit (platform):  {platform_share:7.2f} s")
    answer_starts = marks.first_fragment - started
    print(f"    DeviceInfo, query -> 1st fragment:  {answer_starts:7.2f} s")
    print(
        f"    transfer + assembly:                {marks.last_fragment - marks.first_fragment:7.2f} s   "
        f"({marks.fragments:,} fragments, {marks.feed_seconds:.2f} s of it in the assembler)"
    )
    handed = marks.merge_started - marks.first_fragment
    print(
        f"    merge (worker process, commits):    {merge:7.2f} s   ({marks.parts} parts of {len(marks.items):,} items "
        f"handed over while arriving, the first {handed:.2f} s after the first fragment, then the last part)"
    )
    print(f"    last fragment -> commit:            {marks.merge_ended - marks.last_fragment:7.2f} s")
    print(f"    after the merge (subscription):     {ended - marks.merge_ended:7.2f} s")
    print(
        f"  CPU during the sync: platform event loop {own_cpu:.1f} s, job worker {workers:.1f} s, "
        f"simulator {sim_cpu:.1f} s"
    )
    print(f"  archive: {bound:,} channels of {device_id} bound to {cameras:,} cameras (expected {channels:,})")
    return SyncFigures(total, platform_share, merge, cameras)


def run_sync(
    fresh: Callable[[], contextlib.AbstractContextManager[Engine]], channels: int, per_message: int, hand_off: str
) -> SyncFigures:
    with tempfile.TemporaryDirectory(prefix="xueliang-bench-") as folder, fresh() as engine:
        settings = Settings(
            data_dir=Path(folder),
            sip_host="127.0.0.1",
            sip_port=0,
            sip_id=PLATFORM_ID,
            sip_password=PASSWORD,
            sip_accept_unknown_devices=True,
        )
        platform = build_platform(settings, engine=engine, run_migrations=False)
        try:
            figures: list[SyncFigures] = []

            async def main() -> None:
                figures.append(await sync_once(platform, channels, per_message, hand_off))

            run_loop(main())
        finally:
            platform.close()
    return figures[0]


def run_baseline(fresh: Callable[[], contextlib.AbstractContextManager[Engine]], channels: int) -> float:
    started = time.perf_counter()
    rows = inventory_rows(catalog(channels))
    print(f"  ({len(rows):,} camera rows built in {time.perf_counter() - started:.1f} s, not timed)")
    with fresh() as engine:
        seconds = baseline(make_session_factory(engine), rows)
    print(f"  baseline: bulk insert of {len(rows):,} camera rows (store/bulk.py) + commit: {seconds:7.2f} s")
    return seconds


def run(label: str, fresh: Callable[[], contextlib.AbstractContextManager[Engine]], args: argparse.Namespace) -> None:
    print(f"{label}:")
    base = run_baseline(fresh, args.channels)
    for per_message in args.items_per_message:
        print(f" {args.channels:,} channels over TCP, {per_message:,} items per MESSAGE:")
        figures = run_sync(fresh, args.channels, per_message, args.hand_off)
        print(
            f"  ratios to the bulk insert baseline: query -> commit {figures.total / base:.1f}x, "
            f"first fragment -> commit {figures.platform / base:.1f}x, merge {figures.merge / base:.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=200_000, help="cameras in the lower platform's catalog")
    parser.add_argument(
        "--items-per-message",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1000, 100],
        help="catalog items per TCP MESSAGE, comma-separated: one sync each (default 1000,100)",
    )
    parser.add_argument(
        "--hand-off",
        choices=("parts", "whole"),
        default="parts",
        help="how items reach the worker: in parts while arriving, as the platform sends them (default), or whole",
    )
    parser.add_argument("--postgres", help="an administrative URL; a temporary database is created and dropped")
    args = parser.parse_args()
    print(f"hand-off to the merge worker: {args.hand_off}")
    print(f"catalog sync benchmark: python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xueliang-bench-") as work:
        run("SQLite", lambda: sqlite_database(Path(work)), args)
    if args.postgres:
        admin_url = normalise_url(args.postgres)
        run("PostgreSQL", lambda: postgres_database(admin_url), args)
    print(f"benchmark run time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
