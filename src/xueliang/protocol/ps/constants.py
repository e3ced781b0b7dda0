"""Numbers of the MPEG-2 program stream (ISO/IEC 13818-1 section 2.5) as GB/T 28181 uses them."""

from __future__ import annotations

from xueliang.protocol.es import Codec

START_CODE_PREFIX = b"\x00\x00\x01"
PACK_START = b"\x00\x00\x01\xba"

# stream_id / start code values (the byte after 00 00 01)
PACK_HEADER_ID = 0xBA
SYSTEM_HEADER_ID = 0xBB
PSM_ID = 0xBC
PRIVATE_STREAM_1_ID = 0xBD
PADDING_ID = 0xBE
PRIVATE_STREAM_2_ID = 0xBF
END_CODE_ID = 0xB9
AUDIO_FIRST_ID = 0xC0
AUDIO_LAST_ID = 0xDF
VIDEO_FIRST_ID = 0xE0
VIDEO_LAST_ID = 0xEF
VIDEO_STREAM_ID = 0xE0
AUDIO_STREAM_ID = 0xC0

# Stream ids whose PES packets have no optional header (13818-1 table 2-21 semantics).
NO_PES_HEADER_IDS = frozenset({PSM_ID, PADDING_ID, PRIVATE_STREAM_2_ID, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF})

MPEG2_PACK_HEADER_SIZE = 14  # plus pack_stuffing_length (low three bits of byte 13)
MPEG1_PACK_HEADER_SIZE = 12
PES_PREFIX_SIZE = 6  # start code, stream id, PES_packet_length
MAX_PES_LENGTH = 0xFFFF
PES_HEADER_FIXED = 3  # the two flag bytes and PES_header_data_length
TIMESTAMP_SIZE = 5
TIMESTAMP_MODULO = 1 << 33

# PSM stream_type values (13818-1 table 2-34 and the GB/T 28181 additions)
STREAM_TYPE_MPEG4 = 0x10
STREAM_TYPE_H264 = 0x1B
STREAM_TYPE_H265 = 0x24
STREAM_TYPE_AAC = 0x0F
STREAM_TYPE_G711A = 0x90
STREAM_TYPE_G711U = 0x91

CODEC_BY_STREAM_TYPE: dict[int, Codec] = {
    STREAM_TYPE_H264: Codec.H264,
    STREAM_TYPE_H265: Codec.H265,
    STREAM_TYPE_AAC: Codec.AAC,
    STREAM_TYPE_G711A: Codec.G711A,
    STREAM_TYPE_G711U: Codec.G711U,
}
STREAM_TYPE_BY_CODEC: dict[Codec, int] = {codec: kind for kind, codec in CODEC_BY_STREAM_TYPE.items()}


def is_video_id(stream_id: int) -> bool:
    return VIDEO_FIRST_ID <= stream_id <= VIDEO_LAST_ID


def is_audio_id(stream_id: int) -> bool:
    return AUDIO_FIRST_ID <= stream_id <= AUDIO_LAST_ID


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32_mpeg2(data: bytes) -> int:
    """The CRC_32 of 13818-1 annex A (polynomial 0x04C11DB7, initial 0xFFFFFFFF, not reflected), as the PSM uses."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc
