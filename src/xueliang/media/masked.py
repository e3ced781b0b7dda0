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
import contextlib
import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection

from xueliang.domain.streams import StreamLimitError
from xueliang.media import desensitise_worker
from xueliang.media.desensitise import DesensitiseConfig, PrivacyMask
from xueliang.media.hub import HubViewer, StreamHub
from xueliang.protocol.es import AccessUnit, Codec

logger = logging.getLogger(__name__)

VARIANT = "masked"
#: Largest output picture (detection and blur cost grow with it; 720p keeps 25 fps on a core).
MAX_SIZE = (1280, 720)
#: Units waiting for the child before the feed skips to the next keyframe.
FEED_QUEUE_UNITS = 64
#: Seconds the child gets to exit before it is terminated.
STOP_TIMEOUT_S = 2.0


class MaskedStage:
    """One running desensitisation: source hub -> child process -> masked hub."""

    def __init__(
        self,
        source: StreamHub,
        target: StreamHub,
        masks: Sequence[PrivacyMask] = (),
        config: DesensitiseConfig | None = None,
        size: tuple[int, int] = MAX_SIZE,
    ) -> None:
        self.source = source
        self.target = target
        self.masks = tuple(masks)
        self.config = config or DesensitiseConfig()
        self.size = size
        self._feed: queue.Queue[desensitise_worker.InUnit | None] = queue.Queue(FEED_QUEUE_UNITS)
        self._viewer: HubViewer | None = None
        self._task: asyncio.Task[None] | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._threads: list[threading.Thread] = []
        self.skips = 0

    async def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        child_in, parent_out = context.Pipe(duplex=False)
        parent_in, child_out = context.Pipe(duplex=False)
        process = context.Process(
            target=desensitise_worker.run,
            args=(child_in, child_out, *self.size, self.masks, self.config),
            name=f"masked-{self.source.stream_id}",
            daemon=True,
        )
        await asyncio.to_thread(process.start)
        child_in.close()
        child_out.close()
        self._process = process
        loop = asyncio.get_running_loop()
        self._threads = [
            threading.Thread(target=self._write, args=(parent_out,), daemon=True),
            threading.Thread(target=self._read, args=(parent_in, loop), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self._viewer = self.source.add_viewer()
        self._task = asyncio.create_task(self._pump(self._viewer))

    async def _pump(self, viewer: HubViewer) -> None:
        waiting_keyframe = False
        while (unit := await viewer.get()) is not None:
            if not unit.codec.is_video or (waiting_keyframe and not unit.keyframe):
                continue
            item = (unit.codec.value, unit.pts, unit.dts, unit.data, unit.keyframe, time.monotonic())
            try:
                self._feed.put_nowait(item)
                waiting_keyframe = False
            except queue.Full:
                self.skips += 1
                waiting_keyframe = True
        self.target.end(viewer.ended_reason or "source ended")

    def _write(self, connection: Connection) -> None:
        while True:
            item = self._feed.get()
            try:
                connection.send(item)
            except (BrokenPipeError, OSError):
                break
            if item is None:
                break
        connection.close()

    def _read(self, connection: Connection, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            try:
                pts, dts, data, keyframe = connection.recv()
            except (EOFError, OSError):
                break
            unit = AccessUnit(Codec.H264, pts, dts, data, keyframe)
            with contextlib.suppress(RuntimeError):  # the loop closed under us at shutdown
                loop.call_soon_threadsafe(self.target.push, unit)
        connection.close()

    async def stop(self) -> None:
        if self._viewer is not None:
            self._viewer.close("desensitisation stopped")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.target.end("desensitisation stopped")
        while True:  # drain a full queue so the stop marker gets through
            try:
                self._feed.put_nowait(None)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._feed.get_nowait()
        process = self._process
        if process is not None:
            await asyncio.to_thread(process.join, STOP_TIMEOUT_S)
            if process.is_alive():
                process.terminate()
                await asyncio.to_thread(process.join, STOP_TIMEOUT_S)
        for thread in self._threads:
            await asyncio.to_thread(thread.join, STOP_TIMEOUT_S)


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
