"""H.264 and H.265 NAL units in Annex B byte streams: splitting, types, keyframes, codec sniffing.

Only what the demuxer, the muxers and the hub need to see in a picture without decoding it. Parameter-set parsing
(resolution, profile, the avcC/hvcC records) lives in :mod:`xueliang.protocol.h26x_params`.
"""

from __future__ import annotations

from collections.abc import Iterator

from xueliang.protocol.es import Codec

# H.264 nal_unit_type (ITU-T H.264 table 7-1)
H264_NON_IDR = 1
H264_IDR = 5
H264_SEI = 6
H264_SPS = 7
H264_PPS = 8
H264_AUD = 9

# H.265 nal_unit_type (ITU-T H.265 table 7-1)
H265_BLA_W_LP = 16
H265_CRA = 21
H265_VPS = 32
H265_SPS = 33
H265_PPS = 34
H265_AUD = 35
H265_PREFIX_SEI = 39


def iter_nal_units(data: bytes | memoryview) -> Iterator[memoryview]:
    """Yield the NAL units of an Annex B byte stream, without their start codes.

    Leading bytes before the first start code are skipped; trailing zero bytes of a NAL unit (the ``00`` of a
    four-byte start code that follows, or ``trailing_zero_8bits``) are stripped. Empty NAL units are not yielded.
    """
    view = memoryview(data)
    raw = bytes(view) if not isinstance(data, bytes) else data
    start = raw.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        nxt = raw.find(b"\x00\x00\x01", begin)
        end = len(raw) if nxt < 0 else nxt
        while end > begin and raw[end - 1] == 0:
            end -= 1
        if end > begin:
            yield view[begin:end]
        start = nxt


def iter_leading_nal_units(codec: Codec, data: bytes) -> Iterator[memoryview]:
    """The NAL units of an access unit before its first coded slice (AUD, parameter sets, SEI), without scanning
    the picture itself: the next start code is looked for only after a non-slice NAL unit.

    Parameter sets that an encoder puts between the slices of one picture (H.264 allows it; no camera seen does)
    are not seen. Per-frame hot path: a full scan costs ~15 µs per 30 KB frame, this about 1 µs
    (bench/bench_relay.py).
    """
    view = memoryview(data)
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        if begin >= len(data):
            return
        header = data[begin]
        if (header & 0x1F) in _H264_VCL if codec is Codec.H264 else (header >> 1) & 0x3F <= _H265_VCL_LAST:
            return
        nxt = data.find(b"\x00\x00\x01", begin)
        end = len(data) if nxt < 0 else nxt
        while end > begin and data[end - 1] == 0:
            end -= 1
        if end > begin:
            yield view[begin:end]
        start = nxt


def h264_type(nal: bytes | memoryview) -> int:
    """The nal_unit_type of an H.264 NAL unit (first byte, low five bits)."""
    return nal[0] & 0x1F


def h265_type(nal: bytes | memoryview) -> int:
    """The nal_unit_type of an H.265 NAL unit (first byte, bits 1-6)."""
    return (nal[0] >> 1) & 0x3F


def nal_type(codec: Codec, nal: bytes | memoryview) -> int:
    return h264_type(nal) if codec is Codec.H264 else h265_type(nal)


def is_keyframe(codec: Codec, data: bytes | memoryview) -> bool:
    """Whether an access unit holds an IDR (H.264) or IRAP (H.265, types 16-21) picture."""
    for nal in iter_nal_units(data):
        if codec is Codec.H264:
            if h264_type(nal) == H264_IDR:
                return True
        elif H265_BLA_W_LP <= h265_type(nal) <= H265_CRA:
            return True
    return False


