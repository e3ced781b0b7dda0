"""FLV muxer for HTTP-FLV and WS-FLV viewers (mpegts.js, flv.js forks, Jessibuca, EasyPlayer, ffmpeg).

One :class:`FlvMuxer` per viewer connection: ``header()`` once, then ``mux(unit)`` for every access unit, each
call returning zero or more complete tags (tag + PreviousTagSize). A viewer's first frame is a keyframe with its
sequence header in front, so a player that joins late (from the GOP cache) starts clean.

H.265 comes in two dialects, picked per connection:

* ``"codec12"``: CodecID 12 with the AVC packet layout (AVCPacketType, CompositionTime, hvcC / length-prefixed
  NAL units). Not in any Adobe spec, but the de facto Chinese convention that mpegts.js forks, flv.js-hevc,
  Jessibuca and EasyPlayer read, and that SRS/ZLMediaKit send.
* ``"enhanced"``: Enhanced RTMP/FLV v1: IsExHeader bit, FourCC ``hvc1``, PacketType SequenceStart /
  CodedFrames (with composition time) / CodedFramesX (composition time 0, omitted). ffmpeg 6.1+ reads it.

Timestamps are milliseconds relative to the first keyframe this muxer emits, 32 bits (24 + 8 extended; they wrap
after 49.7 days), and never decrease within a track (a backwards step is clamped to the last value). Audio: AAC
only, when ``audio=True`` (ADTS headers stripped, AudioSpecificConfig built from the first ADTS header). G.711 is
ignored: browsers cannot play it through MSE, so the platform leaves it out. Audio waits for the first video tag.

Errors: nothing raises on input. Video before the first parameter sets + keyframe, audio that is not valid ADTS
and non-video codecs other than AAC are dropped and counted in ``dropped``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

from xueliang.protocol.es import CLOCK_RATE, AccessUnit, Codec
from xueliang.protocol.h26x_params import ParameterSets, VideoParams, annexb_to_length_prefixed

__all__ = ["AdtsError", "AdtsFrame", "FlvMuxer", "iter_adts_frames"]

FLV_SIGNATURE = b"FLV\x01"
FLV_HEADER_SIZE = 9
FLAG_VIDEO = 0x01
FLAG_AUDIO = 0x04
TAG_AUDIO = 8
TAG_VIDEO = 9
TAG_SCRIPT = 18
TAG_HEADER_SIZE = 11

FRAME_KEY = 1
FRAME_INTER = 2
CODEC_AVC = 7
CODEC_HEVC_12 = 12
AVC_SEQUENCE_HEADER = 0
AVC_NALU = 1
AVC_END_OF_SEQUENCE = 2

EX_HEADER = 0x80
EX_SEQUENCE_START = 0
EX_CODED_FRAMES = 1
EX_SEQUENCE_END = 2
EX_CODED_FRAMES_X = 3
FOURCC_HEVC = b"hvc1"

SOUND_AAC = 10
#: AAC tags always say 44 kHz, 16-bit, stereo in the first byte (the real values are in the AudioSpecificConfig).
AAC_SOUND_BYTE = (SOUND_AAC << 4) | 0x0F
AAC_SEQUENCE_HEADER = 0
AAC_RAW = 1
AAC_SAMPLES_PER_FRAME = 1024
ADTS_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)

AMF_NUMBER = 0x00
AMF_STRING = 0x02
AMF_ECMA_ARRAY = 0x08
AMF_OBJECT_END = b"\x00\x00\x09"

_TIMESTAMP_MASK = 0xFFFFFFFF
_MS_TICKS = CLOCK_RATE // 1000


class AdtsError(ValueError):
    """An AAC frame is not valid ADTS (remote bad input)."""


@dataclass(frozen=True, slots=True)
class AdtsFrame:
    """One ADTS frame: its AudioSpecificConfig fields and the raw AAC payload without the header."""

    object_type: int
    sample_rate_index: int
    channels: int
    payload: bytes

    @property
    def sample_rate(self) -> int:
        return ADTS_SAMPLE_RATES[self.sample_rate_index]

    def audio_specific_config(self) -> bytes:
        """ISO/IEC 14496-3 1.6.2.1: object type (5 bits), frequency index (4), channel configuration (4), 0 (3)."""
        value = (self.object_type << 11) | (self.sample_rate_index << 7) | (self.channels << 3)
        return value.to_bytes(2, "big")


def iter_adts_frames(data: bytes) -> list[AdtsFrame]:
    """Split a buffer of back-to-back ADTS frames (ISO/IEC 13818-7 6.2); :class:`AdtsError` on a bad header."""
    frames: list[AdtsFrame] = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 7 or data[pos] != 0xFF or data[pos + 1] & 0xF6 != 0xF0:
            raise AdtsError(f"no ADTS sync word at byte {pos}")
        header_size = 7 if data[pos + 1] & 0x01 else 9  # protection_absent
        object_type = (data[pos + 2] >> 6) + 1
        rate_index = (data[pos + 2] >> 2) & 0x0F
        channels = ((data[pos + 2] & 0x01) << 2) | (data[pos + 3] >> 6)
        length = ((data[pos + 3] & 0x03) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        if rate_index >= len(ADTS_SAMPLE_RATES):
            raise AdtsError(f"ADTS sampling_frequency_index {rate_index} is reserved")
        if length < header_size or pos + length > len(data):
            raise AdtsError(f"ADTS frame_length {length} does not fit ({len(data) - pos} bytes left)")
        frames.append(AdtsFrame(object_type, rate_index, channels, data[pos + header_size : pos + length]))
        pos += length
    return frames


def _tag(tag_type: int, timestamp_ms: int, body: bytes) -> bytes:
    """One FLV tag and its PreviousTagSize (FLV spec E.4.1): the timestamp's top byte goes in TimestampExtended."""
    ts = timestamp_ms & _TIMESTAMP_MASK
    header = bytes((tag_type,)) + len(body).to_bytes(3, "big") + (ts & 0xFFFFFF).to_bytes(3, "big")
    header += bytes((ts >> 24,)) + b"\x00\x00\x00"  # TimestampExtended, StreamID 0
    return header + body + (TAG_HEADER_SIZE + len(body)).to_bytes(4, "big")


