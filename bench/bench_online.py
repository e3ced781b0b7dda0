"""Benchmark: devices held online by one ``xueliang serve`` process, keepalive every 60 s (issue 3).

Two servers are measured in turn, each a process of its own, against the same simulated devices (``xueliang.sim``
:class:`~xueliang.sim.devices.DeviceSimulator` in a spawned process: ``--count`` single-channel IPCs over UDP,
``--sockets`` local sockets spread over ``--hosts`` loopback addresses 127.0.0.1, 127.0.0.2, ..., registering at
most ``--register-rate`` a second, then keeping alive every ``--keepalive`` seconds on an even phase):

1. baseline: a bare uvloop UDP echo (bench/bench_keepalive.py's, one change: the first line of what comes in is
   replaced by ``SIP/2.0 200 OK``, so a REGISTER or a keepalive is answered by its own headers; a plain echo
   would hand the devices their own requests back and none would ever register). No parsing, no state;
2. xueliang: a real ``xueliang serve`` (API and SIP on one uvloop, SQLite in a temporary data directory, global
   device password, unknown devices accepted). Catalog synchronisation at registration is on, as in real life:
   every IPC's DeviceInfo and one-channel catalog are queried (``XUELIANG_SIP_CATALOG_RATE`` per second, default
   100), merged in the job worker process and subscribed to. ``--no-sync`` sets XUELIANG_SIP_CATALOG_RATE=0.001:
   one device syncs, the rest wait. The flood guard (XUELIANG_SIP_FLOOD_RATE, 1,000 messages/s per address and
   port) stays at its default: the sockets keep each source far under it (``--flood-rate`` raises it).

For each: how long the registration of N devices took (the simulator's count; for xueliang also until the
database holds N online), then over a steady ``--window`` the server's CPU % of one core (and, for xueliang, of
its worker processes apart) and RSS (before the devices, after registration, highest in the window), the
keepalives answered per second, and at the end how many devices ``GET /api/v1/devices?online=true`` lists
(all pages). Ratios xueliang / echo are printed; nothing is asserted.

On this 2-core machine (the simulator shares the cores with the server) the default run, 200,000 devices,
takes about 21 minutes (the echo phase 4.5, xueliang 16, most of it waiting for the database to hold every device
online); ``--count 20000 --window 30`` under 3.

    python bench/bench_online.py [--count 200000] [--window 60] [--no-sync] [--register-rate 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs installed; runtime only

from bench_keepalive import run_loop

PLATFORM_ID = "34150000002000000001"
PASSWORD = "bench-password-1"
MiB = 2**20


# --- child processes ---------------------------------------------------------------------------------------------
def answering_echo(pipe: Connection) -> None:
    """The baseline server: every datagram goes back with its first line made ``SIP/2.0 200 OK``."""
    import asyncio

    async def main() -> None:
        loop = asyncio.get_running_loop()

        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport: Any = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                self.transport.sendto(b"SIP/2.0 200 OK" + data[data.find(b"\r\n") :], addr)

        transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        sock = transport.get_extra_info("socket")
        for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            sock.setsockopt(socket.SOL_SOCKET, option, 4 * MiB)  # as the simulator's and the platform's
        pipe.send(transport.get_extra_info("sockname")[1])
        await loop.run_in_executor(None, pipe.recv)
        transport.close()

    run_loop(main())


def simulator(pipe: Connection, options: dict[str, Any]) -> None:
    """The devices: answers each ``"stats"`` with the counters; ``"stop"`` ends it (without unregistering)."""
    import asyncio

    from xueliang.sim.config import SimConfig
    from xueliang.sim.devices import DeviceSimulator

    async def main() -> None:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        devices = DeviceSimulator(SimConfig(**options))
        await devices.start()
        pipe.send(time.perf_counter() - started)
        while (await loop.run_in_executor(None, pipe.recv)) != "stop":
            pipe.send(devices.stats.as_dict())
        pipe.send(devices.stats.as_dict())
        await devices.stop(unregister=False)

    run_loop(main())


class Devices:
    """The simulator process, seen from here."""

    def __init__(self, server: tuple[str, int], args: argparse.Namespace) -> None:
        hosts = ",".join(f"127.0.0.{n}" for n in range(1, args.hosts + 1))
        options = {
            "server_host": server[0],
            "server_port": server[1],
            "server_id": PLATFORM_ID,
            "password": PASSWORD,
            "count": args.count,
            "keepalive_interval": args.keepalive,
            "register_rate": args.register_rate,
            "local_host": hosts,
            "sockets": args.sockets,
        }
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process: SpawnProcess = context.Process(target=simulator, args=(child, options), daemon=True)
        self.process.start()
        self.setup_seconds: float = self.pipe.recv()
        self.started = time.perf_counter()

    def stats(self) -> dict[str, int]:
        self.pipe.send("stats")
        stats: dict[str, int] = self.pipe.recv()
        return stats

    def stop(self) -> dict[str, int]:
        self.pipe.send("stop")
        final: dict[str, int] = self.pipe.recv()
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.terminate()
        return final


# --- measuring ---------------------------------------------------------------------------------------------------
def cpu_of(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def children_of(process: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return list(process.children(recursive=True))
    return []


def children_cpu(process: psutil.Process) -> float:
    """CPU seconds of the live descendants (job workers, forkserver): a worker that exits takes its share."""
    total = 0.0
    for child in children_of(process):
        with contextlib.suppress(psutil.Error):
            total += cpu_of(child)
    return total


def children_rss(process: psutil.Process) -> int:
    total = 0
    for child in children_of(process):
        with contextlib.suppress(psutil.Error):
            total += child.memory_info().rss
    return total


@dataclass
class Window:
    seconds: float
    cpu: float  # the server process, seconds
    workers_cpu: float  # its descendants, seconds
    rss_max: int
    rss_end: int
    workers_rss: int
    answered: int  # keepalives answered
    timeouts: int
    retransmissions: int
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.seconds

    @property
    def workers_share(self) -> float:
        return self.workers_cpu / self.seconds


def observe(server: psutil.Process, devices: Devices, seconds: float, probe: Any = None) -> Window:
    """CPU and RSS of ``server`` over ``seconds`` (RSS sampled every second), and the keepalives answered."""
    before = devices.stats()
    extra0 = probe() if probe else {}
    cpu0, workers0 = cpu_of(server), children_cpu(server)
    started = time.perf_counter()
    rss_max = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        rss_max = max(rss_max, server.memory_info().rss)
        time.sleep(min(1.0, seconds - elapsed))
    wall = time.perf_counter() - started
    cpu, workers = cpu_of(server) - cpu0, children_cpu(server) - workers0
    rss_end = server.memory_info().rss
    after = devices.stats()
    extra = {}
    if probe:
        extra = {key: (value - extra0[key]) / wall for key, value in probe().items()}
    return Window(
        seconds=wall,
        cpu=cpu,
        workers_cpu=workers,
        rss_max=max(rss_max, rss_end),
        rss_end=rss_end,
        workers_rss=children_rss(server),
        answered=after["keepalives_answered"] - before["keepalives_answered"],
        timeouts=after["keepalive_timeouts"] - before["keepalive_timeouts"],
        retransmissions=after["retransmissions"] - before["retransmissions"],
        extra=extra,
    )


def wait_registered(devices: Devices, server: psutil.Process, count: int, timeout: float) -> float:
    """Seconds from the simulator's start until ``count`` devices are registered; progress every 10 s."""
    last_print = last_cpu_at = time.perf_counter()
    last_cpu = cpu_of(server)
    while True:
        stats = devices.stats()
        now = time.perf_counter()
        if stats["registered"] >= count:
            return now - devices.started
        if now - devices.started > timeout:
            raise TimeoutError(f"{stats['registered']:,} of {count:,} registered after {timeout:.0f} s: {stats}")
        if now - last_print >= 10:
            cpu = cpu_of(server)
            print(
                f"    {now - devices.started:5.0f} s: {stats['registered']:,} registered, "
                f"{stats['registrations_sent']:,} REGISTERs sent, {stats['registration_timeouts']:,} timed out, "
                f"{stats['retransmissions']:,} retransmissions; server CPU {(cpu - last_cpu) / (now - last_cpu_at):.0%}"
            )
            last_print, last_cpu, last_cpu_at = now, cpu, now
        time.sleep(0.5)


