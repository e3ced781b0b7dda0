"""RTP over TCP framing: RFC 4571 and RTSP ``$`` interleaving, fed whole, byte by byte, in random chunks and with
trailing partial data; oversize lengths and noise between interleaved frames."""

from __future__ import annotations

import contextlib
import random

import pytest

from xueliang.protocol.rtp import RtpError
from xueliang.protocol.rtp_tcp import InterleavedReader, Rfc4571Reader, frame_interleaved, frame_rfc4571

PACKETS = [bytes([n]) * size for n, size in enumerate([12, 1, 1400, 65535, 300])]
STREAM = b"".join(frame_rfc4571(p) for p in PACKETS)


def chunkings(data: bytes) -> dict[str, list[bytes]]:
    rng = random.Random(len(data))
    chunks: list[bytes] = []
    offset = 0
    while offset < len(data):
        size = rng.randint(1, 3000)
        chunks.append(data[offset : offset + size])
        offset += size
    return {"whole": [data], "bytes": [data[i : i + 1] for i in range(len(data))], "random": chunks}


@pytest.mark.parametrize("how", ["whole", "bytes", "random"])
def test_rfc4571_reassembles_any_chunking(how: str) -> None:
    reader = Rfc4571Reader()
    out = [p for chunk in chunkings(STREAM)[how] for p in reader.feed(chunk)]
    assert out == PACKETS
    assert reader.buffered == 0


def test_rfc4571_keeps_trailing_partial_frame() -> None:
    reader = Rfc4571Reader()
    tail = frame_rfc4571(b"abcdef")
    assert reader.feed(STREAM + tail[:4]) == PACKETS
    assert reader.buffered == 4
    assert reader.feed(tail[4:]) == [b"abcdef"]
    assert reader.buffered == 0


def test_rfc4571_skips_empty_frames_and_rejects_oversize() -> None:
    reader = Rfc4571Reader(max_packet=1500)
    assert reader.feed(b"\x00\x00" + frame_rfc4571(b"x")) == [b"x"]
    assert reader.empty == 1
    with pytest.raises(RtpError, match="RFC 4571 frame of 1501 bytes exceeds the limit of 1500"):
        reader.feed(b"\x05\xdd" + bytes(10))
    assert reader.buffered == 0


def test_frame_rfc4571() -> None:
    assert frame_rfc4571(b"abc") == b"\x00\x03abc"
    with pytest.raises(RtpError, match="does not fit RFC 4571 framing"):
        frame_rfc4571(bytes(65536))
    with pytest.raises(RtpError, match=r"max_packet must be in 1\.\.65535"):
        Rfc4571Reader(0)


INTERLEAVED = [(0, b"rtp-0"), (1, b"rtcp"), (0, bytes(1400)), (2, b"\x24\x24")]
RTSP_RESPONSE = b"RTSP/1.0 200 OK\r\nCSeq: 5\r\nSession: 12345678\r\n\r\n"


@pytest.mark.parametrize("how", ["whole", "bytes", "random"])
def test_interleaved_reassembles_and_skips_rtsp_messages(how: str) -> None:
    rest = b"".join(frame_interleaved(*f) for f in INTERLEAVED[1:])
    stream = frame_interleaved(*INTERLEAVED[0]) + RTSP_RESPONSE + rest
    reader = InterleavedReader()
    out = [f for chunk in chunkings(stream)[how] for f in reader.feed(chunk)]
    assert out == INTERLEAVED
    assert reader.skipped == len(RTSP_RESPONSE)


def test_interleaved_trailing_partial_and_oversize_length() -> None:
    reader = InterleavedReader(max_packet=100)
    assert reader.feed(b"$\x00\x00\x02ab$\x01\x00") == [(0, b"ab")]
    assert reader.buffered == 3
    assert reader.feed(b"\x01z") == [(1, b"z")]
    # "$" followed by an impossible length is noise: skipped one byte at a time until a real frame
    assert reader.feed(b"$\x00\xff\xff" + frame_interleaved(3, b"ok")) == [(3, b"ok")]
    assert reader.skipped == 4
    with pytest.raises(RtpError, match="interleaved channel 256 out of range"):
        frame_interleaved(256, b"")


def test_garbage_never_grows_the_buffers() -> None:
    rng = random.Random(7)
    interleaved = InterleavedReader()
    for _ in range(200):
        interleaved.feed(rng.randbytes(1000).replace(b"$", b"#"))
        assert interleaved.buffered == 0
    framed = Rfc4571Reader()
    for _ in range(200):
        with contextlib.suppress(RtpError):
            framed.feed(rng.randbytes(1000))
        assert framed.buffered <= 65537 + 1000
