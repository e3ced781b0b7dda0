"""MPEG-2 program stream muxer: one pack per access unit, as GB/T 28181 devices send it.

Every pack starts with a pack header (SCR from the unit's DTS); a keyframe's pack also carries a system header
and the program stream map, so a receiver joining at a keyframe learns the stream types at once. The unit's bytes
go into PES packets (video stream_id 0xE0, audio 0xC0), split when they exceed the 16-bit PES_packet_length; only
the first PES of a unit carries PTS (and DTS when it differs).
"""

from __future__ import annotations

import struct

from xueliang.protocol.es import AccessUnit
from xueliang.protocol.ps.constants import (
    AUDIO_STREAM_ID,
    MAX_PES_LENGTH,
    PACK_START,
    PSM_ID,
    START_CODE_PREFIX,
    STREAM_TYPE_BY_CODEC,
    SYSTEM_HEADER_ID,
    TIMESTAMP_MODULO,
    VIDEO_STREAM_ID,
    crc32_mpeg2,
)
from xueliang.protocol.ps.errors import PsError

MUX_RATE = 0x3FFFFF  # program_mux_rate in units of 50 bytes/s: the maximum, so no receiver throttles on it
RATE_BOUND = 0x3FFFFF
VIDEO_BUFFER_KIB = 512  # P-STD_buffer_size_bound in 1024-byte units (bound scale 1) for video
AUDIO_BUFFER_128 = 32  # in 128-byte units (bound scale 0) for audio
PTS_ONLY = 0b10
PTS_AND_DTS = 0b11
PES_FLAGS_ALIGNED = 0x84  # '10', not scrambled, data_alignment_indicator set (a unit starts here)
PES_FLAGS_CONTINUED = 0x80


def encode_timestamp(prefix: int, value: int) -> bytes:
    """A 33-bit PTS/DTS in the 5-byte form with marker bits; ``prefix`` is the 4-bit '0010'/'0011'/'0001'."""
    value %= TIMESTAMP_MODULO
    return bytes(
        (
            prefix << 4 | (value >> 29) & 0x0E | 1,
            (value >> 22) & 0xFF,
            (value >> 14) & 0xFE | 1,
            (value >> 7) & 0xFF,
            (value << 1) & 0xFE | 1,
        )
    )


def pack_header(scr: int) -> bytes:
    """An MPEG-2 pack header with SCR base ``scr`` (90 kHz), extension 0 and no stuffing."""
    scr %= TIMESTAMP_MODULO
    header = bytes(
        (
            0x40 | (scr >> 27) & 0x38 | 0x04 | (scr >> 28) & 0x03,
            (scr >> 20) & 0xFF,
            (scr >> 12) & 0xF8 | 0x04 | (scr >> 13) & 0x03,
            (scr >> 5) & 0xFF,
            (scr << 3) & 0xF8 | 0x04,  # SCR_extension bits 8..7 are 0
            0x01,  # SCR_extension 6..0 = 0, marker
            (MUX_RATE >> 14) & 0xFF,
            (MUX_RATE >> 6) & 0xFF,
            (MUX_RATE << 2) & 0xFC | 0x03,
            0xF8,  # reserved, pack_stuffing_length 0
        )
    )
    return PACK_START + header


def system_header(*, video: bool, audio: bool) -> bytes:
    body = bytearray(
        (
            0x80 | (RATE_BOUND >> 15) & 0x7F,
            (RATE_BOUND >> 7) & 0xFF,
            (RATE_BOUND << 1) & 0xFE | 1,
            (int(audio) << 2) | 0x00,  # audio_bound, fixed_flag 0, CSPS_flag 0
            0xE0 | int(video),  # system_audio_lock, system_video_lock, marker, video_bound
            0x7F,  # packet_rate_restriction_flag 0, reserved
        )
    )
    if video:
        body += bytes((VIDEO_STREAM_ID, 0xE0 | VIDEO_BUFFER_KIB >> 8, VIDEO_BUFFER_KIB & 0xFF))
    if audio:
        body += bytes((AUDIO_STREAM_ID, 0xC0 | AUDIO_BUFFER_128 >> 8, AUDIO_BUFFER_128 & 0xFF))
    return START_CODE_PREFIX + bytes((SYSTEM_HEADER_ID,)) + struct.pack("!H", len(body)) + body


def program_stream_map(streams: list[tuple[int, int]], version: int = 0) -> bytes:
    """A PSM listing ``(stream_type, stream_id)`` pairs, without descriptors, with its CRC."""
    entries = b"".join(struct.pack("!BBH", stream_type, stream_id, 0) for stream_type, stream_id in streams)
    body = bytes((0xA0 | version & 0x1F, 0xFF)) + struct.pack("!H", 0) + struct.pack("!H", len(entries)) + entries
    length = len(body) + 4
    head = START_CODE_PREFIX + bytes((PSM_ID,)) + struct.pack("!H", length)
    return head + body + struct.pack("!I", crc32_mpeg2(head + body))


def pes_packets(stream_id: int, data: bytes, pts: int, dts: int) -> list[bytes]:
    """The PES packets of one unit: PTS (and DTS if different) on the first, the rest continuation packets."""
    if pts == dts:
        stamps = encode_timestamp(0b0010, pts)
        flags = PTS_ONLY
    else:
        stamps = encode_timestamp(0b0011, pts) + encode_timestamp(0b0001, dts)
        flags = PTS_AND_DTS
    packets: list[bytes] = []
    offset = 0
    first = True
    while first or offset < len(data):
        header = (
            bytes((PES_FLAGS_ALIGNED, flags << 6, len(stamps))) + stamps
            if first
            else bytes((PES_FLAGS_CONTINUED, 0, 0))
        )
        room = MAX_PES_LENGTH - len(header)
        chunk = data[offset : offset + room]
        offset += len(chunk)
        prefix = START_CODE_PREFIX + bytes((stream_id,)) + struct.pack("!H", len(header) + len(chunk))
        packets.append(prefix + header + chunk)
        first = False
    return packets


class PsMuxer:
    """Muxes access units into packs. The PSM lists the video and audio codecs seen so far (or given up front), and
    its version changes when they do, so a demuxer notices a codec change."""

    __slots__ = ("_audio", "_psm_version", "_video")

    def __init__(self) -> None:
        self._video: int | None = None
        self._audio: int | None = None
        self._psm_version = 0

    def mux(self, unit: AccessUnit) -> bytes:
        stream_type = STREAM_TYPE_BY_CODEC.get(unit.codec)
        if stream_type is None:
            raise PsError(f"codec {unit.codec} cannot be carried in a program stream")
        stream_id = VIDEO_STREAM_ID if unit.codec.is_video else AUDIO_STREAM_ID
        if unit.codec.is_video and self._video != stream_type:
            self._video = stream_type
            self._psm_version = (self._psm_version + 1) % 32
        elif not unit.codec.is_video and self._audio != stream_type:
            self._audio = stream_type
            self._psm_version = (self._psm_version + 1) % 32
        parts = [pack_header(unit.dts)]
        if unit.keyframe:
            streams = []
            if self._video is not None:
                streams.append((self._video, VIDEO_STREAM_ID))
            if self._audio is not None:
                streams.append((self._audio, AUDIO_STREAM_ID))
            parts.append(system_header(video=self._video is not None, audio=self._audio is not None))
            parts.append(program_stream_map(streams, self._psm_version))
        parts.extend(pes_packets(stream_id, unit.data, unit.pts, unit.dts))
        return b"".join(parts)
