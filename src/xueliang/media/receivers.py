"""The media node's RTP receivers: UDP (shared SSRC-keyed port or a dedicated one), TCP passive and TCP active.

Implements :class:`~xueliang.domain.streams.MediaReceivers` for signaling. Every receiver ends in the stream's
:class:`~xueliang.media.ingest.RtpIngest`; this module only moves bytes:

- UDP, the spec has an SSRC and no ``dedicated_port``: the shared port (``media_rtp_mux_port``), packets routed by
  their SSRC; packets of an SSRC nobody expects are counted (``unknown_ssrc``) and dropped.
- UDP otherwise: a port of its own from the range (devices whose SSRC check is off, or no SSRC known).
- TCP passive: we listen on a range port and take one connection at a time; RFC 4571 framing, or RTSP ``$``
  interleaving when the first byte is ``$``.
- TCP active: ``connect_active`` connects to the device's port and reconnects at >= 1 s intervals until closed.

The address we advertise in SDP: ``media_rtp_advertise_host``, else the bind host unless it is a wildcard, else
the local address facing the device (``peer_host``) or 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass

from xueliang.domain.streams import MediaTransport, ReceiverAddress, ReceiverSpec
from xueliang.media.hub import HubRegistry
from xueliang.media.ingest import RtpIngest
from xueliang.protocol.rtp_tcp import InterleavedReader, Rfc4571Reader

logger = logging.getLogger(__name__)

#: Seconds between TCP active connection attempts (GB/T 28181: at least 1 s).
RECONNECT_INTERVAL_S = 1.0
READ_SIZE = 1 << 16
UDP_RECEIVE_BUFFER = 4 << 20
WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - compared against, not bound
#: Offset of the SSRC in the RTP fixed header, read without a full parse to route a shared-port packet.
SSRC_OFFSET = 8
RTP_HEADER_SIZE = 12


@dataclass(frozen=True, slots=True)
class ReceiverConfig:
    bind_host: str = "0.0.0.0"  # noqa: S104 - the configured default
    advertise_host: str | None = None
    port_min: int = 30000
    port_max: int = 30999
    mux_port: int = 30000


def local_address_facing(peer_host: str) -> str:
    """The local address the kernel would use to reach ``peer_host`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in peer_host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect((peer_host, 9))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, receivers: RtpReceivers, ingest: RtpIngest | None) -> None:
        self._receivers = receivers
        self._ingest = ingest  # None: the shared port, routed by SSRC

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        ingest = self._ingest
        if ingest is None:
            if len(data) < RTP_HEADER_SIZE:
                self._receivers.bad_packets += 1
                return
            ssrc = int.from_bytes(data[SSRC_OFFSET : SSRC_OFFSET + 4], "big")
            ingest = self._receivers._by_ssrc.get(ssrc)
            if ingest is None:
                self._receivers.unknown_ssrc += 1
                return
        ingest.feed(data)

    def error_received(self, exc: Exception) -> None:
        logger.debug("UDP receive error: %s", exc)


@dataclass(eq=False)
class _Receiver:
    spec: ReceiverSpec
    ingest: RtpIngest
    port: int
    udp: asyncio.DatagramTransport | None = None
    server: asyncio.Server | None = None
    tasks: set[asyncio.Task[None]] | None = None
    shared: bool = False
    closed: bool = False


class RtpReceivers:
    """Receivers by stream id; feeds each stream's hub through the shared :class:`HubRegistry`."""

    def __init__(self, config: ReceiverConfig, registry: HubRegistry) -> None:
        self._config = config
        self._registry = registry
        self._receivers: dict[str, _Receiver] = {}
        self._by_ssrc: dict[int, RtpIngest] = {}
        self._mux: asyncio.DatagramTransport | None = None
        self.mux_port: int | None = None
        self._next_port = config.port_min
        self.bad_packets = 0
        self.unknown_ssrc = 0

    # --- MediaReceivers ---------------------------------------------------------------------------------------

    async def open_receiver(self, spec: ReceiverSpec) -> ReceiverAddress:
        await self.close_receiver(spec.stream_id)
        shared = spec.transport is MediaTransport.UDP and spec.ssrc is not None and not spec.dedicated_port
        ingest = RtpIngest(spec.stream_id, spec.ssrc, check_ssrc=not spec.dedicated_port, hub_for=self._registry.get)
        if shared:
            assert spec.ssrc is not None
            port = await self._ensure_mux()
            receiver = _Receiver(spec, ingest, port, shared=True)
            self._by_ssrc[spec.ssrc] = ingest
        elif spec.transport is MediaTransport.UDP:
            transport, port = await self._bind_udp(ingest)
            receiver = _Receiver(spec, ingest, port, udp=transport)
        elif spec.transport is MediaTransport.TCP_PASSIVE:
            receiver = _Receiver(spec, ingest, 0, tasks=set())
            receiver.server, receiver.port = await self._listen_tcp(receiver)
        else:
            receiver = _Receiver(spec, ingest, 0, tasks=set())  # the port is the device's, from its answer
        self._receivers[spec.stream_id] = receiver
        host = self.advertised_host(spec.peer_host)
        logger.info("receiver for %s: %s %s:%d", spec.stream_id, spec.transport.value, host, receiver.port)
        return ReceiverAddress(host, receiver.port)

    async def set_ssrc(self, stream_id: str, ssrc: int) -> None:
        receiver = self._receivers.get(stream_id)
        if receiver is None:
            return
        old = receiver.ingest.ssrc
        if receiver.shared and old is not None and self._by_ssrc.get(old) is receiver.ingest:
            del self._by_ssrc[old]
        receiver.ingest.ssrc = ssrc
        if receiver.shared:
            self._by_ssrc[ssrc] = receiver.ingest

    def set_ssrc_check(self, stream_id: str, enabled: bool) -> None:
        """Switch the SSRC check of a receiver (on the shared port it stays on: SSRC is the routing key)."""
        receiver = self._receivers.get(stream_id)
        if receiver is not None and not receiver.shared:
            receiver.ingest.check_ssrc = enabled

    async def connect_active(self, stream_id: str, host: str, port: int) -> None:
        receiver = self._receivers.get(stream_id)
        if receiver is None or receiver.tasks is None:
            raise LookupError(f"no TCP receiver open for stream {stream_id}")
        receiver.port = port
        task = asyncio.create_task(self._connect_loop(receiver, host, port))
        receiver.tasks.add(task)
        task.add_done_callback(receiver.tasks.discard)

    async def close_receiver(self, stream_id: str) -> None:
        receiver = self._receivers.pop(stream_id, None)
        if receiver is None:
            return
        receiver.closed = True
        ssrc = receiver.ingest.ssrc
        if receiver.shared and ssrc is not None and self._by_ssrc.get(ssrc) is receiver.ingest:
            del self._by_ssrc[ssrc]
        if receiver.udp is not None:
            receiver.udp.close()
        if receiver.server is not None:
            receiver.server.close()
        for task in list(receiver.tasks or ()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- addresses and ports ------------------------------------------------------------------------------

    def advertised_host(self, peer_host: str | None = None) -> str:
        if self._config.advertise_host:
            return self._config.advertise_host
        if self._config.bind_host not in WILDCARDS:
            return self._config.bind_host
        return local_address_facing(peer_host or "127.0.0.1")

    def _ports(self) -> list[int]:
        """Range ports in round-robin order from the last one handed out (a freed port rests before reuse)."""
        ports = list(range(self._config.port_min, self._config.port_max + 1))
        start = ports.index(self._next_port) if self._next_port in ports else 0
        reserved = {self.mux_port, self._config.mux_port}
        return [p for p in ports[start:] + ports[:start] if p not in reserved]

    def _advance(self, port: int) -> None:
        self._next_port = port + 1 if port < self._config.port_max else self._config.port_min

    async def open_shared_port(self) -> int:
        """Bind the shared SSRC-keyed UDP port now (node start-up), rather than at the first play."""
        return await self._ensure_mux()

    async def _ensure_mux(self) -> int:
        if self._mux is not None and self.mux_port is not None:
            return self.mux_port
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpProtocol(self, None), local_addr=(self._config.bind_host, self._config.mux_port)
        )
        _grow_receive_buffer(transport)
        self._mux = transport
        self.mux_port = int(transport.get_extra_info("sockname")[1])
        return self.mux_port

    async def _bind_udp(self, ingest: RtpIngest) -> tuple[asyncio.DatagramTransport, int]:
        loop = asyncio.get_running_loop()
        for port in self._ports():
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(self, ingest), local_addr=(self._config.bind_host, port)
                )
            except OSError:
                continue
            self._advance(port)
            _grow_receive_buffer(transport)
            return transport, port
        raise OSError(f"no free UDP port in {self._config.port_min}-{self._config.port_max}")

    async def _listen_tcp(self, receiver: _Receiver) -> tuple[asyncio.Server, int]:
        for port in self._ports():
            try:
                server = await asyncio.start_server(
                    lambda r, w: self._accept(receiver, r, w), self._config.bind_host, port
                )
            except OSError:
                continue
            self._advance(port)
            return server, port
        raise OSError(f"no free TCP port in {self._config.port_min}-{self._config.port_max}")

    # --- TCP ----------------------------------------------------------------------------------------------

    async def _accept(self, receiver: _Receiver, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection at a time: a second one while the first is up is refused."""
        if receiver.closed or any(not t.done() for t in receiver.tasks or ()):
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None and receiver.tasks is not None
        receiver.tasks.add(task)
        try:
            await self._read_stream(receiver, reader)
        finally:
            receiver.tasks.discard(task)
            writer.close()

    async def _connect_loop(self, receiver: _Receiver, host: str, port: int) -> None:
        while not receiver.closed:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                logger.debug("TCP active %s -> %s:%d failed: %s", receiver.spec.stream_id, host, port, exc)
            else:
                try:
                    await self._read_stream(receiver, reader)
                finally:
                    writer.close()
            await asyncio.sleep(RECONNECT_INTERVAL_S)

    async def _read_stream(self, receiver: _Receiver, reader: asyncio.StreamReader) -> None:
        framing: Rfc4571Reader | InterleavedReader | None = None
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except OSError:
                return
            if not data:
                return
            if framing is None:
                framing = InterleavedReader() if data[:1] == b"$" else Rfc4571Reader()
            try:
                packets = _packets(framing, data)
            except ValueError as exc:
                logger.debug("stream %s: bad TCP framing, connection dropped: %s", receiver.spec.stream_id, exc)
                receiver.ingest.bad_packets += 1
                return
            for packet in packets:
                receiver.ingest.feed(packet)

    # --- stats and shutdown ----------------------------------------------------------------------------------

    def ingest(self, stream_id: str) -> RtpIngest | None:
        receiver = self._receivers.get(stream_id)
        return receiver.ingest if receiver else None

    def bytes_in(self) -> int:
        return sum(r.ingest.bytes for r in self._receivers.values())

    async def close(self) -> None:
        for stream_id in list(self._receivers):
            await self.close_receiver(stream_id)
        if self._mux is not None:
            self._mux.close()
            self._mux = None
            self.mux_port = None


def _packets(framing: Rfc4571Reader | InterleavedReader, data: bytes) -> list[bytes]:
    if isinstance(framing, Rfc4571Reader):
        return framing.feed(data)
    # RTSP interleaving: even channels carry RTP, odd ones RTCP (ignored)
    return [packet for channel, packet in framing.feed(data) if channel % 2 == 0]


def _grow_receive_buffer(transport: asyncio.DatagramTransport) -> None:
    """A larger socket buffer rides out bursts of keyframes (the kernel caps it at rmem_max)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