def _si24(value: int) -> bytes:
    return (value & 0xFFFFFF).to_bytes(3, "big")


def _amf_string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


class FlvMuxer:
    """Access units in, FLV tags out, for one viewer connection."""

    def __init__(self, hevc: Literal["codec12", "enhanced"] = "codec12", audio: bool = False) -> None:
        if hevc not in ("codec12", "enhanced"):
            raise ValueError(f"unknown HEVC FLV dialect {hevc!r}")
        self.hevc = hevc
        self.audio = audio
        self.dropped = 0
        self._params: ParameterSets | None = None
        self._header_sent_for: bytes | None = None
        self._started = False
        self._base_dts: int | None = None
        self._last_video_ms = 0
        self._last_audio_ms = 0
        self._audio_config: bytes | None = None

    def header(self) -> bytes:
        """The FLV file header and PreviousTagSize0."""
        flags = FLAG_VIDEO | (FLAG_AUDIO if self.audio else 0)
        return FLV_SIGNATURE + bytes((flags,)) + FLV_HEADER_SIZE.to_bytes(4, "big") + b"\x00\x00\x00\x00"

    def metadata(self, params: VideoParams, framerate: float | None = None) -> bytes:
        """An ``onMetaData`` script tag (AMF0) at timestamp 0; optional, players use it for the initial layout."""
        fields: dict[str, float] = {
            "width": params.width,
            "height": params.height,
            "videocodecid": self._video_codec_id(params.codec),
        }
        if framerate is not None:
            fields["framerate"] = framerate
        if self.audio:
            fields["audiocodecid"] = SOUND_AAC
        body = bytearray(bytes((AMF_STRING,)) + _amf_string("onMetaData"))
        body += bytes((AMF_ECMA_ARRAY,)) + len(fields).to_bytes(4, "big")
        for key, value in fields.items():
            body += _amf_string(key) + bytes((AMF_NUMBER,)) + struct.pack(">d", float(value))
        body += AMF_OBJECT_END
        return _tag(TAG_SCRIPT, 0, bytes(body))

    def _video_codec_id(self, codec: Codec) -> int:
        if codec is Codec.H264:
            return CODEC_AVC
        if self.hevc == "enhanced":
            return int.from_bytes(FOURCC_HEVC, "big")
        return CODEC_HEVC_12

    def mux(self, unit: AccessUnit) -> bytes:
        """The tags for one access unit (possibly none)."""
        if unit.codec.is_video:
            return self._mux_video(unit)
        if unit.codec is Codec.AAC and self.audio:
            return self._mux_audio(unit)
        return b""  # audio not asked for, or G.711: not playable through MSE, left out on purpose

    def end(self) -> bytes:
        """An end-of-sequence tag, for a stream that ends cleanly; empty if no video was sent."""
        if not self._started or self._params is None:
            return b""
        codec = self._params.codec
        if codec is Codec.H265 and self.hevc == "enhanced":
            body = bytes((EX_HEADER | (FRAME_KEY << 4) | EX_SEQUENCE_END,)) + FOURCC_HEVC
        else:
            body = bytes(((FRAME_KEY << 4) | self._video_codec_id(codec), AVC_END_OF_SEQUENCE)) + _si24(0)
        return _tag(TAG_VIDEO, self._last_video_ms, body)

    def _mux_video(self, unit: AccessUnit) -> bytes:
        if self._params is None or self._params.codec is not unit.codec:
            self._params = ParameterSets(unit.codec)
            self._header_sent_for = None
        self._params.update(unit)
        if not self._params.ready:
            self.dropped += 1
            return b""
        config = self._params.decoder_config()
        new_header = config != self._header_sent_for
        if new_header and not unit.keyframe:  # first or new parameter sets: wait for a keyframe that uses them
            self.dropped += 1
            return b""
        if self._base_dts is None:
            self._base_dts = unit.dts
        dts_ms = max(self._ms(unit.dts), self._last_video_ms)
        self._last_video_ms = dts_ms
        out = b""
        if new_header:
            out += _tag(TAG_VIDEO, dts_ms, self._video_body(unit.codec, True, AVC_SEQUENCE_HEADER, 0, config))
            self._header_sent_for = config
        self._started = True
        cts = self._ms(unit.pts) - self._ms(unit.dts)
        sample = annexb_to_length_prefixed(unit.data, unit.codec)
        return out + _tag(TAG_VIDEO, dts_ms, self._video_body(unit.codec, unit.keyframe, AVC_NALU, cts, sample))

    def _video_body(self, codec: Codec, keyframe: bool, packet: int, cts: int, payload: bytes) -> bytes:
        frame_type = FRAME_KEY if keyframe else FRAME_INTER
        if codec is Codec.H265 and self.hevc == "enhanced":
            if packet == AVC_SEQUENCE_HEADER:
                return bytes((EX_HEADER | (frame_type << 4) | EX_SEQUENCE_START,)) + FOURCC_HEVC + payload
            if cts == 0:
                return bytes((EX_HEADER | (frame_type << 4) | EX_CODED_FRAMES_X,)) + FOURCC_HEVC + payload
            return bytes((EX_HEADER | (frame_type << 4) | EX_CODED_FRAMES,)) + FOURCC_HEVC + _si24(cts) + payload
        return bytes(((frame_type << 4) | self._video_codec_id(codec), packet)) + _si24(cts) + payload

    def _mux_audio(self, unit: AccessUnit) -> bytes:
        if not self._started or self._base_dts is None:
            self.dropped += 1
            return b""
        try:
            frames = iter_adts_frames(unit.data)
        except AdtsError:
            self.dropped += 1
            return b""
        out = bytearray()
        for index, frame in enumerate(frames):
            config = frame.audio_specific_config()
            ticks = index * AAC_SAMPLES_PER_FRAME * CLOCK_RATE // frame.sample_rate
            ms = max(self._ms(unit.pts + ticks), self._last_audio_ms)
            self._last_audio_ms = ms
            if config != self._audio_config:
                out += _tag(TAG_AUDIO, ms, bytes((AAC_SOUND_BYTE, AAC_SEQUENCE_HEADER)) + config)
                self._audio_config = config
            out += _tag(TAG_AUDIO, ms, bytes((AAC_SOUND_BYTE, AAC_RAW)) + frame.payload)
        return bytes(out)

    def _ms(self, ticks: int) -> int:
        """Milliseconds since the first keyframe; units from before it are clamped to 0."""
        base = self._base_dts if self._base_dts is not None else ticks
        return max(ticks - base, 0) // _MS_TICKS
