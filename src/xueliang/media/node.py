"""The media node facade: everything of the ``media`` role built from :class:`~xueliang.config.Settings`.

The composition root calls ``MediaNode.from_settings(settings, openers)`` (``openers``: signaling's GB/T 28181
opener; the node adds its own RTSP opener), then ``await node.start()`` / ``await node.stop()``. The API layer
uses ``node.manager`` (viewings), ``node.hls``, ``node.snapshots`` and :func:`xueliang.media.viewers.flv_stream`;
signaling uses ``node.receivers``.

Liveness: ``alive`` is refreshed every ``HEARTBEAT_S`` while the node runs and ``load()`` reports what it carries.
Publishing both across processes (Redis, so that streams of a dead node are closed and restartable elsewhere) is
the scale-out issue's work; in one process the node's streams die with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any

from xueliang.config import Settings
from xueliang.domain.streams import SourceKind, SourceOpener
from xueliang.media.hls import HlsOutputs
from xueliang.media.hub import HubRegistry
from xueliang.media.manager import ManagerConfig, StreamManager
from xueliang.media.masked import MaskedPool
from xueliang.media.receivers import ReceiverConfig, RtpReceivers
from xueliang.media.rtsp import RtspOpener
from xueliang.media.snapshot import Snapshots
from xueliang.media.transcode import TranscodePool

HEARTBEAT_S = 1.0


class MediaNode:
    def __init__(
        self,
        node_id: str,
        receiver_config: ReceiverConfig,
        manager_config: ManagerConfig,
        openers: Mapping[SourceKind, SourceOpener],
        *,
        max_transcodes: int = 2,
        max_masked: int = 2,
    ) -> None:
        self.node_id = node_id
        self.registry = HubRegistry()
        self.receivers = RtpReceivers(receiver_config, self.registry)
        self.transcodes = TranscodePool(
            max_transcodes,
            gop_cache_bytes=manager_config.gop_cache_bytes,
            viewer_queue_bytes=manager_config.viewer_queue_bytes,
        )
        self.masked = MaskedPool(
            max_masked,
            gop_cache_bytes=manager_config.gop_cache_bytes,
            viewer_queue_bytes=manager_config.viewer_queue_bytes,
        )
        all_openers: dict[SourceKind, SourceOpener] = {SourceKind.RTSP: RtspOpener(self.registry)}
        all_openers.update(openers)
        self.manager = StreamManager(
            self.receivers,
            all_openers,
            manager_config,
            registry=self.registry,
            transcodes=self.transcodes,
            masked=self.masked,
        )
        self.hls = HlsOutputs()
        self.snapshots = Snapshots()
        self.alive = 0.0
        self._heartbeat: asyncio.Task[None] | None = None
        self._last_sample: tuple[float, int, int] | None = None
        self._rates = (0.0, 0.0)

    @classmethod
    def from_settings(cls, settings: Settings, openers: Mapping[SourceKind, SourceOpener]) -> MediaNode:
        receiver_config = ReceiverConfig(
            bind_host=settings.media_rtp_host,
            advertise_host=settings.media_rtp_advertise_host,
            port_min=settings.media_rtp_port_min,
            port_max=settings.media_rtp_port_max,
            mux_port=settings.media_rtp_mux_port,
        )
        manager_config = ManagerConfig(
            linger_s=settings.media_linger,
            no_media_timeout_s=settings.media_no_media_timeout,
            device_max_streams=settings.media_device_max_streams,
            gop_cache_bytes=settings.media_gop_cache_bytes,
            viewer_queue_bytes=settings.media_viewer_queue_bytes,
        )
        return cls(
            settings.media_id,
            receiver_config,
            manager_config,
            openers,
            max_transcodes=settings.media_max_transcodes,
            max_masked=settings.media_max_masked,
        )

    async def start(self) -> None:
        """Bind the shared RTP port (so a port clash shows at start-up, not at the first play) and beat."""
        await self.receivers.open_shared_port()
        self.alive = time.time()
        self._heartbeat = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        await self.hls.close()
        await self.manager.close()
        await self.transcodes.close()
        await self.masked.close()
        await self.receivers.close()

    async def _beat(self) -> None:
        while True:
            self.alive = time.time()
            self._sample()
            await asyncio.sleep(HEARTBEAT_S)

    def _totals(self) -> tuple[int, int]:
        bytes_in = bytes_out = 0
        for stream in self.manager.streams():
            hub = self.registry.get(stream.stream_id)
            if hub is not None:
                bytes_in += hub.bytes_in
                bytes_out += hub.bytes_out
        return bytes_in, bytes_out

    def _sample(self) -> None:
        now = time.monotonic()
        bytes_in, bytes_out = self._totals()
        if self._last_sample is not None:
            then, last_in, last_out = self._last_sample
            elapsed = max(now - then, 1e-6)
            self._rates = (max(bytes_in - last_in, 0) / elapsed, max(bytes_out - last_out, 0) / elapsed)
        self._last_sample = (now, bytes_in, bytes_out)

    def load(self) -> dict[str, Any]:
        """What this node carries, for node selection and ``GET /api/v1/streams``."""
        streams = self.manager.streams()
        return {
            "node_id": self.node_id,
            "alive": self.alive,
            "streams": len(streams),
            "viewers": sum(s.sessions for s in streams),
            "bytes_in_per_s": round(self._rates[0]),
            "bytes_out_per_s": round(self._rates[1]),
            "transcodes": len(self.transcodes),
            "max_transcodes": self.transcodes.max_transcodes,
            "masked": len(self.masked),
            "hls_streams": len(self.hls),
        }
