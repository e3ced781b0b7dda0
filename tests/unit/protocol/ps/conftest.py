"""Fixtures of the PS tests: small real encoded loops (PyAV, via the simulator's VideoLoop), the vectors under
tests/data/ps, a decoder that counts frames, and a feeder that splits packs into RTP packets at random sizes.

With ``--import-mode=importlib`` a conftest cannot be imported as a module, so helpers arrive as fixtures.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from xueliang.protocol.es import AccessUnit, Codec
from xueliang.protocol.ps import PsDemuxer
from xueliang.protocol.rtp import RtpPacket, RtpPacketizer
from xueliang.sim.video import VideoLoop

DATA = Path(__file__).resolve().parents[3] / "data" / "ps"

Decode = Callable[[Codec, list[AccessUnit]], int]
FeedRtp = Callable[[PsDemuxer, list[tuple[bytes, int]], bool], list[AccessUnit]]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session", params=[Codec.H264, Codec.H265], ids=["h264", "h265"])
def loop(request: pytest.FixtureRequest) -> VideoLoop:
    return VideoLoop.shared(request.param, width=320, height=240, fps=25, seconds=1, gop=10, bitrate=300_000)


@pytest.fixture(scope="session")
def loops() -> dict[Codec, VideoLoop]:
    return {
        codec: VideoLoop.shared(codec, width=320, height=240, fps=25, seconds=1, gop=10, bitrate=300_000)
        for codec in (Codec.H264, Codec.H265)
    }


def _decode(codec: Codec, units: list[AccessUnit]) -> int:
    context = av.CodecContext.create("h264" if codec is Codec.H264 else "hevc", "r")
    frames = 0
    for unit in units:
        frames += len(context.decode(av.Packet(unit.data)))
    return frames + len(context.decode(None))


@pytest.fixture(scope="session")
def decode() -> Decode:
    """Decode units with PyAV and return the number of frames (a broken unit raises or yields fewer)."""
    return _decode


def _feed_rtp(demuxer: PsDemuxer, packs: list[tuple[bytes, int]], hints: bool) -> list[AccessUnit]:
    """Packetize each ``(pack, rtp_timestamp)`` at random payload sizes and feed the payloads in order, with the
    timestamp and marker hints or without them."""
    rng = random.Random(len(packs))
    packetizer = RtpPacketizer(1)
    out: list[AccessUnit] = []
    for pack, timestamp in packs:
        packetizer.max_payload = rng.randint(1, 1400)
        for data in packetizer.packets(pack, timestamp):
            packet = RtpPacket.parse(data)
            if hints:
                out += demuxer.feed(packet.payload, packet.timestamp, marker=packet.marker)
            else:
                out += demuxer.feed(packet.payload)
    return out + demuxer.flush()


@pytest.fixture(scope="session")
def feed_rtp() -> FeedRtp:
    return _feed_rtp
