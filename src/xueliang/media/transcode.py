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
import contextlib
import logging
import multiprocessing
import os
import queue
import threading
from multiprocessing.connection import Connection

from xueliang.domain.streams import StreamLimitError
from xueliang.media import transcode_worker
from xueliang.media.hub import HubViewer, StreamHub
from xueliang.protocol.es import AccessUnit, Codec

logger = logging.getLogger(__name__)

#: Largest output picture, and the one used once the node runs other transcodes or is loaded.
FULL_SIZE = (1280, 720)
BUSY_SIZE = (640, 360)
#: Units waiting for the child before the feed skips to the next keyframe.
FEED_QUEUE_UNITS = 64
#: Seconds the child gets to exit before it is terminated.
STOP_TIMEOUT_S = 2.0


class Transcoder:
    """One running transcode: source hub -> child process -> target hub."""

    def __init__(self, source: StreamHub, target: StreamHub, size: tuple[int, int]) -> None:
        self.source = source
        self.target = target
        self.size = size
        self._feed: queue.Queue[transcode_worker.UnitTuple | None] = queue.Queue(FEED_QUEUE_UNITS)
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
            target=transcode_worker.run,
            args=(child_in, child_out, *self.size),
            name=f"transcode-{self.source.stream_id}",
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
            if unit.codec is not Codec.H265:
                continue
            if waiting_keyframe and not unit.keyframe:
                continue
            try:
                self._feed.put_nowait((unit.pts, unit.dts, unit.data, unit.keyframe))
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
            self._viewer.close("transcode stopped")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.target.end("transcode stopped")
        with contextlib.suppress(queue.Full):
            # Drain a full queue so the stop marker gets through.
            while True:
                try:
                    self._feed.put_nowait(None)
                    break
                except queue.Full:
                    self._feed.get_nowait()
        process = self._process
        if process is not None:
            await asyncio.to_thread(process.join, STOP_TIMEOUT_S)
            if process.is_alive():
                process.terminate()
                await asyncio.to_thread(process.join, STOP_TIMEOUT_S)
        for thread in self._threads:
            await asyncio.to_thread(thread.join, STOP_TIMEOUT_S)


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
