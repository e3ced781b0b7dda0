"""The GB/T 28181 source of a live stream: :class:`GbSourceOpener` implements the domain's ``SourceOpener``.

Opening, in order: the device must be online; an SSRC from the central allocator; a receiver on the media node
(``dedicated_port`` when the device's SSRC check is off: its packets cannot be told apart on the shared port);
the INVITE with our offer; the answer's ``y=`` when it differs from ours (the device's SSRC wins: it is what the
packets will carry); for TCP active, the media node connects to the port of the answer; then the ACK. Whatever
fails after the receiver was opened closes it and frees the SSRC, so a refused INVITE leaves nothing behind.

The handle's ``close()`` sends BYE, frees the SSRC and closes the receiver. The device's BYE (or a MediaStatus
121) calls the stream's ``ended`` callback with a reason; the stream manager then closes the handle, which
only frees what is left (no BYE goes to a dialog the device ended).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from xueliang.domain.streams import (
    DeviceOfflineError,
    DeviceRefusedError,
    EndedCallback,
    MediaReceivers,
    MediaTransport,
    PlaySource,
    ReceiverSpec,
    SourceHandle,
    SourceKind,
    StreamLimitError,
    UnknownCameraError,
)
from xueliang.protocol.sdp import Setup, make_offer
from xueliang.signaling.invite import Dialog, Invites
from xueliang.signaling.presence import DeviceSession
from xueliang.signaling.ssrc import SessionKind, SsrcAllocator, SsrcExhaustedError

__all__ = ["DEVICE_OFFLINE", "GbSourceOpener", "GbStreamHandle"]

log = logging.getLogger(__name__)

DEVICE_OFFLINE = "设备离线 / device offline"
NO_SSRC = "无可用SSRC / no SSRC free for a new stream"
NOT_GB = "不是GB/T 28181视频源 / not a GB/T 28181 source"
NO_CHANNEL = "摄像机未绑定设备通道 / camera is not bound to a device channel"
NO_ACTIVE_PORT = "设备应答中没有可连接的媒体端口 / device answered TCP active without a port to connect to"
DEVICE_LIMIT = "设备并发视频流已达上限 / the device's concurrent stream limit is reached"


class GbStreamHandle:
    """A stream sending from a device: ``close()`` ends it (BYE) and frees what it holds. Idempotent."""

    def __init__(
        self,
        opener: GbSourceOpener,
        dialog: Dialog,
        receivers: MediaReceivers,
        stream_id: str,
        ssrc: int,
    ) -> None:
        self.opener = opener
        self.dialog = dialog
        self.receivers = receivers
        self.stream_id = stream_id
        self.ssrc = ssrc
        self._closed = False

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self.opener.invites.bye(self.dialog)
        finally:
            self.opener._release(self.dialog.device_id, self.ssrc)
            await self.receivers.close_receiver(self.stream_id)


class GbSourceOpener:
    """Opens GB/T 28181 sources (``SourceKind.GB28181``) by INVITE; see the module docstring."""

    def __init__(
        self,
        invites: Invites,
        ssrcs: SsrcAllocator,
        session_of: Callable[[str], DeviceSession | None],
        *,
        local_id: str,
        metrics: Counter[str],
        request_keyframe: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.invites = invites
        self.ssrcs = ssrcs
        self.session_of = session_of
        self.local_id = local_id
        self.metrics = metrics
        self.request_keyframe = request_keyframe
        self.streams_per_device: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    async def open(self, source: PlaySource, receivers: MediaReceivers, ended: EndedCallback) -> SourceHandle:
        if source.kind is not SourceKind.GB28181:
            raise UnknownCameraError(NOT_GB)
        if not source.device_id or not source.channel_id:
            raise UnknownCameraError(NO_CHANNEL)
        session = self.session_of(source.device_id)
        if session is None or not session.online:
            self.metrics["play_device_offline"] += 1
            raise DeviceOfflineError(DEVICE_OFFLINE)
        if source.max_streams is not None and self.streams_per_device[source.device_id] >= source.max_streams:
            self.metrics["play_device_limit"] += 1
            raise StreamLimitError(DEVICE_LIMIT)
        try:
            ssrc = self.ssrcs.allocate(SessionKind.LIVE)
        except SsrcExhaustedError as exc:
            raise StreamLimitError(NO_SSRC) from exc
        self.streams_per_device[source.device_id] += 1
        stream_id = source.stream_id
        try:
            spec = ReceiverSpec(
                stream_id,
                source.transport,
                ssrc,
                dedicated_port=not source.ssrc_check,
                peer_host=session.peer.host,
            )
            address = await receivers.open_receiver(spec)
        except BaseException:
            self._release(source.device_id, ssrc)
            raise
        try:
            handle = await self._invite(source, session, receivers, ended, ssrc, address.host, address.port)
        except BaseException:
            self._release(source.device_id, ssrc)
            with contextlib.suppress(Exception):
                await asyncio.shield(receivers.close_receiver(stream_id))
            raise
        self.metrics["play_opened"] += 1
        return handle

    async def _invite(
        self,
        source: PlaySource,
        session: DeviceSession,
        receivers: MediaReceivers,
        ended: EndedCallback,
        ssrc: int,
        host: str,
        port: int,
    ) -> GbStreamHandle:
        assert source.channel_id is not None
        offer = make_offer(
            origin_id=self.local_id,
            host=host,
            port=port,
            transport=source.transport,
            ssrc=ssrc,
            stream_number=source.stream_number or None,
        )
        dialog = await self.invites.invite(session, source.channel_id, offer, on_ended=ended)
        try:
            answer = dialog.answer
            if answer.ssrc is not None and answer.ssrc != ssrc:
                self.metrics["play_ssrc_changed"] += 1
                await receivers.set_ssrc(source.stream_id, answer.ssrc)
            if source.transport is MediaTransport.TCP_ACTIVE:
                if answer.port == 0 or answer.setup is Setup.ACTIVE:
                    raise DeviceRefusedError(NO_ACTIVE_PORT, dialog.response.status_code)
                await receivers.connect_active(source.stream_id, answer.connection_host, answer.port)
            self.invites.ack(dialog)
        except BaseException:
            await asyncio.shield(self.invites.bye(dialog))
            raise
        if source.device_id and source.channel_id:  # checked on entry; narrowed again for the type checker
            self._ask_for_keyframe(source.device_id, source.channel_id)
        return GbStreamHandle(self, dialog, receivers, source.stream_id, ssrc)

    def _ask_for_keyframe(self, device_id: str, channel_id: str) -> None:
        """A device joins mid-GOP and the first viewer waits for its next keyframe (up to a GOP, often 2-4 s):
        a DeviceControl IFameCmd right after the ACK makes most devices send one at once. Fire and forget: a
        device that ignores or refuses it costs the wait, nothing more."""
        if self.request_keyframe is None:
            return
        self.metrics["play_keyframe_requests"] += 1

        async def ask() -> None:
            assert self.request_keyframe is not None
            try:
                await self.request_keyframe(device_id, channel_id)
            except Exception as exc:  # a refusal or timeout only means no early keyframe
                self.metrics["play_keyframe_refused"] += 1
                log.debug("device %s refused the keyframe request: %s", device_id, exc)

        task = asyncio.create_task(ask())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _release(self, device_id: str, ssrc: int) -> None:
        self.ssrcs.release(ssrc)
        count = self.streams_per_device[device_id] - 1
        if count > 0:
            self.streams_per_device[device_id] = count
        else:
            self.streams_per_device.pop(device_id, None)
