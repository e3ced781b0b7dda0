"""The device simulator: N GB/T 28181 devices in one process, over UDP sockets or TCP connections.

:class:`DeviceSimulator` is the asyncio runner around the sans-IO :class:`~xueliang.sim.fleet.Fleet`: it owns the
sockets, one timer handle for the fleet's whole timer queue (never a task or timer per device), and the futures
tests and the CLI wait on. Typical use::

    config = SimConfig(server_host="127.0.0.1", server_port=5060, server_id="34150000002000000001", count=100)
    async with DeviceSimulator(config) as sim:
        await sim.wait_registered(timeout=30)
        sim.set_channel_online(sim.device_ids[0], sim.devices[sim.device_ids[0]].channel_ids()[0], False)

UDP: ``sockets`` local sockets (one by default: every device behind one NAT address); requests of the platform
are routed to devices by ID whichever socket they reach. TCP: ``sockets`` connections; a device's requests and
the platform's requests to it travel on the connection it registered on; a lost connection is reopened after
1 s (doubling up to 30 s) and its devices register again.

INVITE, ACK, BYE and CANCEL (and the answers to a device's BYE) skip the sans-IO fleet: their dialogs start
media senders, which is I/O, so :class:`~xueliang.sim.invite.SimInvites` handles them on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import socket
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TypeVar, cast

from xueliang.protocol.manscdp import CatalogItem
from xueliang.protocol.sip import Message, RemoteProtocolError, Request, Response, Signal, StreamReader, parse_datagram
from xueliang.sim.config import SimConfig, Transport
from xueliang.sim.context import Link, Stats
from xueliang.sim.device_core import Device
from xueliang.sim.effects import AlarmRecord
from xueliang.sim.fleet import Address, Fleet
from xueliang.sim.invite import SenderFactory, SimInvites, default_sender_factory

__all__ = ["DeviceSimulator", "enlarge_udp_buffers"]

log = logging.getLogger(__name__)
T = TypeVar("T")

POLL_BATCH = 2000  # timers run per loop turn at most, so sockets are read between batches
# The loop wakes for the fleet's timers on this grid, never per timer: 100,000 devices have 1,700 distinct
# keepalive deadlines a second, and a wake-up each (a TimerHandle and a select call) cost more than the
# keepalive itself (bench/bench_sim.py, 100,000 devices at 10,000 keepalives/s: 44 -> 27 µs of CPU per
# keepalive, sent and answered). Timers fire up to one tick late.
TICK = 0.01
SOCKET_BUFFER = 4 * 1024 * 1024
RECONNECT_FIRST, RECONNECT_MAX = 1.0, 30.0
_WILDCARDS = frozenset({"", "0.0.0.0"})  # noqa: S104 - recognising a wildcard, not binding to one
_DIALOG_STARTS = (b"INVITE ", b"ACK ", b"BYE ", b"CANCEL ")
_DIALOG_METHODS = frozenset({"INVITE", "ACK", "BYE", "CANCEL"})


class DeviceSimulator:
    """Simulated devices of ``config`` against one platform. ``local_time``: the devices' wall clock."""

    def __init__(
        self,
        config: SimConfig,
        *,
        local_time: Callable[[], dt.datetime] = dt.datetime.now,
        sender_factory: SenderFactory | None = None,
    ) -> None:
        """``sender_factory``: the media senders of answered INVITEs (default: the configured video)."""
        self.config = config
        self._local_time = local_time
        self._sender_factory = sender_factory
        self._fleet: Fleet | None = None
        self._invites: SimInvites | None = None
        self._udp: list[asyncio.DatagramTransport] = []
        self._tcp: list[asyncio.Transport | None] = []
        self._reconnects: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._server: Address = ("", 0)
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> DeviceSimulator:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop(unregister=error is None)

    # -------------------------------------------------------------------------------------------- views

    @property
    def fleet(self) -> Fleet:
        if self._fleet is None:
            raise RuntimeError("the simulator is not started")
        return self._fleet

    @property
    def invites(self) -> SimInvites:
        """The INVITE dialogs: ``calls`` by Call-ID, ``stats`` (invites, answered, refused, BYEs ...)."""
        if self._invites is None:
            raise RuntimeError("the simulator is not started")
        return self._invites

    @property
    def stats(self) -> Stats:
        """The counters, ``online`` recounted now."""
        self.fleet.refresh_online()
        return self.fleet.stats

    @property
    def devices(self) -> Mapping[str, Device]:
        """Every device by ID: registration, last Date, last PTZ per channel, charset, subscriptions, alarms."""
        return self.fleet.by_id

    @property
    def device_ids(self) -> list[str]:
        return [device.device_id for device in self.fleet.devices]

    @property
    def local_addresses(self) -> list[Address]:
        """The local address of each link (socket or connection)."""
        return [(link.host, link.port) for link in self.fleet.links]

    # -------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Open the sockets (or connections) and start registering every device; OSError when the platform
        cannot be reached over TCP (what was opened is closed again)."""
        try:
            await self._open()
        except BaseException:
            self._close()
            raise
        assert self._fleet is not None and self._loop is not None
        self._fleet.start(self._loop.time())
        self._arm()

    async def _open(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        config = self.config
        kind = socket.SOCK_STREAM if config.transport is Transport.TCP else socket.SOCK_DGRAM
        infos = await loop.getaddrinfo(config.server_host, config.server_port, family=socket.AF_INET, type=kind)
        host, port = infos[0][4][:2]
        self._server = (str(host), int(port))
        hosts = config.local_hosts
        links: list[Link] = []
        if config.transport is Transport.UDP:
            for index in range(config.sockets):
                host = hosts[index % len(hosts)]
                local_port = config.local_port + index if config.local_port else 0
                transport, _ = await loop.create_datagram_endpoint(
                    lambda index=index: _UdpLink(self, index),  # type: ignore[misc]
                    local_addr=(host, local_port),
                )
                enlarge_udp_buffers(transport)
                self._udp.append(transport)
                advertised = _advertised_host(host, self._server[0])
                links.append(Link(index, "UDP", advertised, transport.get_extra_info("sockname")[1]))
        else:
            for index in range(config.sockets):
                advertised = _advertised_host(hosts[index % len(hosts)], self._server[0])
                links.append(Link(index, "TCP", advertised, 0, up=False))
            self._tcp = [None] * config.sockets
        self._fleet = Fleet(
            config, links, self._transmit, server=self._server, local_time=self._local_time, on_change=self._changed
        )
        factory = self._sender_factory
        if factory is None and config.video is not None:
            factory = default_sender_factory(config)
        self._invites = SimInvites(self._fleet, self._transmit, factory if config.video is not None else None)
        self._fleet.on_keyframe_wanted = self._invites.request_keyframe
        for index in range(len(self._tcp)):
            await self._connect(index)

    async def stop(self, *, unregister: bool = True, timeout: float = 5.0) -> None:
        """Unregister the devices (REGISTER Expires 0, waiting at most ``timeout``), then close everything."""
        if self._fleet is None or self._stopping:
            return
        if unregister and self._fleet.unregister_all(self._now()):
            self._arm()
            with contextlib.suppress(TimeoutError):
                await self.wait_for(lambda: self.fleet.stats.registered == 0, timeout)
        if self._invites is not None:
            await self._invites.close()
        self._close()
        await asyncio.sleep(0)

    def _close(self) -> None:
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in self._reconnects:
            task.cancel()
        for udp in self._udp:
            udp.close()
        for tcp in self._tcp:
            if tcp is not None:
                tcp.close()
        for _, future in self._waiters:
            if not future.done():
                future.cancel()

    # ------------------------------------------------------------------------------------------ waiting

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Until ``predicate()`` holds, checked whenever a registration or an alarm changes (TimeoutError)."""
        if predicate():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float, *, interval: float = 0.01) -> None:
        """Until ``predicate()`` holds, checked every ``interval`` seconds (TimeoutError)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(interval)

    async def wait_registered(self, count: int | None = None, timeout: float = 30.0) -> None:
        """Until ``count`` devices (all by default) are registered; TimeoutError saying how many are."""
        wanted = self.config.count if count is None else count
        try:
            await self.wait_for(lambda: self.fleet.stats.registered >= wanted, timeout)
        except TimeoutError:
            raise TimeoutError(f"{self.fleet.stats.registered} of {wanted} devices registered in {timeout} s") from None

    # ---------------------------------------------------------------------------------------- commands

    async def send_alarm(
        self,
        device_id: str,
        channel_id: str | None = None,
        *,
        priority: int = 1,
        method: int = 2,
        alarm_type: str | None = None,
        description: str | None = None,
        timeout: float = 5.0,
    ) -> AlarmRecord:
        """Send an Alarm Notify from ``channel_id`` (the device itself when None) and wait for its SIP answer;
        the platform's Response, when it comes, lands in the record (``acknowledged``)."""
        record = self.fleet.send_alarm(
            device_id,
            self._now(),
            channel_id,
            priority=priority,
            method=method,
            alarm_type=alarm_type,
            description=description,
        )
        self._arm()
        await self.wait_for(lambda: record.status is not None, timeout)
        return record

    def set_channel_online(self, device_id: str, channel_id: str, online: bool) -> int:
        """Mark a channel ON/OFF (catalog answers follow); returns the NOTIFYs sent to subscribers."""
        return self._command(self.fleet.set_channel_online(device_id, channel_id, online, self._now()))

    def add_channel(self, device_id: str, item: CatalogItem | None = None) -> CatalogItem:
        """Add a channel (a generated one with a fresh ID when ``item`` is None); NOTIFY ADD."""
        return self._command(self.fleet.add_channel(device_id, self._now(), item))

    def remove_channel(self, device_id: str, channel_id: str) -> int:
        """Remove a channel; NOTIFY DEL."""
        return self._command(self.fleet.remove_channel(device_id, channel_id, self._now()))

    def update_channel(self, device_id: str, channel_id: str, **changes: object) -> int:
        """Change fields of a channel (``name=...``, ``address=...``); NOTIFY UPDATE."""
        return self._command(self.fleet.update_channel(device_id, channel_id, self._now(), **changes))

    def reboot(self, device_id: str) -> None:
        """Reboot a device as TeleBoot does: silent for ``reboot_delay``, then a new registration."""
        self.fleet.reboot(device_id, self._now())
        self._arm()

    def _command(self, result: T) -> T:
        self._arm()
        return result

    # ------------------------------------------------------------------------------------------ plumbing

    def _now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _changed(self) -> None:
        for predicate, future in list(self._waiters):
            if not future.done() and predicate():
                future.set_result(None)

    def _arm(self) -> None:
        """Keep one timer handle at the fleet's next deadline."""
        if self._stopping or self._fleet is None or self._loop is None:
            return
        deadline = self._fleet.next_deadline()
        if deadline is None:
            return
        deadline = math.ceil(deadline / TICK) * TICK
        if self._timer is not None and self._timer_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._tick)

    def _tick(self) -> None:
        self._timer = None
        try:
            more = self.fleet.poll(self._now(), POLL_BATCH)
        except Exception:  # a bug must cost a log line, not the simulator
            log.exception("simulator timer failed")
            self.fleet.stats.errors += 1
            more = False
        if more and self._loop is not None and not self._stopping:
            self._timer_at = self._loop.time()
            self._timer = self._loop.call_at(self._timer_at, self._tick)
        else:
            self._arm()

    def _transmit(self, link: int, data: bytes, address: Address | None) -> None:
        if self._udp:
            self._udp[link].sendto(data, address)
            return
        transport = self._tcp[link]
        if transport is None or transport.is_closing():
            self.fleet.stats.errors += 1
            return
        transport.write(data)

    def _received(self, link: int, data: bytes, source: Address) -> None:
        if data.startswith(_DIALOG_STARTS) or (data.startswith(b"SIP/2.0 ") and b" BYE\r\n" in data):
            try:
                message = parse_datagram(data)
            except RemoteProtocolError:
                self.fleet.stats.errors += 1
                return
            if message is not None:
                self.invites.receive(message, link, source)
            return
        try:
            self.fleet.receive_datagram(data, link, source, self._now())
        except Exception:
            log.exception("simulator failed on a datagram from %s", source)
            self.fleet.stats.errors += 1
        self._arm()

    def _framed(self, link: int, reader: StreamReader, transport: asyncio.Transport) -> None:
        while True:
            try:
                message = reader.next_message()
            except RemoteProtocolError as exc:
                self.fleet.stats.errors += 1
                if reader.failed:
                    log.info("closing TCP link %d: %s", link, exc.message)
                    transport.close()
                    break
                continue
            if isinstance(message, Signal):
                break
            if _in_dialog(message):
                self.invites.receive(message, link, None)
                continue
            try:
                self.fleet.receive_message(message, link, None, self._now())
            except Exception:
                log.exception("simulator failed on a message on TCP link %d", link)
                self.fleet.stats.errors += 1
        self._arm()

    async def _connect(self, index: int) -> None:
        assert self._loop is not None
        hosts = self.config.local_hosts
        transport, _ = await self._loop.create_connection(
            lambda: _TcpLink(self, index),
            self._server[0],
            self._server[1],
            local_addr=(hosts[index % len(hosts)], 0),
        )
        self._tcp[index] = transport
        port = transport.get_extra_info("sockname")[1]
        link = self.fleet.links[index]
        self.fleet.link_up(index, link.host, port, self._now())
        self._arm()

    def _lost(self, index: int) -> None:
        self._tcp[index] = None
        if self._stopping or self._fleet is None:
            return
        self._fleet.link_down(index, self._now())
        self._arm()
        task = asyncio.get_running_loop().create_task(self._reconnect(index))
        self._reconnects.add(task)
        task.add_done_callback(self._reconnects.discard)

    async def _reconnect(self, index: int) -> None:
        delay = RECONNECT_FIRST
        while not self._stopping:
            await asyncio.sleep(delay)
            try:
                await self._connect(index)
                return
            except OSError as exc:
                log.info("TCP link %d: reconnect failed: %s", index, exc)
                delay = min(2 * delay, RECONNECT_MAX)


