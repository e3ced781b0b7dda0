"""fMP4 muxer and segmenter: real x264/x265 clips, read back by ffprobe and PyAV, boxes checked field by field."""

from __future__ import annotations

import random
from pathlib import Path

import av
import pytest
import xueliang_test_clips as clips

from xueliang.protocol.es import AccessUnit, Codec
from xueliang.protocol.fmp4 import Fmp4Error, Fmp4Muxer, Segment, SegmentBuilder
from xueliang.protocol.h26x_params import ParameterSets

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"dinf"}


def boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """An independent box walker: (type, body) pairs, every size checked."""
    out, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        assert size >= 8 and pos + size <= len(data)
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + size]))
        pos += size
    return out


def find(data: bytes, *path: bytes) -> bytes:
    for kind in path:
        matches = [body for name, body in boxes(data) if name == kind]
        assert len(matches) == 1, f"{kind!r} found {len(matches)} times"
        data = matches[0]
    return data


def segment_all(units: list[AccessUnit], target: float = 1.0) -> list[Segment]:
    builder = SegmentBuilder(target)
    segments = [segment for unit in units if (segment := builder.push(unit)) is not None]
    last = builder.flush()
    assert last is not None
    return [*segments, last]


@pytest.mark.parametrize(("codec", "bframes"), [(Codec.H264, 0), (Codec.H264, 2), (Codec.H265, 0), (Codec.H265, 2)])
def test_segments_decode_with_ffprobe_and_pyav(tmp_path: Path, codec: Codec, bframes: int) -> None:
    clip = clips.encode(codec, 320, 240, 60, bframes=bframes)
    segments = segment_all(clip.units)
    assert [segment.sequence for segment in segments] == [0, 1, 2]
    assert [segment.duration_s for segment in segments] == [1.0, 1.0, 0.4]
    path = tmp_path / "stream.mp4"
    path.write_bytes(segments[0].init + b"".join(segment.data for segment in segments))
    probe = clips.ffprobe_frames(path)
    (stream,) = probe["streams"]
    expected_tag = "avc1" if codec is Codec.H264 else "hvc1"
    assert (stream["codec_tag_string"], stream["width"], stream["height"]) == (expected_tag, 320, 240)
    assert stream["codec_name"] == ("h264" if codec is Codec.H264 else "hevc")
    frames = probe["frames"]
    base = clip.units[0].dts
    expected = sorted(unit.pts - base for unit in clip.units)
    assert [frame["pts"] for frame in frames] == expected
    assert sum(frame["key_frame"] for frame in frames) == clip.keyframes == 3
    with av.open(str(path)) as container:
        decoded = list(container.decode(video=0))
    assert [frame.pts for frame in decoded] == expected
    assert {(frame.width, frame.height) for frame in decoded} == {(320, 240)}


