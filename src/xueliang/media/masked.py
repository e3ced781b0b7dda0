"""The ``masked`` variant (脱敏): one child process per desensitised stream, shared by every masked viewer of it.

A :class:`MaskedStage` reads the source hub like any viewer (H.264 or H.265), hands units to a child process
(:mod:`xueliang.media.desensitise_worker`) through a pipe with the time each reached the node, and pushes the
blurred H.264 that comes back into the variant's own hub (``<stream_id>~masked``). Every output (FLV, HLS,
snapshots) then serves that hub as it serves any other, so a masked viewer never touches the source hub: what the
grant says is what the viewer gets, and the client has no switch.

Falling behind is handled twice: the feed is bounded (a full feed skips to the next keyframe, like a slow viewer),
and the child blurs the whole picture while units reach it later than its lag limit (fail-safe).

:class:`MaskedPool` caps the number of masked streams on the node (each costs about a core at 720p) and restarts a
stream's stage when its camera's privacy masks change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from xueliang.domain.streams import StreamLimitError
from xueliang.media import desensitise_worker
from xueliang.media.child_stage import ChildStage
from xueliang.media.desensitise import DesensitiseConfig, PrivacyMask
from xueliang.media.hub import StreamHub
from xueliang.protocol.es import AccessUnit

logger = logging.getLogger(__name__)

VARIANT = "masked"
#: Largest output picture (detection and blur cost grow with it; 720p keeps 25 fps on a core).
MAX_SIZE = (1280, 720)


class MaskedStage(ChildStage):
    """One running desensitisation: source hub -> child process (:mod:`desensitise_worker`) -> masked hub."""

    name = "masked"

    def __init__(
        self,
        source: StreamHub,
        target: StreamHub,
        masks: Sequence[PrivacyMask] = (),
        config: DesensitiseConfig | None = None,
        size: tuple[int, int] = MAX_SIZE,
    ) -> None:
        super().__init__(source, target)
        self.masks = tuple(masks)
        self.config = config or DesensitiseConfig()
        self.size = size

    def child(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
        return desensitise_worker.run, (*self.size, self.masks, self.config)

    def item(self, unit: AccessUnit) -> tuple[Any, ...] | None:
        if not unit.codec.is_video:
            return None
        # the arrival time lets the child blur the whole picture when units reach it late (fail-safe)
        return (unit.codec.value, unit.pts, unit.dts, unit.data, unit.keyframe, time.monotonic())


class MaskedPool:
    """The node's masked streams, by stream id, capped at ``max_streams``."""

    def __init__(
        self,
        max_streams: int,
        *,
        gop_cache_bytes: int,
        viewer_queue_bytes: int,
        config: DesensitiseConfig | None = None,
    ) -> None:
        self.max_streams = max_streams
        self.config = config or DesensitiseConfig()
        self._gop_cache_bytes = gop_cache_bytes
        self._viewer_queue_bytes = viewer_queue_bytes
        self._running: dict[str, MaskedStage] = {}
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._running)

    async def acquire(self, stream_id: str, source: StreamHub, masks: Sequence[PrivacyMask] = ()) -> StreamHub:
        """The masked H.264 hub of a stream, starting its stage if needed (or if the camera's masks changed)."""
        masks = tuple(masks)
        async with self._lock:
            running = self._running.get(stream_id)
            if running is not None and not running.target.ended and running.masks == masks:
                return running.target
            if running is not None:
                await self._stop(stream_id)
            if len(self._running) >= self.max_streams:
                raise StreamLimitError(
                    f"this media node already runs {len(self._running)} desensitised stream(s), "
                    f"its limit is {self.max_streams}; try later"
                )
            target = StreamHub(
                f"{stream_id}~{VARIANT}",
                gop_cache_bytes=self._gop_cache_bytes,
                viewer_queue_bytes=self._viewer_queue_bytes,
            )
            stage = MaskedStage(source, target, masks, self.config)
            await stage.start()
            self._running[stream_id] = stage
            logger.info("desensitisation started for %s with %d privacy mask(s)", stream_id, len(masks))
            return target

    async def release(self, stream_id: str) -> None:
        """Stop a stream's stage (its last masked viewer left, or the stream ended). Idempotent."""
        async with self._lock:
            await self._stop(stream_id)

    async def _stop(self, stream_id: str) -> None:
        stage = self._running.pop(stream_id, None)
        if stage is not None:
            await stage.stop()
            logger.info("desensitisation stopped for %s", stream_id)

    async def close(self) -> None:
        async with self._lock:
            for stream_id in list(self._running):
                await self._stop(stream_id)