def sniff_codec(data: bytes | memoryview) -> Codec | None:
    """Tell H.264 from H.265 by the NAL headers of a keyframe or parameter set, for a PSM that is missing or wrong.

    Returns None when nothing decisive is present (a P-frame alone can be read either way). Parameter sets are
    decisive: H.264 SPS/PPS have ``forbidden_zero_bit`` 0 and ``nal_ref_idc`` > 0 with types 7/8 (first byte 0x67 /
    0x68 and variants); H.265 VPS/SPS/PPS start ``0x40 0x01`` / ``0x42 0x01`` / ``0x44 0x01``.
    """
    for nal in iter_nal_units(data):
        if len(nal) < 2 or nal[0] & 0x80:
            continue
        h265 = h265_type(nal)
        if h265 in (H265_VPS, H265_SPS, H265_PPS) and nal[1] == 0x01:
            return Codec.H265
        h264 = h264_type(nal)
        if h264 in (H264_SPS, H264_PPS, H264_IDR) and nal[0] & 0x60:
            return Codec.H264
    return None


# H.264 profile_idc values (ITU-T H.264 annex A and G/H): a byte after an SPS header outside this set is not H.264.
H264_PROFILES = frozenset({44, 66, 77, 83, 86, 88, 100, 110, 118, 122, 128, 134, 135, 138, 139, 144, 244})
# H.264 types that open a new access unit when they follow a picture (7.4.1.2.3): SEI, SPS, PPS, AUD, 14-18.
_H264_AU_OPENERS = frozenset({H264_SEI, H264_SPS, H264_PPS, H264_AUD, 14, 15, 16, 17, 18})
_H264_VCL = frozenset({1, 2, 3, 4, 5})
# H.265 types that open a new access unit when they follow a picture (7.4.2.4.4): VPS, SPS, PPS, AUD, prefix SEI,
# 41-44, 48-55.
_H265_AU_OPENERS = frozenset({H265_VPS, H265_SPS, H265_PPS, H265_AUD, H265_PREFIX_SEI, 41, 42, 43, 44, *range(48, 56)})
_H265_VCL_LAST = 31


def sniff_nal(nal: bytes | memoryview) -> Codec | None:
    """The codec of one NAL unit (without start code) when it is a parameter set that cannot be misread.

    Stricter than :func:`sniff_codec`, for a demuxer that looks at NAL units one by one: an H.265 IDR_N_LP header
    (``0x28 0x01``) reads as an H.264 PPS, so only an H.264 SPS with a known profile_idc counts for H.264, and only a
    VPS/SPS/PPS with ``nuh_layer_id`` 0 and ``nuh_temporal_id_plus1`` 1 for H.265.
    """
    if len(nal) < 3 or nal[0] & 0x80:
        return None
    if h265_type(nal) in (H265_VPS, H265_SPS, H265_PPS) and nal[0] & 0x01 == 0 and nal[1] == 0x01:
        return Codec.H265
    if h264_type(nal) == H264_SPS and nal[0] & 0x60 and nal[1] in H264_PROFILES:
        return Codec.H264
    return None


def is_vcl(codec: Codec, nal: bytes | memoryview) -> bool:
    """Whether a NAL unit carries a coded slice (part of a picture)."""
    if codec is Codec.H264:
        return h264_type(nal) in _H264_VCL
    return h265_type(nal) <= _H265_VCL_LAST


def starts_access_unit(codec: Codec, nal: bytes | memoryview, after_picture: bool) -> bool:
    """Whether ``nal`` begins a new access unit, given whether the unit being collected already has a picture.

    An access unit delimiter always does; a parameter set or prefix SEI does once a picture was seen; a slice does
    when it is the first of its picture (``first_mb_in_slice`` 0 in H.264, ``first_slice_segment_in_pic_flag`` in
    H.265) and a picture was seen. Arbitrary slice order (H.264 baseline ASO) is not supported.
    """
    if codec is Codec.H264:
        kind = h264_type(nal)
        if kind == H264_AUD:
            return True
        if kind in _H264_VCL:
            return after_picture and len(nal) > 1 and bool(nal[1] & 0x80)
        return after_picture and kind in _H264_AU_OPENERS
    kind = h265_type(nal)
    if kind == H265_AUD:
        return True
    if kind <= _H265_VCL_LAST:
        return after_picture and len(nal) > 2 and bool(nal[2] & 0x80)
    return after_picture and kind in _H265_AU_OPENERS
