"""H.264/H.265 parameter sets: SPS parsing (resolution, profile, level), avcC/hvcC records, AVCC sample framing.

The FLV and fMP4 muxers need three things a camera only tells in its parameter sets: the picture size (metadata,
``tkhd``, the sample entry), the RFC 6381 codec string (MSE ``addSourceBuffer``, HLS ``CODECS``) and the decoder
configuration record that carries SPS/PPS (+VPS) out of band. :class:`ParameterSets` collects them from the
access units as they pass and says when they change (a camera switching resolution sends a new SPS on its next
keyframe; the muxers then send a new sequence header or init segment).

Errors: :class:`ParameterSetError` (a ``ValueError``) for a truncated or malformed SPS. :class:`ParameterSets`
never raises on input: a bad parameter set is counted in ``dropped`` and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xueliang.protocol.es import AccessUnit, Codec
from xueliang.protocol.h26x import (
    H264_AUD,
    H264_PPS,
    H264_SPS,
    H265_AUD,
    H265_PPS,
    H265_SPS,
    H265_VPS,
    iter_leading_nal_units,
    iter_nal_units,
    nal_type,
)

__all__ = [
    "H265SpsInfo",
    "ParameterSetError",
    "ParameterSets",
    "VideoParams",
    "annexb_to_length_prefixed",
    "avc_decoder_config",
    "hevc_decoder_config",
    "parse_h264_sps",
    "parse_h265_sps",
    "parse_h265_sps_info",
    "remove_emulation_prevention",
]

#: H.264 profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices (H.264 7.3.2.1.1).
_H264_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
#: H.264 profiles whose avcC record has the chroma/bit-depth extension (ISO/IEC 14496-15 5.3.3.1.2).
_AVCC_EXTENDED_PROFILES = frozenset({100, 110, 122, 144})
#: (SubWidthC, SubHeightC) by chroma_format_idc (H.264 table 6-1, H.265 table 6-1); 0 is monochrome.
_CHROMA_SUBSAMPLING = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}
#: Largest picture side we accept in macroblocks or luma samples: a bigger value is garbage, not a camera.
_MAX_SIDE = 16_384
#: Length of each NAL unit in AVCC/HVCC samples and the records' lengthSizeMinusOne + 1.
NAL_LENGTH_SIZE = 4
_HEVC_ARRAY_ORDER = (H265_VPS, H265_SPS, H265_PPS)


class ParameterSetError(ValueError):
    """A parameter set is truncated or malformed (remote bad input, never our bug)."""


@dataclass(frozen=True, slots=True)
class VideoParams:
    """What an output needs to announce a video stream. ``width``/``height`` are after cropping."""

    codec: Codec
    width: int
    height: int
    profile: int
    level: int
    codec_string: str
    chroma_format: int = 1
    bit_depth_luma: int = 8
    bit_depth_chroma: int = 8


@dataclass(frozen=True, slots=True)
class H265SpsInfo:
    """The H.265 SPS fields the hvcC record copies (ISO/IEC 14496-15 8.3.3.1), beside the common params."""

    params: VideoParams
    profile_space: int
    tier: int
    profile_compatibility: int  # general_profile_compatibility_flag[0..31], flag 0 in the top bit
    constraint_flags: int  # the 48 bits from general_progressive_source_flag on
    max_sub_layers: int
    temporal_id_nesting: bool


class _BitReader:
    """MSB-first bit reader with exp-Golomb codes over an RBSP (emulation prevention already removed)."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def u(self, bits: int) -> int:
        end = self._pos + bits
        if end > len(self._data) * 8:
            raise ParameterSetError(f"parameter set truncated at bit {self._pos} (wanted {bits} more)")
        value = 0
        for pos in range(self._pos, end):
            value = (value << 1) | ((self._data[pos >> 3] >> (7 - (pos & 7))) & 1)
        self._pos = end
        return value

    def flag(self) -> bool:
        return self.u(1) == 1

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ParameterSetError("exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)

    def skip(self, bits: int) -> None:
        if self._pos + bits > len(self._data) * 8:
            raise ParameterSetError(f"parameter set truncated at bit {self._pos} (skipping {bits})")
        self._pos += bits


def remove_emulation_prevention(nal: bytes | memoryview) -> bytes:
    """The RBSP of a NAL unit: every ``00 00 03`` becomes ``00 00`` (H.264 7.4.1, H.265 7.4.2)."""
    data = bytes(nal)
    if b"\x00\x00\x03" not in data:
        return data
    out = bytearray()
    zeros = 0
    for byte in data:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _ue_bounded(reader: _BitReader, name: str, maximum: int) -> int:
    value = reader.ue()
    if value > maximum:
        raise ParameterSetError(f"{name} {value} out of range (max {maximum})")
    return value


def _skip_h264_scaling_list(reader: _BitReader, size: int) -> None:
    last, next_scale = 8, 8
    for _ in range(size):
        if next_scale != 0:
            next_scale = (last + reader.se() + 256) % 256
        last = next_scale if next_scale != 0 else last


def _cropped(width: int, height: int, crop: tuple[int, int, int, int], unit_x: int, unit_y: int) -> tuple[int, int]:
    left, right, top, bottom = crop
    out_w = width - unit_x * (left + right)
    out_h = height - unit_y * (top + bottom)
    if out_w <= 0 or out_h <= 0:
        raise ParameterSetError(f"cropping {crop} leaves no picture of {width}x{height}")
    return out_w, out_h


def parse_h264_sps(nal: bytes | memoryview) -> VideoParams:
    """Parse an H.264 SPS NAL unit (with its one-byte header, without start code) up to the frame cropping."""
    if len(nal) < 4 or nal[0] & 0x1F != H264_SPS:
        raise ParameterSetError("not an H.264 SPS NAL unit")
    rbsp = remove_emulation_prevention(nal)
    profile, constraints, level = rbsp[1], rbsp[2], rbsp[3]
    reader = _BitReader(rbsp[4:])
    _ue_bounded(reader, "seq_parameter_set_id", 31)
    chroma_format, separate_planes, depth_luma, depth_chroma = 1, False, 8, 8
    if profile in _H264_HIGH_PROFILES:
        chroma_format = _ue_bounded(reader, "chroma_format_idc", 3)
        if chroma_format == 3:
            separate_planes = reader.flag()
        depth_luma = 8 + _ue_bounded(reader, "bit_depth_luma_minus8", 6)
        depth_chroma = 8 + _ue_bounded(reader, "bit_depth_chroma_minus8", 6)
        reader.u(1)  # qpprime_y_zero_transform_bypass_flag
        if reader.flag():  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format != 3 else 12):
                if reader.flag():
                    _skip_h264_scaling_list(reader, 16 if index < 6 else 64)
    _ue_bounded(reader, "log2_max_frame_num_minus4", 12)
    poc_type = _ue_bounded(reader, "pic_order_cnt_type", 2)
    if poc_type == 0:
        _ue_bounded(reader, "log2_max_pic_order_cnt_lsb_minus4", 12)
    elif poc_type == 1:
        reader.u(1)  # delta_pic_order_always_zero_flag
        reader.se()  # offset_for_non_ref_pic
        reader.se()  # offset_for_top_to_bottom_field
        for _ in range(_ue_bounded(reader, "num_ref_frames_in_pic_order_cnt_cycle", 255)):
            reader.se()
    reader.ue()  # max_num_ref_frames
    reader.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = 1 + _ue_bounded(reader, "pic_width_in_mbs_minus1", _MAX_SIDE // 16)
    height_units = 1 + _ue_bounded(reader, "pic_height_in_map_units_minus1", _MAX_SIDE // 16)
    frame_mbs_only = reader.flag()
    if not frame_mbs_only:
        reader.u(1)  # mb_adaptive_frame_field_flag
    reader.u(1)  # direct_8x8_inference_flag
    crop = (0, 0, 0, 0)
    if reader.flag():  # frame_cropping_flag
        crop = (reader.ue(), reader.ue(), reader.ue(), reader.ue())
    chroma_array_type = 0 if separate_planes else chroma_format
    sub_w, sub_h = _CHROMA_SUBSAMPLING[chroma_array_type]
    field_factor = 1 if frame_mbs_only else 2
    width, height = _cropped(width_mbs * 16, height_units * 16 * field_factor, crop, sub_w, sub_h * field_factor)
    return VideoParams(
        codec=Codec.H264,
        width=width,
        height=height,
        profile=profile,
        level=level,
        codec_string=f"avc1.{profile:02x}{constraints:02x}{level:02x}",
        chroma_format=chroma_format,
        bit_depth_luma=depth_luma,
        bit_depth_chroma=depth_chroma,
    )


def _hevc_codec_string(profile_space: int, profile: int, compat: int, tier: int, level: int, constraints: int) -> str:
    """RFC 6381 / ISO/IEC 14496-15 annex E: ``hvc1.<space><profile>.<compat reversed>.<tier><level>.<bytes>``."""
    space = ("", "A", "B", "C")[profile_space]
    reversed_compat = int(f"{compat:032b}"[::-1], 2)
    constraint_bytes = constraints.to_bytes(6, "big").rstrip(b"\x00")
    parts = [f"hvc1.{space}{profile}", f"{reversed_compat:X}", f"{'H' if tier else 'L'}{level}"]
    parts.extend(f"{byte:X}" for byte in constraint_bytes)
    return ".".join(parts)


def parse_h265_sps_info(nal: bytes | memoryview) -> H265SpsInfo:
    """Parse an H.265 SPS NAL unit (two-byte header, no start code) up to the bit depths (H.265 7.3.2.2)."""
    if len(nal) < 3 or (nal[0] >> 1) & 0x3F != H265_SPS:
        raise ParameterSetError("not an H.265 SPS NAL unit")
    reader = _BitReader(remove_emulation_prevention(nal)[2:])
    reader.u(4)  # sps_video_parameter_set_id
    max_sub_layers = 1 + reader.u(3)
    if max_sub_layers > 7:
        raise ParameterSetError(f"sps_max_sub_layers_minus1 {max_sub_layers - 1} out of range")
    nesting = reader.flag()
    profile_space, tier, profile = reader.u(2), reader.u(1), reader.u(5)
    compat = reader.u(32)
    constraints = reader.u(48)
    level = reader.u(8)
    sub_layer_flags = [(reader.flag(), reader.flag()) for _ in range(max_sub_layers - 1)]
    if max_sub_layers > 1:
        reader.skip(2 * (9 - max_sub_layers))  # reserved_zero_2bits up to eight entries
    for profile_present, level_present in sub_layer_flags:
        reader.skip((88 if profile_present else 0) + (8 if level_present else 0))
    _ue_bounded(reader, "sps_seq_parameter_set_id", 15)
    chroma_format = _ue_bounded(reader, "chroma_format_idc", 3)
    separate_planes = reader.flag() if chroma_format == 3 else False
    width = _ue_bounded(reader, "pic_width_in_luma_samples", _MAX_SIDE)
    height = _ue_bounded(reader, "pic_height_in_luma_samples", _MAX_SIDE)
    crop = (0, 0, 0, 0)
    if reader.flag():  # conformance_window_flag
        crop = (reader.ue(), reader.ue(), reader.ue(), reader.ue())
    depth_luma = 8 + _ue_bounded(reader, "bit_depth_luma_minus8", 8)
    depth_chroma = 8 + _ue_bounded(reader, "bit_depth_chroma_minus8", 8)
    sub_w, sub_h = _CHROMA_SUBSAMPLING[0 if separate_planes else chroma_format]
    out_w, out_h = _cropped(width, height, crop, sub_w, sub_h)
    params = VideoParams(
        codec=Codec.H265,
        width=out_w,
        height=out_h,
        profile=profile,
        level=level,
        codec_string=_hevc_codec_string(profile_space, profile, compat, tier, level, constraints),
        chroma_format=chroma_format,
        bit_depth_luma=depth_luma,
        bit_depth_chroma=depth_chroma,
    )
    return H265SpsInfo(params, profile_space, tier, compat, constraints, max_sub_layers, nesting)


def parse_h265_sps(nal: bytes | memoryview) -> VideoParams:
    return parse_h265_sps_info(nal).params


def avc_decoder_config(sps: bytes, pps: list[bytes], params: VideoParams) -> bytes:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1): the avcC box body and the FLV AVC sequence header."""
    out = bytearray((1, sps[1], sps[2], sps[3], 0xFC | (NAL_LENGTH_SIZE - 1), 0xE0 | 1))
    out += len(sps).to_bytes(2, "big") + sps
    out.append(len(pps))
    for nal in pps:
        out += len(nal).to_bytes(2, "big") + nal
    if params.profile in _AVCC_EXTENDED_PROFILES:
        out.append(0xFC | params.chroma_format)
        out.append(0xF8 | (params.bit_depth_luma - 8))
        out.append(0xF8 | (params.bit_depth_chroma - 8))
        out.append(0)  # numOfSequenceParameterSetExt
    return bytes(out)


def hevc_decoder_config(vps: bytes, sps: bytes, pps: list[bytes], info: H265SpsInfo) -> bytes:
    """HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1): the hvcC box body and the FLV HEVC header.

    min_spatial_segmentation_idc, parallelismType and the frame rate fields are written as 0 ("unknown"), which
    the record allows; decoders take the real values from the parameter sets.
    """
    params = info.params
    out = bytearray()
    out.append(1)  # configurationVersion
    out.append((info.profile_space << 6) | (info.tier << 5) | params.profile)
    out += info.profile_compatibility.to_bytes(4, "big")
    out += info.constraint_flags.to_bytes(6, "big")
    out.append(params.level)
    out += (0xF000).to_bytes(2, "big")  # reserved 1111 + min_spatial_segmentation_idc 0
    out.append(0xFC)  # reserved 111111 + parallelismType 0
    out.append(0xFC | params.chroma_format)
    out.append(0xF8 | (params.bit_depth_luma - 8))
    out.append(0xF8 | (params.bit_depth_chroma - 8))
    out += (0).to_bytes(2, "big")  # avgFrameRate
    out.append((info.max_sub_layers << 3) | (int(info.temporal_id_nesting) << 2) | (NAL_LENGTH_SIZE - 1))
    arrays = {H265_VPS: [vps], H265_SPS: [sps], H265_PPS: pps}
    out.append(len(_HEVC_ARRAY_ORDER))
    for nal_unit_type in _HEVC_ARRAY_ORDER:
        out.append(0x80 | nal_unit_type)  # array_completeness 1: no other sets of this type in the samples
        nals = arrays[nal_unit_type]
        out += len(nals).to_bytes(2, "big")
        for nal in nals:
            out += len(nal).to_bytes(2, "big") + nal
    return bytes(out)


def _is_out_of_band(codec: Codec, kind: int) -> bool:
    if codec is Codec.H264:
        return kind in (H264_SPS, H264_PPS, H264_AUD)
    return kind in (H265_VPS, H265_SPS, H265_PPS, H265_AUD)


def annexb_to_length_prefixed(data: bytes | memoryview, codec: Codec | None = None) -> bytes:
    """Annex B to AVCC/HVCC sample framing (a 4-byte big-endian length before each NAL unit).

    With ``codec`` given, parameter sets and access unit delimiters are dropped: the muxers carry parameter sets
    in the decoder configuration record (avcC/hvcC, the FLV sequence header) and send a new record when they
    change, as ``hvc1``/``avc1`` sample entries require. Without it every NAL unit is kept.
    """
    out = bytearray()
    for nal in iter_nal_units(data):
        if codec is not None and _is_out_of_band(codec, nal_type(codec, nal)):
            continue
        out += len(nal).to_bytes(NAL_LENGTH_SIZE, "big")
        out += nal
    return bytes(out)


def _pps_id(codec: Codec, nal: bytes) -> int:
    """pic_parameter_set_id, the first field after the NAL header, so several PPSs can live side by side."""
    header = 1 if codec is Codec.H264 else 2
    return _ue_bounded(_BitReader(remove_emulation_prevention(nal)[header:]), "pic_parameter_set_id", 255)


@dataclass(slots=True)
class ParameterSets:
    """The latest SPS/PPS (+VPS) of one video stream, collected from its access units.

    One SPS and one VPS are kept (the latest); PPSs are kept by ``pic_parameter_set_id``. A parameter set that
    does not parse is counted in ``dropped`` and ignored, so a corrupt packet cannot replace a good SPS.
    """

    codec: Codec
    dropped: int = 0
    _vps: bytes | None = None
    _sps: bytes | None = None
    _pps: dict[int, bytes] = field(default_factory=dict)
    _params: VideoParams | None = None
    _h265_info: H265SpsInfo | None = None
    _config: bytes | None = None  # cached record, cleared by any change

    def __post_init__(self) -> None:
        if not self.codec.is_video:
            raise ValueError(f"parameter sets exist for video codecs only, not {self.codec}")

    def update(self, unit: AccessUnit) -> bool:
        """Take the parameter sets of ``unit``; True when any of them is new or different."""
        if unit.codec is not self.codec:
            return False
        sps_type, pps_type = (H264_SPS, H264_PPS) if self.codec is Codec.H264 else (H265_SPS, H265_PPS)
        changed = False
        for view in iter_leading_nal_units(self.codec, unit.data):
            kind = nal_type(self.codec, view)
            if kind == sps_type:
                changed |= self._take_sps(bytes(view))
            elif kind == pps_type:
                changed |= self._take_pps(bytes(view))
            elif self.codec is Codec.H265 and kind == H265_VPS and bytes(view) != self._vps:
                self._vps = bytes(view)
                changed = True
        if changed:
            self._config = None
        return changed

    def _take_sps(self, nal: bytes) -> bool:
        if nal == self._sps:
            return False
        try:
            if self.codec is Codec.H264:
                params, info = parse_h264_sps(nal), None
            else:
                info = parse_h265_sps_info(nal)
                params = info.params
        except ParameterSetError:
            self.dropped += 1
            return False
        self._sps, self._params, self._h265_info = nal, params, info
        return True

    def _take_pps(self, nal: bytes) -> bool:
        try:
            pps_id = _pps_id(self.codec, nal)
        except ParameterSetError:
            self.dropped += 1
            return False
        if self._pps.get(pps_id) == nal:
            return False
        self._pps[pps_id] = nal
        return True

    @property
    def ready(self) -> bool:
        has_vps = self.codec is Codec.H264 or self._vps is not None
        return has_vps and self._sps is not None and self._params is not None and bool(self._pps)

    @property
    def params(self) -> VideoParams | None:
        return self._params

    def decoder_config(self) -> bytes:
        """The avcC/hvcC record of the current parameter sets; :class:`ParameterSetError` before ``ready``."""
        if self._config is not None:
            return self._config
        if not self.ready or self._sps is None or self._params is None:
            raise ParameterSetError(f"{self.codec} parameter sets incomplete")
        pps = [self._pps[key] for key in sorted(self._pps)]
        if self.codec is Codec.H264:
            self._config = avc_decoder_config(self._sps, pps, self._params)
        else:
            assert self._vps is not None and self._h265_info is not None
            self._config = hevc_decoder_config(self._vps, self._sps, pps, self._h265_info)
        return self._config
