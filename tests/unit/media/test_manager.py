"""The stream manager with a fake opener: one owner under racing acquires, linger, limits, timeouts, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from xueliang.domain.streams import (
    DeviceRefusedError,
    EndedCallback,
    MediaReceivers,
    NoMediaError,
    PlaySource,
    ReceiverAddress,
    ReceiverSpec,
    SourceHandle,
    SourceKind,
    StreamLimitError,
)
from xueliang.media.hub import HubRegistry
from xueliang.media.manager import ManagerConfig, StreamManager
from xueliang.media.transcode import TranscodePool
from xueliang.protocol.es import AccessUnit

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeReceivers:
    def __init__(self) -> None:
        self.closed: list[str] = []
        self.events: list[str] = []

    async def open_receiver(self, spec: ReceiverSpec) -> ReceiverAddress:
        self.events.append(f"open {spec.stream_id}")
        return ReceiverAddress("127.0.0.1", 30000)

    async def set_ssrc(self, stream_id: str, ssrc: int) -> None: ...

    async def connect_active(self, stream_id: str, host: str, port: int) -> None: ...

    async def close_receiver(self, stream_id: str) -> None:
        self.closed.append(stream_id)
        self.events.append(f"close {stream_id}")


class FakeHandle:
    def __init__(self) -> None:
        self.closed = 0

    async def close(self) -> None:
        await asyncio.sleep(0.01)  # the BYE transaction
        self.closed += 1


class FakeOpener:
    """Counts opens; "sends" ``units`` into the stream's hub shortly after opening (unless ``silent``)."""

    def __init__(self, registry: HubRegistry, units: Sequence[AccessUnit], *, delay: float = 0.02) -> None:
        self.registry = registry
        self.units = units
        self.delay = delay
        self.opens = 0
        self.silent = False
        self.refuse = False
        self.handles: list[FakeHandle] = []
        self.ended: list[EndedCallback] = []

    async def open(self, source: PlaySource, receivers: MediaReceivers, ended: EndedCallback) -> SourceHandle:
        self.opens += 1
        await receivers.open_receiver(ReceiverSpec(source.stream_id, source.transport, 100))
        await asyncio.sleep(self.delay)  # the INVITE round trip: racing acquires arrive meanwhile
        if self.refuse:
            raise DeviceRefusedError("device answered 486 Busy Here", 486)
        hub = self.registry.get(source.stream_id)
        assert hub is not None
        if not self.silent:
            for unit in self.units:
                hub.push(unit)
        handle = FakeHandle()
        self.handles.append(handle)
        self.ended.append(ended)
        return handle


def _source(camera: str = "cam1", device: str = "dev1", max_streams: int | None = None) -> PlaySource:
    return PlaySource(camera, SourceKind.GB28181, device_id=device, channel_id=camera, max_streams=max_streams)


def _manager(units: Sequence[AccessUnit], **config: float) -> tuple[StreamManager, FakeOpener, FakeReceivers]:
    registry = HubRegistry()
    opener = FakeOpener(registry, units)
    receivers = FakeReceivers()
    settings = ManagerConfig(
        linger_s=config.get("linger_s", 0.1),
        no_media_timeout_s=config.get("no_media_timeout_s", 0.3),
        device_max_streams=int(config.get("device_max_streams", 4)),
    )
    pool = TranscodePool(0, gop_cache_bytes=1 << 20, viewer_queue_bytes=1 << 20)
    manager = StreamManager(receivers, {SourceKind.GB28181: opener}, settings, registry=registry, transcodes=pool)
    return manager, opener, receivers


async def test_racing_acquires_share_one_open(h264_units: list[AccessUnit]) -> None:
    manager, opener, _ = _manager(h264_units[:5])
    viewings = await asyncio.gather(*(manager.acquire(_source()) for _ in range(5)))
    assert opener.opens == 1
    assert len({v.id for v in viewings}) == 5
    assert len({id(v.hub) for v in viewings}) == 1
    assert viewings[0].hub.has_keyframe
    assert viewings[0].variants == ("native",)
    [info] = manager.streams()
    assert (info.stream_id, info.sessions, info.codec, info.width, info.ready) == ("cam1-0", 5, "h264", 320, True)
    await manager.close()


async def test_linger_keeps_the_stream_then_closes_source_and_receiver(h264_units: list[AccessUnit]) -> None:
    manager, opener, receivers = _manager(h264_units[:5], linger_s=0.2)
    first = await manager.acquire(_source())
    await manager.release(first)
    await manager.release(first)  # idempotent
    await asyncio.sleep(0.05)
    second = await manager.acquire(_source())  # within the linger: same stream, no new INVITE
    assert opener.opens == 1 and second.hub is first.hub
    await manager.release(second)
    await asyncio.sleep(0.35)
    assert opener.handles[0].closed == 1  # BYE
    assert receivers.closed == ["cam1-0"]
    assert manager.streams() == []
    assert first.hub.ended_reason == "no viewers"
    third = await manager.acquire(_source())
    assert opener.opens == 2 and third.hub is not first.hub
    await manager.close()


