"""The masked variant end to end: a 720p clip of a real face moving across a real photograph, encoded with PyAV,
desensitised, re-encoded as H.264 and decoded again.

The pixel checks compare the decoded output with the pictures that went in: inside the face the detail is gone,
outside every blurred region only the re-encode's error remains. Recall (pictures whose face was blurred) is
printed and asserted.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import skimage.data

from xueliang.domain.streams import StreamLimitError
from xueliang.media.desensitise import Box, Desensitiser, Image, PrivacyMask
from xueliang.media.desensitise_worker import MaskedEncoder
from xueliang.media.hub import StreamHub
from xueliang.media.masked import VARIANT, MaskedPool
from xueliang.protocol.es import CLOCK_RATE, AccessUnit, Codec

W, H, FPS, FRAMES, GOP = 1280, 720, 25, 50, 25
#: The astronaut's face within the 256x256 head crop below (hand-labelled in skimage.data.astronaut()).
FACE = Box(84, 70, 90, 92)
ENCODERS = {Codec.H264: "libx264", Codec.H265: "libx265"}


def face_at(index: int) -> Box:
    x, y = 40 + index * 16, 200 + round(80 * np.sin(index / 10))  # 400 px/s across, bobbing
    return Box(x + FACE.x, y + FACE.y, FACE.w, FACE.h)


def clip() -> list[Image]:
    """RGB pictures: the Hubble deep field, the astronaut's head moving across it."""
    base = cv2.resize(skimage.data.hubble_deep_field(), (W, H), interpolation=cv2.INTER_AREA)
    head = skimage.data.astronaut()[:256, 96:352]
    pictures = []
    for index in range(FRAMES):
        face = face_at(index)
        x, y = face.x - FACE.x, face.y - FACE.y
        rgb = base.copy()
        rgb[y : y + 256, x : x + 256] = head
        pictures.append(rgb)
    return pictures


def encode(pictures: list[Image], codec: Codec) -> list[AccessUnit]:
    encoder = av.CodecContext.create(ENCODERS[codec], "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = W, H, "yuv420p"
    encoder.time_base = Fraction(1, CLOCK_RATE)
    encoder.framerate = Fraction(FPS)
    encoder.gop_size = GOP
    if codec is Codec.H264:
        encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "bf": "0"}
    else:
        encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "x265-params": f"keyint={GOP}:log-level=error"}
    encoder.open()
    units: list[AccessUnit] = []
    for index, rgb in enumerate([*pictures, None]):
        if rgb is None:
            packets = encoder.encode(None)
        else:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = 3600 + index * CLOCK_RATE // FPS
            packets = encoder.encode(frame)
        for packet in packets:
            assert packet.pts is not None and packet.dts is not None
            units.append(AccessUnit(codec, packet.pts, max(packet.dts, 0), bytes(packet), packet.is_keyframe))
    return units


def decode_h264(data: bytes, tmp_path: Path) -> list[Image]:
    path = tmp_path / "masked.h264"
    path.write_bytes(data)
    with av.open(str(path), format="h264") as container:
        return [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]


def luma(rgb: Image) -> Image:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def sharpness(grey: Image, box: Box) -> float:
    return float(cv2.Laplacian(grey[box.y : box.y + box.h, box.x : box.x + box.w], cv2.CV_64F).var())


@pytest.fixture(scope="module")
def pictures() -> list[Image]:
    return clip()


