"""A simulated camera's media: a :class:`~xueliang.sim.video.VideoLoop` sent as PS over RTP, in real time.

Cheap by construction, because a benchmark runs hundreds of senders in one process:

- The loop is muxed (one PS pack per frame) and cut into RTP payload chunks once per (loop, max payload), shared
  by every sender (:func:`prepared_frames`). Sending a frame means packing a 12-byte RTP header per packet and
  patching the SCR and PTS in the frame's first chunk, so timestamps keep growing across loops.
- One ticker per event loop wakes every :data:`TICK_SECONDS` and lets each sender write every frame that is due
  (paced by the frame timestamps against the event loop's clock): a syscall per packet on UDP, one write per tick
  on TCP.

A sender starts at a random frame of the loop (mid-GOP, as a real camera joined mid-stream would), or at the first
keyframe with ``start_at_keyframe``. RTP timestamps, PES PTS and sequence numbers start at random values and run
on continuously across loops. Transports, named from the platform's side: UDP (we send from the prepared port);
``TCP_PASSIVE`` (the platform listens: ``start`` connects, RFC 4571 framing); ``TCP_ACTIVE`` (the platform connects
to the port ``prepare`` listens on; sending starts when it has connected, even if that happens after ``start``).
When a TCP peer closes, ``ended`` is set so the device can send BYE. A TCP peer that stops reading costs whole
frames (``frames_dropped``) up to the next keyframe, never unbounded buffering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import struct
import weakref
from dataclasses import dataclass
from typing import cast

from xueliang.domain.streams import MediaTransport
from xueliang.protocol.es import CLOCK_RATE
from xueliang.protocol.ps.constants import PSM_ID, START_CODE_PREFIX, TIMESTAMP_MODULO, VIDEO_STREAM_ID
from xueliang.protocol.ps.mux import PsMuxer, encode_timestamp, pack_header
from xueliang.protocol.rtp import DEFAULT_MAX_PAYLOAD, SEQUENCE_MODULO
from xueliang.protocol.rtp import TIMESTAMP_MODULO as RTP_TIMESTAMP_MODULO
from xueliang.sim.video import VideoLoop

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.01
MAX_LAG_SECONDS = 1.0  # further behind than this (a starved event loop), skip ahead instead of bursting
TCP_WRITE_LIMIT = 1 << 20  # bytes queued to a TCP peer before frames are dropped
PACK_HEADER_SIZE = len(pack_header(0))
PTS_PREFIX = 0b0010
RTP_FIRST_BYTE = 0x80
MARKER = 0x80
_RTP_HEADER = struct.Struct("!BBHII")
_LENGTH = struct.Struct("!H")


@dataclass(frozen=True, slots=True)
class PreparedFrame:
    """One frame of a loop as RTP payload chunks; ``pts_offset`` locates the PES PTS in the first chunk."""

    chunks: tuple[bytes, ...]
    pts: int
    pts_offset: int
    keyframe: bool
    size: int


_PREPARED: weakref.WeakKeyDictionary[VideoLoop, dict[int, list[PreparedFrame]]] = weakref.WeakKeyDictionary()


def prepared_frames(video: VideoLoop, max_payload: int = DEFAULT_MAX_PAYLOAD) -> list[PreparedFrame]:
    """The loop muxed and chunked once; cached as long as the loop lives."""
    by_size = _PREPARED.setdefault(video, {})
    frames = by_size.get(max_payload)
    if frames is None:
        muxer = PsMuxer()
        frames = []
        for unit in video.units:
            if unit.pts != unit.dts:
                raise ValueError("a loop with reordered frames (B-frames) cannot be re-stamped by patching the PTS")
            pack = muxer.mux(unit)
            pes = pack.index(START_CODE_PREFIX + bytes((VIDEO_STREAM_ID,)))
            pts_offset = pes + 9
            if pts_offset + 5 > max_payload or pack.find(START_CODE_PREFIX + bytes((PSM_ID,))) > pes:
                raise ValueError(f"max_payload {max_payload} too small for the headers of a pack")
            chunks = tuple(pack[i : i + max_payload] for i in range(0, len(pack), max_payload))
            frames.append(PreparedFrame(chunks, unit.pts, pts_offset, unit.keyframe, len(pack)))
        by_size[max_payload] = frames
    return frames


class _Ticker:
    """Wakes every tick and lets each registered sender send what is due; one per event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._senders: set[MediaSender] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, sender: MediaSender) -> None:
        self._senders.add(sender)
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._run(), name="media-sender-ticker")

    def remove(self, sender: MediaSender) -> None:
        self._senders.discard(sender)

    async def _run(self) -> None:
        while self._senders:
            started = self._loop.time()
            for sender in list(self._senders):
                try:
                    sender.tick(started)
                except Exception:
                    logger.exception("media sender %08x failed; stopping it", sender.ssrc)
                    self._senders.discard(sender)
            await asyncio.sleep(max(TICK_SECONDS - (self._loop.time() - started), 0.001))


_TICKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Ticker] = weakref.WeakKeyDictionary()


def _ticker() -> _Ticker:
    loop = asyncio.get_running_loop()
    ticker = _TICKERS.get(loop)
    if ticker is None:
        ticker = _TICKERS[loop] = _Ticker(loop)
    return ticker


class _TcpProtocol(asyncio.Protocol):
    """Discards what the peer sends (RTCP, if anything) and tells the sender when the connection comes and goes."""

    def __init__(self, sender: MediaSender) -> None:
        self._sender = sender

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transports are not asyncio.Transport subclasses but have its interface
        self._sender.connected(cast(asyncio.Transport, transport))

    def data_received(self, data: bytes) -> None:
        return

    def connection_lost(self, exc: Exception | None) -> None:
        self._sender.disconnected(self)


class MediaSender:
    """Sends one video loop to one receiver; see the module docstring.

    Counters: ``packets_sent``, ``bytes_sent`` (RTP bytes, without TCP framing), ``frames_sent``,
    ``frames_dropped`` (TCP peer not reading), ``send_errors`` (UDP sends refused or failed).
    """

    def __init__(
        self,
        video: VideoLoop,
        *,
        transport: MediaTransport,
        ssrc: int,
        local_host: str = "127.0.0.1",
        payload_type: int = 96,
        start_at_keyframe: bool = False,
        start_frame: int | None = None,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 <= ssrc < RTP_TIMESTAMP_MODULO or not 0 <= payload_type <= 0x7F:
            raise ValueError(f"invalid ssrc {ssrc} or payload type {payload_type}")
        self.video = video
        self.transport = transport
        self.ssrc = ssrc
        self.local_host = local_host
        self.payload_type = payload_type
        self._frames = prepared_frames(video, max_payload)
        rng = rng or random.Random()
        if start_frame is None:
            start_frame = 0 if start_at_keyframe else rng.randrange(len(self._frames))
        self.start_frame = start_frame % len(self._frames)
        self._sequence = rng.randrange(SEQUENCE_MODULO)
        self._rtp_base = rng.randrange(RTP_TIMESTAMP_MODULO)
        self._pts_base = rng.randrange(RTP_TIMESTAMP_MODULO)
        self.packets_sent = 0
        self.bytes_sent = 0
        self.frames_sent = 0
        self.frames_dropped = 0
        self.send_errors = 0
        self.ended = asyncio.Event()
        self._next = self.start_frame  # index of the next frame, counting across loops
        self._origin: float | None = None  # event-loop time of the first frame
        self._socket: socket.socket | None = None
        self._server: asyncio.Server | None = None
        self._tcp: asyncio.Transport | None = None
        self._started = False
        self._stopped = False
        self._skip_to_keyframe = False
        self._keyframe_wanted = False
        self._shift = 0  # 90 kHz ticks the loop position ran ahead of the stream clock (keyframes sent early)
        self.keyframes_requested = 0
        self.local_port = 0

    async def prepare(self) -> int:
        """Bind (UDP, TCP passive) or listen (TCP active) on ``local_host`` and return the port for the SDP."""
        if self.transport is MediaTransport.TCP_ACTIVE:
            loop = asyncio.get_running_loop()
            self._server = await loop.create_server(lambda: _TcpProtocol(self), self.local_host, 0)
            self.local_port = self._server.sockets[0].getsockname()[1]
            return self.local_port
        kind = socket.SOCK_DGRAM if self.transport is MediaTransport.UDP else socket.SOCK_STREAM
        sock = socket.socket(socket.AF_INET6 if ":" in self.local_host else socket.AF_INET, kind)
        sock.setblocking(False)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.local_host, 0))
        self._socket = sock
        self.local_port = sock.getsockname()[1]
        return self.local_port

    async def start(self, remote_host: str, remote_port: int) -> None:
        """Start sending to the receiver in the SDP offer (for TCP active: to whoever connects to our port).

        TCP passive connects here and raises ``OSError`` if the platform's port refuses.
        """
        if self._started:
            raise RuntimeError("media sender already started")
        if self._socket is None and self._server is None:
            await self.prepare()
        self._started = True
        loop = asyncio.get_running_loop()
        if self.transport is MediaTransport.UDP:
            assert self._socket is not None
            self._socket.connect((remote_host, remote_port))
            self._begin()
        elif self.transport is MediaTransport.TCP_PASSIVE:
            assert self._socket is not None
            await loop.sock_connect(self._socket, (remote_host, remote_port))
            sock, self._socket = self._socket, None
            await loop.create_connection(lambda: _TcpProtocol(self), sock=sock)
        elif self._tcp is not None:  # TCP active, the platform connected before we were told to start
            self._begin()

    async def stop(self) -> None:
        """Stop sending and close every socket (idempotent)."""
        self._stopped = True
        _ticker().remove(self)
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def connected(self, transport: asyncio.Transport) -> None:
        """A TCP connection is up (ours, or the platform's to our listening port); only the first one is used."""
        if self._tcp is not None or self._stopped:
            transport.close()
            return
        self._tcp = transport
        with contextlib.suppress(OSError):
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._started:
            self._begin()

    def disconnected(self, protocol: _TcpProtocol) -> None:
        if self._tcp is not None and self._tcp.get_protocol() is protocol:
            self._tcp = None
            _ticker().remove(self)
            self.ended.set()

    def _begin(self) -> None:
        if not self._stopped:
            _ticker().add(self)

    def request_keyframe(self) -> None:
        """The platform asked for a keyframe (DeviceControl IFameCmd): the next frame sent is the loop's next
        keyframe, as a camera's encoder would start a new GOP at once. The loop jumps ahead; the stream's
        timestamps stay continuous (the skipped span is taken out of the stream clock)."""
        self.keyframes_requested += 1
        self._keyframe_wanted = True

    def _jump_to_keyframe(self, index: int, count: int, duration: int) -> int:
        """The index of the next keyframe at or after ``index``, with the stream clock shifted to match."""
        self._keyframe_wanted = False
        frames = self._frames
        target = index
        while not frames[target % count].keyframe and target - index < count:
            target += 1
        if target == index or not frames[target % count].keyframe:
            return index

        def position(i: int) -> int:
            return (i // count) * duration + frames[i % count].pts

        self._shift += position(target) - position(index)
        self._next = target
        return target

    def tick(self, now: float) -> None:
        """Send every frame due at ``now`` (event-loop seconds). Called by the ticker."""
        if self._origin is None:
            self._origin = now
        frames = self._frames
        count = len(frames)
        first_pts = frames[self.start_frame].pts
        duration = self.video.duration_ticks
        batch: list[bytes] = []
        while True:
            index = self._next
            if self._keyframe_wanted:
                index = self._jump_to_keyframe(index, count, duration)
            frame = frames[index % count]
            media = (index // count) * duration + frame.pts - first_pts - self._shift
            due = self._origin + media / CLOCK_RATE
            if due > now:
                break
            if now - due > MAX_LAG_SECONDS:
                self._origin += now - due
            self._next += 1
            if self._tcp is not None and (
                self._tcp.get_write_buffer_size() > TCP_WRITE_LIMIT or (self._skip_to_keyframe and not frame.keyframe)
            ):
                self.frames_dropped += 1
                self._skip_to_keyframe = True
                continue
            self._skip_to_keyframe = False
            self._send_frame(frame, media, batch)
        if batch and self._tcp is not None:
            self._tcp.write(b"".join(batch))

    def _send_frame(self, frame: PreparedFrame, media: int, batch: list[bytes]) -> None:
        timestamp = (self._rtp_base + media) % RTP_TIMESTAMP_MODULO
        pts = (self._pts_base + media) % TIMESTAMP_MODULO
        first = bytearray(frame.chunks[0])
        first[:PACK_HEADER_SIZE] = pack_header(pts)
        first[frame.pts_offset : frame.pts_offset + 5] = encode_timestamp(PTS_PREFIX, pts)
        last = len(frame.chunks) - 1
        second = self.payload_type
        for number, chunk in enumerate(frame.chunks):
            header = _RTP_HEADER.pack(
                RTP_FIRST_BYTE, second | MARKER if number == last else second, self._sequence, timestamp, self.ssrc
            )
            payload = first if number == 0 else chunk
            self._sequence = (self._sequence + 1) % SEQUENCE_MODULO
            size = len(header) + len(payload)
            if self._tcp is not None:
                batch.append(_LENGTH.pack(size) + header + payload)
            elif self._socket is not None:
                try:
                    self._socket.sendmsg([header, payload])
                except OSError:
                    self.send_errors += 1
                    continue
            else:
                return
            self.packets_sent += 1
            self.bytes_sent += size
        self.frames_sent += 1
