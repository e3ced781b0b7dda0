"""One hub per stream: the GOP cache and the fan-out of access units to viewers.

The receivers (or the RTSP puller, or a transcoder) push every video access unit of a stream into its
:class:`StreamHub` once; each output (an FLV connection, the HLS segmenter, a transcoder) reads from its own
:class:`HubViewer`. Memory is bounded twice: the GOP cache by ``gop_cache_bytes`` and each viewer's queue by
``viewer_queue_bytes``. A viewer that falls further behind than its limit loses its queue and resumes at the next
keyframe (a skip the person sees, instead of a process that grows without bound).

Everything here runs on the event loop; threads (RTSP pull, transcoder readers) hand units over with
``loop.call_soon_threadsafe(hub.push, unit)``.

Audio is left out for now: G.711 cannot be played through MSE and transcoding it to AAC is future work, so the
hub counts and drops audio units.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from xueliang.protocol.es import AccessUnit, Codec
from xueliang.protocol.h26x_params import ParameterSets, VideoParams

logger = logging.getLogger(__name__)

#: Seconds of history behind the fps and bitrate figures.
RATE_WINDOW_S = 5.0


class RateMeter:
    """Units and bytes per second over a moving window, for stream stats and node load."""

    def __init__(self, window_s: float = RATE_WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._window_s = window_s
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._bytes = 0

    def add(self, size: int) -> None:
        now = self._clock()
        self._samples.append((now, size))
        self._bytes += size
        self._expire(now)

    def _expire(self, now: float) -> None:
        while self._samples and now - self._samples[0][0] > self._window_s:
            _, size = self._samples.popleft()
            self._bytes -= size

    def rates(self) -> tuple[float, float]:
        """(units per second, bits per second) between the oldest and the newest sample in the window."""
        self._expire(self._clock())
        if len(self._samples) < 2:
            return 0.0, 0.0
        span = self._samples[-1][0] - self._samples[0][0]
        if span <= 0:
            return 0.0, 0.0
        return (len(self._samples) - 1) / span, (self._bytes - self._samples[0][1]) * 8 / span


@dataclass(frozen=True, slots=True)
class HubStats:
    stream_id: str
    codec: str | None
    width: int | None
    height: int | None
    fps: float
    bitrate: float
    uptime_s: float
    viewers: int
    last_media_pts: int | None
    units_in: int
    bytes_in: int
    audio_dropped: int
    viewer_skips: int


class HubViewer:
    """One reader of a hub: a bounded queue of access units, starting on a keyframe.

    ``get()`` returns None once the hub ended or the viewer was closed; ``ended_reason`` then says why.
    """

    def __init__(self, hub: StreamHub, limit_bytes: int) -> None:
        self._hub = hub
        self._limit = limit_bytes
        self._queue: deque[AccessUnit] = deque()
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._waiting_keyframe = True
        self.closed = False
        self.skips = 0
        self.ended_reason: str | None = None

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def _offer(self, unit: AccessUnit) -> None:
        if self.closed:
            return
        if self._waiting_keyframe:
            if not unit.keyframe:
                return
            self._waiting_keyframe = False
        if self._queued_bytes + len(unit.data) > self._limit and self._queue:
            # Fallen behind: drop everything and resume at the next keyframe (this one, if it is one).
            self._queue.clear()
            self._queued_bytes = 0
            self.skips += 1
            self._hub.viewer_skips += 1
            if not unit.keyframe:
                self._waiting_keyframe = True
                return
        self._queue.append(unit)
        self._queued_bytes += len(unit.data)
        self._wakeup.set()

    def _end(self, reason: str) -> None:
        self.ended_reason = self.ended_reason or reason
        self.closed = True
        self._wakeup.set()

    def get_nowait(self) -> AccessUnit | None:
        """The next queued unit, or None when the queue is empty."""
        if not self._queue:
            return None
        unit = self._queue.popleft()
        self._queued_bytes -= len(unit.data)
        self._hub.bytes_out += len(unit.data)
        return unit

    async def get(self) -> AccessUnit | None:
        """Wait for the next unit; None once the stream ended (and the queue is drained) or the viewer was closed."""
        while True:
            unit = self.get_nowait()  # what was queued before the end is still delivered
            if unit is not None:
                return unit
            if self.closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    def close(self, reason: str = "viewer closed") -> None:
        """Stop reading: the hub forgets the viewer and a pending ``get()`` returns None."""
        self._queue.clear()
        self._queued_bytes = 0
        self._end(reason)
        self._hub.remove_viewer(self)


class StreamHub:
    """The single owner of a stream's units: GOP cache, parameter sets, stats, viewers."""

    def __init__(
        self,
        stream_id: str,
        *,
        gop_cache_bytes: int,
        viewer_queue_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream_id = stream_id
        self._gop_limit = gop_cache_bytes
        self._viewer_limit = viewer_queue_bytes
        self._clock = clock
        self.started_at = clock()
        self._gop: list[AccessUnit] = []
        self._gop_bytes = 0
        self._viewers: set[HubViewer] = set()
        self._params: ParameterSets | None = None
        self.codec: Codec | None = None
        #: Incremented when the codec or the parameter sets change (outputs re-send sequence headers).
        self.generation = 0
        self._keyframe = asyncio.Event()
        self._meter = RateMeter(clock=clock)
        self.last_media_at: float | None = None
        self.last_media_pts: int | None = None
        self.units_in = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.audio_dropped = 0
        self.viewer_skips = 0
        self.ended_reason: str | None = None

    @property
    def ended(self) -> bool:
        return self.ended_reason is not None

    @property
    def params(self) -> VideoParams | None:
        """Codec, resolution and profile from the latest SPS, once one arrived."""
        if self._params is None or not self._params.ready:
            return None
        return self._params.params

    @property
    def has_keyframe(self) -> bool:
        return self._keyframe.is_set()

    async def wait_keyframe(self) -> None:
        """Return once the first keyframe is cached (a viewer can start at once)."""
        await self._keyframe.wait()

    def gop(self) -> list[AccessUnit]:
        """The cached units from the last keyframe on (empty before the first keyframe)."""
        return list(self._gop)

    def push(self, unit: AccessUnit) -> None:
        """Take one unit from the source: update parameter sets, cache, stats, then fan out."""
        if self.ended:
            return
        if not unit.codec.is_video:
            self.audio_dropped += 1
            return
        if unit.codec is not self.codec:
            if self.codec is not None:
                logger.info("stream %s switched codec %s -> %s", self.stream_id, self.codec, unit.codec)
                self._gop.clear()
                self._gop_bytes = 0
            self.codec = unit.codec
            self._params = ParameterSets(unit.codec)
            self.generation += 1
        assert self._params is not None
        if self._params.update(unit):
            self.generation += 1
        self.units_in += 1
        self.bytes_in += len(unit.data)
        self._meter.add(len(unit.data))
        self.last_media_at = self._clock()
        self.last_media_pts = unit.pts
        self._cache(unit)
        for viewer in tuple(self._viewers):
            viewer._offer(unit)

    def _cache(self, unit: AccessUnit) -> None:
        if unit.keyframe:
            self._gop = [unit]
            self._gop_bytes = len(unit.data)
            self._keyframe.set()
            return
        if not self._gop:
            return  # joined mid-GOP: nothing to cache until a keyframe
        if self._gop_bytes + len(unit.data) > self._gop_limit:
            # A GOP too long to keep: a new viewer would start on the keyframe and skip to the next one anyway.
            self._gop = []
            self._gop_bytes = 0
            return
        self._gop.append(unit)
        self._gop_bytes += len(unit.data)

    def add_viewer(self, limit_bytes: int | None = None) -> HubViewer:
        """A new reader, primed with the cached GOP so it starts on a keyframe without waiting."""
        viewer = HubViewer(self, limit_bytes or self._viewer_limit)
        if self.ended:
            viewer._end(self.ended_reason or "stream ended")
            return viewer
        for unit in self._gop:
            viewer._offer(unit)
        self._viewers.add(viewer)
        return viewer

    def remove_viewer(self, viewer: HubViewer) -> None:
        self._viewers.discard(viewer)

    @property
    def viewer_count(self) -> int:
        return len(self._viewers)

    def end(self, reason: str) -> None:
        """The stream is over (source gone, stopped by an operator): every viewer's ``get()`` returns None."""
        if self.ended:
            return
        self.ended_reason = reason
        for viewer in tuple(self._viewers):
            viewer._end(reason)
        self._viewers.clear()
        self._gop = []
        self._gop_bytes = 0

    def stats(self) -> HubStats:
        fps, bitrate = self._meter.rates()
        params = self.params
        return HubStats(
            stream_id=self.stream_id,
            codec=self.codec.value if self.codec else None,
            width=params.width if params else None,
            height=params.height if params else None,
            fps=round(fps, 2),
            bitrate=round(bitrate),
            uptime_s=round(self._clock() - self.started_at, 3),
            viewers=len(self._viewers),
            last_media_pts=self.last_media_pts,
            units_in=self.units_in,
            bytes_in=self.bytes_in,
            audio_dropped=self.audio_dropped,
            viewer_skips=self.viewer_skips,
        )


class HubRegistry:
    """Stream id -> hub, shared by the manager (which creates hubs) and the inputs (which feed them)."""

    def __init__(self) -> None:
        self._hubs: dict[str, StreamHub] = {}

    def add(self, hub: StreamHub) -> None:
        self._hubs[hub.stream_id] = hub

    def remove(self, hub: StreamHub) -> None:
        if self._hubs.get(hub.stream_id) is hub:
            del self._hubs[hub.stream_id]

    def get(self, stream_id: str) -> StreamHub | None:
        return self._hubs.get(stream_id)

    def __len__(self) -> int:
        return len(self._hubs)
