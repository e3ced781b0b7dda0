"""The child process of one desensitised (masked) stream: decode, blur, re-encode H.264 (``spawn`` context).

Why a process: like the H.265 transcode, decoding, detecting and encoding 720p costs most of a core and holds the
GIL; in the media process it would stall every other stream. The parent sends ``(codec, pts, dts, data, keyframe,
arrived)`` tuples down ``inbox`` (``codec`` is ``"h264"`` or ``"h265"``, ``arrived`` the parent's
``time.monotonic()`` when the unit reached the hub, which the child compares with its own clock to know how far
behind it is; None: stop) and reads ``(pts, dts, data, keyframe)`` tuples of H.264 from ``outbox``.

The source may be H.264 or H.265; the output is always H.264 (x264 ``ultrafast`` + ``zerolatency``: no B-frames,
dts == pts), at most ``max_width`` x ``max_height``, with an IDR wherever the source had a keyframe so the
variant's GOPs line up with the source's. :class:`MaskedEncoder` is the whole per-unit work without the pipes, so
tests and the benchmark run exactly what the child runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from xueliang.media.desensitise import DesensitiseConfig, Desensitiser, FrameResult, PrivacyMask
from xueliang.media.transcode_worker import _encoder, _fit
from xueliang.protocol.es import CLOCK_RATE

logger = logging.getLogger(__name__)

InUnit = tuple[str, int, int, bytes, bool, float]
OutUnit = tuple[int, int, bytes, bool]
DECODERS = {"h264": "h264", "h265": "hevc"}
#: Frame interval assumed until two timestamps were seen (25 fps).
DEFAULT_INTERVAL_S = 0.04


class MaskedEncoder:
    """Decoder -> :class:`Desensitiser` -> x264, one unit at a time (blocking; the child's loop, or a test's)."""

    def __init__(
        self,
        max_width: int,
        max_height: int,
        masks: Sequence[PrivacyMask] = (),
        config: DesensitiseConfig | None = None,
        *,
        desensitise: bool = True,
        clock: Any = time.monotonic,
    ) -> None:
        import av  # imported where the work runs (the child), not by the parent's pool

        self._av = av
        self.max_size = (max_width, max_height)
        self.desensitiser = Desensitiser(config, masks)
        #: False only in the benchmark's baseline: decode and encode, nothing else.
        self.desensitise = desensitise
        self._clock = clock
        self._decoder: Any = None
        self._codec: str | None = None
        self._encoder: Any = None
        self._source_size: tuple[int, int] | None = None
        self._last_pts: int | None = None
        self.results: list[FrameResult] = []
        self.keep_results = False
        self.decode_errors = 0

    def _decoder_for(self, codec: str) -> Any:
        if codec != self._codec:
            if codec not in DECODERS:
                raise ValueError(f"cannot desensitise {codec!r}: only h264 and h265 video")
            self._decoder = self._av.CodecContext.create(DECODERS[codec], "r")
            self._codec = codec
        return self._decoder

    def _interval(self, pts: int) -> float:
        last, self._last_pts = self._last_pts, pts
        if last is None or not 0 < pts - last <= CLOCK_RATE:
            return DEFAULT_INTERVAL_S
        return (pts - last) / CLOCK_RATE

    def feed(self, item: InUnit) -> list[OutUnit]:
        """One source unit in, the H.264 units it produced out (usually one; none while the encoder fills)."""
        av = self._av
        codec, pts, _dts, data, keyframe, arrived = item
        decoder = self._decoder_for(codec)
        packet = av.Packet(data)
        packet.pts = pts
        try:
            frames = decoder.decode(packet)
        except av.FFmpegError as exc:
            self.decode_errors += 1
            logger.debug("%s decode error: %s", codec, exc)
            return []
        out: list[OutUnit] = []
        for frame in frames:
            out += self._picture(frame, pts if frame.pts is None else frame.pts, keyframe or frame.key_frame, arrived)
        return out

    def _picture(self, frame: Any, pts: int, keyframe: bool, arrived: float) -> list[OutUnit]:
        from av.video.frame import PictureType

        av = self._av
        if self._encoder is None or (frame.width, frame.height) != self._source_size:
            self._source_size = (frame.width, frame.height)
            self._encoder = _encoder(av, *_fit(frame.width, frame.height, *self.max_size))
        width, height = self._encoder.width, self._encoder.height
        scaled = frame.reformat(width=width, height=height, format="yuv420p")
        interval = self._interval(pts)
        if self.desensitise:
            picture = scaled.to_ndarray()
            lag = max(0.0, self._clock() - arrived)
            result = self.desensitiser.process(
                picture, width, height, keyframe=keyframe, interval_s=interval, lag_s=lag
            )
            if self.keep_results:
                self.results.append(result)
            scaled = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        scaled.pts = pts
        scaled.pict_type = PictureType.I if keyframe else PictureType.NONE
        try:
            packets = self._encoder.encode(scaled)
        except av.FFmpegError as exc:
            logger.debug("h264 encode error: %s", exc)
            return []
        out: list[OutUnit] = []
        for packet in packets:
            out_pts = packet.pts if packet.pts is not None else pts
            out_dts = packet.dts if packet.dts is not None else out_pts
            out.append((out_pts, max(0, out_dts), bytes(packet), packet.is_keyframe))
        return out


def run(
    inbox: Connection,
    outbox: Connection,
    max_width: int,
    max_height: int,
    masks: tuple[PrivacyMask, ...],
    config: DesensitiseConfig,
) -> None:
    """Desensitise until the parent sends None or closes the pipe."""
    import cv2

    cv2.setNumThreads(1)  # one stream, one core: threads would only fight the encoder and the other streams
    encoder = MaskedEncoder(max_width, max_height, masks, config)
    while True:
        try:
            item: InUnit | None = inbox.recv()
        except (EOFError, OSError):
            break
        if item is None:
            break
        try:
            units = encoder.feed(item)
        except ValueError as exc:
            logger.warning("desensitise: %s", exc)
            continue
        for unit in units:
            try:
                outbox.send(unit)
            except (BrokenPipeError, OSError):
                return
    outbox.close()
