"""The child process of one H.265 -> H.264 transcode (runs under the ``spawn`` context, nothing shared).

Why a process: decoding 1080p HEVC and encoding H.264 costs about a core and holds the GIL for long stretches; in
the media process it would stall every packet of every other stream. The parent sends ``(pts, dts, data,
keyframe)`` tuples of Annex B H.265 down ``inbox`` (None: stop) and reads the same tuples of H.264 from ``outbox``.
Timestamps pass through unchanged (90 kHz); x264 runs with ``zerolatency`` (no B-frames: dts == pts) and forces
an IDR wherever the source had a keyframe, so the variant's GOPs line up with the source's.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from multiprocessing.connection import Connection
from typing import Any

logger = logging.getLogger(__name__)

UnitTuple = tuple[int, int, bytes, bool]
#: Frames per second told to x264 for its rate control (the real timing comes from the pts).
ENCODER_RATE = 25


def _fit(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """The largest even size within the bounds that keeps the aspect ratio."""
    scale = min(1.0, max_width / width, max_height / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _encoder(av: Any, width: int, height: int) -> Any:
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width = width
    encoder.height = height
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, 90_000)
    encoder.framerate = ENCODER_RATE
    encoder.gop_size = ENCODER_RATE * 4
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "forced-idr": "1"}
    encoder.open()
    return encoder


def run(inbox: Connection, outbox: Connection, max_width: int, max_height: int) -> None:
    """Transcode until the parent sends None or closes the pipe."""
    import av  # imported in the child only
    from av.video.frame import PictureType

    decoder = av.CodecContext.create("hevc", "r")
    encoder: Any = None
    size: tuple[int, int] | None = None
    while True:
        try:
            item: UnitTuple | None = inbox.recv()
        except (EOFError, OSError):
            break
        if item is None:
            break
        pts, _dts, data, keyframe = item
        try:
            frames = decoder.decode(av.Packet(data))
        except av.FFmpegError as exc:
            logger.debug("hevc decode error: %s", exc)
            continue
        for frame in frames:
            source_size = (frame.width, frame.height)
            if encoder is None or source_size != size:
                size = source_size
                encoder = _encoder(av, *_fit(frame.width, frame.height, max_width, max_height))
            scaled = frame.reformat(width=encoder.width, height=encoder.height, format="yuv420p")
            scaled.pts = pts
            if keyframe:
                scaled.pict_type = PictureType.I
            try:
                packets = encoder.encode(scaled)
            except av.FFmpegError as exc:
                logger.debug("h264 encode error: %s", exc)
                continue
            for packet in packets:
                out_pts = packet.pts if packet.pts is not None else pts
                out_dts = packet.dts if packet.dts is not None else out_pts
                try:
                    outbox.send((out_pts, max(0, out_dts), bytes(packet), packet.is_keyframe))
                except (BrokenPipeError, OSError):
                    return
    outbox.close()