def report(label: str, window: Window, rss_before: int, count: int, keepalive: float) -> None:
    print(
        f"  {label}: CPU {window.cpu_share:.1%} of one core over {window.seconds:.0f} s, "
        f"RSS {window.rss_end / MiB:,.0f} MiB (highest {window.rss_max / MiB:,.0f}, before the devices "
        f"{rss_before / MiB:,.0f}: {(window.rss_end - rss_before) / count:,.0f} bytes per device)"
    )
    print(
        f"    keepalives answered {window.answered / window.seconds:,.0f}/s (expected {count / keepalive:,.0f}/s), "
        f"lost {window.timeouts:,}, retransmitted {window.retransmissions:,}"
    )


# --- the baseline ------------------------------------------------------------------------------------------------
def run_echo(args: argparse.Namespace) -> tuple[Window, int]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=answering_echo, args=(child,), daemon=True)
    process.start()
    try:
        port = parent.recv()
        server = psutil.Process(process.pid)
        rss_before = server.memory_info().rss
        devices = Devices(("127.0.0.1", port), args)
        print(f"  simulator ready in {devices.setup_seconds:.1f} s (devices built, sockets open)")
        took = wait_registered(devices, server, args.count, args.count / args.register_rate * 5 + 120)
        print(f"  {args.count:,} devices registered in {took:.1f} s")
        time.sleep(args.settle)
        window = observe(server, devices, args.window)
        report("echo", window, rss_before, args.count, args.keepalive)
        devices.stop()
        parent.send("done")
    finally:
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()
    return window, rss_before


