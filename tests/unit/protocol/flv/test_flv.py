"""FLV muxer: real x264/x265 clips muxed, read back by ffprobe (system ffmpeg 5.1) and PyAV (its own newer
libavformat, which reads both HEVC dialects), and checked byte by byte against the FLV / Enhanced RTMP layouts."""

from __future__ import annotations

import io
import random
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
import xueliang_test_clips as clips

from xueliang.protocol.es import AccessUnit, Codec
from xueliang.protocol.flv import AdtsError, FlvMuxer, iter_adts_frames
from xueliang.protocol.h26x import iter_nal_units, nal_type
from xueliang.protocol.h26x_params import ParameterSets


@dataclass(frozen=True)
class Tag:
    kind: int
    timestamp: int
    body: bytes


def read_flv(data: bytes) -> tuple[int, list[Tag]]:
    """An independent FLV reader: header flags and tags, checking every PreviousTagSize."""
    assert data[:4] == b"FLV\x01" and int.from_bytes(data[5:9], "big") == 9
    assert data[9:13] == b"\x00\x00\x00\x00"
    tags, pos = [], 13
    while pos < len(data):
        kind, size = data[pos], int.from_bytes(data[pos + 1 : pos + 4], "big")
        timestamp = int.from_bytes(data[pos + 4 : pos + 7], "big") | (data[pos + 7] << 24)
        assert data[pos + 8 : pos + 11] == b"\x00\x00\x00"
        body = data[pos + 11 : pos + 11 + size]
        assert len(body) == size
        assert int.from_bytes(data[pos + 11 + size : pos + 15 + size], "big") == 11 + size
        tags.append(Tag(kind, timestamp, body))
        pos += 15 + size
    return data[4], tags


def mux_all(muxer: FlvMuxer, units: list[AccessUnit]) -> bytes:
    return muxer.header() + b"".join(muxer.mux(unit) for unit in units)


