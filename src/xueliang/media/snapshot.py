"""JPEG snapshots of a stream's latest keyframe, decoded with PyAV in a worker thread.

Why the keyframe: it decodes alone (no references), and the hub always holds it (the first unit of the GOP
cache), so a snapshot costs one decode, never a wait for the next frame. The JPEG is cached per keyframe: many
requests between two keyframes cost one decode. Decoding runs in ``asyncio.to_thread``, never in the loop that
moves packets.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

import av
from PIL import Image

from xueliang.media.hub import StreamHub
from xueliang.protocol.es import AccessUnit, Codec

DECODERS = {Codec.H264: "h264", Codec.H265: "hevc"}
JPEG_QUALITY = 85


class SnapshotError(Exception):
    """No picture to take: the stream has no keyframe yet, or it does not decode."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    jpeg: bytes
    width: int
    height: int
    pts: int


def decode_jpeg(unit: AccessUnit) -> Snapshot:
    """Decode one keyframe and encode it as JPEG (blocking: call it in a thread)."""
    decoder = av.CodecContext.create(DECODERS[unit.codec], "r")
    assert isinstance(decoder, av.VideoCodecContext)
    try:
        frames = decoder.decode(av.Packet(unit.data)) + decoder.decode(None)
    except av.FFmpegError as exc:
        raise SnapshotError(f"the keyframe does not decode: {exc}") from exc
    if not frames:
        raise SnapshotError("the keyframe decoded to no picture")
    frame = frames[0]
    buffer = io.BytesIO()
    Image.fromarray(frame.to_ndarray(format="rgb24")).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return Snapshot(buffer.getvalue(), frame.width, frame.height, unit.pts)


class Snapshots:
    """Per-stream cache of the last keyframe's JPEG."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[AccessUnit, Snapshot]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.decodes = 0

    async def take(self, hub: StreamHub) -> Snapshot:
        gop = hub.gop()
        if not gop:
            raise SnapshotError(f"stream {hub.stream_id} has no keyframe yet")
        keyframe = gop[0]
        lock = self._locks.setdefault(hub.stream_id, asyncio.Lock())
        async with lock:
            cached = self._cache.get(hub.stream_id)
            if cached is not None and cached[0] is keyframe:
                return cached[1]
            snapshot = await asyncio.to_thread(decode_jpeg, keyframe)
            self.decodes += 1
            self._cache[hub.stream_id] = (keyframe, snapshot)
            return snapshot

    def forget(self, stream_id: str) -> None:
        self._cache.pop(stream_id, None)
        self._locks.pop(stream_id, None)
