"""SPS parsing, decoder configuration records and sample framing against real x264/x265 output and PyAV."""

from __future__ import annotations

import random
from pathlib import Path

import av
import pytest
import xueliang_test_clips as clips

from xueliang.protocol.es import AccessUnit, Codec
from xueliang.protocol.h26x import H264_SPS, H265_SPS, H265_VPS, iter_nal_units, nal_type
from xueliang.protocol.h26x_params import (
    ParameterSetError,
    ParameterSets,
    annexb_to_length_prefixed,
    parse_h264_sps,
    parse_h265_sps,
    parse_h265_sps_info,
    remove_emulation_prevention,
)

DATA = Path(__file__).resolve().parents[3] / "data" / "h26x"

# file -> (width, height, profile_idc, level_idc, codec string)
EXPECTED = {
    "h264_idr_320x240_baseline.h264": (320, 240, 66, 13, "avc1.42c00d"),
    "h264_idr_640x360_main.h264": (640, 360, 77, 30, "avc1.4d401e"),
    "h264_idr_1920x1080_high.h264": (1920, 1080, 100, 40, "avc1.640028"),
    "h264_idr_176x144_high.h264": (176, 144, 100, 11, "avc1.64000b"),
    "h264_idr_720x576_interlaced.h264": (720, 576, 100, 30, "avc1.64001e"),
    "h264_idr_352x288_cqm.h264": (352, 288, 100, 13, "avc1.64000d"),
    "h265_idr_320x240_main.h265": (320, 240, 1, 60, "hvc1.1.6.L60.90"),
    "h265_idr_1920x1080_main.h265": (1920, 1080, 1, 120, "hvc1.1.6.L120.90"),
    "h265_idr_330x250_main.h265": (330, 250, 1, 60, "hvc1.1.6.L60.90"),
    "h265_idr_640x360_temporal.h265": (640, 360, 1, 63, "hvc1.1.6.L63.90"),
}


def _codec(name: str) -> Codec:
    return Codec.H264 if name.endswith(".h264") else Codec.H265


def _sps(name: str) -> bytes:
    codec = _codec(name)
    wanted = H264_SPS if codec is Codec.H264 else H265_SPS
    return next(bytes(nal) for nal in iter_nal_units((DATA / name).read_bytes()) if nal_type(codec, nal) == wanted)


def _parse(codec: Codec, nal: bytes) -> object:
    return parse_h264_sps(nal) if codec is Codec.H264 else parse_h265_sps(nal)


def _pyav_size(codec: Codec, packet: bytes, extradata: bytes | None = None) -> tuple[int, int]:
    context = av.CodecContext.create("h264" if codec is Codec.H264 else "hevc", "r")
    if extradata is not None:
        context.extradata = extradata
    frames = [*context.decode(av.Packet(packet)), *context.decode(None)]
    assert len(frames) == 1
    return frames[0].width, frames[0].height


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sps_matches_table_and_pyav(name: str) -> None:
    codec = _codec(name)
    params = parse_h264_sps(_sps(name)) if codec is Codec.H264 else parse_h265_sps(_sps(name))
    width, height, profile, level, codec_string = EXPECTED[name]
    assert (params.codec, params.width, params.height) == (codec, width, height)
    assert (params.profile, params.level, params.codec_string) == (profile, level, codec_string)
    assert (params.width, params.height) == _pyav_size(codec, (DATA / name).read_bytes())


def test_vectors_cover_the_cropping_and_layer_cases() -> None:
    """Guards the vector set itself: 1080p H.264 is coded as 1088 lines, 330x250 H.265 is padded to 336x256."""
    sps = remove_emulation_prevention(_sps("h264_idr_1920x1080_high.h264"))
    assert sps.hex().startswith("6764002")  # high profile, so the cropping is after the chroma fields
    assert parse_h265_sps_info(_sps("h265_idr_640x360_temporal.h265")).max_sub_layers == 3
    assert parse_h265_sps_info(_sps("h265_idr_320x240_main.h265")).max_sub_layers == 1


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_truncation_raises_or_parses_the_same(name: str) -> None:
    """The parser stops after the fields it needs, so a long prefix may parse; anything else is our error type."""
    codec = _codec(name)
    nal = _sps(name)
    whole = _parse(codec, nal)
    failures = 0
    for end in range(len(nal)):
        try:
            assert _parse(codec, nal[:end]) == whole
        except ParameterSetError:
            failures += 1
    assert failures >= 4  # at least the header bytes


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_garbage_never_escapes_as_another_exception(codec: Codec) -> None:
    header = b"\x67" if codec is Codec.H264 else b"\x42\x01"
    rng = random.Random(4)
    parsed = 0
    for _ in range(2000):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        try:
            _parse(codec, header + body)
            parsed += 1
        except ParameterSetError:
            pass
    assert parsed < 2000
    for bad in (b"", b"\x00", header + bytes(30), b"\x68\xff\xff\xff" if codec is Codec.H264 else b"\x44\x01\xff"):
        with pytest.raises(ParameterSetError):
            _parse(codec, bad)


