"""VideoLoop: both codecs build with PyAV, keyframes (with parameter sets) exactly every ``gop`` frames, 90 kHz
timestamps from 0, frames that differ, the label and clock burnt in, and the shared cache."""

from __future__ import annotations

import asyncio
import itertools
import threading

import av
import numpy as np
import pytest

from xueliang.protocol.es import Codec
from xueliang.protocol.h26x import iter_nal_units, sniff_codec
from xueliang.sim.video import VideoLoop, _Painter

SMALL = {"width": 160, "height": 96, "fps": 10, "seconds": 2, "gop": 5, "bitrate": 200_000}


@pytest.fixture(scope="module", params=[Codec.H264, Codec.H265], ids=["h264", "h265"])
def loop(request: pytest.FixtureRequest) -> VideoLoop:
    return VideoLoop.build(request.param, label="金安区 梅山路", **SMALL)  # type: ignore[arg-type]


def test_units_timestamps_and_keyframes(loop: VideoLoop) -> None:
    assert len(loop.units) == 20
    assert [u.pts for u in loop.units] == [9000 * i for i in range(20)]
    assert all(u.dts == u.pts and u.codec is loop.codec for u in loop.units)
    assert [i for i, u in enumerate(loop.units) if u.keyframe] == [0, 5, 10, 15]
    assert loop.duration_ticks == 180_000
    for unit in loop.units:
        assert unit.data.startswith(b"\x00\x00\x01") or unit.data.startswith(b"\x00\x00\x00\x01")
        # parameter sets come with every keyframe, so a receiver can start at any of them
        assert (sniff_codec(unit.data) is loop.codec) == unit.keyframe


def test_frames_decode_and_differ(loop: VideoLoop) -> None:
    context = av.CodecContext.create("h264" if loop.codec is Codec.H264 else "hevc", "r")
    images = []
    for unit in loop.units:
        images += [frame.to_ndarray(format="rgb24") for frame in context.decode(av.Packet(unit.data))]
    images += [frame.to_ndarray(format="rgb24") for frame in context.decode(None)]
    assert len(images) == 20
    assert images[0].shape == (96, 160, 3)
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(images))


def test_decoding_can_start_at_any_keyframe(loop: VideoLoop) -> None:
    context = av.CodecContext.create("h264" if loop.codec is Codec.H264 else "hevc", "r")
    frames = sum(len(context.decode(av.Packet(u.data))) for u in loop.units[10:])
    assert frames + len(context.decode(None)) == 10


def test_label_and_clock_are_drawn() -> None:
    labelled = _Painter(640, 360, "金安区").paint(0, 10, 10)
    plain = _Painter(640, 360, "").paint(0, 10, 10)
    later = _Painter(640, 360, "").paint(7, 10, 10)
    top = slice(0, 80)

    def yellow(image: np.ndarray) -> int:  # type: ignore[type-arg]
        return int((image[top] == (255, 255, 0)).all(axis=2).sum())

    assert yellow(labelled) > yellow(plain) + 100  # the label, in yellow
    assert yellow(plain) > 100  # the clock
    assert not np.array_equal(plain[top, :300], later[top, :300])  # the clock and frame counter move


def test_bitrate_is_roughly_the_target() -> None:
    loop = VideoLoop.shared(Codec.H264, width=320, height=240, fps=25, seconds=2, bitrate=800_000)
    rate = loop.bytes_per_loop * 8 / 2
    assert 400_000 < rate < 1_200_000, rate


def test_shared_builds_once_per_parameters() -> None:
    first = VideoLoop.shared(Codec.H264, label="one", **SMALL)  # type: ignore[arg-type]
    assert VideoLoop.shared(Codec.H264, label="one", **SMALL) is first  # type: ignore[arg-type]
    assert VideoLoop.shared(Codec.H264, label="two", **SMALL) is not first  # type: ignore[arg-type]


def test_shared_is_safe_from_threads_and_off_the_event_loop() -> None:
    results: list[VideoLoop] = []
    params = {**SMALL, "label": "threads"}
    workers = [
        threading.Thread(target=lambda: results.append(VideoLoop.shared(Codec.H265, **params))) for _ in range(3)
    ]  # type: ignore[arg-type]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len({id(r) for r in results}) == 1

    async def build() -> VideoLoop:
        return await asyncio.to_thread(VideoLoop.shared, Codec.H265, **params)  # type: ignore[arg-type]

    assert asyncio.run(build()) is results[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"codec": Codec.AAC}, "no encoder"),
        ({"codec": Codec.H264, "width": 161}, "frame size must be even"),
        ({"codec": Codec.H264, "fps": 7}, "fps must divide 90000"),
    ],
)
def test_invalid_parameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VideoLoop.build(**kwargs)  # type: ignore[arg-type]


def test_nal_units_are_annex_b(loop: VideoLoop) -> None:
    assert all(len(list(iter_nal_units(u.data))) >= 1 for u in loop.units)
