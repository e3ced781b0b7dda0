"""Regenerate the keyframe vectors of this folder: ``.venv/bin/python tests/data/h26x/make_vectors.py``.

Each file is the first access unit (Annex B: parameter sets, SEI, IDR/IRAP slice) x264 or x265 wrote for a
one-frame clip, named ``<codec>_idr_<width>x<height>_<profile>.<codec>``. The sizes cover macroblock-aligned
pictures, 1080p (x264 codes 1088 lines and crops 8), a size x265 must pad and crop with a conformance window,
an interlaced SPS (frame_mbs_only_flag 0), one with scaling matrices and one with several temporal sub-layers.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av

HERE = Path(__file__).resolve().parent

VECTORS = [
    ("h264", 320, 240, "baseline", {"preset": "ultrafast", "profile": "baseline", "crf": "40"}),
    ("h264", 640, 360, "main", {"preset": "veryfast", "profile": "main", "crf": "40"}),
    ("h264", 1920, 1080, "high", {"preset": "veryfast", "profile": "high", "crf": "45"}),
    ("h264", 176, 144, "high", {"preset": "medium", "crf": "40"}),
    ("h264", 720, 576, "interlaced", {"preset": "veryfast", "crf": "45", "x264-params": "interlaced=1"}),
    ("h264", 352, 288, "cqm", {"preset": "veryfast", "crf": "40", "x264-params": "cqm=jvt"}),
    ("h265", 320, 240, "main", {"preset": "ultrafast", "crf": "40"}),
    ("h265", 1920, 1080, "main", {"preset": "ultrafast", "crf": "45"}),
    ("h265", 330, 250, "main", {"preset": "ultrafast", "crf": "40"}),
    ("h265", 640, 360, "temporal", {"preset": "ultrafast", "crf": "40", "x265-params": "temporal-layers=3"}),
]


def first_unit(codec: str, width: int, height: int, options: dict[str, str]) -> bytes:
    context: Any = av.CodecContext.create("libx264" if codec == "h264" else "libx265", "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = Fraction(1, 25)
    if codec == "h265":
        extra = options.get("x265-params")
        options = {**options, "x265-params": "log-level=error" + (f":{extra}" if extra else "")}
    context.options = options
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane in frame.planes:
        plane.update(bytes(range(256)) * (plane.buffer_size // 256) + bytes(plane.buffer_size % 256))
    frame.pts = 0
    packets = [*context.encode(frame), *context.encode(None)]
    return bytes(packets[0])


def main() -> None:
    for codec, width, height, profile, options in VECTORS:
        path = HERE / f"{codec}_idr_{width}x{height}_{profile}.{codec}"
        path.write_bytes(first_unit(codec, width, height, options))
        print(path.name, path.stat().st_size)


if __name__ == "__main__":
    main()
