"""MPEG-2 program stream demuxer: RTP payloads in, :class:`~xueliang.protocol.es.AccessUnit` out.

Three layers, each tolerant of what devices really send:

1. **Pack layer** (:meth:`PsDemuxer.feed`): pack headers (MPEG-2, and MPEG-1 as old ffmpeg-made files have),
   system headers, the program stream map and PES packets are cut from a byte buffer by their start codes and
   lengths, whatever the RTP packet boundaries. Bytes that are not where a start code should be are counted in
   ``errors`` and skipped up to the next pack start code ``00 00 01 BA`` (``resyncs``). The buffer never holds
   more than one incomplete element (at most 65,541 bytes) plus the bytes of one ``feed``.
2. **Elementary streams** (:class:`_VideoStream`): PES payloads of a video stream are joined into one byte stream
   and cut into NAL units and access units by the NAL rules of H.264/H.265 (7.4.1.2.3 / 7.4.2.4.4), so a PES may
   hold several frame starts and a frame may span several PES. The PTS of a PES belongs to the first access unit
   that starts in it (13818-1 2.4.3.7); a unit with none gets the RTP timestamp mapped onto the PTS timeline, or
   the previous timestamp plus the last frame interval.
3. **Frame end**: a unit is complete when the next one starts; the RTP marker bit or a new RTP timestamp (GB/T
   28181 sends one pack per frame) completes it at once, which saves a frame of latency.

The codec of a video stream is told by its parameter sets (:func:`~xueliang.protocol.h26x.sniff_nal`), with the PSM
as a hint: a wrong or missing PSM costs nothing but the ``psm_mismatches`` counter. Until a stream's codec is known
its NAL units are dropped (``dropped_nal_units``); that is also what a mid-GOP join needs, as nothing before the
first keyframe's parameter sets can be decoded. A codec change mid-stream just yields units with the new codec.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from xueliang.protocol.es import AccessUnit, Codec
from xueliang.protocol.h26x import (
    H264_IDR,
    H265_BLA_W_LP,
    H265_CRA,
    is_vcl,
    nal_type,
    sniff_nal,
    starts_access_unit,
)
from xueliang.protocol.ps.constants import (
    CODEC_BY_STREAM_TYPE,
    END_CODE_ID,
    MPEG1_PACK_HEADER_SIZE,
    MPEG2_PACK_HEADER_SIZE,
    NO_PES_HEADER_IDS,
    PACK_HEADER_ID,
    PACK_START,
    PES_PREFIX_SIZE,
    PSM_ID,
    SYSTEM_HEADER_ID,
    TIMESTAMP_MODULO,
    TIMESTAMP_SIZE,
    is_audio_id,
    is_video_id,
)
from xueliang.protocol.ps.errors import PsError
from xueliang.protocol.rtp import Unwrapper

DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024  # a 4K keyframe at a high bitrate stays well below
DEFAULT_FRAME_TICKS = 3600  # 25 fps, until two timestamps tell the real interval
MAX_FRAME_TICKS = 10 * 90_000  # a larger step is a discontinuity, not a frame interval
MAX_MARKS = 256
START_CODE = b"\x00\x00\x01"
ANNEX_B_START = b"\x00\x00\x00\x01"


def read_timestamp(data: bytes | memoryview, offset: int) -> int:
    """A 33-bit PTS/DTS from its 5-byte form (marker bits not checked: devices get them wrong)."""
    b = data
    return (
        (b[offset] & 0x0E) << 29
        | b[offset + 1] << 22
        | (b[offset + 2] & 0xFE) << 14
        | b[offset + 3] << 7
        | b[offset + 4] >> 1
    )


@dataclass(slots=True)
class _Mark:
    """Where a PES payload begins in its elementary stream, with the PES timestamps and the RTP timestamp."""

    offset: int
    pts: int | None
    dts: int | None
    rtp: int | None
    used: bool = False


class _Clock:
    """Per stream: PES timestamps unwrapped, fallbacks for units without one, never negative."""

    __slots__ = ("_pts", "_rtp_offset", "interval", "last_dts")

    def __init__(self) -> None:
        self._pts = Unwrapper(33)
        self._rtp_offset: int | None = None
        self.last_dts: int | None = None
        self.interval = DEFAULT_FRAME_TICKS

    def unwrap(self, pts: int | None, dts: int | None) -> tuple[int | None, int | None]:
        """PES timestamps (33 bits) to growing ints; DTS follows PTS by their signed difference."""
        if pts is None:
            return None, None
        unwrapped = self._pts.unwrap(pts)
        if dts is None:
            return unwrapped, None
        delta = (dts - pts) % TIMESTAMP_MODULO
        if delta >= TIMESTAMP_MODULO // 2:
            delta -= TIMESTAMP_MODULO
        return unwrapped, unwrapped + delta

    def stamp(self, pts: int | None, dts: int | None, rtp: int | None) -> tuple[int, int]:
        """The unit's timestamps: its PES's, else its RTP timestamp on the PES timeline, else the last plus the
        frame interval."""
        last = self.last_dts
        if pts is not None:
            dts = pts if dts is None else dts
            if rtp is not None:
                self._rtp_offset = pts - rtp
        elif rtp is not None and (self._rtp_offset is not None or last is None):
            pts = dts = rtp + (self._rtp_offset or 0)
            if last is not None and dts <= last:  # a second unit in the same packet
                pts = dts = None
        if pts is None or dts is None:
            pts = dts = 0 if last is None else last + self.interval
        if last is not None and 0 < dts - last <= MAX_FRAME_TICKS:
            self.interval = dts - last
        self.last_dts = dts
        return max(pts, 0), max(dts, 0)


def _is_key_nal(codec: Codec, nal: bytes) -> bool:
    kind = nal_type(codec, nal)
    if codec is Codec.H264:
        return kind == H264_IDR
    return H265_BLA_W_LP <= kind <= H265_CRA


class _VideoStream:
    """One video elementary stream: PES payloads in, access units out (see the module docstring)."""

    def __init__(self, demuxer: PsDemuxer) -> None:
        self._demuxer = demuxer
        self.psm_codec: Codec | None = None
        self.codec: Codec | None = None
        self.clock = _Clock()
        self._es = bytearray()
        self._es_base = 0  # absolute offset of _es[0] in the elementary stream
        self._nal_begin = -1  # index in _es of the current NAL unit's start code
        self._searched = 0
        self._nals: list[bytes] = []
        self._au_size = 0
        self._au_offset = 0
        self._picture = False
        self._keyframe = False
        self._marks: deque[_Mark] = deque(maxlen=MAX_MARKS)

    @property
    def buffered(self) -> int:
        return len(self._es) + self._au_size

    def push(
        self, payload: memoryview, pts: int | None, dts: int | None, rtp: int | None, out: list[AccessUnit]
    ) -> None:
        self._marks.append(_Mark(self._es_base + len(self._es), pts, dts, rtp))
        self._es += payload
        if self.buffered > self._demuxer.max_frame_bytes:
            self._demuxer.errors += 1
            self.reset()
            return
        self._scan(out)

    def finish(self, out: list[AccessUnit]) -> None:
        """The frame is complete: the last NAL unit ends here, and so does the access unit."""
        if self._nal_begin >= 0:
            self._nal(self._es_base + self._nal_begin, bytes(self._es[self._nal_begin + 3 :]), out)
        self._es_base += len(self._es)
        self._es.clear()
        self._nal_begin = -1
        self._searched = 0
        if self._picture:
            self._emit(out)

    def reset(self) -> None:
        self._es_base += len(self._es)
        self._es.clear()
        self._nal_begin = -1
        self._searched = 0
        self._drop_unit()

    def _scan(self, out: list[AccessUnit]) -> None:
        es = self._es
        search = max(self._nal_begin + 3 if self._nal_begin >= 0 else 0, self._searched - 2, 0)
        while (found := es.find(START_CODE, search)) >= 0:
            if self._nal_begin >= 0:
                self._nal(self._es_base + self._nal_begin, bytes(es[self._nal_begin + 3 : found]), out)
            self._nal_begin = found
            search = found + 3
        if self._nal_begin < 0:
            keep = min(len(es), 2)  # a start code may straddle the next PES
            self._es_base += len(es) - keep
            del es[: len(es) - keep]
        elif self._nal_begin > 0:
            self._es_base += self._nal_begin
            del es[: self._nal_begin]
            self._nal_begin = 0
        self._searched = len(es)

    def _nal(self, offset: int, nal: bytes, out: list[AccessUnit]) -> None:
        nal = nal.rstrip(b"\x00")
        if not nal:
            return
        sniffed = sniff_nal(nal)
        if sniffed is None and self.codec is None and self.psm_codec is not None:
            sniffed = self.psm_codec if _is_key_nal(self.psm_codec, nal) else None
        if sniffed is not None and sniffed is not self.codec:
            if self._picture:
                self._emit(out)
            if self.psm_codec is not None and sniffed is not self.psm_codec:
                self._demuxer.psm_mismatches += 1
            self._drop_unit()
            self.codec = sniffed
        codec = self.codec
        if codec is None:
            self._demuxer.dropped_nal_units += 1
            return
        if self._picture and starts_access_unit(codec, nal, after_picture=True):
            self._emit(out)
        if not self._nals:
            self._au_offset = offset
        self._nals.append(nal)
        self._au_size += len(nal) + len(ANNEX_B_START)
        if is_vcl(codec, nal):
            self._picture = True
            self._keyframe = self._keyframe or _is_key_nal(codec, nal)

    def _emit(self, out: list[AccessUnit]) -> None:
        assert self.codec is not None
        pts, dts, rtp = self._timestamps()
        pts, dts = self.clock.stamp(pts, dts, rtp)
        data = ANNEX_B_START + ANNEX_B_START.join(self._nals)
        out.append(AccessUnit(self.codec, pts, dts, data, self._keyframe))
        self._drop_unit()

    def _timestamps(self) -> tuple[int | None, int | None, int | None]:
        """The PTS of the PES the unit starts in, if no earlier unit took it (and the RTP timestamp there)."""
        marks = self._marks
        while len(marks) > 1 and marks[1].offset <= self._au_offset:
            marks.popleft()
        if not marks or marks[0].offset > self._au_offset:
            return None, None, None
        mark = marks[0]
        if mark.used or mark.pts is None:
            return None, None, mark.rtp
        mark.used = True
        return mark.pts, mark.dts, mark.rtp

    def _drop_unit(self) -> None:
        self._nals = []
        self._au_size = 0
        self._picture = False
        self._keyframe = False


class PsDemuxer:
    """Feed RTP payloads (in sequence order) and get access units; see the module docstring.

    Counters: ``errors`` (malformed elements, oversize frames), ``resyncs`` (times bytes were skipped to find a pack
    start), ``psm_mismatches`` (the PSM disagreed with the NAL headers), ``dropped_nal_units`` (video before its
    codec was known), ``dropped_audio`` (audio PES without a known codec).
    """

    def __init__(self, *, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 1:
            raise PsError(f"max_frame_bytes must be positive, got {max_frame_bytes}")
        self.max_frame_bytes = max_frame_bytes
        self.errors = 0
        self.resyncs = 0
        self.psm_mismatches = 0
        self.dropped_nal_units = 0
        self.dropped_audio = 0
        self.stream_types: dict[int, int] = {}  # stream_id -> PSM stream_type, as last announced
        self._buffer = bytearray()
        self._wanted = 0  # bytes the element at the start of the buffer needs before parsing can go on
        self._synced = False
        self._skipping = False  # bytes were skipped looking for a pack start
        self._video: dict[int, _VideoStream] = {}
        self._audio_clocks: dict[int, _Clock] = {}
        self._rtp = Unwrapper(32)
        self._last_rtp: int | None = None

    @property
    def buffered(self) -> int:
        """Bytes held in all internal buffers (bounded; see the module docstring)."""
        return len(self._buffer) + sum(stream.buffered for stream in self._video.values())

    def feed(
        self, payload: bytes | memoryview, rtp_timestamp: int | None = None, *, marker: bool = False
    ) -> list[AccessUnit]:
        """One RTP payload. ``rtp_timestamp`` and ``marker`` are optional hints that end a frame without waiting
        for the next one to start."""
        out: list[AccessUnit] = []
        rtp = None if rtp_timestamp is None else self._rtp.unwrap(rtp_timestamp)
        if rtp is not None and self._last_rtp is not None and rtp != self._last_rtp and not self._buffer:
            self._finish(out)
        self._last_rtp = rtp
        self._buffer += payload
        if len(self._buffer) >= self._wanted:  # a PES split over many packets is parsed once, when complete
            self._parse(rtp, out)
        if marker and not self._buffer:
            self._finish(out)
        return out

    def flush(self) -> list[AccessUnit]:
        """End of input: whatever is pending, as complete units. Incomplete elements are dropped."""
        out: list[AccessUnit] = []
        self._finish(out)
        for stream in self._video.values():
            stream.reset()  # parameter sets still waiting for a picture that will not come
        self._buffer.clear()
        self._wanted = 0
        self._synced = False
        return out

    def _finish(self, out: list[AccessUnit]) -> None:
        for stream in self._video.values():
            stream.finish(out)

    def _lose_sync(self) -> None:
        self.errors += 1
        self._synced = False

    def _parse(self, rtp: int | None, out: list[AccessUnit]) -> None:
        buffer = self._buffer
        view = memoryview(buffer)
        size = len(buffer)
        pos = 0
        self._wanted = 0
        try:
            while True:
                if not self._synced:
                    found = buffer.find(PACK_START, pos)
                    if found < 0:
                        self._skipping = self._skipping or size - 3 > pos
                        pos = max(pos, size - 3)
                        break
                    if found > pos or self._skipping:
                        self.resyncs += 1
                        self._skipping = False
                    pos = found
                    self._synced = True
                if size - pos < 4:
                    break
                if buffer[pos] != 0 or buffer[pos + 1] != 0 or buffer[pos + 2] != 1:
                    if buffer[pos] == 0 and buffer[pos + 1] == 0 and buffer[pos + 2] == 0:
                        pos += 1  # zero stuffing before a start code
                        continue
                    self._lose_sync()
                    continue
                stream_id = buffer[pos + 3]
                if stream_id == PACK_HEADER_ID:
                    length = self._pack_header_size(buffer, pos, size)
                    if length is None:
                        break
                    if length < 0:
                        self._lose_sync()
                        pos += 4
                        continue
                elif stream_id == END_CODE_ID:
                    length = 4
                elif stream_id >= SYSTEM_HEADER_ID:
                    if size - pos < PES_PREFIX_SIZE:
                        break
                    length = PES_PREFIX_SIZE + (buffer[pos + 4] << 8 | buffer[pos + 5])
                    if size - pos < length:
                        self._wanted = length  # the element moves to the buffer's start below
                        break
                    self._element(stream_id, view[pos + PES_PREFIX_SIZE : pos + length], rtp, out)
                else:
                    self._lose_sync()
                    pos += 4
                    continue
                pos += length
        finally:
            view.release()
        del buffer[:pos]

    @staticmethod
    def _pack_header_size(buffer: bytearray, pos: int, size: int) -> int | None:
        """The size of the pack header at ``pos``: None if more bytes are needed, -1 if it is no pack header."""
        if size - pos < 5:
            return None
        mode = buffer[pos + 4]
        if mode >> 6 == 0b01:
            if size - pos < MPEG2_PACK_HEADER_SIZE:
                return None
            length = MPEG2_PACK_HEADER_SIZE + (buffer[pos + 13] & 0x07)
        elif mode >> 4 == 0b0010:
            length = MPEG1_PACK_HEADER_SIZE
        else:
            return -1
        return None if size - pos < length else length

    def _element(self, stream_id: int, body: memoryview, rtp: int | None, out: list[AccessUnit]) -> None:
        if stream_id == PSM_ID:
            self._psm(body)
        elif stream_id == SYSTEM_HEADER_ID or stream_id in NO_PES_HEADER_IDS:
            return
        elif is_video_id(stream_id) or is_audio_id(stream_id):
            parsed = self._pes_header(body)
            if parsed is None:
                self.errors += 1
                return
            start, pts, dts = parsed
            if is_video_id(stream_id):
                stream = self._video.get(stream_id)
                if stream is None:
                    stream = self._video[stream_id] = _VideoStream(self)
                    stream.psm_codec = CODEC_BY_STREAM_TYPE.get(self.stream_types.get(stream_id, -1))
                pts, dts = stream.clock.unwrap(pts, dts)
                stream.push(body[start:], pts, dts, rtp, out)
            else:
                self._audio(stream_id, body[start:], pts, dts, rtp, out)

    def _audio(
        self, stream_id: int, data: memoryview, pts: int | None, dts: int | None, rtp: int | None, out: list[AccessUnit]
    ) -> None:
        codec = CODEC_BY_STREAM_TYPE.get(self.stream_types.get(stream_id, -1))
        if codec is None or codec.is_video or not data:
            self.dropped_audio += 1
            return
        clock = self._audio_clocks.setdefault(stream_id, _Clock())
        pts, dts = clock.stamp(*clock.unwrap(pts, dts), rtp)
        out.append(AccessUnit(codec, pts, dts, bytes(data)))

    @staticmethod
    def _pes_header(body: memoryview) -> tuple[int, int | None, int | None] | None:
        """(payload offset, PTS, DTS) of a PES packet body (after PES_packet_length), MPEG-2 or MPEG-1 syntax."""
        size = len(body)
        if size >= 3 and body[0] >> 6 == 0b10:  # MPEG-2
            flags = body[1] >> 6
            start = 3 + body[2]
            if start > size or (flags == 0b01):
                return None
            pts = dts = None
            if flags & 0b10:
                if start < 3 + TIMESTAMP_SIZE:
                    return None
                pts = read_timestamp(body, 3)
            if flags == 0b11:
                if start < 3 + 2 * TIMESTAMP_SIZE:
                    return None
                dts = read_timestamp(body, 3 + TIMESTAMP_SIZE)
            return start, pts, dts
        offset = 0  # MPEG-1: stuffing, optional STD buffer, then the timestamps
        while offset < size and body[offset] == 0xFF and offset < 16:
            offset += 1
        if offset < size and body[offset] >> 6 == 0b01:
            offset += 2
        if offset >= size:
            return None
        marker = body[offset] >> 4
        if marker == 0b0010 and offset + TIMESTAMP_SIZE <= size:
            return offset + TIMESTAMP_SIZE, read_timestamp(body, offset), None
        if marker == 0b0011 and offset + 2 * TIMESTAMP_SIZE <= size:
            return offset + 2 * TIMESTAMP_SIZE, read_timestamp(body, offset), read_timestamp(body, offset + 5)
        if body[offset] == 0x0F:
            return offset + 1, None, None
        return None

    def _psm(self, body: memoryview) -> None:
        size = len(body)
        if size < 6:
            self.errors += 1
            return
        info_length = body[2] << 8 | body[3]
        offset = 4 + info_length
        if offset + 2 > size:
            self.errors += 1
            return
        map_length = body[offset] << 8 | body[offset + 1]
        offset += 2
        end = offset + map_length
        if end > size:
            self.errors += 1
            return
        types: dict[int, int] = {}
        while offset + 4 <= end:
            stream_type, stream_id = body[offset], body[offset + 1]
            offset += 4 + (body[offset + 2] << 8 | body[offset + 3])
            types[stream_id] = stream_type
        if offset != end:
            self.errors += 1
            return
        self.stream_types = types
        for stream_id, stream in self._video.items():
            stream.psm_codec = CODEC_BY_STREAM_TYPE.get(types.get(stream_id, -1))
