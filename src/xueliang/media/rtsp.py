"""RTSP pull with PyAV: a :class:`SourceOpener` for cameras whose archive says RTSP.

PyAV's demuxer is blocking, so each pull runs in its own thread and hands access units to the event loop with
``call_soon_threadsafe``. Probing is cut to the minimum (``probesize``/``analyzeduration``) so the first picture
is not held back for seconds. Samples become Annex B and keyframes get the parameter sets from the extradata in
front (an RTSP camera may send SPS/PPS only in its SDP), so the hub and every output see what a GB/T 28181
stream would give them. The URL carries credentials: it is never logged, and PyAV's errors (which quote it) are
reduced to their reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import av

from xueliang.domain.streams import (
    DeviceOfflineError,
    EndedCallback,
    MediaReceivers,
    PlayError,
    PlaySource,
    SourceHandle,
)
from xueliang.media.annexb import extradata_to_annexb, is_annexb, length_prefixed_to_annexb
from xueliang.media.hub import HubRegistry, StreamHub
from xueliang.protocol.es import CLOCK_RATE, AccessUnit, Codec
from xueliang.protocol.h26x import is_keyframe

logger = logging.getLogger(__name__)

OPEN_OPTIONS = {
    "rtsp_transport": "tcp",
    "fflags": "nobuffer",
    "probesize": "32768",
    "analyzeduration": "0",
}
#: (open, read) timeouts in seconds: a dead camera fails the open, a stalled one ends the pull.
TIMEOUTS = (5.0, 5.0)
STOP_TIMEOUT_S = 6.0
CODECS = {"h264": Codec.H264, "hevc": Codec.H265}


def redact(url: str) -> str:
    """The URL without its user and password, for logs and error messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _reason(exc: BaseException, url: str) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).replace(url, redact(url))


class RtspPull:
    """One running pull: a thread reading packets into a hub. ``close()`` stops it (idempotent)."""

    def __init__(self, url: str, hub: StreamHub, ended: EndedCallback) -> None:
        self._url = url
        self._hub = hub
        self._ended = ended
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.units = 0
        self.dropped = 0

    async def start(self) -> None:
        """Open the URL (in a thread) and start reading; a camera that cannot be opened raises a PlayError."""
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(target=self._run, args=(loop, opened), daemon=True, name="rtsp-pull")
        self._thread.start()
        await opened

    def _run(self, loop: asyncio.AbstractEventLoop, opened: asyncio.Future[None]) -> None:
        def settle(error: PlayError | None) -> None:
            if opened.done():
                return
            if error is None:
                opened.set_result(None)
            else:
                opened.set_exception(error)

        try:
            container = av.open(self._url, options=OPEN_OPTIONS, timeout=TIMEOUTS)
        except (av.FFmpegError, OSError) as exc:
            error = DeviceOfflineError(f"RTSP camera {redact(self._url)} cannot be opened: {_reason(exc, self._url)}")
            loop.call_soon_threadsafe(settle, error)
            return
        reason = "RTSP stream ended"
        streaming = False
        try:
            video = next((s for s in container.streams.video if s.codec_context.name in CODECS), None)
            if video is None:
                loop.call_soon_threadsafe(settle, PlayError("the RTSP camera sends no H.264/H.265 video"))
                return
            loop.call_soon_threadsafe(settle, None)
            streaming = True
            reason = self._pump(container, video, loop.call_soon_threadsafe)
        except (av.FFmpegError, OSError) as exc:
            reason = f"RTSP read failed: {_reason(exc, self._url)}"
        finally:
            container.close()
            if streaming and not self._stop.is_set():
                logger.info("RTSP pull of %s ended: %s", redact(self._url), reason)
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._ended, reason)

    def _pump(self, container: Any, video: Any, post: Callable[..., object]) -> str:
        codec = CODECS[video.codec_context.name]
        parameter_sets, length_size = extradata_to_annexb(video.codec_context.extradata, codec is Codec.H265)
        time_base = video.time_base
        first: int | None = None
        last = 0
        for packet in container.demux(video):
            if self._stop.is_set():
                return "closed"
            if packet.size == 0:
                continue
            raw = bytes(packet)
            try:
                data = raw if is_annexb(raw) else length_prefixed_to_annexb(raw, length_size)
            except ValueError:
                self.dropped += 1
                continue
            ticks = int(packet.pts * time_base * CLOCK_RATE) if packet.pts is not None else None
            dts_ticks = int(packet.dts * time_base * CLOCK_RATE) if packet.dts is not None else ticks
            if ticks is None or dts_ticks is None:
                ticks = dts_ticks = last
            if first is None:
                first = min(ticks, dts_ticks)
            pts, dts = max(ticks - first, 0), max(dts_ticks - first, 0)
            last = max(dts, last)
            keyframe = is_keyframe(codec, data)
            if keyframe and parameter_sets:
                data = parameter_sets + data
            self.units += 1
            try:
                post(self._hub.push, AccessUnit(codec, pts, dts, data, keyframe))
            except RuntimeError:  # the event loop is gone (shutdown): nobody to hand units to
                self._stop.set()
                return "media node stopped"
        return "RTSP stream ended"

    async def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, STOP_TIMEOUT_S)


class RtspOpener:
    """The :class:`~xueliang.domain.streams.SourceOpener` for ``SourceKind.RTSP`` (the receivers go unused)."""

    def __init__(self, registry: HubRegistry) -> None:
        self._registry = registry

    async def open(self, source: PlaySource, receivers: MediaReceivers, ended: EndedCallback) -> SourceHandle:
        if not source.rtsp_url:
            raise PlayError(f"camera {source.camera_id} has no RTSP URL")
        hub = self._registry.get(source.stream_id)
        if hub is None:
            raise PlayError(f"no hub for stream {source.stream_id}")
        pull = RtspPull(source.rtsp_url, hub, ended)
        await pull.start()
        return pull
