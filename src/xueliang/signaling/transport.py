"""The SIP sockets: one UDP endpoint and one TCP listener on the same port.

This module moves bytes only. Datagrams go up whole (the endpoint parses them); TCP streams are framed with the
sans-IO :class:`~xueliang.protocol.sip.StreamReader` and go up as messages. Sending goes to a :class:`Peer`:
over UDP to its address, over TCP on the connection it is on (the one a device registered on, for NAT). A TCP
stream whose framing is lost (garbage, oversized head) is answered nothing and closed; other connections and
the UDP socket never notice.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from xueliang.protocol.sip import CLOSED, NEED_DATA, Limits, Message, RemoteProtocolError, StreamReader

log = logging.getLogger(__name__)

UDP = "udp"
TCP = "tcp"


@dataclass(frozen=True, slots=True)
class Peer:
    """Where a message came from and where answers go: transport, source address (never the Contact)."""

    transport: str  # "udp" | "tcp"
    host: str
    port: int

    @property
    def reliable(self) -> bool:
        return self.transport == TCP

    def __str__(self) -> str:
        return f"{self.transport}:{self.host}:{self.port}"


DatagramSink = Callable[[bytes, Peer], None]
MessageSink = Callable[[Message, Peer], None]
ErrorSink = Callable[[RemoteProtocolError, Peer], None]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, sink: DatagramSink) -> None:
        self.sink = sink

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.sink(data, Peer(UDP, str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:  # ICMP unreachable and the like: nothing to do per peer
        log.debug("udp error: %s", exc)


class _TcpConnection(asyncio.Protocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner
        self.reader = StreamReader(owner.limits)
        self.transport: asyncio.Transport | None = None
        self.peer: Peer | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a cast, not an isinstance check: uvloop's TCP transports do not subclass asyncio.Transport
        self.transport = cast(asyncio.Transport, transport)
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = Peer(TCP, str(host), int(port))
        self.owner.connections[self.peer] = self

    def data_received(self, data: bytes) -> None:
        self._feed(data)

    def eof_received(self) -> bool | None:
        self._feed(b"")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.owner.connections.get(self.peer) is self:
            del self.owner.connections[self.peer]

    def _feed(self, data: bytes) -> None:
        assert self.peer is not None and self.transport is not None
        reader = self.reader
        try:
            reader.receive_data(data)
            while True:
                item = reader.next_message()
                if item is NEED_DATA or item is CLOSED:
                    break
                assert isinstance(item, Message)
                self.owner.on_message(item, self.peer)
            if reader.take_pings():
                self.transport.write(b"\r\n")  # RFC 5626 pong
        except RemoteProtocolError as exc:
            self.owner.on_error(exc, self.peer)
            if reader.failed:
                self.transport.close()


class SipTransport:
    """UDP and TCP on one address. ``on_datagram`` gets raw datagrams, ``on_message`` framed TCP messages,
    ``on_error`` what could not be framed."""

    def __init__(self, on_datagram: DatagramSink, on_message: MessageSink, on_error: ErrorSink, limits: Limits) -> None:
        self.on_datagram = on_datagram
        self.on_message = on_message
        self.on_error = on_error
        self.limits = limits
        self.connections: dict[Peer, _TcpConnection] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self.address: tuple[str, int] = ("", 0)

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Bind UDP and TCP on ``host:port`` (port 0: the same free port for both); returns the bound address."""
        loop = asyncio.get_running_loop()
        for _attempt in range(20):
            udp_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
            udp_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
            udp_socket.bind((host, port))
            bound = udp_socket.getsockname()[1]
            try:
                server = await loop.create_server(
                    lambda: _TcpConnection(self), host, bound, reuse_address=True, backlog=4096
                )
            except OSError:
                udp_socket.close()
                if port:
                    raise
                continue  # the free UDP port is taken for TCP: try another
            break
        else:  # pragma: no cover - twenty collisions in a row
            raise OSError("no port free for both UDP and TCP")
        self._server = server
        transport, _protocol = await loop.create_datagram_endpoint(lambda: _Udp(self.on_datagram), sock=udp_socket)
        self._udp = transport
        self.address = (host, bound)
        return self.address

    def send(self, peer: Peer, data: bytes) -> bool:
        """Send ``data`` to ``peer``; False when its TCP connection is gone (nothing was sent)."""
        if peer.transport == UDP:
            if self._udp is None:
                return False
            self._udp.sendto(data, (peer.host, peer.port))
            return True
        connection = self.connections.get(peer)
        if connection is None or connection.transport is None or connection.transport.is_closing():
            return False
        connection.transport.write(data)
        return True

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._server is not None:
            self._server.close()
            for connection in list(self.connections.values()):
                if connection.transport is not None:
                    connection.transport.close()
            await self._server.wait_closed()
            self._server = None


def local_address_towards(host: str, port: int) -> str:
    """The local address the kernel would send from to reach ``host`` (no packet is sent)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((host, port or 5060))
        return str(probe.getsockname()[0])
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()
