"""The minimal platform peer (:mod:`xueliang.sim.platform_peer`) on real sockets: one UDP endpoint and one TCP
listener on the same port, for integration tests and benchmarks of the device simulator."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import cast

from xueliang.protocol.sip import Message, RemoteProtocolError, Request, Response, Signal, StreamReader, parse_datagram
from xueliang.sim.devices import enlarge_udp_buffers
from xueliang.sim.platform_peer import Address, PlatformPeer

__all__ = ["PeerServer"]


class PeerServer:
    """Serves a :class:`PlatformPeer` over UDP and TCP on ``host:port`` (0: a free port, the same for both)."""

    def __init__(self, peer: PlatformPeer) -> None:
        self.peer = peer
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._changed = asyncio.Event()

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, tcp: bool = True) -> Address:
        loop = asyncio.get_running_loop()
        for _ in range(20):  # a free UDP port whose TCP twin is free too
            udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=(host, port))
            bound = udp.get_extra_info("sockname")[1]
            try:
                if tcp:
                    self._tcp = await loop.create_server(lambda: _Tcp(self), host, bound)
            except OSError:
                udp.close()
                if port:
                    raise
                continue
            enlarge_udp_buffers(udp)
            self._udp = udp
            self.peer.host, self.peer.port = host, bound
            return host, bound
        raise OSError("no port free for both UDP and TCP")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 1)

    # ---------------------------------------------------------------------------------------- sending

    def send(self, device_id: str, message: Message) -> None:
        """Send to a registered device: over the connection it registered on, or to its UDP source."""
        known = self.peer.registered[device_id]
        self._send(bytes(message), known.source, known.link)

    async def ask(self, device_id: str, request: Request, timeout: float = 5.0) -> Response:
        """Send ``request`` to a device and wait for its final answer."""
        branch = request.via.branch or ""
        self.send(device_id, request)
        await self.wait_for(lambda: branch in self.peer.responses, timeout)
        return self.peer.responses[branch]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Until ``predicate()`` holds, checked after each message received (TimeoutError)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def _send(self, data: bytes, address: Address | None, link: object) -> None:
        if hasattr(link, "write"):  # a TCP link (uvloop's transports do not subclass asyncio.Transport)
            tcp = cast(asyncio.Transport, link)
            if not tcp.is_closing():
                tcp.write(data)
        elif self._udp is not None and address is not None:
            self._udp.sendto(data, address)

    def _handle(self, message: Message, source: Address | None, link: object) -> None:
        try:
            out = self.peer.handle(message, source, link, time.time())
        except RemoteProtocolError:
            return
        for reply in out:
            if isinstance(reply, Response):
                self._send(bytes(reply), source, link)
            else:
                device = reply.to.uri.user or ""
                if device in self.peer.registered:
                    self.send(device, reply)
        self._changed.set()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: PeerServer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        try:
            message = parse_datagram(data)
        except RemoteProtocolError:
            return
        if message is not None:
            self.server._handle(message, (str(addr[0]), addr[1]), None)


class _Tcp(asyncio.Protocol):
    def __init__(self, server: PeerServer) -> None:
        self.server = server
        self.reader = StreamReader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a cast, not an isinstance check: uvloop's TCP transports do not subclass asyncio.Transport
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.receive_data(data)
        while True:
            try:
                message = self.reader.next_message()
            except RemoteProtocolError:
                if self.reader.failed and self.transport is not None:
                    self.transport.close()
                    return
                continue
            if isinstance(message, Signal):
                return
            self.server._handle(message, None, self.transport)