# --- xueliang serve ----------------------------------------------------------------------------------------------
def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port


def get_json(url: str, timeout: float = 60.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read())


def online_via_api(http: str) -> tuple[int, float]:
    """Devices listed by GET /api/v1/devices?online=true, every page; and the seconds it took."""
    started = time.perf_counter()
    count, cursor = 0, None
    while True:
        url = f"{http}/api/v1/devices?online=true&limit=500"
        if cursor:
            url += f"&cursor={cursor}"
        page = get_json(url)
        count += len(page["items"])
        cursor = page.get("next")
        if not cursor:
            return count, time.perf_counter() - started


class Database:
    """Read-only counts straight from the serve process's SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def count(self, where: str) -> int:
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return int(connection.execute(f"SELECT count(*) FROM device WHERE {where}").fetchone()[0])
        except sqlite3.OperationalError:  # not migrated yet
            return 0
        finally:
            connection.close()

    def online(self) -> int:
        return self.count("online")

    def synced(self) -> int:
        return self.count("catalog_status != 'none'")


def start_serve(folder: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], str, int, Path]:
    sip_port, http_port = free_port(), free_port()
    environment = dict(os.environ, XUELIANG_LOG_LEVEL="WARNING")
    if not args.sync:
        environment["XUELIANG_SIP_CATALOG_RATE"] = "0.001"
    if args.flood_rate:
        environment["XUELIANG_SIP_FLOOD_RATE"] = str(args.flood_rate)
    command = [
        sys.executable, "-c", "from xueliang.cli import main; main()", "serve",
        "--data-dir", str(folder),
        "--http-host", "127.0.0.1", "--http-port", str(http_port),
        "--sip-host", "127.0.0.1", "--sip-port", str(sip_port),
        "--sip-id", PLATFORM_ID, "--sip-password", PASSWORD, "--accept-unknown-devices",
    ]  # fmt: skip
    log_path = folder / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    http = f"http://127.0.0.1:{http_port}"
    deadline = time.perf_counter() + 120
    while True:
        try:
            get_json(f"{http}/api/v1/health", timeout=2)
            return process, http, sip_port, log_path
        except OSError:
            if process.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"xueliang serve did not start:\n{log_path.read_text()[-3000:]}") from None
            time.sleep(0.2)


def stop_serve(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_xueliang(args: argparse.Namespace) -> tuple[Window, int]:
    with tempfile.TemporaryDirectory(prefix="xueliang-bench-") as work:
        folder = Path(work)
        process, http, sip_port, log_path = start_serve(folder, args)
        database = Database(folder / "xueliang.db")
        try:
            server = psutil.Process(process.pid)
            time.sleep(1)
            rss_before = server.memory_info().rss
            print(
                f"  serve: pid {process.pid}, SIP 127.0.0.1:{sip_port}, RSS {rss_before / MiB:.0f} MiB before devices"
            )
            cpu0 = cpu_of(server)
            devices = Devices(("127.0.0.1", sip_port), args)
            print(f"  simulator ready in {devices.setup_seconds:.1f} s (devices built, sockets open)")
            took = wait_registered(devices, server, args.count, args.count / args.register_rate * 5 + 300)
            cpu = cpu_of(server) - cpu0
            print(
                f"  {args.count:,} devices registered in {took:.1f} s ({args.count / took:,.0f}/s; serve CPU "
                f"{cpu:.0f} s, {cpu / args.count * 1e6:,.0f} µs per registration), "
                f"RSS {server.memory_info().rss / MiB:,.0f} MiB"
            )
            last_print = time.perf_counter()
            while (online := database.online()) < args.count:
                now = time.perf_counter()
                if now - devices.started > took + max(120.0, args.count / 100):
                    break
                if now - last_print >= 10:
                    print(f"    {now - devices.started:5.0f} s: the database holds {online:,} online")
                    last_print = now
                time.sleep(0.5)
            print(f"  database: {online:,} online {time.perf_counter() - devices.started:.1f} s after the start")
            time.sleep(args.settle)
            synced0 = database.synced()

            def probe() -> dict[str, float]:
                return {"synced": database.synced()}

            window = observe(server, devices, args.window, probe)
            report("xueliang serve", window, rss_before, args.count, args.keepalive)
            print(
                f"    job worker processes: CPU {window.workers_share:.1%} of one core, RSS "
                f"{window.workers_rss / MiB:,.0f} MiB; catalogs synced {window.extra['synced']:.1f}/s "
                f"({synced0:,} before the window, {database.synced():,} now)"
            )
            listed, seconds = online_via_api(http)
            print(
                f"  GET /api/v1/devices?online=true: {listed:,} online of {args.count:,} "
                f"({listed // 500 + 1} pages in {seconds:.1f} s)"
            )
            final = devices.stop()
            print(f"  simulator at the end: {final}")
        finally:
            stop_serve(process)
        text = log_path.read_text(errors="replace")
        flood = text.count("SIP flood from")
        errors = sum(1 for line in text.splitlines() if " ERROR " in line or "Traceback" in line)
        print(f"  serve log: {flood} flood warnings, {errors} error lines ({len(text.splitlines())} lines)")
        if errors:
            print("\n".join(line for line in text.splitlines() if " ERROR " in line)[:2000])
    return window, rss_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200_000, help="simulated IPCs")
    parser.add_argument("--window", type=float, default=60.0, help="steady measurement window, s")
    parser.add_argument("--settle", type=float, default=5.0, help="wait after registration before the window, s")
    parser.add_argument("--keepalive", type=float, default=60.0, help="keepalive interval, s")
    parser.add_argument("--register-rate", type=float, default=1000.0, help="REGISTERs started per second, at most")
    parser.add_argument("--sockets", type=int, default=100, help="local UDP sockets of the simulator")
    parser.add_argument("--hosts", type=int, default=10, help="loopback addresses the sockets are spread over")
    parser.add_argument("--sync", action=argparse.BooleanOptionalAction, default=True, help="catalog sync (on)")
    parser.add_argument("--flood-rate", type=float, help="XUELIANG_SIP_FLOOD_RATE for the run (default: unset)")
    parser.add_argument("--skip-baseline", action="store_true", help="measure xueliang only")
    args = parser.parse_args()
    per_source = (args.count / args.keepalive + 2 * args.register_rate) / args.sockets
    print(
        f"online benchmark: {args.count:,} IPCs, keepalive every {args.keepalive:g} s "
        f"({args.count / args.keepalive:,.0f}/s), {args.sockets} sockets on {args.hosts} loopback addresses "
        f"(about {per_source:,.0f} messages/s per source at the registration peak), catalog sync "
        f"{'on' if args.sync else 'off'}; python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    started = time.perf_counter()
    echo: tuple[Window, int] | None = None
    if not args.skip_baseline:
        print("baseline: bare uvloop UDP echo answering 200")
        echo = run_echo(args)
    print(f"xueliang serve (SQLite, catalog sync {'on' if args.sync else 'off'})")
    ours, _ = run_xueliang(args)
    if echo is not None:
        base = echo[0]
        print(
            f"ratio xueliang / echo: CPU {ours.cpu / max(base.cpu, 1e-9):.1f}x "
            f"({ours.cpu_share:.1%} vs {base.cpu_share:.1%} of one core; with the job workers "
            f"{(ours.cpu + ours.workers_cpu) / max(base.cpu, 1e-9):.1f}x), "
            f"RSS {ours.rss_end / base.rss_end:.1f}x ({ours.rss_end / MiB:,.0f} vs {base.rss_end / MiB:,.0f} MiB)"
        )
    print(f"benchmark run time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
