"""Benchmark: the desensitised (masked) view, in frames per second sustained per core on 720p H.264.

What is timed is exactly the child process's work (:class:`~xueliang.media.desensitise_worker.MaskedEncoder`):
decode the source unit, scale to at most 1280x720, detect on the cadence (frontal faces, profile faces one side per
detection, plates on the grey picture and its negative), track, blur faces, plates and one privacy mask, re-encode
with x264 ultrafast/zerolatency. The baseline, in the same run and on the same units, is decode + encode alone.

The process is pinned to one CPU (``--cpu``) and OpenCV to one thread; the figure is pictures per CPU-second
(user + system, ``time.process_time``), so another load on the machine does not inflate it. The fail-safe is
disabled for the measured run (``behind_frames`` huge): when it trips the worker takes the cheap full-frame path,
which would flatter the figure.

The clip: 720p, 25 fps, a keyframe every second, the astronaut's head (skimage.data) and two faces of the LFW
subset moving across the Hubble deep field (a textured, costly-to-encode background), encoded once with x264.

    python bench/bench_desensitise.py [--frames 250] [--cpu 0] [--detect-every 3] [--detect-width 480]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from fractions import Fraction

import av
import cv2
import numpy as np
import skimage.data

from xueliang.media.desensitise import DesensitiseConfig, PrivacyMask
from xueliang.media.desensitise_worker import MaskedEncoder
from xueliang.protocol.es import CLOCK_RATE, AccessUnit, Codec

W, H, FPS = 1280, 720, 25
TARGET_FPS = 25


def clip(frames: int) -> list[AccessUnit]:
    base = cv2.resize(skimage.data.hubble_deep_field(), (W, H), interpolation=cv2.INTER_AREA)
    head = skimage.data.astronaut()[:256, 96:352]
    faces = [
        cv2.cvtColor(cv2.resize((skimage.data.lfw_subset()[i] * 255).astype(np.uint8), (110, 110)), cv2.COLOR_GRAY2RGB)
        for i in (0, 7)
    ]
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = W, H, "yuv420p"
    encoder.time_base = Fraction(1, CLOCK_RATE)
    encoder.framerate = Fraction(FPS)
    encoder.gop_size = FPS
    encoder.bit_rate = 4_000_000
    encoder.options = {"preset": "veryfast", "tune": "zerolatency", "bf": "0"}
    encoder.open()
    units: list[AccessUnit] = []
    for index in range(frames + 1):
        if index == frames:
            packets = encoder.encode(None)
        else:
            rgb = base.copy()
            x = (40 + index * 8) % (W - 256)
            rgb[200 : 200 + 256, x : x + 256] = head
            for slot, face in enumerate(faces):
                fx = (W - 150 - index * 5 - slot * 500) % (W - 110)
                rgb[500 : 500 + 110, fx : fx + 110] = face
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = 3600 + index * CLOCK_RATE // FPS
            packets = encoder.encode(frame)
        for packet in packets:
            assert packet.pts is not None and packet.dts is not None
            units.append(AccessUnit(Codec.H264, packet.pts, max(packet.dts, 0), bytes(packet), packet.is_keyframe))
    return units


def run(units: list[AccessUnit], *, desensitise: bool, config: DesensitiseConfig) -> tuple[float, float, MaskedEncoder]:
    """(pictures per CPU-second, pictures per wall second, the encoder for its counters)."""
    masks = [PrivacyMask.rect(0.85, 0.05, 0.1, 0.2)]
    encoder = MaskedEncoder(W, H, masks, config, desensitise=desensitise)
    encoder.keep_results = True
    out = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for unit in units:
        out += len(encoder.feed(("h264", unit.pts, unit.dts, unit.data, unit.keyframe, time.monotonic())))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return out / cpu, out / wall, encoder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=250, help="pictures in the clip (25 per second)")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU to pin to")
    parser.add_argument("--detect-every", type=int, default=3)
    parser.add_argument("--detect-width", type=int, default=DesensitiseConfig().detect_width)
    parser.add_argument("--rounds", type=int, default=3, help="alternating baseline / masked rounds; medians reported")
    args = parser.parse_args()

    print(f"encoding a {args.frames}-picture 720p H.264 clip ...", flush=True)
    units = clip(args.frames)
    os.sched_setaffinity(0, {args.cpu})
    cv2.setNumThreads(1)
    config = DesensitiseConfig(detect_every=args.detect_every, detect_width=args.detect_width, behind_frames=10**9)
    base_cpu, base_wall, masked_cpu, masked_wall = [], [], [], []
    encoder: MaskedEncoder | None = None
    for _ in range(args.rounds):
        cpu, wall, _enc = run(units, desensitise=False, config=config)
        base_cpu.append(cpu)
        base_wall.append(wall)
        cpu, wall, encoder = run(units, desensitise=True, config=config)
        masked_cpu.append(cpu)
        masked_wall.append(wall)
    assert encoder is not None
    results = encoder.results
    detections = sum(r.detected for r in results)
    boxes = statistics.mean(len(r.boxes) for r in results)
    base, masked = statistics.median(base_cpu), statistics.median(masked_cpu)
    print(f"pinned to CPU {args.cpu}; {len(units)} units; detect every {args.detect_every}, width {args.detect_width}")
    print(
        f"baseline decode + encode       : {base:6.1f} pictures per CPU-second "
        f"({statistics.median(base_wall):.1f}/s wall)"
    )
    print(
        f"masked decode+detect+blur+enc  : {masked:6.1f} pictures per CPU-second "
        f"({statistics.median(masked_wall):.1f}/s wall)"
    )
    print(f"ratio masked / baseline        : {masked / base:.2f}")
    print(f"per picture                    : {1000 / masked:.1f} ms masked, {1000 / base:.1f} ms baseline")
    print(f"detections {detections} of {len(results)} pictures, {boxes:.2f} blurred boxes per picture on average")
    verdict = "meets" if masked >= TARGET_FPS else "misses"
    print(f"target {TARGET_FPS} fps per core: {verdict} it")


if __name__ == "__main__":
    main()
