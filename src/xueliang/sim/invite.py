"""Simulated devices answering INVITE: live video from a channel, as a camera or an NVR does it.

The platform's INVITE gets 100 Trying at once, then either a refusal or 200 OK with the device's SDP answer: its
own address, the port its media sender prepared, ``y=`` echoing the offered SSRC, ``a=sendonly``,
``a=rtpmap:96 PS/90000`` and, over TCP, the mirrored ``a=setup`` role. Over UDP the 200 is sent again on the T1
doubling until the ACK comes (RFC 3261 13.3.1.4). The ACK starts the sender towards the offer's address; the
platform's BYE stops it (200); a sender whose peer went away (``ended``) makes the device send BYE itself.

Refusals, in order: ``refuse_invite`` (tests), no video configured (488), a channel the device does not have
(404), an offer that cannot be read or offers no PS payload (488), ``max_streams`` dialogs already sending
(486 Busy Here), a sender that could not be prepared (500). CANCEL before the 200: 200 to the CANCEL, 487 to the
INVITE.

The media sender (:mod:`xueliang.sim.media_sender`) of the shared video loop (:mod:`xueliang.sim.video`) is
built through a :data:`SenderFactory` (:class:`VideoSender` by default), so tests can plug in a sender of their
own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from xueliang.domain.streams import MediaTransport
from xueliang.protocol.es import Codec
from xueliang.protocol.sdp import PS_PAYLOAD, Direction, RtpMap, Sdp, SdpError, Setup
from xueliang.protocol.sip import (
    NameAddr,
    RemoteProtocolError,
    Request,
    Response,
    SipUri,
    Via,
    make_request,
    make_response,
    new_branch,
    new_tag,
    response_target,
)
from xueliang.sim.channels import channel

if TYPE_CHECKING:
    from xueliang.sim.config import SimConfig
    from xueliang.sim.device_core import Device
    from xueliang.sim.fleet import Fleet
    from xueliang.sim.media_sender import MediaSender

__all__ = ["Call", "SenderFactory", "SenderLike", "SimInvites", "VideoSender", "answer_for", "default_sender_factory"]

log = logging.getLogger(__name__)

Address = tuple[str, int]
Transmit = Callable[[int, bytes, Address | None], None]
SDP_TYPE = "application/sdp"
T1, T2, TIMEOUT = 0.5, 4.0, 32.0
ALLOW = "INVITE, ACK, BYE, CANCEL, MESSAGE, INFO, OPTIONS"


class SenderLike(Protocol):
    """What the device needs of a media sender (``xueliang.sim.media_sender.MediaSender``)."""

    @property
    def ended(self) -> asyncio.Event: ...

    async def prepare(self) -> int: ...

    async def start(self, remote_host: str, remote_port: int) -> None: ...

    async def stop(self) -> None: ...

    def request_keyframe(self) -> None: ...


#: (transport from the platform's side, SSRC, local host, channel name) -> a sender not yet prepared
SenderFactory = Callable[[MediaTransport, int, str, str], SenderLike]


VIDEO_LABEL = "xueliang sim"  # burnt into the loop of a channel without a name


class VideoSender:
    """A :class:`MediaSender` of the channel's video loop (its name burnt in), built on the first ``prepare()``:
    encoding a loop and cutting it into packets take a while (0.4 s of CPU for 4 s of 640x360 H.264, 1-1.4 s for
    H.265), so they run in a thread, once per process, channel name and parameters; later streams of the channel
    reuse the loop."""

    def __init__(
        self, config: SimConfig, transport: MediaTransport, ssrc: int, local_host: str, label: str = VIDEO_LABEL
    ) -> None:
        assert config.video is not None
        self.codec = Codec(config.video)
        self.size = config.video_size
        self.transport, self.ssrc, self.local_host = transport, ssrc, local_host
        self.label = label or VIDEO_LABEL
        self.inner: MediaSender | None = None
        self._ended = asyncio.Event()

    @property
    def ended(self) -> asyncio.Event:
        return self.inner.ended if self.inner is not None else self._ended

    def _build(self) -> MediaSender:
        # imported here: PyAV, numpy and the encoders load only when a device is first asked for video
        from xueliang.sim.media_sender import MediaSender
        from xueliang.sim.video import VideoLoop

        width, height = self.size
        video = VideoLoop.shared(self.codec, width=width, height=height, label=self.label)
        return MediaSender(video, transport=self.transport, ssrc=self.ssrc, local_host=self.local_host)

    async def prepare(self) -> int:
        self.inner = await asyncio.to_thread(self._build)
        return await self.inner.prepare()

    async def start(self, remote_host: str, remote_port: int) -> None:
        assert self.inner is not None, "prepare() first"
        await self.inner.start(remote_host, remote_port)

    async def stop(self) -> None:
        if self.inner is not None:
            await self.inner.stop()

    def request_keyframe(self) -> None:
        if self.inner is not None:
            self.inner.request_keyframe()


def default_sender_factory(config: SimConfig) -> SenderFactory | None:
    """Senders of the configured video; None without video (INVITEs are then answered 488)."""
    if config.video is None:
        return None
    return functools.partial(VideoSender, config)


def _transport_of(offer: Sdp) -> MediaTransport:
    """The platform's transport as its offer says it (setup:active: the platform connects)."""
    if not offer.tcp:
        return MediaTransport.UDP
    return MediaTransport.TCP_ACTIVE if offer.setup is Setup.ACTIVE else MediaTransport.TCP_PASSIVE


