"""MediaSender over real loopback sockets: UDP, TCP passive (we listen, the sender connects) and TCP active (the
sender listens, we connect). What arrives is parsed as RTP, reordered, demuxed as PS and decoded with PyAV, so
the test checks the whole way a simulated camera's video takes to the media node. Pacing is checked by counting
frames over a fixed time, not by timing asserts."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import av
import pytest

from xueliang.domain.streams import MediaTransport
from xueliang.protocol.es import AccessUnit, Codec
from xueliang.protocol.ps import PsDemuxer
from xueliang.protocol.rtp import ReorderBuffer, RtpPacket
from xueliang.protocol.rtp_tcp import Rfc4571Reader
from xueliang.sim.media_sender import MediaSender
from xueliang.sim.video import VideoLoop

pytestmark = pytest.mark.anyio
SSRC = 1_034_150_001
FPS = 25
RUN_SECONDS = 1.5


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module", params=[Codec.H264, Codec.H265], ids=["h264", "h265"])
def video(request: pytest.FixtureRequest) -> VideoLoop:
    # one-second loop, GOP of 10: a 1.5 s run crosses the loop boundary and several keyframes
    return VideoLoop.shared(request.param, width=320, height=240, fps=FPS, seconds=1, label="测试", gop=10)


@dataclass
class Receiver:
    """The platform's side: RTP packets in, access units out."""

    packets: list[RtpPacket] = field(default_factory=list)
    units: list[AccessUnit] = field(default_factory=list)
    reorder: ReorderBuffer = field(default_factory=ReorderBuffer)
    demuxer: PsDemuxer = field(default_factory=PsDemuxer)

    def packet(self, data: bytes) -> None:
        for packet in self.reorder.push(RtpPacket.parse(data)):
            self.packets.append(packet)
            self.units.extend(self.demuxer.feed(packet.payload, packet.timestamp, marker=packet.marker))


class UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.receiver.packet(data)


async def tcp_reader(reader: asyncio.StreamReader, receiver: Receiver) -> None:
    framing = Rfc4571Reader()
    while chunk := await reader.read(65536):
        for packet in framing.feed(chunk):
            receiver.packet(packet)


def decoded_frames(codec: Codec, units: list[AccessUnit]) -> int:
    context = av.CodecContext.create("h264" if codec is Codec.H264 else "hevc", "r")
    frames = 0
    for unit in units:
        frames += len(context.decode(av.Packet(unit.data)))
    return frames + len(context.decode(None))