def test_emulation_prevention_removed() -> None:
    assert (
        remove_emulation_prevention(b"\x67\x00\x00\x03\x01\x00\x00\x03\x00\x00\x03")
        == b"\x67\x00\x00\x01\x00\x00\x00\x00"
    )
    assert remove_emulation_prevention(b"\x00\x03\x00\x00\x02") == b"\x00\x03\x00\x00\x02"


@pytest.mark.parametrize("name", ["h264_idr_320x240_baseline.h264", "h264_idr_1920x1080_high.h264"])
def test_avcc_record_layout_and_pyav_decodes_with_it(name: str) -> None:
    data = (DATA / name).read_bytes()
    sets = ParameterSets(Codec.H264)
    assert sets.update(AccessUnit(Codec.H264, 0, 0, data, True))
    record = sets.decoder_config()
    sps = _sps(name)
    assert record[:5] == bytes((1, sps[1], sps[2], sps[3], 0xFF))
    assert record[5] == 0xE1 and int.from_bytes(record[6:8], "big") == len(sps)
    assert record[8 : 8 + len(sps)] == sps
    pps_count = record[8 + len(sps)]
    assert pps_count == 1
    pps_len = int.from_bytes(record[9 + len(sps) : 11 + len(sps)], "big")
    tail = record[11 + len(sps) + pps_len :]
    assert tail == (b"\xfd\xf8\xf8\x00" if sps[1] == 100 else b"")  # 4:2:0, 8 bit, no SPS extensions
    sample = annexb_to_length_prefixed(data, Codec.H264)
    width, height = EXPECTED[name][:2]
    assert _pyav_size(Codec.H264, sample, extradata=record) == (width, height)


@pytest.mark.parametrize("name", ["h265_idr_320x240_main.h265", "h265_idr_640x360_temporal.h265"])
def test_hvcc_record_layout_and_pyav_decodes_with_it(name: str) -> None:
    data = (DATA / name).read_bytes()
    sets = ParameterSets(Codec.H265)
    sets.update(AccessUnit(Codec.H265, 0, 0, data, True))
    record = sets.decoder_config()
    info = parse_h265_sps_info(_sps(name))
    assert record[0] == 1 and record[1] == info.params.profile  # profile space 0, main tier
    assert int.from_bytes(record[2:6], "big") == info.profile_compatibility
    assert record[12] == info.params.level
    assert record[21] == (info.max_sub_layers << 3) | (int(info.temporal_id_nesting) << 2) | 3
    assert record[22] == 3  # VPS, SPS, PPS arrays
    types, pos = [], 23
    for _ in range(3):
        types.append(record[pos] & 0x3F)
        count = int.from_bytes(record[pos + 1 : pos + 3], "big")
        pos += 3
        for _ in range(count):
            pos += 2 + int.from_bytes(record[pos : pos + 2], "big")
    assert types == [32, 33, 34] and pos == len(record)
    sample = annexb_to_length_prefixed(data, Codec.H265)
    assert _pyav_size(Codec.H265, sample, extradata=record) == EXPECTED[name][:2]