def pyav_frames(path: Path) -> tuple[Any, list[av.VideoFrame]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return stream.codec_context.name, frames


def expected_pts_ms(units: list[AccessUnit]) -> list[int]:
    base = units[0].dts
    return sorted((unit.pts - base) // 90 for unit in units)


@pytest.mark.parametrize("bframes", [0, 2])
def test_h264_read_by_ffprobe(tmp_path: Path, bframes: int) -> None:
    clip = clips.encode(Codec.H264, 320, 240, 60, bframes=bframes)
    path = tmp_path / "out.flv"
    path.write_bytes(mux_all(FlvMuxer(), clip.units))
    probe = clips.ffprobe_frames(path)
    (stream,) = probe["streams"]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 320, 240)
    frames = probe["frames"]
    assert len(frames) == len(clip.units) == 60
    pts = [frame["pts"] for frame in frames]
    assert pts == sorted(set(pts)) == expected_pts_ms(clip.units)
    assert sum(frame["key_frame"] for frame in frames) == clip.keyframes == 3


@pytest.mark.parametrize(("hevc", "bframes"), [("codec12", 0), ("codec12", 2), ("enhanced", 0), ("enhanced", 2)])
def test_h265_decoded_by_pyav(tmp_path: Path, hevc: Any, bframes: int) -> None:
    clip = clips.encode(Codec.H265, 320, 240, 50, bframes=bframes)
    path = tmp_path / "out.flv"
    path.write_bytes(mux_all(FlvMuxer(hevc=hevc), clip.units))
    name, frames = pyav_frames(path)
    assert name == "hevc"
    assert len(frames) == 50 and {(frame.width, frame.height) for frame in frames} == {(320, 240)}
    assert [frame.pts for frame in frames] == expected_pts_ms(clip.units)
    assert sum(frame.key_frame for frame in frames) == clip.keyframes


def test_h264_layout_byte_by_byte() -> None:
    clip = clips.encode(Codec.H264, 320, 240, 30, bframes=2)
    flags, tags = read_flv(mux_all(FlvMuxer(), clip.units))
    assert flags == 0x01
    sets = ParameterSets(Codec.H264)
    sets.update(clip.units[0])
    header, *frames = tags
    assert header.kind == 9 and header.body[:5] == b"\x17\x00\x00\x00\x00"
    assert header.body[5:] == sets.decoder_config()
    assert len(frames) == 30
    base = clip.units[0].dts
    for tag, unit in zip(frames, clip.units, strict=True):
        assert tag.body[0] == (0x17 if unit.keyframe else 0x27) and tag.body[1] == 1
        cts = int.from_bytes(tag.body[2:5], "big", signed=True)
        assert tag.timestamp == (unit.dts - base) // 90 and cts == (unit.pts - base) // 90 - tag.timestamp
        assert _nals(tag.body[5:]) == [
            bytes(n) for n in iter_nal_units(unit.data) if nal_type(Codec.H264, n) not in (7, 8, 9)
        ]
    assert any(int.from_bytes(tag.body[2:5], "big") > 0 for tag in frames)  # B-frames gave composition offsets


def _nals(sample: bytes) -> list[bytes]:
    nals, pos = [], 0
    while pos < len(sample):
        size = int.from_bytes(sample[pos : pos + 4], "big")
        nals.append(sample[pos + 4 : pos + 4 + size])
        pos += 4 + size
    assert pos == len(sample)
    return nals


def test_h265_codec12_layout() -> None:
    """Codec id 12 with the AVC packet layout: what mpegts.js forks, flv.js-hevc, Jessibuca and EasyPlayer expect."""
    clip = clips.encode(Codec.H265, 320, 240, 30, bframes=2)
    _, tags = read_flv(mux_all(FlvMuxer(hevc="codec12"), clip.units))
    sets = ParameterSets(Codec.H265)
    sets.update(clip.units[0])
    assert tags[0].body[:5] == b"\x1c\x00\x00\x00\x00" and tags[0].body[5:] == sets.decoder_config()
    assert tags[1].body[:2] == b"\x1c\x01"
    assert {tag.body[:2] for tag in tags[2:]} <= {b"\x1c\x01", b"\x2c\x01"}
    assert any(tag.body[:2] == b"\x2c\x01" and tag.body[2:5] != b"\x00\x00\x00" for tag in tags)
    assert all(_nals(tag.body[5:]) for tag in tags[1:])


def test_h265_enhanced_layout() -> None:
    """Enhanced RTMP v1: IsExHeader | FrameType | PacketType, FourCC, CompositionTime only in CodedFrames.

    ffmpeg 5.1 (the system ffprobe) predates enhanced FLV, so the layout is checked here against the spec and
    the decoding by PyAV's newer libavformat above.
    """
    clip = clips.encode(Codec.H265, 320, 240, 30, bframes=2)
    _, tags = read_flv(mux_all(FlvMuxer(hevc="enhanced"), clip.units))
    sets = ParameterSets(Codec.H265)
    sets.update(clip.units[0])
    assert tags[0].body[:5] == b"\x90hvc1" and tags[0].body[5:] == sets.decoder_config()
    base = clip.units[0].dts
    for tag, unit in zip(tags[1:], clip.units, strict=True):
        frame_type = 1 if unit.keyframe else 2
        cts = (unit.pts - base) // 90 - (unit.dts - base) // 90
        assert tag.body[1:5] == b"hvc1"
        if cts:
            assert tag.body[0] == 0x80 | frame_type << 4 | 1  # CodedFrames
            assert int.from_bytes(tag.body[5:8], "big", signed=True) == cts
            payload = tag.body[8:]
        else:
            assert tag.body[0] == 0x80 | frame_type << 4 | 3  # CodedFramesX
            payload = tag.body[5:]
        assert _nals(payload)
    assert {tag.body[0] & 0x0F for tag in tags[1:]} == {1, 3}


def test_no_frame_before_sequence_header_and_keyframe() -> None:
    clip = clips.encode(Codec.H264, 320, 240, 60)
    late_join = clip.units[5:]  # starts mid-GOP: parameter sets and keyframe only at frame 25
    muxer = FlvMuxer()
    outputs = [muxer.mux(unit) for unit in late_join]
    assert outputs[:20] == [b""] * 20 and muxer.dropped == 20
    _, tags = read_flv(muxer.header() + b"".join(outputs))
    assert tags[0].body[:2] == b"\x17\x00" and tags[1].body[:2] == b"\x17\x01"
    assert tags[0].timestamp == tags[1].timestamp == 0
    assert len(tags) == 1 + 35


def test_new_parameter_sets_send_a_new_sequence_header(tmp_path: Path) -> None:
    first = clips.encode(Codec.H264, 320, 240, 25)
    second = clips.encode(Codec.H264, 640, 360, 25)
    shift = first.units[-1].dts + clips.TICKS_PER_FRAME - second.units[0].dts
    moved = [AccessUnit(u.codec, u.pts + shift, u.dts + shift, u.data, u.keyframe) for u in second.units]
    data = mux_all(FlvMuxer(), first.units + moved)
    _, tags = read_flv(data)
    headers = [index for index, tag in enumerate(tags) if tag.body[:2] == b"\x17\x00"]
    assert headers == [0, 26]
    assert tags[26].timestamp == tags[27].timestamp == (moved[0].dts - first.units[0].dts) // 90
    path = tmp_path / "switch.flv"
    path.write_bytes(data)
    _, frames = pyav_frames(path)
    assert [(frame.width, frame.height) for frame in frames] == [(320, 240)] * 25 + [(640, 360)] * 25


def test_timestamps_extended_byte_wrap_and_clamp() -> None:
    clip = clips.encode(Codec.H264, 320, 240, 4)
    ms = 90
    times = [0, 0x01234567 * ms, (1 << 32) * ms + 5 * ms, 0x01234567 * ms - 1000 * ms]  # the last one goes back
    units = [AccessUnit(u.codec, t, t, u.data, u.keyframe) for u, t in zip(clip.units, times, strict=True)]
    _, tags = read_flv(mux_all(FlvMuxer(), units))
    assert [tag.timestamp for tag in tags[1:]] == [0, 0x01234567, 5, 5]


def test_metadata_tag() -> None:
    clip = clips.encode(Codec.H265, 320, 240, 1)
    sets = ParameterSets(Codec.H265)
    sets.update(clip.units[0])
    assert sets.params is not None
    _, (tag,) = read_flv(FlvMuxer().header() + FlvMuxer(audio=True).metadata(sets.params, framerate=25.0))
    assert tag.kind == 18 and tag.timestamp == 0
    assert tag.body[:13] == b"\x02\x00\x0aonMetaData" and tag.body[13] == 0x08
    fields, pos = {}, 18
    for _ in range(int.from_bytes(tag.body[14:18], "big")):
        size = int.from_bytes(tag.body[pos : pos + 2], "big")
        key = tag.body[pos + 2 : pos + 2 + size].decode()
        assert tag.body[pos + 2 + size] == 0
        (fields[key],) = struct.unpack(">d", tag.body[pos + 3 + size : pos + 11 + size])
        pos += 11 + size
    assert tag.body[pos:] == b"\x00\x00\x09"
    assert fields == {"width": 320, "height": 240, "videocodecid": 12, "framerate": 25, "audiocodecid": 10}
    enhanced = FlvMuxer(hevc="enhanced").metadata(sets.params)
    assert struct.pack(">d", float(int.from_bytes(b"hvc1", "big"))) in enhanced


def _adts_clip(seconds: float, rate: int = 48000) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="adts") as container:
        stream: Any = container.add_stream("aac", rate=rate)
        stream.layout = "mono"
        samples = int(seconds * rate)
        for start in range(0, samples, 1024):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
            frame.planes[0].update(bytes(4096))
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def test_aac_audio_with_video(tmp_path: Path) -> None:
    clip = clips.encode(Codec.H264, 320, 240, 50)
    adts = _adts_clip(2.0)
    frames = iter_adts_frames(adts)
    assert frames[0].sample_rate == 48000 and frames[0].channels == 1 and frames[0].object_type == 2
    base = clip.units[0].dts
    audio, pos = [], 0
    for index in range(len(frames)):  # two ADTS frames per unit, as a PS demuxer may hand them over
        length = ((adts[pos + 3] & 3) << 11) | (adts[pos + 4] << 3) | (adts[pos + 5] >> 5)
        if index % 2 == 0:
            audio.append(AccessUnit(Codec.AAC, base + index * 1920, base + index * 1920, b""))
        last = audio[-1]
        audio[-1] = AccessUnit(Codec.AAC, last.pts, last.dts, last.data + adts[pos : pos + length])
        pos += length
    units = sorted(clip.units + audio, key=lambda unit: unit.dts)
    muxer = FlvMuxer(audio=True)
    data = mux_all(muxer, [AccessUnit(Codec.G711A, base, base, b"\xd5" * 160), *units])
    flags, tags = read_flv(data)
    assert flags == 0x05
    audio_tags = [tag for tag in tags if tag.kind == 8]
    assert audio_tags[0].body == b"\xaf\x00" + frames[0].audio_specific_config()
    assert len(audio_tags) == 1 + len(frames)
    audio_times = [tag.timestamp for tag in audio_tags[1:]]
    assert audio_times == sorted(audio_times) and audio_times[1] == 21  # 1024 samples at 48 kHz
    path = tmp_path / "av.flv"
    path.write_bytes(data)
    probe = clips.ffprobe_frames(path)
    kinds = {stream["codec_type"]: stream for stream in probe["streams"]}
    assert kinds["audio"]["codec_name"] == "aac" and kinds["audio"]["sample_rate"] == "48000"
    assert kinds["video"]["codec_name"] == "h264"
    counted = [frame["media_type"] for frame in probe["frames"]]
    assert counted.count("video") == 50 and counted.count("audio") == len(frames)