def check_stream(video: VideoLoop, sender: MediaSender, receiver: Receiver) -> None:
    packets = receiver.packets
    assert packets, "nothing arrived"
    assert {p.ssrc for p in packets} == {SSRC}
    assert {p.payload_type for p in packets} == {96}
    sequences = [p.sequence for p in packets]
    assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(sequences))
    assert receiver.reorder.lost == 0
    assert sender.packets_sent >= len(packets)
    # about RUN_SECONDS of video: more than one loop, far less than a burst of many
    frames = sender.frames_sent
    assert FPS < frames < FPS * RUN_SECONDS * 3, frames
    # the first decodable unit is a keyframe, the units before it (mid-GOP join) carry no parameter sets
    units = receiver.units
    assert units and units[0].keyframe, [u.keyframe for u in units[:3]]
    assert all(u.codec is video.codec for u in units)
    steps = {b.pts - a.pts for a, b in itertools.pairwise(units)}
    assert steps == {90_000 // FPS}, steps  # continuous across the loop boundary
    rtp_steps = {(b.timestamp - a.timestamp) % 2**32 for a, b in itertools.pairwise(packets)}
    assert rtp_steps <= {0, 90_000 // FPS}
    assert decoded_frames(video.codec, units) == len(units)


@contextlib.asynccontextmanager
async def running(sender: MediaSender) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await sender.stop()


async def test_udp_mid_gop_start_delivers_decodable_frames(video: VideoLoop) -> None:
    loop = asyncio.get_running_loop()
    receiver = Receiver()
    transport, _ = await loop.create_datagram_endpoint(lambda: UdpProtocol(receiver), local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    sender = MediaSender(video, transport=MediaTransport.UDP, ssrc=SSRC, start_frame=3)
    local_port = await sender.prepare()
    assert local_port > 0
    async with running(sender):
        await sender.start("127.0.0.1", port)
        await asyncio.sleep(RUN_SECONDS)
    transport.close()
    # frames 3..9 of the first GOP came before the first keyframe and are not returned
    assert receiver.demuxer.dropped_nal_units > 0
    assert receiver.packets[0].payload.startswith(b"\x00\x00\x01\xba")
    check_stream(video, sender, receiver)


async def test_a_keyframe_request_sends_the_next_keyframe_at_once_with_continuous_timestamps(
    video: VideoLoop,
) -> None:
    """What the platform's IFameCmd after the ACK does: a sender that joined mid-GOP sends a keyframe next, so the
    first viewer does not wait out the GOP; the stream clock does not jump."""
    loop = asyncio.get_running_loop()
    receiver = Receiver()
    transport, _ = await loop.create_datagram_endpoint(lambda: UdpProtocol(receiver), local_addr=("127.0.0.1", 0))
    sender = MediaSender(video, transport=MediaTransport.UDP, ssrc=SSRC, start_frame=3)
    sender.request_keyframe()
    async with running(sender):
        await sender.start("127.0.0.1", transport.get_extra_info("sockname")[1])
        await asyncio.sleep(RUN_SECONDS)
        sender.request_keyframe()  # a second request mid-stream, at a non-keyframe most likely
        await asyncio.sleep(0.5)
    transport.close()
    assert sender.keyframes_requested == 2
    assert receiver.demuxer.dropped_nal_units == 0  # nothing came before the keyframe
    units = receiver.units
    assert units[0].keyframe
    steps = {b.pts - a.pts for a, b in itertools.pairwise(units)}
    assert steps == {90_000 // FPS}, steps  # the jumps ahead in the loop leave the stream clock continuous
    assert decoded_frames(video.codec, units) == len(units)


async def test_start_at_keyframe_sends_the_keyframe_first(video: VideoLoop) -> None:
    loop = asyncio.get_running_loop()
    receiver = Receiver()
    transport, _ = await loop.create_datagram_endpoint(lambda: UdpProtocol(receiver), local_addr=("127.0.0.1", 0))
    sender = MediaSender(video, transport=MediaTransport.UDP, ssrc=SSRC, start_at_keyframe=True)
    async with running(sender):
        await sender.start("127.0.0.1", transport.get_extra_info("sockname")[1])
        await asyncio.sleep(0.3)
    transport.close()
    assert receiver.units[0].keyframe
    assert receiver.demuxer.dropped_nal_units == 0


async def test_tcp_passive_sender_connects_and_ends_when_the_platform_closes(video: VideoLoop) -> None:
    receiver = Receiver()
    accepted: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()
    tasks: list[asyncio.Task[None]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tasks.append(asyncio.current_task())  # type: ignore[arg-type]
        await accepted.put(writer)
        await tcp_reader(reader, receiver)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = MediaSender(video, transport=MediaTransport.TCP_PASSIVE, ssrc=SSRC)
    local_port = await sender.prepare()
    async with running(sender):
        await sender.start("127.0.0.1", port)
        writer = await asyncio.wait_for(accepted.get(), 2)
        assert writer.get_extra_info("peername")[1] == local_port  # sent from the port of the SDP answer
        await asyncio.sleep(RUN_SECONDS)
        check_stream(video, sender, receiver)
        assert not sender.ended.is_set()
        writer.close()
        await asyncio.wait_for(sender.ended.wait(), 2)
        sent = sender.packets_sent
        await asyncio.sleep(0.1)
        assert sender.packets_sent == sent
    server.close()


async def test_tcp_active_platform_connects_and_closes(video: VideoLoop) -> None:
    receiver = Receiver()
    sender = MediaSender(video, transport=MediaTransport.TCP_ACTIVE, ssrc=SSRC)
    port = await sender.prepare()
    async with running(sender):
        await sender.start("127.0.0.1", 9)  # the platform's offer; in active mode it connects to us instead
        await asyncio.sleep(0.1)
        assert sender.packets_sent == 0  # nothing to send to before the platform connects
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        reading = asyncio.create_task(tcp_reader(reader, receiver))
        await asyncio.sleep(RUN_SECONDS)
        check_stream(video, sender, receiver)
        writer.close()
        await asyncio.wait_for(sender.ended.wait(), 2)
        await reading
