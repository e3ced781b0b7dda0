"""Real video for the media integration tests: PyAV-encoded access units, PS over RTP senders on loopback."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import av
import pytest

from xueliang.protocol.es import AccessUnit, Codec
from xueliang.protocol.ps import PsMuxer
from xueliang.protocol.rtp import RtpPacketizer
from xueliang.protocol.rtp_tcp import frame_rfc4571

_NAME = "xueliang_test_video_units"
if _NAME not in sys.modules:  # the unit tests' encoder, loaded by path (the test tree is no package)
    _path = Path(__file__).resolve().parents[2] / "unit" / "media" / "video_units.py"
    _spec = importlib.util.spec_from_file_location(_NAME, _path)
    assert _spec is not None and _spec.loader is not None
    sys.modules[_NAME] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_NAME])
encode = sys.modules[_NAME].encode
Encode = sys.modules[_NAME].Encode


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
