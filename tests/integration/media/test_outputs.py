"""Snapshots (real JPEGs), the H.265 -> H.264 transcode in a child process, and a stream through the node."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image, ImageStat

from xueliang.config import Settings
from xueliang.domain.streams import (
    EndedCallback,
    MediaReceivers,
    MediaTransport,
    PlaySource,
    ReceiverSpec,
    SourceHandle,
    SourceKind,
    StreamLimitError,
)
from xueliang.media.hub import StreamHub
from xueliang.media.node import MediaNode
from xueliang.media.snapshot import SnapshotError, Snapshots
from xueliang.media.transcode import TranscodePool
from xueliang.media.viewers import flv_stream
from xueliang.protocol.es import AccessUnit, Codec

pytestmark = pytest.mark.anyio


def _hub(stream_id: str = "cam-0") -> StreamHub:
    return StreamHub(stream_id, gop_cache_bytes=8 << 20, viewer_queue_bytes=4 << 20)


async def test_snapshot_is_a_jpeg_of_the_picture_cached_per_keyframe(h264_units: list[AccessUnit]) -> None:
    hub = _hub()
    snapshots = Snapshots()
    with pytest.raises(SnapshotError):
        await snapshots.take(hub)
    for unit in h264_units[:10]:
        hub.push(unit)
    first = await snapshots.take(hub)
    image = Image.open(io.BytesIO(first.jpeg))
    assert image.format == "JPEG" and image.size == (320, 240) == (first.width, first.height)
    assert max(ImageStat.Stat(image).stddev) > 20  # a picture, not a flat colour
    assert await snapshots.take(hub) is first and snapshots.decodes == 1
    for unit in h264_units[25:27]:  # a new keyframe: a new snapshot
        hub.push(unit)
    second = await snapshots.take(hub)
    assert second is not first and second.pts == h264_units[25].pts and snapshots.decodes == 2


async def test_h265_snapshot(h265_units: list[AccessUnit]) -> None:
    hub = _hub()
    hub.push(h265_units[0])
    snapshot = await Snapshots().take(hub)
    assert Image.open(io.BytesIO(snapshot.jpeg)).size == (320, 240)


async def test_h265_transcodes_to_decodable_h264_and_is_capped(h265_units: list[AccessUnit], tmp_path: Path) -> None:
    source = _hub()
    pool = TranscodePool(1, gop_cache_bytes=8 << 20, viewer_queue_bytes=4 << 20)
    target = await pool.acquire("cam-0", source)
    assert await pool.acquire("cam-0", source) is target  # shared by every viewer of the variant
    with pytest.raises(StreamLimitError, match="limit is 1"):
        await pool.acquire("cam-1", _hub("cam-1"))
    reader = target.add_viewer()
    for unit in h265_units:
        source.push(unit)
        await asyncio.sleep(0.005)
    got: list[AccessUnit] = []
    async with asyncio.timeout(20):
        while len(got) < len(h265_units) - 5:
            item = await reader.get()
            assert item is not None
            got.append(item)
    assert all(u.codec is Codec.H264 for u in got) and got[0].keyframe
    assert [u.pts for u in got] == [u.pts for u in h265_units[: len(got)]]  # timestamps pass through
    path = tmp_path / "out.h264"
    path.write_bytes(b"".join(u.data for u in got))
    with av.open(str(path), format="h264") as container:
        frames = list(container.decode(video=0))
    assert len(frames) == len(got) and (frames[0].width, frames[0].height) == (320, 240)
    await pool.release("cam-0")
    assert target.ended and len(pool) == 0
    await pool.close()


class UdpCamera:
    """A GB/T 28181 source stand-in: asks the node for a receiver and sends PS over RTP there, looping."""

    def __init__(self, kit: Any, units: list[AccessUnit]) -> None:
        self.kit = kit
        self.units = units
        self.opens = 0
        self.task: asyncio.Task[None] | None = None

    async def open(self, source: PlaySource, receivers: MediaReceivers, ended: EndedCallback) -> SourceHandle:
        self.opens += 1
        ssrc = 100000000 + self.opens
        address = await receivers.open_receiver(ReceiverSpec(source.stream_id, MediaTransport.UDP, ssrc))
        frames = self.kit.rtp_packets(self.units, ssrc)
        self.task = asyncio.create_task(self.kit.send_udp(address.port, frames, interval=0.04))
        return self

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def _drain(chunks: AsyncIterator[bytes]) -> int:
    return sum([len(chunk) async for chunk in chunks])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_node_plays_a_camera_end_to_end(kit: Any, h264_units: list[AccessUnit], tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        media_rtp_host="127.0.0.1",
        media_rtp_port_min=42000,
        media_rtp_port_max=42999,
        media_rtp_mux_port=_free_port(),
        media_linger=0.1,
    )
    camera = UdpCamera(kit, h264_units)
    node = MediaNode.from_settings(settings, {SourceKind.GB28181: camera})
    await node.start()
    source = PlaySource("34020000001320000001", SourceKind.GB28181, device_id="34020000001110000001")
    viewing = await node.manager.acquire(source)
    chunks = flv_stream(viewing.hub)
    received = bytearray()
    async for chunk in chunks:
        received += chunk
        if len(received) > 20_000:
            break
    await chunks.aclose()
    assert received.startswith(b"FLV\x01")
    [info] = node.manager.streams()
    assert (info.camera_id, info.codec, info.width, info.height, info.transport) == (
        source.camera_id,
        "h264",
        320,
        240,
        "udp",
    )
    load = node.load()
    assert load["streams"] == 1 and load["viewers"] == 1 and load["alive"] > 0
    snapshot = await node.snapshots.take(viewing.hub)
    assert snapshot.width == 320
    second = await node.manager.acquire(source)
    assert camera.opens == 1
    ended_by_release = asyncio.create_task(_drain(flv_stream(second.hub, stop=second.ended)))
    await asyncio.sleep(0.1)
    await node.manager.release(second)  # DELETE /play-sessions/{id}: that viewer's FLV ends
    assert await asyncio.wait_for(ended_by_release, 2) > 0
    await node.manager.release(viewing)
    await asyncio.sleep(0.3)
    assert node.manager.streams() == [] and camera.task is not None and camera.task.cancelled()
    await node.stop()


class HubFeeder:
    """An opener that pushes prepared units straight into the stream's hub (no sockets needed here)."""

    def __init__(self, units: list[AccessUnit]) -> None:
        self.node: MediaNode | None = None
        self.units = units
        self.task: asyncio.Task[None] | None = None

    async def open(self, source: PlaySource, receivers: MediaReceivers, ended: EndedCallback) -> SourceHandle:
        assert self.node is not None
        hub = self.node.registry.get(source.stream_id)
        assert hub is not None
        self.task = asyncio.create_task(self._feed(hub))
        return self

    async def _feed(self, hub: StreamHub) -> None:
        for unit in self.units:
            hub.push(unit)
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def test_h264_variant_of_an_h265_camera_through_the_manager(h265_units: list[AccessUnit], tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, media_rtp_host="127.0.0.1", media_rtp_mux_port=_free_port())
    feeder = HubFeeder(h265_units)
    node = MediaNode.from_settings(settings, {SourceKind.GB28181: feeder})
    feeder.node = node
    source = PlaySource("cam-265", SourceKind.GB28181, device_id="dev-265")
    native = await node.manager.acquire(source)
    assert native.variants == ("native", "h264") and native.hub.codec is Codec.H265
    first, second = await asyncio.gather(node.manager.acquire(source, "h264"), node.manager.acquire(source, "h264"))
    assert first.hub is second.hub is not native.hub and first.hub.codec is Codec.H264
    assert node.load()["transcodes"] == 1
    await node.manager.release(first)
    assert node.load()["transcodes"] == 1  # still watched
    await node.manager.release(second)
    assert node.load()["transcodes"] == 0 and first.hub.ended  # stopped with its last viewer
    await node.stop()


async def test_masked_variant_through_the_manager(h264_units: list[AccessUnit], tmp_path: Path) -> None:
    """The desensitised variant is one child process per stream, shared by its viewers, stopped with the last."""
    settings = Settings(data_dir=tmp_path, media_rtp_host="127.0.0.1", media_rtp_mux_port=_free_port())
    feeder = HubFeeder(h264_units)
    node = MediaNode.from_settings(settings, {SourceKind.GB28181: feeder})
    feeder.node = node
    source = PlaySource("cam-masked", SourceKind.GB28181, device_id="dev-masked")
    native = await node.manager.acquire(source)
    first, second = await asyncio.gather(node.manager.acquire(source, "masked"), node.manager.acquire(source, "masked"))
    assert first.hub is second.hub is not native.hub and first.hub.codec is Codec.H264
    assert first.hub.stream_id.endswith("~masked") and node.load()["masked"] == 1
    await node.manager.release(first)
    assert node.load()["masked"] == 1  # still watched
    await node.manager.release(second)
    assert node.load()["masked"] == 0 and first.hub.ended
    await node.manager.release(native)
    await node.stop()
