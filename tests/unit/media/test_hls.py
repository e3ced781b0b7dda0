"""HLS segmenting from a hub: ~2 s fMP4 segments on keyframes, a sliding window, relative URIs, idle reaping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import av
import pytest

from xueliang.media.hls import HlsOutputs, HlsStream
from xueliang.media.hub import StreamHub
from xueliang.protocol.es import AccessUnit, Codec

pytestmark = pytest.mark.anyio
Encode = Callable[..., list[AccessUnit]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _hub() -> StreamHub:
    return StreamHub("cam-0", gop_cache_bytes=8 << 20, viewer_queue_bytes=4 << 20)


def _looped(units: list[AccessUnit], times: int) -> list[AccessUnit]:
    """The clip repeated with timestamps running on (a longer live stream from a short encode)."""
    span = units[-1].dts - units[0].dts + 3600
    return [replace(u, pts=u.pts + k * span, dts=u.dts + k * span) for k in range(times) for u in units]


async def _drain(hls: HlsStream) -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def test_segments_start_on_keyframes_and_decode(make_units: Encode, tmp_path: Path) -> None:
    units = make_units(Codec.H264, frames=60)  # keyframes at 0, 25, 50 (1 s GOP at 25 fps)
    hub = _hub()
    hls = HlsStream(hub)
    hls.start()
    for unit in units:
        hub.push(unit)
        await asyncio.sleep(0)
    await _drain(hls)
    assert hls.segment_count == 1  # cut at keyframe 50: 2 s reached
    hub.end("done")
    assert await hls.wait_segments(2, timeout=2)
    text = hls.playlist("token=abc")
    assert '#EXT-X-MAP:URI="init-1.mp4?token=abc"' in text
    assert "seg-0.m4s?token=abc" in text and "seg-1.m4s?token=abc" in text
    assert "#EXTINF:2.000," in text and "#EXT-X-ENDLIST" in text
    init = hls.init_segment(1)
    first, second = hls.segment(0), hls.segment(1)
    assert init and first and second and hls.segment(2) is None
    path = tmp_path / "stream.mp4"
    path.write_bytes(init + first + second)
    with av.open(str(path)) as container:
        frames = [(f.width, f.height, f.time) for f in container.decode(video=0)]
    assert len(frames) == len(units)
    assert {(w, h) for w, h, _ in frames} == {(320, 240)}
    await hls.stop()


async def test_window_keeps_the_last_segments_and_marks_resolution_changes(make_units: Encode) -> None:
    units = _looped(make_units(Codec.H264, frames=50, gop=50), 4)  # one 2 s segment per loop
    hub = _hub()
    hls = HlsStream(hub, keep=2)
    hls.start()
    for unit in units:
        hub.push(unit)
    await _drain(hls)
    assert hls.segment_count == 2
    text = hls.playlist()
    assert "#EXT-X-MEDIA-SEQUENCE:1" in text and "seg-2.m4s" in text and "seg-0.m4s" not in text
    assert hls.segment(0) is None
    small = make_units(Codec.H264, frames=10, width=160, height=120, gop=10)
    offset = units[-1].dts + 3600
    for unit in small:
        hub.push(replace(unit, pts=unit.pts + offset, dts=unit.dts + offset))
    hub.end("camera gone")  # the last, smaller segment is flushed
    assert await hls.wait_segments(2, timeout=2)
    await _drain(hls)
    text = hls.playlist()
    assert "seg-4.m4s" in text
    assert "#EXT-X-DISCONTINUITY" in text and 'URI="init-2.mp4"' in text
    assert hls.init_segment(2) is not None and hls.init_segment(1) is not None
    await hls.stop()


async def test_outputs_start_on_demand_and_stop_when_idle(h264_units: list[AccessUnit]) -> None:
    outputs = HlsOutputs(idle_timeout_s=0.05)
    hub = _hub()
    stream = outputs.get(hub)
    assert outputs.get(hub) is stream and len(outputs) == 1
    assert hub.viewer_count == 1
    await asyncio.sleep(0.1)
    await outputs.reap()
    assert len(outputs) == 0 and hub.viewer_count == 0
    again = outputs.get(hub)
    assert again is not stream
    await outputs.close()
