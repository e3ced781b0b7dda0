"""Real H.264/H.265 clips encoded with PyAV, as the access units a demuxer would hand the muxers.

Shared by the h26x, flv and fmp4 tests (their conftests load this file by path: the test tree is not a package).
Frames are a moving gradient so the encoder produces real P/B-frames rather than skip blocks only.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from xueliang.protocol.es import CLOCK_RATE, AccessUnit, Codec

FPS = 25
TICKS_PER_FRAME = CLOCK_RATE // FPS
#: Offset added to every timestamp: B-frame streams start with a negative DTS, access units cannot.
TIMESTAMP_OFFSET = 10 * TICKS_PER_FRAME


@dataclass(frozen=True)
class Clip:
    codec: Codec
    width: int
    height: int
    units: list[AccessUnit]

    @property
    def keyframes(self) -> int:
        return sum(unit.keyframe for unit in self.units)


def _frame(index: int, width: int, height: int) -> av.VideoFrame:
    ys, xs = np.mgrid[0:height, 0:width]
    luma = ((xs + ys + index * 4) % 256).astype(np.uint8)
    yuv = np.concatenate(
        [luma, np.full((height // 2, width), 128, dtype=np.uint8)], axis=0
    )  # I420 layout: Y then U and V quarter planes packed as half-height rows
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


def encode(codec: Codec, width: int, height: int, frames: int, *, bframes: int = 0, gop: int = FPS) -> Clip:
    name = "libx264" if codec is Codec.H264 else "libx265"
    context: Any = av.CodecContext.create(name, "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = Fraction(1, FPS)
    context.framerate = FPS
    context.gop_size = gop
    context.max_b_frames = bframes
    if codec is Codec.H264:
        context.options = {"preset": "veryfast", "bf": str(bframes), "sc_threshold": "0"}
    else:
        params = f"log-level=error:bframes={bframes}:keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1"
        context.options = {"preset": "ultrafast", "x265-params": params}
    packets = []
    for index in range(frames):
        frame = _frame(index, width, height)
        frame.pts = index
        packets.extend(context.encode(frame))
    packets.extend(context.encode(None))
    units = [
        AccessUnit(
            codec,
            pts=packet.pts * TICKS_PER_FRAME + TIMESTAMP_OFFSET,
            dts=packet.dts * TICKS_PER_FRAME + TIMESTAMP_OFFSET,
            data=bytes(packet),
            keyframe=packet.is_keyframe,
        )
        for packet in packets
    ]
    return Clip(codec, width, height, units)


def ffprobe_frames(path: Path) -> dict[str, Any]:
    """``ffprobe -show_streams -show_frames`` of a file, as JSON."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_frames", "-of", "json", str(path)],
        capture_output=True,
        check=True,
        timeout=60,
    )
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed
