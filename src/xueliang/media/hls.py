"""HLS output: per stream, on demand, fMP4 segments of about 2 s and a live playlist.

An :class:`HlsStream` starts with the first HLS request for a hub (it reads the hub like any viewer, so it starts
on the cached keyframe) and :class:`HlsOutputs` stops it after ``idle_timeout_s`` without a request. The last
``keep`` segments are held in memory. URIs in the playlist are relative and carry the query string the caller
gives (the API appends the play token), so the same segments serve every viewer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from xueliang.media.hub import HubViewer, StreamHub
from xueliang.protocol.fmp4 import Segment, SegmentBuilder
from xueliang.protocol.hls import PlaylistEntry, live_playlist

logger = logging.getLogger(__name__)

TARGET_DURATION_S = 2.0
KEEP_SEGMENTS = 6
IDLE_TIMEOUT_S = 30.0
REAP_INTERVAL_S = 5.0


@dataclass(frozen=True, slots=True)
class _Held:
    segment: Segment
    init_id: int


class HlsStream:
    """The segmenter of one hub and its sliding window of segments."""

    def __init__(
        self,
        hub: StreamHub,
        *,
        target_duration_s: float = TARGET_DURATION_S,
        keep: int = KEEP_SEGMENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hub = hub
        self._builder = SegmentBuilder(target_duration_s=target_duration_s)
        self._keep = keep
        self._clock = clock
        self._segments: deque[_Held] = deque()
        self._inits: dict[int, bytes] = {}
        self._init_id = 0
        self._discontinuities = 0
        self._changed = asyncio.Event()
        self._viewer: HubViewer | None = None
        self._task: asyncio.Task[None] | None = None
        self.last_request = clock()
        self.ended = False

    def start(self) -> None:
        self._viewer = self.hub.add_viewer()
        self._task = asyncio.create_task(self._run(self._viewer))

    async def _run(self, viewer: HubViewer) -> None:
        while (unit := await viewer.get()) is not None:
            segment = self._builder.push(unit)
            if segment is not None:
                self._add(segment)
        segment = self._builder.flush()
        if segment is not None:
            self._add(segment)
        self.ended = True
        self._changed.set()

    def _add(self, segment: Segment) -> None:
        last = self._segments[-1] if self._segments else None
        if last is None or self._inits[last.init_id] != segment.init:
            self._init_id += 1
            self._inits[self._init_id] = segment.init
        self._segments.append(_Held(segment, self._init_id))
        while len(self._segments) > self._keep:
            gone = self._segments.popleft()
            if self._segments[0].init_id != gone.init_id:
                self._discontinuities += 1
                del self._inits[gone.init_id]
        self._changed.set()

    def touch(self) -> None:
        self.last_request = self._clock()

    def idle_for(self) -> float:
        return self._clock() - self.last_request

    async def wait_segments(self, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until ``count`` segments are there (a player's first playlist should not be empty)."""
        try:
            async with asyncio.timeout(timeout):
                while len(self._segments) < count and not self.ended:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            pass
        return len(self._segments) >= count

    def playlist(self, query: str = "") -> str:
        """The live playlist; ``query`` (without ``?``) is appended to every URI."""
        self.touch()
        suffix = f"?{query}" if query else ""
        entries = [
            PlaylistEntry(
                held.segment.sequence,
                held.segment.duration_s,
                f"seg-{held.segment.sequence}.m4s{suffix}",
                f"init-{held.init_id}.mp4{suffix}",
            )
            for held in self._segments
        ]
        return live_playlist(entries, discontinuity_sequence=self._discontinuities, ended=self.ended)

    def init_segment(self, init_id: int) -> bytes | None:
        self.touch()
        return self._inits.get(init_id)

    def segment(self, sequence: int) -> bytes | None:
        self.touch()
        for held in self._segments:
            if held.segment.sequence == sequence:
                return held.segment.data
        return None

    @property
    def segment_count(self) -> int:
        return len(self._segments)

    async def stop(self) -> None:
        if self._viewer is not None:
            self._viewer.close("HLS output stopped")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class HlsOutputs:
    """The node's HLS streams by hub (stream id, or a variant's hub id), started on demand, reaped when idle."""

    def __init__(self, *, idle_timeout_s: float = IDLE_TIMEOUT_S, keep: int = KEEP_SEGMENTS) -> None:
        self._idle_timeout_s = idle_timeout_s
        self._keep = keep
        self._streams: dict[str, HlsStream] = {}
        self._reaper: asyncio.Task[None] | None = None

    def get(self, hub: StreamHub) -> HlsStream:
        """The HLS stream of a hub, started by this request if it is the first (or the old one's hub ended)."""
        stream = self._streams.get(hub.stream_id)
        if stream is None or stream.hub is not hub:
            if stream is not None:
                asyncio.create_task(stream.stop())  # noqa: RUF006 - stop() cannot fail
            stream = HlsStream(hub, keep=self._keep)
            stream.start()
            self._streams[hub.stream_id] = stream
            logger.info("HLS started for %s", hub.stream_id)
        stream.touch()
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap_loop())
        return stream

    def __len__(self) -> int:
        return len(self._streams)

    async def reap(self) -> None:
        """Stop streams nobody asked for within the idle timeout, and those whose hub ended."""
        for key, stream in list(self._streams.items()):
            if stream.idle_for() > self._idle_timeout_s or stream.hub.ended:
                del self._streams[key]
                await stream.stop()
                logger.info("HLS stopped for %s", key)

    async def _reap_loop(self) -> None:
        while self._streams:
            await asyncio.sleep(REAP_INTERVAL_S)
            await self.reap()

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for stream in self._streams.values():
            await stream.stop()
        self._streams.clear()