async def test_device_stream_limit_is_a_clear_error(h264_units: list[AccessUnit]) -> None:
    manager, opener, _ = _manager(h264_units[:5], device_max_streams=1)
    await manager.acquire(_source("cam1"))
    with pytest.raises(StreamLimitError, match=r"dev1 already sends 1 live stream.*limit is 1"):
        await manager.acquire(_source("cam2"))
    await manager.acquire(_source("cam3", device="dev2"))  # another device is not affected
    await manager.acquire(_source("cam4", device="dev3", max_streams=2))
    await manager.acquire(_source("cam5", device="dev3", max_streams=2))  # the device's own limit wins
    assert opener.opens == 4
    await manager.close()


async def test_no_media_times_out_closes_the_source_and_can_be_retried(h264_units: list[AccessUnit]) -> None:
    manager, opener, receivers = _manager(h264_units[:5], no_media_timeout_s=0.2)
    opener.silent = True
    results = await asyncio.gather(manager.acquire(_source()), manager.acquire(_source()), return_exceptions=True)
    assert all(isinstance(r, NoMediaError) for r in results)
    assert "no video from camera cam1 within 0.2 s" in str(results[0])
    assert opener.opens == 1
    assert opener.handles[0].closed == 1 and receivers.closed == ["cam1-0"]
    assert manager.streams() == []
    opener.silent = False
    viewing = await manager.acquire(_source())
    assert opener.opens == 2 and viewing.hub.has_keyframe
    await manager.close()


async def test_device_refusal_reaches_every_waiter(h264_units: list[AccessUnit]) -> None:
    manager, opener, receivers = _manager(h264_units[:5])
    opener.refuse = True
    results = await asyncio.gather(*(manager.acquire(_source()) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, DeviceRefusedError) and r.sip_status == 486 for r in results)
    assert opener.opens == 1 and receivers.closed == ["cam1-0"]


async def test_device_bye_ends_the_stream_for_viewers_and_it_restarts(h264_units: list[AccessUnit]) -> None:
    manager, opener, receivers = _manager(h264_units[:5])
    viewing = await manager.acquire(_source())
    reader = viewing.hub.add_viewer()
    while reader.get_nowait() is not None:
        pass
    opener.ended[0]("device sent BYE")
    assert await reader.get() is None
    assert reader.ended_reason == "device sent BYE"
    again = await manager.acquire(_source())  # a new stream at once, though the old one is still closing
    assert opener.opens == 2 and again.hub is not viewing.hub
    await asyncio.sleep(0.01)
    assert opener.handles[0].closed == 1 and receivers.closed == ["cam1-0"]
    # the old stream's receiver was closed before the new one was opened, not after
    assert receivers.events == ["open cam1-0", "close cam1-0", "open cam1-0"]
    await manager.release(viewing)  # a viewing of the dead stream: harmless
    assert manager.viewing_alive(again) and not manager.viewing_alive(viewing)
    await manager.close()


async def test_stream_that_stops_sending_is_ended(h264_units: list[AccessUnit]) -> None:
    manager, _, _ = _manager(h264_units[:5], no_media_timeout_s=0.3)
    viewing = await manager.acquire(_source())
    await asyncio.sleep(1.6)  # the watchdog looks every 0.3 s here
    assert viewing.hub.ended_reason == "no media for 0.3 s"
    assert manager.streams() == []


async def test_operator_stop_ends_it_for_everyone(h264_units: list[AccessUnit]) -> None:
    manager, opener, _ = _manager(h264_units[:5])
    viewing = await manager.acquire(_source())
    assert await manager.stop_stream("cam1-0", "stopped by admin")
    assert not await manager.stop_stream("cam1-0")
    assert viewing.hub.ended_reason == "stopped by admin"
    assert opener.handles[0].closed == 1


async def test_h264_variant_of_h264_is_the_stream_itself_and_transcodes_are_capped(
    h264_units: list[AccessUnit], h265_units: list[AccessUnit]
) -> None:
    manager, _, _ = _manager(h264_units[:5])
    native = await manager.acquire(_source("cam1"))
    h264 = await manager.acquire(_source("cam1"), "h264")
    assert h264.hub is native.hub
    manager265, _, _ = _manager(h265_units[:5])
    viewing = await manager265.acquire(_source("cam9"))
    assert viewing.variants == ("native", "h264")
    with pytest.raises(StreamLimitError, match="transcode"):
        await manager265.acquire(_source("cam9"), "h264")  # the pool allows 0
    await manager.close()
    await manager265.close()
