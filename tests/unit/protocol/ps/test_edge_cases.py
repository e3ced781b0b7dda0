"""What devices really send: several frame starts in one PES, a frame over several PES (cut anywhere, even
inside a start code), no PSM, a wrong PSM, a codec change mid-stream, PES without PTS, a mid-GOP join."""

from __future__ import annotations

from dataclasses import replace

from xueliang.protocol.es import AccessUnit, Codec
from xueliang.protocol.h26x import iter_nal_units
from xueliang.protocol.ps import PsDemuxer, PsMuxer
from xueliang.protocol.ps.mux import pack_header, pes_packets, program_stream_map, system_header
from xueliang.sim.video import VideoLoop

VIDEO = 0xE0


def nals(unit: AccessUnit) -> list[bytes]:
    return [bytes(n) for n in iter_nal_units(unit.data)]


def strip_psm(pack: bytes) -> bytes:
    start = pack.find(b"\x00\x00\x01\xbc")
    if start < 0:
        return pack
    length = 6 + int.from_bytes(pack[start + 4 : start + 6], "big")
    return pack[:start] + pack[start + length :]


def test_one_pes_holding_two_frame_starts(loop: VideoLoop) -> None:
    units = loop.units[:6]
    stream = b"".join(PsMuxer().mux(u) for u in units[:4])  # learns the frame interval
    pair = units[4].data + units[5].data
    stream += pack_header(units[4].pts) + b"".join(pes_packets(VIDEO, pair, units[4].pts, units[4].pts))
    demuxer = PsDemuxer()
    got = demuxer.feed(stream) + demuxer.flush()
    assert [u.pts for u in got] == [u.pts for u in units]  # the second start has no PTS: last + interval
    assert [nals(u) for u in got] == [nals(u) for u in units]


def test_frame_split_over_several_pes_cut_inside_start_codes(loop: VideoLoop, decode) -> None:  # type: ignore[no-untyped-def]
    stream = b""
    for unit in loop.units:
        data = unit.data
        cuts = sorted({1, 2, 3, len(data) // 3, len(data) // 2 + 1, len(data) - 2})
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        first = pes_packets(VIDEO, pieces[0], unit.pts, unit.pts)
        rest = [b"\x00\x00\x01\xe0" + (3 + len(p)).to_bytes(2, "big") + b"\x80\x00\x00" + p for p in pieces[1:]]
        header = pack_header(unit.pts)
        if unit.keyframe:
            header += system_header(video=True, audio=False) + program_stream_map(
                [(0x1B if loop.codec is Codec.H264 else 0x24, VIDEO)]
            )
        stream += header + b"".join(first + rest)
    demuxer = PsDemuxer()
    got = demuxer.feed(stream) + demuxer.flush()
    assert [(u.pts, u.keyframe) for u in got] == [(u.pts, u.keyframe) for u in loop.units]
    assert [nals(u) for u in got] == [nals(u) for u in loop.units]
    assert decode(loop.codec, got) == len(loop.units)


def test_missing_psm_codec_sniffed(loop: VideoLoop, feed_rtp) -> None:  # type: ignore[no-untyped-def]
    muxer = PsMuxer()
    packs = [(strip_psm(muxer.mux(u)), u.pts) for u in loop.units]
    assert all(b"\x00\x00\x01\xbc" not in p for p, _ in packs)
    demuxer = PsDemuxer()
    got = feed_rtp(demuxer, packs, True)
    assert [u.codec for u in got] == [loop.codec] * len(loop.units)
    assert demuxer.stream_types == {}


def test_wrong_psm_is_overruled_by_the_nal_headers(loop: VideoLoop) -> None:
    wrong = 0x24 if loop.codec is Codec.H264 else 0x1B
    muxer, demuxer = PsMuxer(), PsDemuxer()
    got = []
    for unit in loop.units:
        pack = muxer.mux(unit)
        if unit.keyframe:
            pack = strip_psm(pack)
            pack = pack[:14] + program_stream_map([(wrong, VIDEO)]) + pack[14:]
        got += demuxer.feed(pack)
    got += demuxer.flush()
    assert [u.codec for u in got] == [loop.codec] * len(loop.units)
    assert demuxer.psm_mismatches == 1
    assert [nals(u) for u in got] == [nals(u) for u in loop.units]


def test_codec_change_mid_stream(loops: dict[Codec, VideoLoop], decode) -> None:  # type: ignore[no-untyped-def]
    h264, h265 = loops[Codec.H264].units, loops[Codec.H265].units
    second = [replace(u, pts=u.pts + 90_000, dts=u.dts + 90_000) for u in h265]
    muxer, demuxer = PsMuxer(), PsDemuxer()
    got = [u for unit in h264 + second for u in demuxer.feed(muxer.mux(unit), unit.pts, marker=True)]
    got += demuxer.flush()
    assert [u.codec for u in got] == [Codec.H264] * len(h264) + [Codec.H265] * len(h265)
    assert [u.pts for u in got] == [u.pts for u in h264 + second]
    assert decode(Codec.H264, got[: len(h264)]) == len(h264)
    assert decode(Codec.H265, got[len(h264) :]) == len(h265)


def test_pes_without_pts_takes_the_rtp_timestamp(loop: VideoLoop) -> None:
    demuxer = PsDemuxer()
    got: list[AccessUnit] = []
    for unit in loop.units[:8]:
        pes = b"\x00\x00\x01\xe0" + (3 + len(unit.data)).to_bytes(2, "big") + b"\x80\x00\x00" + unit.data
        got += demuxer.feed(pack_header(0) + pes, rtp_timestamp=(unit.pts + 2**32 - 7200) % 2**32, marker=True)
    got += demuxer.flush()
    assert [u.pts for u in got] == [u.pts + 2**32 - 7200 for u in loop.units[:8]]  # unwrapped across 2**32


def test_mid_gop_join_drops_what_cannot_be_decoded(loop: VideoLoop, decode) -> None:  # type: ignore[no-untyped-def]
    muxer = PsMuxer()
    packs = [muxer.mux(u) for u in loop.units]
    joined = packs[3][100:] + b"".join(packs[4:])  # the first RTP packets were missed: starts inside a PES
    demuxer = PsDemuxer()
    got = demuxer.feed(joined) + demuxer.flush()
    assert got[0].keyframe and got[0].pts == loop.units[10].pts
    assert len(got) == len(loop.units) - 10
    assert demuxer.resyncs == 1
    assert demuxer.dropped_nal_units > 0
    assert decode(loop.codec, got) == len(got)


def test_mpeg1_pack_and_pes_headers(loop: VideoLoop) -> None:
    unit = loop.units[0]
    mpeg1_pack = b"\x00\x00\x01\xba\x21\x00\x01\x00\x01\x80\x00\x01"
    pts = bytes((0x21 | (unit.pts >> 29) & 0x0E, 0, 1, 0, 1))  # '0010' PTS 0 with markers
    pes_body = b"\xff\xff" + b"\x40\x00" + pts + unit.data  # stuffing, STD buffer, PTS
    pes = b"\x00\x00\x01\xe0" + len(pes_body).to_bytes(2, "big") + pes_body
    demuxer = PsDemuxer()
    got = demuxer.feed(mpeg1_pack + pes) + demuxer.flush()
    assert [(u.pts, nals(u)) for u in got] == [(0, nals(unit))]
