"""Real video for the media integration tests: PyAV-encoded access units, PS over RTP senders on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from xueliang.protocol.es import CLOCK_RATE, AccessUnit, Codec
from xueliang.protocol.ps import PsMuxer
from xueliang.protocol.rtp import RtpPacketizer
from xueliang.protocol.rtp_tcp import frame_rfc4571

ENCODERS = {Codec.H264: "libx264", Codec.H265: "libx265"}
FPS = 25
Encode = Callable[..., list[AccessUnit]]


def encode(
    codec: Codec = Codec.H264, frames: int = 50, width: int = 320, height: int = 240, gop: int = 25
) -> list[AccessUnit]:
    """A moving, non-blank picture as Annex B access units (keyframe every ``gop``), 90 kHz timestamps."""
    encoder = av.CodecContext.create(ENCODERS[codec], "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, CLOCK_RATE)
    encoder.framerate = Fraction(FPS)
    encoder.gop_size = gop
    if codec is Codec.H264:
        encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "bf": "0"}
    else:
        encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "x265-params": f"keyint={gop}:log-level=error"}
    encoder.open()
    step = CLOCK_RATE // FPS
    y, x = np.mgrid[0:height, 0:width]
    units: list[AccessUnit] = []
    for index in range(frames + 1):
        if index < frames:
            rgb = np.stack([(x + index * 4) % 256, (y * 2) % 256, (x + y + index) % 256], axis=-1).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = 3600 + index * step
            packets = encoder.encode(frame)
        else:
            packets = encoder.encode(None)
        for packet in packets:
            assert packet.pts is not None and packet.dts is not None
            units.append(AccessUnit(codec, packet.pts, max(packet.dts, 0), bytes(packet), packet.is_keyframe))
    return units


def rtp_packets(units: Sequence[AccessUnit], ssrc: int) -> list[list[bytes]]:
    """The RTP packets of each unit, PS-muxed as a GB/T 28181 device sends them (one pack per frame)."""
    muxer = PsMuxer()
    packetizer = RtpPacketizer(ssrc, 96)
    return [packetizer.packets(muxer.mux(unit), unit.pts) for unit in units]


async def send_udp(port: int, frames: list[list[bytes]], *, interval: float = 0.004) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for packets in frames:
            for packet in packets:
                sock.sendto(packet, ("127.0.0.1", port))
            await asyncio.sleep(interval)


async def send_tcp(writer: asyncio.StreamWriter, frames: list[list[bytes]], *, interval: float = 0.004) -> None:
    for packets in frames:
        writer.write(b"".join(frame_rfc4571(packet) for packet in packets))
        await writer.drain()
        await asyncio.sleep(interval)


def decode_file(path: Path) -> list[tuple[int, int, float]]:
    """(width, height, time in seconds) of every decoded frame of a media file."""
    result: list[tuple[int, int, float]] = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            assert frame.time is not None
            result.append((frame.width, frame.height, frame.time))
    return result


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def h264_units() -> list[AccessUnit]:
    return encode(Codec.H264)


@pytest.fixture(scope="session")
def h265_units() -> list[AccessUnit]:
    return encode(Codec.H265, frames=50)


class Kit:
    """The helpers above, for test modules (conftest modules are not importable under importlib mode)."""

    encode = staticmethod(encode)
    rtp_packets = staticmethod(rtp_packets)
    send_udp = staticmethod(send_udp)
    send_tcp = staticmethod(send_tcp)
    decode_file = staticmethod(decode_file)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