class _UdpLink(asyncio.DatagramProtocol):
    def __init__(self, simulator: DeviceSimulator, index: int) -> None:
        self.simulator = simulator
        self.index = index

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.simulator._received(self.index, data, (str(addr[0]), addr[1]))

    def error_received(self, exc: Exception) -> None:
        if self.simulator._fleet is not None:
            self.simulator._fleet.stats.errors += 1


class _TcpLink(asyncio.Protocol):
    def __init__(self, simulator: DeviceSimulator, index: int) -> None:
        self.simulator = simulator
        self.index = index
        self.reader = StreamReader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a cast, not an isinstance check: uvloop's TCP transports do not subclass asyncio.Transport
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.reader.receive_data(data)
        self.simulator._framed(self.index, self.reader, self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.simulator._lost(self.index)


def _in_dialog(message: Message) -> bool:
    """INVITE dialog traffic: what :class:`SimInvites` handles."""
    if isinstance(message, Request):
        return message.method in _DIALOG_METHODS
    assert isinstance(message, Response)
    return message.cseq.method == "BYE"


def _advertised_host(local_host: str, server_host: str) -> str:
    """The address to put in Via and Contact: the bound one, or for a wildcard the one facing the server."""
    if local_host not in _WILDCARDS:
        return local_host
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((server_host, 9))
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


def enlarge_udp_buffers(transport: asyncio.DatagramTransport) -> None:
    """Socket buffers of 4 MiB (as far as net.core.rmem_max allows): bursts of thousands of datagrams."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