def answer_for(offer: Sdp, *, origin_id: str, host: str, port: int) -> Sdp:
    """The device's answer to ``offer``: send PS from ``host:port`` with the offered SSRC."""
    return Sdp(
        origin_user=origin_id,
        origin_host=host,
        connection_host=host,
        port=port,
        session_name=offer.session_name,
        protocol=offer.protocol,
        formats=(PS_PAYLOAD,),
        rtpmaps=(RtpMap(PS_PAYLOAD, "PS", 90000),),
        direction=Direction.SENDONLY,
        setup=(offer.setup or Setup.PASSIVE).mirrored() if offer.tcp else None,
        connection_new=offer.tcp,
        ssrc=offer.ssrc,
        media_description="",
    )


@dataclass(eq=False)
class Call:
    """One INVITE dialog of a simulated device (the device is the UAS)."""

    device_id: str
    channel_id: str
    link: int
    source: Address | None
    invite: Request
    offer: Sdp
    tag: str
    label: str = ""  # the channel's name, burnt into its video
    sender: SenderLike | None = None
    response: Response | None = None
    state: str = "proceeding"  # proceeding -> answered -> confirmed -> ended
    cseq: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def call_id(self) -> str:
        return self.invite.call_id


class SimInvites:
    """The INVITE dialogs of every device of a simulator run."""

    def __init__(self, fleet: Fleet, transmit: Transmit, sender_factory: SenderFactory | None) -> None:
        self.fleet = fleet
        self.transmit = transmit
        self.sender_factory = sender_factory
        self.calls: dict[str, Call] = {}
        self.stats: Counter[str] = Counter()

    def request_keyframe(self, device_id: str, channel_id: str) -> None:
        """DeviceControl IFameCmd: every stream of that channel (or of the device, when it names the device)
        sends its next keyframe at once."""
        self.stats["keyframe_requests"] += 1
        for call in self.calls.values():
            if call.device_id == device_id and channel_id in (call.channel_id, device_id) and call.sender is not None:
                call.sender.request_keyframe()

    def active(self, device_id: str) -> int:
        """Dialogs of ``device_id`` that hold a sender (answered or confirmed)."""
        return sum(1 for call in self.calls.values() if call.device_id == device_id and call.state != "ended")

    # --- input -----------------------------------------------------------------------------------------------
    def receive(self, message: Request | Response, link: int, source: Address | None) -> None:
        try:
            if isinstance(message, Response):
                return  # answers to our BYE: nothing more to do
            method = message.method
            if method == "INVITE":
                self._on_invite(message, link, source)
            elif method == "ACK":
                self._on_ack(message)
            elif method == "BYE":
                self._on_bye(message, link, source)
            elif method == "CANCEL":
                self._on_cancel(message, link, source)
        except RemoteProtocolError:
            self.stats["errors"] += 1

    def _on_invite(self, request: Request, link: int, source: Address | None) -> None:
        existing = self.calls.get(request.call_id)
        if existing is not None:  # a retransmission: the last answer again
            self.stats["invite_retransmissions"] += 1
            if existing.response is not None:
                self._reply(existing.invite, existing.response, link, source)
            return
        self.stats["invites"] += 1
        self._reply(request, make_response(request, 100), link, source)
        device = self._route(request)
        channel_id = request.uri.user or ""
        status = self._refusal(device, channel_id)
        offer: Sdp | None = None
        if status is None:
            try:
                offer = Sdp.parse(request.body)
            except SdpError:
                status = 488
            else:
                if PS_PAYLOAD not in offer.formats or offer.ssrc is None:
                    status = 488
        if status is None and device is not None and self.active(device.device_id) >= self.fleet.config.max_streams:
            status = 486
        if status is not None or device is None or offer is None:
            self.stats[f"invites_refused_{status}"] += 1
            self._reply(request, make_response(request, status or 404), link, source)
            return
        item = channel(device, channel_id)
        label = (item.name if item is not None else None) or channel_id
        call = Call(device.device_id, channel_id, link, source, request, offer, new_tag(), label)
        self.calls[call.call_id] = call
        self._spawn(call, self._answer(call))

    def _refusal(self, device: Device | None, channel_id: str) -> int | None:
        config = self.fleet.config
        if config.refuse_invite is not None:
            return config.refuse_invite
        if self.sender_factory is None:
            return 488
        if device is None or (channel_id != device.device_id and channel_id not in device.channel_ids()):
            return 404
        return None

    async def _answer(self, call: Call) -> None:
        assert self.sender_factory is not None
        link = self.fleet.links[call.link]
        try:
            call.sender = self.sender_factory(_transport_of(call.offer), call.offer.ssrc or 0, link.host, call.label)
            port = await call.sender.prepare()
        except Exception:
            log.exception("simulated device %s could not prepare its media sender", call.device_id)
            self.stats["sender_failed"] += 1
            call.state = "ended"
            self.calls.pop(call.call_id, None)
            self._reply(call.invite, make_response(call.invite, 500, to_tag=call.tag), call.link, call.source)
            return
        if call.state != "proceeding":  # cancelled meanwhile
            await call.sender.stop()
            return
        answer = answer_for(call.offer, origin_id=call.channel_id, host=link.host, port=port)
        contact = NameAddr(uri=SipUri(host=link.host, user=call.channel_id, port=link.port))
        call.response = make_response(
            call.invite,
            200,
            to_tag=call.tag,
            headers=(("Contact", str(contact)), ("Content-Type", SDP_TYPE), ("Allow", ALLOW)),
            body=bytes(answer),
        )
        call.state = "answered"
        self.stats["invites_answered"] += 1
        self._reply(call.invite, call.response, call.link, call.source)
        if not link.reliable:
            self._spawn(call, self._retransmit_ok(call))

    async def _retransmit_ok(self, call: Call) -> None:
        interval, waited = T1, 0.0
        while call.state == "answered" and waited < TIMEOUT:
            await asyncio.sleep(interval)
            waited += interval
            if call.state == "answered" and call.response is not None:
                self.stats["ok_retransmissions"] += 1
                self._reply(call.invite, call.response, call.link, call.source)
            interval = min(2 * interval, T2)
        if call.state == "answered":  # no ACK: the dialog is over (RFC 3261 13.3.1.4)
            self.stats["ack_timeouts"] += 1
            await self._end(call)

    def _on_ack(self, request: Request) -> None:
        call = self.calls.get(request.call_id)
        if call is None or call.state != "answered" or call.sender is None:
            return
        call.state = "confirmed"
        self.stats["acks"] += 1
        self._spawn(call, self._send_media(call))

    async def _send_media(self, call: Call) -> None:
        assert call.sender is not None
        try:
            await call.sender.start(call.offer.connection_host, call.offer.port)
        except Exception:
            log.exception("simulated device %s could not start sending", call.device_id)
            self.stats["sender_failed"] += 1
            await self._hang_up(call)
            return
        self.stats["streams_started"] += 1
        ended = call.sender.ended
        await ended.wait()
        if call.state == "confirmed":  # the platform's side went away without a BYE
            await self._hang_up(call)

    def _on_bye(self, request: Request, link: int, source: Address | None) -> None:
        call = self.calls.get(request.call_id)
        if call is None:
            self._reply(request, make_response(request, 481), link, source)
            return
        self.stats["byes_in"] += 1
        self._reply(request, make_response(request, 200), link, source)
        if call.state != "ended":
            self._spawn(call, self._end(call))

    def _on_cancel(self, request: Request, link: int, source: Address | None) -> None:
        call = self.calls.get(request.call_id)
        if call is None:
            self._reply(request, make_response(request, 481), link, source)
            return
        self._reply(request, make_response(request, 200), link, source)
        if call.state == "proceeding":
            self.stats["cancelled"] += 1
            call.state = "ended"
            self._reply(call.invite, make_response(call.invite, 487, to_tag=call.tag), link, source)
            self.calls.pop(call.call_id, None)

    # --- ending ----------------------------------------------------------------------------------------------
    async def _end(self, call: Call) -> None:
        call.state = "ended"
        self.calls.pop(call.call_id, None)
        if call.sender is not None:
            with contextlib.suppress(Exception):
                await call.sender.stop()

    async def _hang_up(self, call: Call) -> None:
        """The device ends the dialog: BYE to the platform (sent again over UDP a few times, unanswered or not)."""
        bye = self._bye(call)
        await self._end(call)
        self.stats["byes_out"] += 1
        data = bytes(bye)
        address = None if self.fleet.links[call.link].reliable else self.fleet.server
        self.transmit(call.link, data, address)
        if address is not None:
            for delay in (T1, 2 * T1):
                await asyncio.sleep(delay)
                self.transmit(call.link, data, address)

    def _bye(self, call: Call) -> Request:
        link = self.fleet.links[call.link]
        invite = call.invite
        contact = invite.contact
        call.cseq += 1
        via = Via(
            transport=link.transport, host=link.host, port=link.port, params=(("rport", None), ("branch", new_branch()))
        )
        return make_request(
            "BYE",
            contact.uri if contact is not None else invite.from_.uri,
            via=via,
            from_=invite.to.with_tag(call.tag),
            to=invite.from_,
            call_id=invite.call_id,
            cseq=call.cseq,
            headers=(("User-Agent", self.fleet.config.user_agent),),
        )

    async def close(self) -> None:
        """Stop every sender (the simulator is stopping)."""
        for call in list(self.calls.values()):
            for task in call.tasks:
                task.cancel()
            await self._end(call)

    # --- plumbing --------------------------------------------------------------------------------------------
    def _route(self, request: Request) -> Device | None:
        fleet = self.fleet
        for user in (request.uri.user, request.to.uri.user):
            if not user:
                continue
            device = fleet.by_id.get(user)
            if device is not None:
                return device
            channel = fleet.ctx.content.channel_of(user)
            index = channel.device_index if channel is not None else fleet.ctx.added_owner(user)
            if index is not None:
                return fleet.devices[index]
        return None

    def _reply(self, request: Request, response: Response, link: int, source: Address | None) -> None:
        address = None
        if source is not None and not self.fleet.links[link].reliable:
            address = response_target(request.via, source)
        self.transmit(link, bytes(response), address)

    def _spawn(self, call: Call, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        call.tasks.add(task)
        task.add_done_callback(call.tasks.discard)
