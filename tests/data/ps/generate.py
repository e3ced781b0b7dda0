"""Writes the program stream vectors of this directory (run once; the files are committed).

    .venv/bin/python tests/data/ps/generate.py

- ``ps_h264_keyframe.bin`` / ``ps_h265_keyframe.bin``: one pack as GB/T 28181 devices send a keyframe (pack header,
  system header, PSM, PES with PTS), muxed by :class:`~xueliang.protocol.ps.PsMuxer` from a frame encoded by
  :class:`~xueliang.sim.video.VideoLoop` (320x240), PTS 90000.
- ``ps_h264_gop.bin`` / ``ps_h265_gop.bin``: one second (25 frames, one GOP) muxed the same way, PTS from 90000.
- ``*_truncated.bin``: the keyframe pack cut in the middle of its PES.
- ``*_invalid.bin``: 200 bytes of garbage, the keyframe pack with its PSM's map length overrunning the PSM, 64 bytes
  of garbage, then the keyframe pack again intact: a demuxer must count errors, resync, and still deliver two
  units.

Every file is cross-checked with ffprobe (the intact ones must show the frames, the PSM stream type and the codec).
"""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import replace
from pathlib import Path

from xueliang.protocol.es import Codec
from xueliang.protocol.ps import PsMuxer
from xueliang.sim.video import VideoLoop

HERE = Path(__file__).resolve().parent
START = 90_000
PSM_MAP_LENGTH_OFFSET = 10  # within the PSM: start code (4), length (2), flags (2), info length (2)


def ffprobe_frames(path: Path) -> tuple[str, int]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,nb_read_frames", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    stream = json.loads(result.stdout)["streams"][0]
    return stream["codec_name"], int(stream["nb_read_frames"])


def main() -> None:
    rng = random.Random(28181)
    for codec, name in ((Codec.H264, "h264"), (Codec.H265, "h265")):
        loop = VideoLoop.build(codec, width=320, height=240, fps=25, seconds=1, label="vector 向量", bitrate=200_000)
        muxer = PsMuxer()
        packs = [muxer.mux(replace(unit, pts=unit.pts + START, dts=unit.dts + START)) for unit in loop.units]
        keyframe = packs[0]
        psm = keyframe.index(b"\x00\x00\x01\xbc")
        broken = bytearray(keyframe)
        broken[psm + PSM_MAP_LENGTH_OFFSET : psm + PSM_MAP_LENGTH_OFFSET + 2] = b"\x7f\xff"
        files = {
            f"ps_{name}_keyframe.bin": keyframe,
            f"ps_{name}_gop.bin": b"".join(packs),
            f"ps_{name}_keyframe_truncated.bin": keyframe[: len(keyframe) // 2],
            f"ps_{name}_keyframe_invalid.bin": rng.randbytes(200) + bytes(broken) + rng.randbytes(64) + keyframe,
        }
        for file_name, data in files.items():
            (HERE / file_name).write_bytes(data)
        probed = {ffprobe_frames(HERE / f"ps_{name}_{kind}.bin") for kind in ("keyframe", "gop")}
        expected = {("h264" if codec is Codec.H264 else "hevc", 1), ("h264" if codec is Codec.H264 else "hevc", 25)}
        assert probed == expected, f"ffprobe read {probed}, expected {expected}"
        print(f"{name}: {', '.join(f'{n} ({len(d)} bytes)' for n, d in files.items())}; ffprobe: {sorted(probed)}")


if __name__ == "__main__":
    main()