def test_audio_dropped_when_not_asked_or_bad() -> None:
    clip = clips.encode(Codec.H264, 320, 240, 2)
    muxer = FlvMuxer(audio=True)
    adts = _adts_clip(0.1)
    assert muxer.mux(AccessUnit(Codec.AAC, 0, 0, adts)) == b""  # before the first video tag
    assert muxer.mux(clip.units[0])
    assert muxer.mux(AccessUnit(Codec.AAC, 0, 0, b"\xff\xf1garbage")) == b""
    assert muxer.mux(AccessUnit(Codec.G711U, 0, 0, b"\xff" * 160)) == b""
    assert muxer.dropped == 2
    assert muxer.mux(AccessUnit(Codec.AAC, 0, 0, adts))
    assert FlvMuxer().mux(AccessUnit(Codec.AAC, 0, 0, adts)) == b""
    for bad in (b"\xff", b"\x00" * 9, adts[:-1], b"\xff\xf1\x7c\x40\x01\x7f\xfc"):
        with pytest.raises(AdtsError):
            iter_adts_frames(bad)


def test_end_of_sequence() -> None:
    clip = clips.encode(Codec.H265, 320, 240, 2)
    assert FlvMuxer().end() == b""
    for hevc, body in (("codec12", b"\x1c\x02\x00\x00\x00"), ("enhanced", b"\x92hvc1")):
        muxer = FlvMuxer(hevc=hevc)  # type: ignore[arg-type]
        tags = [muxer.mux(unit) for unit in clip.units]
        _, (tag,) = read_flv(muxer.header() + muxer.end())
        assert tag.body == body and tag.timestamp == 40 and all(tags)


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_corrupted_units_never_raise(codec: Codec) -> None:
    """Bit flips anywhere (parameter sets included) cost a drop or a bad frame, never an exception."""
    clip = clips.encode(codec, 320, 240, 30)
    rng = random.Random(28181)
    muxers = [FlvMuxer(hevc="codec12", audio=True), FlvMuxer(hevc="enhanced")]
    for _ in range(8):
        for unit in clip.units:
            data = bytearray(unit.data)
            for _ in range(rng.randrange(4)):
                data[rng.randrange(min(len(data), 80))] = rng.randrange(256)
            broken = AccessUnit(
                codec, unit.pts, unit.dts, bytes(data[: rng.randrange(1, len(data) + 1)]), unit.keyframe
            )
            for muxer in muxers:
                muxer.mux(broken)
    with pytest.raises(ValueError):
        FlvMuxer(hevc="hvc1")  # type: ignore[arg-type]
