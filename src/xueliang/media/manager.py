"""The stream manager: exactly one owner per stream, viewings, linger, limits, variants.

``acquire`` is the only way a stream starts. The first caller for a stream id creates its hub and a start task
(open the source: INVITE or RTSP pull; wait for the first keyframe); every concurrent caller awaits the same
start, so racing play requests cause one INVITE. When the last viewing is released the stream lingers
(``linger_s``) and is then closed (BYE, receiver closed). A source that ends (device BYE, RTSP EOF) or stops
sending ends the stream for every viewer with a reason; the next ``acquire`` starts it again.

Errors are the :class:`~xueliang.domain.streams.PlayError` tree: :class:`StreamLimitError` (device or transcode
limit), :class:`NoMediaError` (nothing within ``no_media_timeout_s``), and whatever the opener raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from xueliang.domain.streams import (
    MediaReceivers,
    NoMediaError,
    PlayError,
    PlaySource,
    SourceHandle,
    SourceKind,
    SourceOpener,
    StreamLimitError,
)
from xueliang.media.hub import HubRegistry, StreamHub
from xueliang.media.masked import VARIANT as MASKED
from xueliang.media.masked import MaskedPool
from xueliang.media.transcode import TranscodePool
from xueliang.protocol.es import Codec

logger = logging.getLogger(__name__)

NATIVE = "native"
H264 = "h264"
#: Seconds a restart waits for the previous stream of the same id to be closed.
RESTART_WAIT_S = 5.0
#: How often a live stream is checked for media that stopped arriving.
WATCHDOG_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class ManagerConfig:
    linger_s: float = 30.0
    no_media_timeout_s: float = 8.0
    device_max_streams: int = 4
    gop_cache_bytes: int = 8 << 20
    viewer_queue_bytes: int = 4 << 20


@dataclass(frozen=True, slots=True)
class Viewing:
    """One viewer's claim on a stream; ``hub`` is the hub of the variant asked for."""

    id: str
    stream_id: str
    variant: str
    hub: StreamHub
    variants: tuple[str, ...]
    #: Set when the viewing is released or its stream ends: outputs serving it stop (``flv_stream(stop=...)``).
    ended: asyncio.Event = field(default_factory=asyncio.Event, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A live stream as ``GET /api/v1/streams`` shows it."""

    stream_id: str
    camera_id: str
    source_kind: str
    transport: str | None
    codec: str | None
    width: int | None
    height: int | None
    fps: float
    bitrate: float
    uptime_s: float
    viewers: int
    sessions: int
    variants: tuple[str, ...]
    ready: bool


@dataclass(eq=False)
class _Stream:
    source: PlaySource
    hub: StreamHub
    ready: asyncio.Future[None]
    handle: SourceHandle | None = None
    viewings: dict[str, Viewing] = field(default_factory=dict)
    pending: int = 0
    linger: asyncio.Task[None] | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    dead: bool = False
    closed: bool = False
    #: Set when the teardown finished (source closed, receiver closed): a restart waits for it.
    gone: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def device_key(self) -> str:
        return self.source.device_id or self.source.camera_id

    def variants(self) -> tuple[str, ...]:
        return (NATIVE, H264) if self.hub.codec is Codec.H265 else (NATIVE,)


class StreamManager:
    def __init__(
        self,
        receivers: MediaReceivers,
        openers: Mapping[SourceKind, SourceOpener],
        config: ManagerConfig,
        *,
        registry: HubRegistry | None = None,
        transcodes: TranscodePool | None = None,
        masked: MaskedPool | None = None,
    ) -> None:
        self._receivers = receivers
        self._openers = dict(openers)
        self._config = config
        self.registry = registry if registry is not None else HubRegistry()
        self._transcodes = transcodes
        self._masked = masked
        self._streams: dict[str, _Stream] = {}
        self.opens = 0

    # --- viewings -----------------------------------------------------------------------------------------

    async def acquire(self, source: PlaySource, variant: str = NATIVE) -> Viewing:
        """A viewing of the stream, starting it if needed; returns once a keyframe is there to start on."""
        if variant not in (NATIVE, H264, MASKED):
            raise PlayError(f"unknown variant {variant!r}")
        stream = self._streams.get(source.stream_id)
        if stream is None or stream.dead:
            stream = self._start(source, previous=stream)
        if stream.linger is not None:
            stream.linger.cancel()
            stream.linger = None
        stream.pending += 1
        try:
            await asyncio.shield(stream.ready)
            hub = await self._variant_hub(stream, variant)
        finally:
            stream.pending -= 1
            if not stream.viewings and not stream.pending and not stream.dead and stream.ready.done():
                self._schedule_linger(stream)
        viewing = Viewing(uuid.uuid4().hex, source.stream_id, variant, hub, stream.variants())
        stream.viewings[viewing.id] = viewing
        if stream.linger is not None:
            stream.linger.cancel()
            stream.linger = None
        return viewing

    async def release(self, viewing: Viewing) -> None:
        """End one viewing (idempotent); the last one starts the linger."""
        stream = self._streams.get(viewing.stream_id)
        viewing.ended.set()
        if stream is None or stream.viewings.pop(viewing.id, None) is None:
            return
        last_masked = not any(v.variant == MASKED for v in stream.viewings.values())
        if viewing.variant == MASKED and self._masked is not None and last_masked:
            await self._masked.release(stream.source.stream_id)
        last_h264 = not any(v.variant == H264 for v in stream.viewings.values())
        if viewing.variant == H264 and self._transcodes is not None and stream.hub.codec is Codec.H265 and last_h264:
            await self._transcodes.release(stream.source.stream_id)
        if not stream.viewings and not stream.pending:
            self._schedule_linger(stream)

    def viewing_alive(self, viewing: Viewing) -> bool:
        stream = self._streams.get(viewing.stream_id)
        return stream is not None and viewing.id in stream.viewings

    async def _variant_hub(self, stream: _Stream, variant: str) -> StreamHub:
        if variant == MASKED:
            return await self._masked_hub(stream)
        if variant == NATIVE or stream.hub.codec is not Codec.H265:
            return stream.hub  # an H.264 stream is its own h264 variant
        if self._transcodes is None:
            raise StreamLimitError("this media node does not transcode H.265 to H.264")
        hub = await self._transcodes.acquire(stream.source.stream_id, stream.hub)
        try:
            await asyncio.wait_for(hub.wait_keyframe(), self._config.no_media_timeout_s)
        except TimeoutError:
            if not any(v.variant == H264 for v in stream.viewings.values()):
                await self._transcodes.release(stream.source.stream_id)
            raise NoMediaError("the H.264 transcode produced no picture in time") from None
        return hub

    async def _masked_hub(self, stream: _Stream) -> StreamHub:
        """The desensitised variant (faces, plates and privacy masks blurred, H.264), shared by its viewers."""
        if self._masked is None:
            raise StreamLimitError("this media node does not run desensitised streams")
        hub = await self._masked.acquire(stream.source.stream_id, stream.hub)
        try:
            await asyncio.wait_for(hub.wait_keyframe(), self._config.no_media_timeout_s)
        except TimeoutError:
            if not any(v.variant == MASKED for v in stream.viewings.values()):
                await self._masked.release(stream.source.stream_id)
            raise NoMediaError("the desensitised stream produced no picture in time") from None
        return hub

    # --- start and stop --------------------------------------------------------------------------------------

    def _start(self, source: PlaySource, previous: _Stream | None = None) -> _Stream:
        opener = self._openers.get(source.kind)
        if opener is None:
            raise PlayError(f"no source opener for {source.kind.value} on this media node")
        limit = source.max_streams or self._config.device_max_streams
        key = source.device_id or source.camera_id
        live = sum(1 for s in self._streams.values() if not s.dead and s.device_key == key)
        if live >= limit:
            raise StreamLimitError(f"device {key} already sends {live} live stream(s), its limit is {limit}")
        hub = StreamHub(
            source.stream_id,
            gop_cache_bytes=self._config.gop_cache_bytes,
            viewer_queue_bytes=self._config.viewer_queue_bytes,
        )
        stream = _Stream(source, hub, asyncio.get_running_loop().create_future())
        # Waiters retrieve the exception; this keeps asyncio quiet when every waiter was cancelled.
        stream.ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._streams[source.stream_id] = stream
        self.registry.add(hub)
        self._spawn(stream, self._open(stream, opener, previous))
        return stream

    def _spawn(self, stream: _Stream, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        stream.tasks.add(task)
        task.add_done_callback(stream.tasks.discard)

    async def _open(self, stream: _Stream, opener: SourceOpener, previous: _Stream | None) -> None:
        source = stream.source
        try:
            if previous is not None:
                # The dead stream's teardown closes "its" receiver by stream id: let it finish first, or it
                # would close ours. A BYE that hangs does not hold the restart for long.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(previous.gone.wait(), RESTART_WAIT_S)
            self.opens += 1
            stream.handle = await opener.open(source, self._receivers, lambda reason: self._ended(stream, reason))
            if stream.closed:  # stopped while the source was opening: the teardown could not close it
                handle, stream.handle = stream.handle, None
                with contextlib.suppress(Exception):
                    await handle.close()
                with contextlib.suppress(Exception):
                    await self._receivers.close_receiver(source.stream_id)
                raise PlayError(stream.hub.ended_reason or "stream ended while starting")
            try:
                await asyncio.wait_for(stream.hub.wait_keyframe(), self._config.no_media_timeout_s)
            except TimeoutError:
                raise NoMediaError(
                    f"no video from camera {source.camera_id} within {self._config.no_media_timeout_s:g} s"
                ) from None
        except Exception as exc:
            error = exc if isinstance(exc, PlayError) else PlayError(f"could not start the stream: {exc}")
            logger.warning("stream %s failed to start: %s", source.stream_id, error.reason)
            await self._teardown(stream, error.reason)
            if not stream.ready.done():
                stream.ready.set_exception(error)
            return
        stream.ready.set_result(None)
        self._spawn(stream, self._watchdog(stream))

    async def _watchdog(self, stream: _Stream) -> None:
        """End a stream whose media stopped: viewers get a reason instead of a frozen picture."""
        timeout = self._config.no_media_timeout_s
        while not stream.dead:
            await asyncio.sleep(min(WATCHDOG_INTERVAL_S, timeout))
            last = stream.hub.last_media_at
            if last is not None and time.monotonic() - last > timeout:
                await self._teardown(stream, f"no media for {timeout:g} s")

    def _ended(self, stream: _Stream, reason: str) -> None:
        """The source ended (device BYE, RTSP EOF): end the stream for everyone."""
        if stream.dead:
            return
        logger.info("stream %s ended by its source: %s", stream.source.stream_id, reason)
        stream.dead = True  # at once, so a racing acquire starts a new stream
        stream.hub.end(reason)
        self._spawn(stream, self._teardown(stream, reason))

    def _schedule_linger(self, stream: _Stream) -> None:
        if stream.linger is None and not stream.dead:
            stream.linger = asyncio.ensure_future(self._linger(stream))

    async def _linger(self, stream: _Stream) -> None:
        await asyncio.sleep(self._config.linger_s)
        stream.linger = None
        if not stream.viewings and not stream.pending:
            await self._teardown(stream, "no viewers")

    async def stop_stream(self, stream_id: str, reason: str = "stopped by an operator") -> bool:
        """End a stream for every viewer at once (an operator's stop). False when there is no such stream."""
        stream = self._streams.get(stream_id)
        if stream is None or stream.dead:
            return False
        await self._teardown(stream, reason)
        return True

    async def _teardown(self, stream: _Stream, reason: str) -> None:
        """Close everything a stream holds (idempotent): hub, viewings, transcode, source (BYE), receiver."""
        if stream.closed:
            return
        stream.closed = True
        stream.dead = True
        stream.hub.end(reason)
        if self._streams.get(stream.source.stream_id) is stream:
            del self._streams[stream.source.stream_id]
        self.registry.remove(stream.hub)
        for viewing in stream.viewings.values():
            viewing.ended.set()
        stream.viewings.clear()
        if stream.linger is not None and stream.linger is not asyncio.current_task():
            stream.linger.cancel()
        stream.linger = None
        handle, stream.handle = stream.handle, None
        if self._transcodes is not None:
            await self._transcodes.release(stream.source.stream_id)
        if self._masked is not None:
            await self._masked.release(stream.source.stream_id)
        if handle is not None:
            with contextlib.suppress(Exception):
                await handle.close()
        with contextlib.suppress(Exception):
            await self._receivers.close_receiver(stream.source.stream_id)
        stream.gone.set()
        logger.info("stream %s closed: %s", stream.source.stream_id, reason)

    async def close(self) -> None:
        """Stop every stream (node shutdown)."""
        for stream in list(self._streams.values()):
            await self._teardown(stream, "media node stopping")
            for task in list(stream.tasks):
                if task is not asyncio.current_task():
                    task.cancel()

    # --- inspection ----------------------------------------------------------------------------------------

    def hub(self, stream_id: str) -> StreamHub | None:
        stream = self._streams.get(stream_id)
        return stream.hub if stream else None

    def streams(self) -> list[StreamInfo]:
        result: list[StreamInfo] = []
        for stream in self._streams.values():
            stats = stream.hub.stats()
            result.append(
                StreamInfo(
                    stream_id=stats.stream_id,
                    camera_id=stream.source.camera_id,
                    source_kind=stream.source.kind.value,
                    transport=stream.source.transport.value if stream.source.kind is SourceKind.GB28181 else None,
                    codec=stats.codec,
                    width=stats.width,
                    height=stats.height,
                    fps=stats.fps,
                    bitrate=stats.bitrate,
                    uptime_s=stats.uptime_s,
                    viewers=stats.viewers,
                    sessions=len(stream.viewings),
                    variants=stream.variants(),
                    ready=stream.ready.done() and not stream.ready.cancelled() and stream.ready.exception() is None,
                )
            )
        return result