def test_parameter_sets_track_changes_and_drop_bad_ones() -> None:
    small = (DATA / "h264_idr_320x240_baseline.h264").read_bytes()
    large = (DATA / "h264_idr_640x360_main.h264").read_bytes()
    sets = ParameterSets(Codec.H264)
    assert not sets.ready and sets.params is None
    with pytest.raises(ParameterSetError):
        sets.decoder_config()
    sps_only = b"\x00\x00\x00\x01" + _sps("h264_idr_320x240_baseline.h264")
    assert sets.update(AccessUnit(Codec.H264, 0, 0, sps_only))
    assert not sets.ready  # no PPS yet
    assert sets.update(AccessUnit(Codec.H264, 0, 0, small, True))
    assert sets.ready and sets.params is not None and sets.params.width == 320
    assert not sets.update(AccessUnit(Codec.H264, 3600, 3600, small, True))
    assert not sets.update(AccessUnit(Codec.H265, 0, 0, (DATA / "h265_idr_320x240_main.h265").read_bytes()))
    corrupt = b"\x00\x00\x01\x67\x64\x00"  # truncated SPS
    assert not sets.update(AccessUnit(Codec.H264, 0, 0, corrupt))
    assert sets.dropped == 1 and sets.params.width == 320
    assert sets.update(AccessUnit(Codec.H264, 7200, 7200, large, True))
    assert sets.params is not None and (sets.params.width, sets.params.height) == (640, 360)
    with pytest.raises(ValueError, match="video"):
        ParameterSets(Codec.AAC)


def test_h265_needs_a_vps() -> None:
    data = (DATA / "h265_idr_320x240_main.h265").read_bytes()
    without_vps = b"".join(
        b"\x00\x00\x00\x01" + bytes(nal) for nal in iter_nal_units(data) if nal_type(Codec.H265, nal) != H265_VPS
    )
    sets = ParameterSets(Codec.H265)
    sets.update(AccessUnit(Codec.H265, 0, 0, without_vps, True))
    assert sets.params is not None and not sets.ready
    sets.update(AccessUnit(Codec.H265, 0, 0, data, True))
    assert sets.ready


def test_length_prefixed_framing() -> None:
    stream = (
        b"\x00\x00\x00\x01\x09\xf0"
        + b"\x00\x00\x01\x67\x42\x0a"
        + b"\x00\x00\x01\x68\xce"
        + b"\x00\x00\x01\x65\x88\x84"
    )
    kept = annexb_to_length_prefixed(stream)
    assert (
        kept
        == b"\x00\x00\x00\x02\x09\xf0\x00\x00\x00\x03\x67\x42\x0a\x00\x00\x00\x02\x68\xce\x00\x00\x00\x03\x65\x88\x84"
    )
    assert annexb_to_length_prefixed(stream, Codec.H264) == b"\x00\x00\x00\x03\x65\x88\x84"
    assert annexb_to_length_prefixed(b"garbage without start codes", Codec.H264) == b""


def test_encoded_clip_units_keep_their_slices() -> None:
    clip = clips.encode(Codec.H265, 320, 240, 3)
    first = clip.units[0]
    sample = annexb_to_length_prefixed(first.data, Codec.H265)
    slices = [bytes(nal) for nal in iter_nal_units(first.data) if nal_type(Codec.H265, nal) < 32]
    assert slices and all(nal in sample for nal in slices)
    assert b"\x40\x01" not in sample[4:6]  # the VPS did not stay in the sample


def test_leading_nal_units_stop_at_the_first_slice() -> None:
    from xueliang.protocol.h26x import iter_leading_nal_units, iter_nal_units

    aud, sps, pps, idr = b"\x09\xf0", b"\x67\x42\x00\x1e\xab", b"\x68\xce\x38\x80", b"\x65\x88\x84\x00"
    stream = b"".join(b"\x00\x00\x00\x01" + nal for nal in (aud, sps, pps, idr, b"\x41\x9a"))
    assert [bytes(n) for n in iter_leading_nal_units(Codec.H264, stream)] == [aud, sps, pps]
    assert len(list(iter_nal_units(stream))) == 5
    vps, h265_sps, slice_ = b"\x40\x01\x0c", b"\x42\x01\x01", b"\x26\x01\xaf"
    h265 = b"".join(b"\x00\x00\x01" + nal for nal in (vps, h265_sps, slice_))
    assert [bytes(n) for n in iter_leading_nal_units(Codec.H265, h265)] == [vps, h265_sps]
    assert list(iter_leading_nal_units(Codec.H264, b"\x00\x00\x01")) == []
    assert list(iter_leading_nal_units(Codec.H264, b"garbage")) == []