def test_init_segment_boxes() -> None:
    clip = clips.encode(Codec.H265, 320, 240, 1)
    sets = ParameterSets(Codec.H265)
    muxer = Fmp4Muxer(sets)
    with pytest.raises(Fmp4Error):
        muxer.init_segment()
    sets.update(clip.units[0])
    init = muxer.init_segment()
    assert [name for name, _ in boxes(init)] == [b"ftyp", b"moov"]
    assert find(init, b"ftyp")[:4] == b"iso6"
    assert [name for name, _ in boxes(find(init, b"moov"))] == [b"mvhd", b"trak", b"mvex"]
    tkhd = find(init, b"moov", b"trak", b"tkhd")
    assert int.from_bytes(tkhd[12:16], "big") == 1  # track_ID
    assert (int.from_bytes(tkhd[76:80], "big"), int.from_bytes(tkhd[80:84], "big")) == (320 << 16, 240 << 16)
    mdhd = find(init, b"moov", b"trak", b"mdia", b"mdhd")
    assert int.from_bytes(mdhd[12:16], "big") == 90000
    assert find(init, b"moov", b"trak", b"mdia", b"hdlr")[8:12] == b"vide"
    stsd = find(init, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd")
    ((entry, body),) = boxes(stsd[8:])
    assert entry == b"hvc1"
    assert (int.from_bytes(body[24:26], "big"), int.from_bytes(body[26:28], "big")) == (320, 240)
    assert find(body[78:], b"hvcC") == sets.decoder_config()
    trex = find(init, b"moov", b"mvex", b"trex")
    assert int.from_bytes(trex[4:8], "big") == 1 and int.from_bytes(trex[8:12], "big") == 1


def test_fragment_fields_match_the_units() -> None:
    clip = clips.encode(Codec.H264, 320, 240, 25, bframes=2)
    sets = ParameterSets(Codec.H264)
    sets.update(clip.units[0])
    muxer = Fmp4Muxer(sets)
    first, second = clip.units[:10], clip.units[10:]
    fragment = muxer.fragment(first, 7, next_dts=second[0].dts)
    assert [name for name, _ in boxes(fragment)] == [b"moof", b"mdat"]
    assert int.from_bytes(find(fragment, b"moof", b"mfhd")[4:8], "big") == 7
    tfdt = find(fragment, b"moof", b"traf", b"tfdt")
    assert tfdt[0] == 1 and int.from_bytes(tfdt[4:12], "big") == 0
    trun = find(fragment, b"moof", b"traf", b"trun")
    assert trun[0] == 0 and int.from_bytes(trun[1:4], "big") == 0x000F01
    assert int.from_bytes(trun[4:8], "big") == 10
    data_offset = int.from_bytes(trun[8:12], "big")
    moof_size = int.from_bytes(fragment[:4], "big")
    assert data_offset == moof_size + 8
    mdat = fragment[data_offset:]
    pos = 0
    for index, unit in enumerate(first):
        duration, size, flags, offset = (
            int.from_bytes(trun[12 + 16 * index + k : 16 + 16 * index + k], "big") for k in (0, 4, 8, 12)
        )
        assert duration == 3600 and offset == unit.pts - unit.dts
        assert flags == (0x02000000 if unit.keyframe else 0x01010000)
        sample = mdat[pos : pos + size]
        assert int.from_bytes(sample[:4], "big") + 4 <= size
        pos += size
    assert pos == len(mdat)
    later = muxer.fragment(second, 8)
    assert int.from_bytes(find(later, b"moof", b"traf", b"tfdt")[4:12], "big") == second[0].dts - first[0].dts
    last_duration = find(later, b"moof", b"traf", b"trun")[12 + 16 * (len(second) - 1) :][:4]
    assert int.from_bytes(last_duration, "big") == 3600  # no next_dts: as long as the sample before
    with pytest.raises(Fmp4Error):
        muxer.fragment([], 9)


def test_negative_composition_offset_uses_trun_version_1() -> None:
    clip = clips.encode(Codec.H264, 320, 240, 2)
    sets = ParameterSets(Codec.H264)
    sets.update(clip.units[0])
    odd = AccessUnit(Codec.H264, 0, 3600, clip.units[0].data, True)
    trun = find(Fmp4Muxer(sets).fragment([odd], 1), b"moof", b"traf", b"trun")
    assert trun[0] == 1 and int.from_bytes(trun[24:28], "big", signed=True) == -3600


def test_builder_waits_for_keyframe_and_ignores_audio() -> None:
    clip = clips.encode(Codec.H264, 320, 240, 75)
    builder = SegmentBuilder(2.0, first_sequence=40)
    assert not builder.ready
    with pytest.raises(Fmp4Error):
        builder.init_segment()
    results = [builder.push(unit) for unit in clip.units[3:]]  # joins mid-GOP
    assert builder.push(AccessUnit(Codec.AAC, 0, 0, b"\xff\xf1")) is None
    assert builder.dropped == 22 + 1
    assert results.count(None) == len(results)  # 2 s from frame 25 is frame 75: not reached
    segment = builder.flush()
    assert segment is not None and segment.sequence == 40 and segment.duration_s == 2.0
    assert segment.keyframe_pts == clip.units[25].pts and segment.init == builder.init_segment()
    trun = find(segment.data, b"moof", b"traf", b"trun")
    assert int.from_bytes(trun[4:8], "big") == 50
    assert builder.flush() is None


def test_new_parameter_sets_close_the_segment_and_bring_a_new_init(tmp_path: Path) -> None:
    first = clips.encode(Codec.H265, 320, 240, 30)
    second = clips.encode(Codec.H265, 640, 360, 30)
    shift = first.units[-1].dts + clips.TICKS_PER_FRAME - second.units[0].dts
    moved = [AccessUnit(u.codec, u.pts + shift, u.dts + shift, u.data, u.keyframe) for u in second.units]
    segments = segment_all(first.units + moved, target=10.0)
    assert [round(segment.duration_s, 2) for segment in segments] == [1.2, 1.2]
    assert segments[0].init != segments[1].init
    for segment, size in zip(segments, [(320, 240), (640, 360)], strict=True):
        path = tmp_path / f"{size[0]}.mp4"
        path.write_bytes(segment.init + segment.data)
        probe = clips.ffprobe_frames(path)
        assert (probe["streams"][0]["width"], probe["streams"][0]["height"]) == size
        assert len(probe["frames"]) == 30


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_corrupted_units_never_raise(codec: Codec) -> None:
    clip = clips.encode(codec, 320, 240, 30)
    rng = random.Random(28181)
    builder = SegmentBuilder(0.5)
    produced = 0
    for _ in range(8):
        for unit in clip.units:
            data = bytearray(unit.data)
            for _ in range(rng.randrange(4)):
                data[rng.randrange(min(len(data), 80))] = rng.randrange(256)
            broken = AccessUnit(
                codec, unit.pts, unit.dts, bytes(data[: rng.randrange(1, len(data) + 1)]), unit.keyframe
            )
            produced += builder.push(broken) is not None
    assert produced > 0  # the stream goes on after the damage
