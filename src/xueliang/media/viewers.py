"""FLV viewers: one muxer per connection, fed from the stream's hub, for HTTP-FLV and WS-FLV alike.

The API layer iterates :func:`flv_stream` and writes each chunk to its response or WebSocket; closing the
iterator (the connection went away) removes the viewer from the hub. The first chunk is the FLV header, then
``onMetaData``, then the cached GOP (sequence header in front of its keyframe), then live tags.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Literal

from xueliang.media.hub import HubViewer, StreamHub
from xueliang.protocol.flv import FlvMuxer

HevcMode = Literal["codec12", "enhanced"]
#: Bytes of tags gathered from an already-queued backlog into one write (fewer, larger socket writes).
BATCH_BYTES = 256 << 10


async def flv_stream(
    hub: StreamHub,
    *,
    hevc_mode: HevcMode = "codec12",
    viewer: HubViewer | None = None,
    stop: asyncio.Event | None = None,
) -> AsyncGenerator[bytes, None]:
    """FLV bytes for one viewer until the stream ends, the viewer is closed (``viewer.close`` from elsewhere),
    ``stop`` is set (e.g. ``Viewing.ended``) or the consumer closes the iterator.

    ``viewer``: a hub viewer the caller made beforehand (so it can close it); by default one is made here. It is
    closed when the stream ends either way.
    """
    viewer = viewer if viewer is not None else hub.add_viewer()
    muxer = FlvMuxer(hevc=hevc_mode)
    watcher = asyncio.create_task(_close_on(stop, viewer)) if stop is not None else None
    try:
        yield muxer.header()
        metadata_sent = False
        while (unit := await viewer.get()) is not None:
            chunk = bytearray()
            if not metadata_sent and (params := hub.params) is not None:
                fps = hub.stats().fps
                chunk += muxer.metadata(params, fps or None)
                metadata_sent = True
            chunk += muxer.mux(unit)
            while len(chunk) < BATCH_BYTES and (more := viewer.get_nowait()) is not None:
                chunk += muxer.mux(more)
            if chunk:
                yield bytes(chunk)
        tail = muxer.end()
        if tail:
            yield tail
    finally:
        viewer.close()
        if watcher is not None:
            watcher.cancel()


async def _close_on(stop: asyncio.Event, viewer: HubViewer) -> None:
    await stop.wait()
    viewer.close("viewing ended")