@pytest.mark.parametrize("codec", [Codec.H264, Codec.H265])
def test_moving_face_is_blurred_in_the_reencoded_stream_and_the_rest_is_kept(
    pictures: list[Image], codec: Codec, tmp_path: Path
) -> None:
    units = encode(pictures, codec)
    window = PrivacyMask.rect(0.85, 0.05, 0.1, 0.2)  # a home's window, top right
    encoder = MaskedEncoder(W, H, [window])
    # Processing speed is the benchmark's business: a constant clock keeps the fail-safe out of the pixel checks.
    encoder.desensitiser = Desensitiser(encoder.desensitiser.config, [window], clock=lambda: 0.0)
    encoder.keep_results = True
    out = []
    for source in units:
        out += encoder.feed((codec.value, source.pts, source.dts, source.data, source.keyframe, time.monotonic()))
    assert [u[3] for u in out][::GOP] == [True] * (FRAMES // GOP)  # IDR where the source had its keyframes
    assert [u[0] for u in out] == [u.pts for u in units][: len(out)]  # timestamps pass through
    decoded = decode_h264(b"".join(u[2] for u in out), tmp_path)
    assert len(decoded) == len(encoder.results) >= FRAMES - 2
    hits = 0
    for index, (got, result) in enumerate(zip(decoded, encoder.results, strict=True)):
        before = luma(pictures[index])
        face = face_at(index)
        blurred = sharpness(got, face) < 0.1 * sharpness(before, face)
        hits += blurred
        if result.full_frame:
            continue
        keep = np.ones((H, W), bool)
        for box in result.boxes:
            keep[box.y : box.y + box.h, box.x : box.x + box.w] = False
        keep[int(0.05 * H) : int(0.25 * H) + 1, int(0.85 * W) : int(0.95 * W) + 1] = False
        error = np.abs(got.astype(int) - before.astype(int))[keep].mean()
        assert error < 4.0, f"picture {index}: outside the blurred regions differs by {error:.2f} on average"
        mask_box = Box(int(0.86 * W), int(0.06 * H), int(0.08 * W), int(0.18 * H))
        assert sharpness(got, mask_box) < 0.1 * sharpness(before, mask_box)
    recall = hits / len(decoded)
    print(f"{codec.value}: face blurred in {hits}/{len(decoded)} decoded pictures (recall {recall:.3f})")
    assert recall >= 0.95


@pytest.mark.anyio
async def test_masked_pool_serves_one_shared_blurred_variant_and_is_capped(
    pictures: list[Image], tmp_path: Path
) -> None:
    units = encode(pictures[:30], Codec.H264)
    source = StreamHub("cam-0", gop_cache_bytes=8 << 20, viewer_queue_bytes=4 << 20)
    pool = MaskedPool(1, gop_cache_bytes=8 << 20, viewer_queue_bytes=4 << 20)
    target = await pool.acquire("cam-0", source)
    try:
        assert target.stream_id == f"cam-0~{VARIANT}"
        assert await pool.acquire("cam-0", source) is target  # shared by every masked viewer
        with pytest.raises(StreamLimitError, match="limit is 1"):
            await pool.acquire("cam-1", StreamHub("cam-1", gop_cache_bytes=1 << 20, viewer_queue_bytes=1 << 20))
        reader = target.add_viewer()
        for unit in units:
            source.push(unit)
            await asyncio.sleep(1 / FPS)  # live pace: the child's lag stays under its fail-safe limit
        got: list[AccessUnit] = []
        async with asyncio.timeout(30):
            while len(got) < len(units) - 3:
                item = await reader.get()
                assert item is not None
                got.append(item)
        assert all(u.codec is Codec.H264 for u in got) and got[0].keyframe
        decoded = decode_h264(b"".join(u.data for u in got), tmp_path)
        blurred = sum(
            sharpness(g, face_at(i)) < 0.1 * sharpness(luma(pictures[i]), face_at(i)) for i, g in enumerate(decoded)
        )
        assert blurred == len(decoded)  # whether by the face's box or by the fail-safe, never a visible face
        # New masks for the camera restart its stage; the old hub ends.
        masked = await pool.acquire("cam-0", source, [PrivacyMask.rect(0, 0, 0.5, 0.5)])
        assert masked is not target and target.ended
    finally:
        await pool.release("cam-0")
        await pool.close()
    assert len(pool) == 0
