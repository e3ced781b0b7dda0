"""Benchmark: keepalives handled per second on one core by the real signaling service, against a bare UDP echo.

Two server processes are measured in turn, each on uvloop when installed:

1. baseline: a bare asyncio UDP echo (``datagram_received`` -> ``sendto``), the least any UDP server does;
2. xueliang: :class:`~xueliang.signaling.service.SignalingService` with the real device store (SQLite in a
   temporary directory), after ``--devices`` devices registered with digest.

A load process sends keepalive MESSAGEs (each with its own branch, as devices send them) with a window of
outstanding requests and counts the answers. Each server reports the CPU seconds it spent between the first
and the last keepalive, so the figure is keepalives per CPU-second of the server (what one core holds), and
does not depend on how fast the load process can send on a 2-core machine. Printed, never asserted.

    python bench/bench_keepalive.py [--messages 200000] [--devices 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import socket
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

PLATFORM_ID = "34150000002000000001"
DOMAIN = "3415000000"
PASSWORD = "bench-password-1"


def run_loop(coro: object) -> None:
    try:
        import uvloop

        uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        asyncio.run(coro)  # type: ignore[arg-type]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- servers -------------------------------------------------------------------------------------------------
def echo_server(pipe: Connection, expected: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        state = {"count": 0, "cpu0": 0.0}

        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                self.transport.sendto(data, addr)  # type: ignore[attr-defined]
                state["count"] += 1
                if state["count"] == 1:
                    state["cpu0"] = cpu_seconds()

        transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("127.0.0.1", 0))
        pipe.send(transport.get_extra_info("sockname")[1])
        await loop.run_in_executor(None, pipe.recv)  # the load is done
        pipe.send((int(state["count"]), cpu_seconds() - state["cpu0"], {}))
        transport.close()

    run_loop(main())


def xueliang_server(pipe: Connection, expected: int) -> None:
    from xueliang.signaling.service import SignalingConfig, SignalingService
    from xueliang.store.crypto import FernetCipher, load_or_create_key
    from xueliang.store.db import create_db_engine, make_session_factory, migrate
    from xueliang.store.devices import DeviceStore

    class NoSink:
        async def merge(self, *_args: object) -> object:
            return None

        async def apply_events(self, *_args: object) -> object:
            return None

    async def main() -> None:
        folder = tempfile.mkdtemp(prefix="xueliang-bench-")
        engine = create_db_engine(f"sqlite:///{folder}/bench.db")
        migrate(engine)
        store = DeviceStore(make_session_factory(engine), FernetCipher(load_or_create_key(Path(folder))))
        config = SignalingConfig(
            local_id=PLATFORM_ID,
            domain=DOMAIN,
            host="127.0.0.1",
            port=0,
            password=PASSWORD,
            accept_unknown=True,
            flood_rate=1e9,
            sync_on_register=False,  # keepalives only: no catalog queries during the benchmark
            nonce_secret=b"b" * 32,
        )
        service = SignalingService(config, store, NoSink())
        await service.start()
        pipe.send(service.address[1])
        loop = asyncio.get_running_loop()
        while service.metrics["keepalives"] == 0:
            await asyncio.sleep(0.001)
        cpu0 = cpu_seconds()
        await loop.run_in_executor(None, pipe.recv)  # the load is done
        pipe.send((service.metrics["keepalives"], cpu_seconds() - cpu0, dict(service.metrics)))
        await service.stop()

    run_loop(main())


# --- load ----------------------------------------------------------------------------------------------------
def register_devices(sock: socket.socket, server: tuple[str, int], count: int) -> list[str]:
    from xueliang.protocol.sip import Response, answer_challenge, challenges_in, parse_message

    local_host, local_port = sock.getsockname()
    ids = [f"3415020000132{serial:07d}" for serial in range(1, count + 1)]

    def register(device_id: str, cseq: int, authorization: str | None) -> bytes:
        lines = [
            f"REGISTER sip:{PLATFORM_ID}@{DOMAIN} SIP/2.0",
            f"Via: SIP/2.0/UDP {local_host}:{local_port};rport;branch=z9hG4bKr{device_id}{cseq}",
            f"From: <sip:{device_id}@{DOMAIN}>;tag=t{device_id}",
            f"To: <sip:{device_id}@{DOMAIN}>",
            f"Call-ID: reg{device_id}@{local_host}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{device_id}@{local_host}:{local_port}>",
            "Max-Forwards: 70",
            "Expires: 3600",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()

    sock.settimeout(5.0)
    for device_id in ids:
        sock.sendto(register(device_id, 1, None), server)
        challenge_response = parse_message(sock.recv(65536))
        assert isinstance(challenge_response, Response) and challenge_response.status_code == 401, challenge_response
        credentials = answer_challenge(
            challenges_in(challenge_response)[0],
            username=device_id,
            password=PASSWORD,
            method="REGISTER",
            uri=f"sip:{PLATFORM_ID}@{DOMAIN}",
        )
        sock.sendto(register(device_id, 2, str(credentials)), server)
        final = parse_message(sock.recv(65536))
        assert isinstance(final, Response) and final.status_code == 200, final
    return ids


def keepalives(ids: list[str], local: tuple[str, int], messages: int) -> list[bytes]:
    host, port = local
    out = []
    for index in range(messages):
        device_id = ids[index % len(ids)]
        body = (
            '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n'
            f"<SN>{index}</SN>\r\n<DeviceID>{device_id}</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
        ).encode()
        head = (
            f"MESSAGE sip:{PLATFORM_ID}@{DOMAIN} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{port};rport;branch=z9hG4bK{index:x}k\r\n"
            f"From: <sip:{device_id}@{DOMAIN}>;tag=k{device_id}\r\n"
            f"To: <sip:{PLATFORM_ID}@{DOMAIN}>\r\n"
            f"Call-ID: ka{index}@{host}\r\n"
            f"CSeq: {index + 1} MESSAGE\r\n"
            "Content-Type: Application/MANSCDP+xml\r\nMax-Forwards: 70\r\nUser-Agent: bench\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


def blast(sock: socket.socket, server: tuple[str, int], datagrams: list[bytes], window: int) -> tuple[float, int]:
    """Send every datagram keeping ``window`` outstanding; wall seconds and answers (a lost datagram frees its
    slot after 50 ms of silence)."""
    sock.setblocking(False)
    sent = received = 0
    total = len(datagrams)
    start = time.perf_counter()
    lost = 0
    quiet_since = start
    while received + lost < total:
        while sent < total and sent - received - lost < window:
            try:
                sock.sendto(datagrams[sent], server)
            except BlockingIOError:
                break
            sent += 1
        try:
            while True:
                sock.recv(65536)
                received += 1
                quiet_since = time.perf_counter()
        except BlockingIOError:
            if time.perf_counter() - quiet_since > 0.05:  # whatever is outstanding is lost
                lost = sent - received
                quiet_since = time.perf_counter()
    return time.perf_counter() - start, received


def measure(label: str, target: object, messages: int, devices: int, window: int) -> float:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=target, args=(child, messages), daemon=True)
    process.start()
    port = parent.recv()
    server = ("127.0.0.1", port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    if target is xueliang_server:
        ids = register_devices(sock, server, devices)
    else:
        ids = [f"3415020000132{serial:07d}" for serial in range(1, devices + 1)]
    datagrams = keepalives(ids, sock.getsockname(), messages)
    wall, answered = blast(sock, server, datagrams, window)
    parent.send("done")
    handled, cpu, extra = parent.recv()
    process.join(timeout=30)
    rate = handled / cpu if cpu > 0 else float("inf")
    print(
        f"{label:<28} {rate:>9,.0f} keepalives per CPU-second  "
        f"({handled:,} handled, {answered:,} answered, wall {answered / wall:,.0f}/s, cpu {cpu:.2f} s)"
    )
    dropped = {k: v for k, v in extra.items() if k.startswith("dropped") and v}
    if dropped:
        print(f"{'':<28} dropped: {dropped}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--window", type=int, default=200)
    args = parser.parse_args()
    loop_name = "uvloop" if _has_uvloop() else "asyncio"
    print(f"keepalive benchmark: {args.messages:,} keepalives from {args.devices:,} devices, {loop_name}, "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")  # fmt: skip
    baseline = measure("baseline: bare UDP echo", echo_server, args.messages, args.devices, args.window)
    ours = measure("xueliang SignalingService", xueliang_server, args.messages, args.devices, args.window)
    print(f"ratio xueliang / bare echo: {ours / baseline:.2f} (goal: at least 20,000 keepalives per CPU-second)")


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
