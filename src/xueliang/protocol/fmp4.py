"""Fragmented MP4 (ISO/IEC 14496-12) for HLS fMP4 segments: an init segment and moof/mdat fragments, video only.

:class:`Fmp4Muxer` writes the init segment (``ftyp`` + ``moov`` with an ``avc1``/``avcC`` or ``hvc1``/``hvcC``
sample entry and ``mvex``) from a stream's :class:`~xueliang.protocol.h26x_params.ParameterSets`, and one
``moof`` + ``mdat`` fragment per list of access units. :class:`SegmentBuilder` cuts a stream into segments that
start on a keyframe and last at least the target duration, which is what hls.js and Safari want from a live
playlist. The track timescale is the access units' 90 kHz clock; decode times start at 0 with the first fragment.

Samples are AVCC/HVCC (4-byte lengths) with parameter sets and AUDs dropped: ``hvc1``/``avc1`` sample entries
carry them in the record only. When the parameter sets change, :class:`SegmentBuilder` closes the segment at
that keyframe and the next :class:`Segment` carries the new init segment.

Errors: :class:`Fmp4Error` (a ``ValueError``) when asked for an init segment before the parameter sets are known
or for a fragment of nothing. :class:`SegmentBuilder` never raises on input: units it cannot use are counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from xueliang.protocol.es import CLOCK_RATE, AccessUnit, Codec
from xueliang.protocol.h26x_params import ParameterSets, annexb_to_length_prefixed

__all__ = ["Fmp4Error", "Fmp4Muxer", "Segment", "SegmentBuilder", "box", "full_box"]

TRACK_ID = 1
TIMESCALE = CLOCK_RATE
MOVIE_TIMESCALE = 1000
#: Duration given to the last sample of a fragment when nothing tells the next decode time (25 fps).
DEFAULT_SAMPLE_DURATION = CLOCK_RATE // 25
FTYP_BRANDS = (b"iso6", b"mp41", b"iso5", b"dash")

TFHD_DEFAULT_BASE_IS_MOOF = 0x020000
TRUN_DATA_OFFSET = 0x000001
TRUN_SAMPLE_DURATION = 0x000100
TRUN_SAMPLE_SIZE = 0x000200
TRUN_SAMPLE_FLAGS = 0x000400
TRUN_SAMPLE_CTS = 0x000800
#: sample_flags (ISO/IEC 14496-12 8.8.3.1): a sync sample depends on no other; others depend and are non-sync.
SYNC_SAMPLE_FLAGS = 0x02000000
NON_SYNC_SAMPLE_FLAGS = 0x01010000
_UNITY_MATRIX = (0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


class Fmp4Error(ValueError):
    """The muxer cannot write what was asked (no parameter sets yet, no samples)."""


def box(kind: bytes, *payloads: bytes) -> bytes:
    body = b"".join(payloads)
    return (8 + len(body)).to_bytes(4, "big") + kind + body


def full_box(kind: bytes, version: int, flags: int, *payloads: bytes) -> bytes:
    return box(kind, bytes((version,)) + flags.to_bytes(3, "big"), *payloads)


def _u32(*values: int) -> bytes:
    return b"".join((value & 0xFFFFFFFF).to_bytes(4, "big") for value in values)


def _u16(*values: int) -> bytes:
    return b"".join(value.to_bytes(2, "big") for value in values)


class Fmp4Muxer:
    """Init segment and fragments for the video track of one stream."""

    def __init__(self, params_source: ParameterSets) -> None:
        self.params_source = params_source
        self._base_dts: int | None = None

    @property
    def codec(self) -> Codec:
        return self.params_source.codec

    def init_segment(self) -> bytes:
        """``ftyp`` + ``moov`` for the current parameter sets."""
        params = self.params_source.params
        if not self.params_source.ready or params is None:
            raise Fmp4Error(f"{self.codec} parameter sets not known yet")
        config = self.params_source.decoder_config()
        ftyp = box(b"ftyp", FTYP_BRANDS[0], _u32(512), *FTYP_BRANDS)
        mvhd = full_box(
            b"mvhd", 0, 0, _u32(0, 0, MOVIE_TIMESCALE, 0, 0x00010000), _u16(0x0100, 0), _u32(0, 0),
            _u32(*_UNITY_MATRIX), _u32(0, 0, 0, 0, 0, 0), _u32(TRACK_ID + 1),
        )  # fmt: skip
        tkhd = full_box(
            b"tkhd", 0, 0x000003, _u32(0, 0, TRACK_ID, 0, 0, 0, 0), _u16(0, 0, 0, 0), _u32(*_UNITY_MATRIX),
            _u32(params.width << 16, params.height << 16),
        )  # fmt: skip  # flags: enabled, in movie; layer, group, volume 0 for video
        mdhd = full_box(b"mdhd", 0, 0, _u32(0, 0, TIMESCALE, 0), _u16(0x55C4, 0))  # language "und"
        hdlr = full_box(b"hdlr", 0, 0, _u32(0), b"vide", _u32(0, 0, 0), b"VideoHandler\x00")
        vmhd = full_box(b"vmhd", 0, 1, _u16(0, 0, 0, 0))
        dinf = box(b"dinf", full_box(b"dref", 0, 0, _u32(1), full_box(b"url ", 0, 1)))
        entry_kind, config_kind = (b"avc1", b"avcC") if self.codec is Codec.H264 else (b"hvc1", b"hvcC")
        sample_entry = box(
            entry_kind, bytes(6), _u16(1), _u16(0, 0), _u32(0, 0, 0), _u16(params.width, params.height),
            _u32(0x00480000, 0x00480000, 0), _u16(1), bytes(32), _u16(0x0018, 0xFFFF), box(config_kind, config),
        )  # fmt: skip
        stbl = box(
            b"stbl",
            full_box(b"stsd", 0, 0, _u32(1), sample_entry),
            full_box(b"stts", 0, 0, _u32(0)),
            full_box(b"stsc", 0, 0, _u32(0)),
            full_box(b"stsz", 0, 0, _u32(0, 0)),
            full_box(b"stco", 0, 0, _u32(0)),
        )
        minf = box(b"minf", vmhd, dinf, stbl)
        trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
        mvex = box(b"mvex", full_box(b"trex", 0, 0, _u32(TRACK_ID, 1, 0, 0, 0)))
        return ftyp + box(b"moov", mvhd, trak, mvex)

    def fragment(self, units: Iterable[AccessUnit], sequence_number: int, next_dts: int | None = None) -> bytes:
        """``moof`` + ``mdat`` holding ``units`` (this stream's codec only) in decode order.

        A sample lasts until the next one's decode time; the last one until ``next_dts`` when given (the
        :class:`SegmentBuilder` knows it), else as long as the one before it.
        """
        samples = [unit for unit in units if unit.codec is self.codec]
        if not samples:
            raise Fmp4Error("a fragment needs at least one sample")
        if self._base_dts is None:
            self._base_dts = samples[0].dts
        payloads = [annexb_to_length_prefixed(unit.data, self.codec) for unit in samples]
        durations = [max(later.dts - earlier.dts, 0) for earlier, later in pairwise(samples)]
        if next_dts is not None:
            durations.append(max(next_dts - samples[-1].dts, 0))
        else:
            durations.append(durations[-1] if durations else DEFAULT_SAMPLE_DURATION)
        offsets = [unit.pts - unit.dts for unit in samples]
        version = 1 if min(offsets) < 0 else 0
        entries = b"".join(
            _u32(duration, len(payload), SYNC_SAMPLE_FLAGS if unit.keyframe else NON_SYNC_SAMPLE_FLAGS, offset)
            for unit, payload, duration, offset in zip(samples, payloads, durations, offsets, strict=True)
        )
        flags = TRUN_DATA_OFFSET | TRUN_SAMPLE_DURATION | TRUN_SAMPLE_SIZE | TRUN_SAMPLE_FLAGS | TRUN_SAMPLE_CTS
        decode_time = max(samples[0].dts - self._base_dts, 0)

        def moof(data_offset: int) -> bytes:
            return box(
                b"moof",
                full_box(b"mfhd", 0, 0, _u32(sequence_number)),
                box(
                    b"traf",
                    full_box(b"tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF, _u32(TRACK_ID)),
                    full_box(b"tfdt", 1, 0, decode_time.to_bytes(8, "big")),
                    full_box(b"trun", version, flags, _u32(len(samples), data_offset), entries),
                ),
            )

        moof_size = len(moof(0))
        return moof(moof_size + 8) + box(b"mdat", *payloads)


@dataclass(frozen=True, slots=True)
class Segment:
    """One HLS media segment: a fragment starting on a keyframe, and the init segment it decodes with."""

    sequence: int
    duration_s: float
    data: bytes
    keyframe_pts: int
    init: bytes = b""


@dataclass(slots=True)
class SegmentBuilder:
    """Cuts a stream's access units into :class:`Segment` s of at least ``target_duration_s``, keyframe to keyframe.

    The video codec is taken from the first video unit; units of other codecs (audio) and video before the first
    parameter sets + keyframe are counted in ``dropped``. A keyframe that brings new parameter sets closes the
    current segment early, so every segment decodes with the ``init`` it carries.
    """

    target_duration_s: float = 2.0
    first_sequence: int = 0
    dropped: int = 0
    _params: ParameterSets | None = None
    _muxer: Fmp4Muxer | None = None
    _init: bytes = b""
    _config: bytes = b""
    _pending: list[AccessUnit] = field(default_factory=list)
    _next_sequence: int | None = None

    @property
    def ready(self) -> bool:
        return bool(self._init)

    def init_segment(self) -> bytes:
        """The init segment of the segments being built now; :class:`Fmp4Error` before the first keyframe."""
        if not self._init:
            raise Fmp4Error("no init segment before the first keyframe")
        return self._init

    def push(self, unit: AccessUnit) -> Segment | None:
        """Take one unit; return the segment it completes, if any."""
        if not unit.codec.is_video or (self._params is not None and unit.codec is not self._params.codec):
            self.dropped += 1
            return None
        if self._params is None:
            self._params = ParameterSets(unit.codec)
            self._muxer = Fmp4Muxer(self._params)
        self._params.update(unit)
        if not unit.keyframe:
            if self._pending:
                self._pending.append(unit)
            else:
                self.dropped += 1
            return None
        if not self._params.ready:
            self.dropped += 1
            return None
        config = self._params.decoder_config()
        new_config = config != self._config
        segment = None
        if self._pending and (new_config or self._elapsed(unit) >= self.target_duration_s * CLOCK_RATE):
            segment = self._close(unit.dts)
        if new_config:
            assert self._muxer is not None
            self._init, self._config = self._muxer.init_segment(), config
        self._pending.append(unit)
        return segment

    def flush(self) -> Segment | None:
        """The unfinished segment, for a stream that ends (its last sample lasts as long as the one before)."""
        return self._close(None) if self._pending else None

    def _elapsed(self, unit: AccessUnit) -> int:
        return unit.dts - self._pending[0].dts

    def _close(self, next_dts: int | None) -> Segment:
        assert self._muxer is not None
        units, self._pending = self._pending, []
        sequence = self.first_sequence if self._next_sequence is None else self._next_sequence
        self._next_sequence = sequence + 1
        data = self._muxer.fragment(units, sequence + 1, next_dts)  # mfhd sequence numbers start at 1
        end = next_dts if next_dts is not None else units[-1].dts + _last_duration(units)
        return Segment(sequence, (end - units[0].dts) / CLOCK_RATE, data, units[0].pts, self._init)


def _last_duration(units: list[AccessUnit]) -> int:
    return units[-1].dts - units[-2].dts if len(units) > 1 else DEFAULT_SAMPLE_DURATION
