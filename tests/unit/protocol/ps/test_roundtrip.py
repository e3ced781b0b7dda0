"""PsMuxer -> PsDemuxer with real PyAV-encoded H.264 and H.265: the units come back with the same NAL units,
timestamps and keyframe flags however the packs are cut (whole, RTP packets of random sizes with and without the
marker/timestamp hints, byte by byte), and decode with PyAV to the same number of frames."""

from __future__ import annotations

from dataclasses import replace

import pytest

from xueliang.protocol.es import AccessUnit, Codec
from xueliang.protocol.h26x import iter_nal_units
from xueliang.protocol.ps import PsDemuxer, PsError, PsMuxer
from xueliang.protocol.ps.constants import MAX_PES_LENGTH
from xueliang.sim.video import VideoLoop


def nals(unit: AccessUnit) -> list[bytes]:
    return [bytes(n) for n in iter_nal_units(unit.data)]


def assert_same(got: list[AccessUnit], sent: list[AccessUnit]) -> None:
    assert len(got) == len(sent)
    for a, b in zip(got, sent, strict=True):
        assert (a.codec, a.pts, a.dts, a.keyframe) == (b.codec, b.pts, b.dts, b.keyframe)
        assert nals(a) == nals(b)


def test_whole_packs(loop: VideoLoop, decode) -> None:  # type: ignore[no-untyped-def]
    muxer, demuxer = PsMuxer(), PsDemuxer()
    got = [u for unit in loop.units for u in demuxer.feed(muxer.mux(unit))] + demuxer.flush()
    assert_same(got, loop.units)
    assert [i for i, u in enumerate(got) if u.keyframe] == [0, 10, 20]
    assert decode(loop.codec, got) == len(loop.units)
    assert (demuxer.errors, demuxer.resyncs, demuxer.buffered) == (0, 0, 0)


@pytest.mark.parametrize("hints", [True, False], ids=["marker-and-timestamp", "no-hints"])
def test_random_rtp_boundaries(loop: VideoLoop, decode, feed_rtp, hints: bool) -> None:  # type: ignore[no-untyped-def]
    muxer = PsMuxer()
    packs = [(muxer.mux(unit), unit.pts + 1000) for unit in loop.units]
    got = feed_rtp(PsDemuxer(), packs, hints)
    assert_same(got, loop.units)
    assert decode(loop.codec, got) == len(loop.units)


def test_marker_completes_a_frame_at_once(loop: VideoLoop) -> None:
    muxer, demuxer = PsMuxer(), PsDemuxer()
    for unit in loop.units[:5]:
        units = demuxer.feed(muxer.mux(unit), unit.pts, marker=True)
        assert [u.pts for u in units] == [unit.pts]


def test_byte_by_byte(loop: VideoLoop) -> None:
    muxer, demuxer = PsMuxer(), PsDemuxer()
    stream = b"".join(muxer.mux(unit) for unit in loop.units[:4])
    got = [u for i in range(len(stream)) for u in demuxer.feed(stream[i : i + 1])] + demuxer.flush()
    assert_same(got, loop.units[:4])


def test_pts_wraps_at_33_bits_and_is_unwrapped(loop: VideoLoop) -> None:
    start = 2**33 - 5 * 3600
    muxer, demuxer = PsMuxer(), PsDemuxer()
    got: list[AccessUnit] = []
    for unit in loop.units[:12]:
        wrapped = (unit.pts + start) % 2**33
        got += demuxer.feed(muxer.mux(replace(unit, pts=wrapped, dts=wrapped)))
    got += demuxer.flush()
    assert [u.pts for u in got] == [start + u.pts for u in loop.units[:12]]  # past 2**33, still growing


def test_dts_different_from_pts_round_trips(loop: VideoLoop) -> None:
    units = [replace(u, pts=u.pts + 7200, dts=u.pts) for u in loop.units[:6]]
    muxer, demuxer = PsMuxer(), PsDemuxer()
    got = [u for unit in units for u in demuxer.feed(muxer.mux(unit))] + demuxer.flush()
    assert_same(got, units)


def test_frame_larger_than_a_pes_is_split_and_rejoined() -> None:
    sps = bytes.fromhex("6742c01eda0280bfe584")
    idr = b"\x65\x88" + bytes(range(1, 256)) * 1000  # 255 kB, no start code inside
    unit = AccessUnit(Codec.H264, 3600, 3600, b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + idr, keyframe=True)
    pack = PsMuxer().mux(unit)
    assert pack.count(b"\x00\x00\x01\xe0") == len(unit.data) // (MAX_PES_LENGTH - 8) + 1
    demuxer = PsDemuxer()
    got = demuxer.feed(pack) + demuxer.flush()
    assert_same(got, [unit])


def test_audio_units_round_trip_with_the_video() -> None:
    sps = bytes.fromhex("6742c01eda0280bfe584")
    video = AccessUnit(Codec.H264, 0, 0, b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01\x65\x88\x84", keyframe=True)
    audio = [AccessUnit(Codec.G711A, 3600 * n, 3600 * n, bytes([0xD5]) * 320) for n in range(3)]
    muxer, demuxer = PsMuxer(), PsDemuxer()
    muxer.mux(audio[0])  # the muxer learns the audio codec, so the keyframe's PSM lists both streams
    stream = muxer.mux(video) + b"".join(muxer.mux(a) for a in audio)
    got = demuxer.feed(stream) + demuxer.flush()
    assert demuxer.stream_types == {0xE0: 0x1B, 0xC0: 0x90}
    assert [u for u in got if u.codec is Codec.G711A] == audio
    assert [u.codec for u in got].count(Codec.H264) == 1


def test_misuse_raises_ps_error() -> None:
    with pytest.raises(PsError, match="max_frame_bytes must be positive, got 0"):
        PsDemuxer(max_frame_bytes=0)
