"""Benchmark of the device simulator: N simulated IPCs keeping alive against a minimal UDP responder.

The responder (:class:`xueliang.sim.platform_peer.PlatformPeer` without a digest challenge: REGISTER 200,
MESSAGE 200, written with the protocol layer, no platform) runs in a child process, so the figures below are the
simulator's own. Measured in this process, over a window after every device registered:

1. the simulator: keepalives sent and answered per second, CPU % of one core, RSS;
2. the baseline, in the same run: a bare asyncio UDP loop sending the same number of precomputed keepalive
   datagrams over the same time to the same responder and counting the answers (no parsing, no state). The
   ratio is the simulator's CPU time over the baseline's.

Figures are printed, never asserted.

    python bench/bench_sim.py [--devices 100000] [--interval 20] [--window 40] [--register-rate 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import time
from multiprocessing.connection import Connection

from xueliang.sim.config import SimConfig
from xueliang.sim.devices import DeviceSimulator
from xueliang.sim.peer_server import PeerServer
from xueliang.sim.platform_peer import PlatformPeer

SERVER_ID = "34150000002000000001"


def responder(ready: Connection) -> None:
    """Child process: serve a PlatformPeer over UDP until killed."""

    async def serve() -> None:
        peer = PlatformPeer(SERVER_ID, password=None, keep_messages=False)
        server = PeerServer(peer)
        address = await server.start(tcp=False)
        ready.send(address)
        await asyncio.Event().wait()

    asyncio.run(serve())


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


async def measure_simulator(address: tuple[str, int], args: argparse.Namespace) -> tuple[int, int, float, float]:
    config = SimConfig(
        server_host=address[0],
        server_port=address[1],
        server_id=SERVER_ID,
        password="x",
        count=args.devices,
        keepalive_interval=args.interval,
        register_rate=args.register_rate,
        sockets=args.sockets,
    )
    sim = DeviceSimulator(config)
    print(f"RSS before the devices exist: {rss_mib():.0f} MiB")
    started = time.perf_counter()
    await sim.start()
    await sim.wait_registered(timeout=args.devices / args.register_rate * 3 + 30)
    print(f"{args.devices:,} devices registered in {time.perf_counter() - started:.1f} s, RSS {rss_mib():.0f} MiB")
    await asyncio.sleep(min(args.interval, 5))  # let the first keepalives settle
    stats = sim.stats
    sent0, answered0 = stats.keepalives_sent, stats.keepalives_answered
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.sleep(args.window)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stats = sim.stats
    sent, answered = stats.keepalives_sent - sent0, stats.keepalives_answered - answered0
    rss = rss_mib()
    print(
        f"simulator: {sent / wall:,.0f} keepalives/s sent, {answered / wall:,.0f}/s answered, "
        f"CPU {cpu / wall:.0%} of one core ({cpu / max(sent, 1) * 1e6:.1f} µs per keepalive), RSS {rss:.0f} MiB, "
        f"retransmissions {stats.retransmissions}, timeouts {stats.keepalive_timeouts}, errors {stats.errors}"
    )
    await sim.stop(unregister=False)
    return sent, answered, cpu, wall


class _Counter(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received = 0

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.received += 1


async def measure_baseline(address: tuple[str, int], count: int, seconds: float) -> tuple[int, float, float]:
    """Send ``count`` keepalive datagrams spread over ``seconds`` from one socket, counting answers."""
    loop = asyncio.get_running_loop()
    counter = _Counter()
    transport, _ = await loop.create_datagram_endpoint(lambda: counter, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    body = (
        b'<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>1</SN>\r\n'
        b"<DeviceID>34150200001320000001</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
    )
    datagram = (
        f"MESSAGE sip:{SERVER_ID}@3415000000 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{port};rport;branch=z9hG4bK0001\r\n"
        "From: <sip:34150200001320000001@3415000000>;tag=1\r\nTo: <sip:34150000002000000001@3415000000>\r\n"
        "Call-ID: 1@127.0.0.1\r\nCSeq: 1 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\n"
        f"Max-Forwards: 70\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    ticks = max(1, int(seconds * 100))
    per_tick, sent = count / ticks, 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for tick in range(1, ticks + 1):
        target = int(per_tick * tick)
        while sent < target:
            transport.sendto(datagram, address)
            sent += 1
        await asyncio.sleep(max(0.0, wall0 + tick / 100 - time.perf_counter()))
    await asyncio.sleep(0.5)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    transport.close()
    print(
        f"baseline:  {sent / wall:,.0f} datagrams/s sent, {counter.received / wall:,.0f}/s answered, "
        f"CPU {cpu / wall:.0%} of one core ({cpu / max(sent, 1) * 1e6:.1f} µs per datagram)"
    )
    return sent, cpu, wall


async def run(address: tuple[str, int], args: argparse.Namespace) -> None:
    sent, _, cpu, wall = await measure_simulator(address, args)
    _, base_cpu, _ = await measure_baseline(address, sent, wall)
    print(f"ratio: the simulator uses {cpu / max(base_cpu, 1e-9):.1f}x the CPU of the bare send loop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--interval", type=float, default=20.0, help="keepalive interval, s")
    parser.add_argument("--window", type=float, default=40.0, help="measurement window, s")
    parser.add_argument("--register-rate", type=float, default=5_000.0, help="the responder is one Python process")
    parser.add_argument("--sockets", type=int, default=1)
    args = parser.parse_args()
    receiver, sender = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.Process(target=responder, args=(sender,), daemon=True)
    child.start()
    try:
        address = receiver.recv()
        print(
            f"{args.devices:,} IPCs, keepalive every {args.interval:g} s "
            f"(expected {args.devices / args.interval:,.0f}/s), responder in process {child.pid}"
        )
        asyncio.run(run(address, args))
    finally:
        child.terminate()
        child.join()


if __name__ == "__main__":
    main()
