"""H.265 -> H.264 variants: one child process per transcoded stream, shared by all viewers of the variant.

Browsers without HEVC decoding (Chromium on Linux) need an H.264 picture. A :class:`Transcoder` reads the source
hub like any viewer, hands units to a child process (:mod:`xueliang.media.transcode_worker`) through a pipe, and
pushes what comes back into the variant's own hub. Pipe I/O runs in two threads, never in the event loop; the
feed is bounded (a transcode that cannot keep up skips to the next keyframe, like a slow viewer).

:class:`TranscodePool` caps the number of transcodes on the node (``media_max_transcodes``) and picks a smaller
output size when the node is already busy (a 1080p transcode costs about a core).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from xueliang.domain.streams import StreamLimitError
from xueliang.media import transcode_worker
from xueliang.media.child_stage import ChildStage
from xueliang.media.hub import StreamHub
from xueliang.protocol.es import AccessUnit, Codec

logger = logging.getLogger(__name__)

#: Largest output picture, and the one used once the node runs other transcodes or is loaded.
FULL_SIZE = (1280, 720)
BUSY_SIZE = (640, 360)


class Transcoder(ChildStage):
    """One running transcode: source hub -> child process (:mod:`transcode_worker`) -> target hub."""

    name = "transcode"

    def __init__(self, source: StreamHub, target: StreamHub, size: tuple[int, int]) -> None:
        super().__init__(source, target)
        self.size = size

    def child(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        return transcode_worker.run, self.size

    def item(self, unit: AccessUnit) -> tuple[Any, ...] | None:
        if unit.codec is not Codec.H265:
            return None
        return (unit.pts, unit.dts, unit.data, unit.keyframe)


class TranscodePool:
    """The node's transcodes, by stream id, capped at ``max_transcodes``."""

    def __init__(self, max_transcodes: int, *, gop_cache_bytes: int, viewer_queue_bytes: int) -> None:
        self.max_transcodes = max_transcodes
        self._gop_cache_bytes = gop_cache_bytes
        self._viewer_queue_bytes = viewer_queue_bytes
        self._running: dict[str, Transcoder] = {}
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._running)

    def _busy(self) -> bool:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        return bool(self._running) or load > (os.cpu_count() or 1) * 0.75

    async def acquire(self, stream_id: str, source: StreamHub) -> StreamHub:
        """The H.264 hub of a stream, starting its transcode if this is its first viewer."""
        async with self._lock:
            running = self._running.get(stream_id)
            if running is not None and not running.target.ended:
                return running.target
            if running is not None:
                await self._stop(stream_id)
            if len(self._running) >= self.max_transcodes:
                raise StreamLimitError(
                    f"this media node already runs {len(self._running)} H.265 to H.264 transcode(s), "
                    f"its limit is {self.max_transcodes}; play the native H.265 variant or try later"
                )
            size = BUSY_SIZE if self._busy() else FULL_SIZE
            target = StreamHub(
                f"{stream_id}~h264",
                gop_cache_bytes=self._gop_cache_bytes,
                viewer_queue_bytes=self._viewer_queue_bytes,
            )
            transcoder = Transcoder(source, target, size)
            await transcoder.start()
            self._running[stream_id] = transcoder
            logger.info("transcode started for %s at most %dx%d", stream_id, *size)
            return target

    async def release(self, stream_id: str) -> None:
        """Stop a stream's transcode (its last viewer left, or the stream ended). Idempotent."""
        async with self._lock:
            await self._stop(stream_id)

    async def _stop(self, stream_id: str) -> None:
        transcoder = self._running.pop(stream_id, None)
        if transcoder is not None:
            await transcoder.stop()
            logger.info("transcode stopped for %s", stream_id)

    async def close(self) -> None:
        async with self._lock:
            for stream_id in list(self._running):
                await self._stop(stream_id)
