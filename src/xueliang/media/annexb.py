"""Annex B conversions for what PyAV hands us (RTSP pull): length-prefixed samples and avcC/hvcC extradata.

Everything inside the media node is Annex B (see :mod:`xueliang.protocol.es`); some demuxers give ISO-style
samples instead (4-byte NAL lengths) and keep the parameter sets in an avcC/hvcC record. Malformed input raises
:class:`ValueError` (the caller counts and drops the packet).
"""

from __future__ import annotations

START_CODE = b"\x00\x00\x00\x01"
AVCC_VERSION = 1
AVCC_HEADER = 6
HVCC_HEADER = 23
NAL_LENGTH_SIZE = 4


def is_annexb(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x01") or data.startswith(START_CODE)


def length_prefixed_to_annexb(data: bytes, length_size: int = NAL_LENGTH_SIZE) -> bytes:
    """``[len][nal][len][nal]...`` -> ``00 00 00 01 nal ...``."""
    out = bytearray()
    offset = 0
    while offset < len(data):
        if offset + length_size > len(data):
            raise ValueError(f"truncated NAL length at offset {offset}")
        size = int.from_bytes(data[offset : offset + length_size], "big")
        offset += length_size
        if size == 0 or offset + size > len(data):
            raise ValueError(f"NAL length {size} at offset {offset} runs past the sample ({len(data)} bytes)")
        out += START_CODE + data[offset : offset + size]
        offset += size
    return bytes(out)


def _read_nal(data: bytes, offset: int) -> tuple[bytes, int]:
    if offset + 2 > len(data):
        raise ValueError("truncated parameter set length")
    size = int.from_bytes(data[offset : offset + 2], "big")
    offset += 2
    if offset + size > len(data):
        raise ValueError("truncated parameter set")
    return data[offset : offset + size], offset + size


def avcc_to_annexb(record: bytes) -> tuple[bytes, int]:
    """SPS/PPS of an avcC record as Annex B, and the NAL length size of the samples."""
    if len(record) < AVCC_HEADER or record[0] != AVCC_VERSION:
        raise ValueError("not an avcC record")
    length_size = (record[4] & 0x03) + 1
    nals: list[bytes] = []
    offset = 5
    count = record[offset] & 0x1F
    offset += 1
    for _ in range(count):
        nal, offset = _read_nal(record, offset)
        nals.append(nal)
    if offset >= len(record):
        raise ValueError("avcC record without PPS count")
    count = record[offset]
    offset += 1
    for _ in range(count):
        nal, offset = _read_nal(record, offset)
        nals.append(nal)
    return b"".join(START_CODE + nal for nal in nals), length_size


def hvcc_to_annexb(record: bytes) -> tuple[bytes, int]:
    """VPS/SPS/PPS of an hvcC record as Annex B, and the NAL length size of the samples."""
    if len(record) < HVCC_HEADER or record[0] != AVCC_VERSION:
        raise ValueError("not an hvcC record")
    length_size = (record[21] & 0x03) + 1
    arrays = record[22]
    offset = HVCC_HEADER
    nals: list[bytes] = []
    for _ in range(arrays):
        if offset + 3 > len(record):
            raise ValueError("truncated hvcC array")
        count = int.from_bytes(record[offset + 1 : offset + 3], "big")
        offset += 3
        for _ in range(count):
            nal, offset = _read_nal(record, offset)
            nals.append(nal)
    return b"".join(START_CODE + nal for nal in nals), length_size


def extradata_to_annexb(extradata: bytes | None, hevc: bool) -> tuple[bytes, int]:
    """Parameter sets from a decoder's extradata (Annex B already, or avcC/hvcC), and the sample length size."""
    if not extradata:
        return b"", NAL_LENGTH_SIZE
    if is_annexb(extradata):
        return extradata, NAL_LENGTH_SIZE
    return hvcc_to_annexb(extradata) if hevc else avcc_to_annexb(extradata)
