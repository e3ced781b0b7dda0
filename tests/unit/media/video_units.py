"""PyAV-encoded H.264/H.265 access units (a small moving picture) for the media tests, unit and integration.

Loaded by path from both conftests (the test tree is no package)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import av
import numpy as np

from xueliang.protocol.es import CLOCK_RATE, AccessUnit, Codec

ENCODERS = {Codec.H264: "libx264", Codec.H265: "libx265"}
Encode = Callable[..., list[AccessUnit]]


def encode(
    codec: Codec = Codec.H264, frames: int = 50, width: int = 320, height: int = 240, fps: int = 25, gop: int = 25
) -> list[AccessUnit]:
    """``frames`` pictures with a keyframe every ``gop``, as Annex B access units with 90 kHz timestamps."""
    encoder = av.CodecContext.create(ENCODERS[codec], "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, CLOCK_RATE)
    encoder.framerate = Fraction(fps)
    encoder.gop_size = gop
    if codec is Codec.H264:
        encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "bf": "0"}
    else:
        encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "x265-params": f"keyint={gop}:log-level=error"}
    encoder.open()
    step = CLOCK_RATE // fps
    units: list[AccessUnit] = []
    y, x = np.mgrid[0:height, 0:width]
    for index in range(frames + 1):
        packets = []
        if index < frames:
            rgb = np.stack([(x + index * 4) % 256, (y * 2) % 256, (x + y + index) % 256], axis=-1).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = 3600 + index * step
            packets = encoder.encode(frame)
        else:
            packets = encoder.encode(None)
        for packet in packets:
            assert packet.pts is not None and packet.dts is not None
            units.append(AccessUnit(codec, packet.pts, max(packet.dts, 0), bytes(packet), packet.is_keyframe))
    return units
