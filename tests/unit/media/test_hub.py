"""The stream hub: GOP cache, fan-out, slow viewers skipping to the next keyframe, codec changes, stats."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest

from xueliang.media.hub import HubRegistry, RateMeter, StreamHub
from xueliang.protocol.es import AccessUnit, Codec

Encode = Callable[..., list[AccessUnit]]

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _hub(gop_bytes: int = 8 << 20, queue_bytes: int = 4 << 20) -> StreamHub:
    return StreamHub("cam-0", gop_cache_bytes=gop_bytes, viewer_queue_bytes=queue_bytes)


async def test_gop_cache_holds_units_from_the_last_keyframe(h264_units: list[AccessUnit]) -> None:
    hub = _hub()
    for unit in h264_units[:30]:  # keyframes at 0 and 25
        hub.push(unit)
    gop = hub.gop()
    assert gop == h264_units[25:30]
    assert gop[0].keyframe
    assert hub.has_keyframe


async def test_nothing_is_cached_before_the_first_keyframe(h264_units: list[AccessUnit]) -> None:
    hub = _hub()
    for unit in h264_units[1:10]:  # joined mid-GOP
        hub.push(unit)
    assert hub.gop() == []
    assert not hub.has_keyframe
    viewer = hub.add_viewer()
    assert viewer.get_nowait() is None


async def test_new_viewer_starts_on_the_cached_keyframe_then_gets_live_units(h264_units: list[AccessUnit]) -> None:
    hub = _hub()
    for unit in h264_units[:30]:
        hub.push(unit)
    viewer = hub.add_viewer()
    hub.push(h264_units[30])
    got = [await viewer.get() for _ in range(6)]
    assert got == h264_units[25:31]
    assert hub.viewer_count == 1


async def test_gop_larger_than_the_cache_limit_is_not_kept(h264_units: list[AccessUnit]) -> None:
    limit = sum(len(u.data) for u in h264_units[:3])
    hub = _hub(gop_bytes=limit)
    for unit in h264_units[:10]:
        hub.push(unit)
    assert hub.gop() == []
    hub.push(h264_units[25])
    assert hub.gop() == [h264_units[25]]


async def test_slow_viewer_is_dropped_to_the_next_keyframe_with_bounded_memory(make_units: Encode) -> None:
    units = make_units(Codec.H264, frames=60)  # keyframes at 0, 25, 50
    assert [i for i, u in enumerate(units) if u.keyframe] == [0, 25, 50]
    limit = len(units[50].data) + 12 * max(len(u.data) for u in units[51:])
    hub = _hub(queue_bytes=limit)
    slow = hub.add_viewer()
    fast = hub.add_viewer()
    fast_got: list[AccessUnit] = []
    for unit in units:
        hub.push(unit)
        assert slow.queued_bytes <= limit
        while (item := fast.get_nowait()) is not None:
            fast_got.append(item)
    assert fast_got == units
    assert fast.skips == 0
    assert slow.skips == 2  # a 25-frame GOP does not fit: skipped twice, resumed at keyframe 50
    slow_got: list[AccessUnit] = []
    while (item := slow.get_nowait()) is not None:
        slow_got.append(item)
    assert slow_got == units[50:]  # resumed on a keyframe, not mid-GOP
    assert hub.stats().viewer_skips == 2


async def test_end_wakes_viewers_with_the_reason(h264_units: list[AccessUnit]) -> None:
    hub = _hub()
    hub.push(h264_units[0])
    viewer = hub.add_viewer()
    assert await viewer.get() == h264_units[0]
    waiter = asyncio.create_task(viewer.get())
    await asyncio.sleep(0)
    hub.end("device sent BYE")
    assert await waiter is None
    assert viewer.ended_reason == "device sent BYE"
    late = hub.add_viewer()
    assert await late.get() is None and late.ended_reason == "device sent BYE"
    hub.push(h264_units[1])  # ignored after the end
    assert hub.units_in == 1


async def test_closed_viewer_leaves_the_hub(h264_units: list[AccessUnit]) -> None:
    hub = _hub()
    viewer = hub.add_viewer()
    assert hub.viewer_count == 1
    viewer.close()
    assert hub.viewer_count == 0
    hub.push(h264_units[0])
    assert await viewer.get() is None


async def test_codec_and_resolution_changes_reset_cache_and_params(
    h264_units: list[AccessUnit], h265_units: list[AccessUnit], make_units: Encode
) -> None:
    hub = _hub()
    for unit in h264_units[:5]:
        hub.push(unit)
    params = hub.params
    assert params is not None and (params.codec, params.width, params.height) == (Codec.H264, 320, 240)
    generation = hub.generation
    # the camera switches to H.265 mid-way, with later timestamps
    base = h264_units[4].dts + 3600
    for unit in h265_units[:3]:
        hub.push(replace(unit, pts=unit.pts + base, dts=unit.dts + base))
    assert hub.codec is Codec.H265
    assert hub.generation > generation
    params = hub.params
    assert params is not None and params.codec is Codec.H265
    assert all(u.codec is Codec.H265 for u in hub.gop())
    assert hub.stats().codec == "h265"
    # and to a smaller H.264 picture
    small = make_units(Codec.H264, frames=3, width=160, height=120)
    base += 90_000
    for unit in small:
        hub.push(replace(unit, pts=unit.pts + base, dts=unit.dts + base))
    params = hub.params
    assert params is not None and (params.width, params.height) == (160, 120)


async def test_audio_units_are_counted_and_left_out(h264_units: list[AccessUnit]) -> None:
    hub = _hub()
    viewer = hub.add_viewer()
    hub.push(h264_units[0])
    hub.push(AccessUnit(Codec.G711A, 3600, 3600, b"\xd5" * 160))
    assert hub.audio_dropped == 1
    assert await viewer.get() == h264_units[0]
    assert viewer.get_nowait() is None


def test_rate_meter_reports_over_a_moving_window() -> None:
    now = [100.0]
    meter = RateMeter(window_s=5.0, clock=lambda: now[0])
    for _ in range(25):
        meter.add(1000)
        now[0] += 0.2
    fps, bitrate = meter.rates()
    assert fps == pytest.approx(5.0, rel=0.01)  # one unit every 0.2 s
    assert bitrate == pytest.approx(1000 * 8 * 5.0, rel=0.01)
    now[0] += 10
    assert meter.rates() == (0.0, 0.0)


async def test_stats_report_resolution_fps_bitrate_and_uptime(h264_units: list[AccessUnit]) -> None:
    now = [10.0]
    hub = StreamHub("cam-0", gop_cache_bytes=8 << 20, viewer_queue_bytes=4 << 20, clock=lambda: now[0])
    for unit in h264_units[:25]:
        hub.push(unit)
        now[0] += 0.04
    stats = hub.stats()
    assert (stats.codec, stats.width, stats.height) == ("h264", 320, 240)
    assert stats.fps == pytest.approx(25.0)  # one unit every 40 ms
    assert stats.bitrate > 0
    assert stats.uptime_s == pytest.approx(1.0)
    assert stats.last_media_pts == h264_units[24].pts


def test_registry_forgets_only_its_own_hub() -> None:
    registry = HubRegistry()
    old, new = _hub(), _hub()
    registry.add(old)
    registry.add(new)  # a restarted stream replaces the dead one
    registry.remove(old)
    assert registry.get("cam-0") is new
