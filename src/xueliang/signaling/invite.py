"""INVITE dialogs the platform opens to devices: live video (and later playback) sessions.

One :class:`Dialog` per stream, keyed by Call-ID and both tags (RFC 3261 12). The life of one::

    INVITE (SDP offer, Subject channelID:0,platformID:0) ->   100 / 180 (provisional: noted)
                                                        <-   200 OK (SDP answer)   -> Dialog ANSWERED
    ACK (after the caller set the receiver up)          ->                          -> CONFIRMED
    BYE (us) ->  200,  or  <- BYE (device) -> 200,  or  <- MESSAGE MediaStatus 121 -> 200, BYE -> ENDED

Errors are the domain's :class:`~xueliang.domain.streams.DeviceRefusedError` with the SIP status: a 3xx-6xx answer
(486 busy, 488 offer not acceptable, ...), no answer within ``timeout`` (408: the INVITE is CANCELled), a 2xx
whose SDP cannot be read (the dialog is ACKed and ended with BYE at once). A caller who stops waiting (its task
is cancelled) CANCELs the INVITE too; a 2xx that still arrives after that is ACKed and ended with BYE, so no
device is left sending to nobody. Requests go to where the device was last heard from, over its TCP connection
when it registered on TCP (the session's peer), as every other request of the platform does.

2xx retransmissions (the INVITE transaction ends at the 2xx; RFC 3261 13.3.1.4) reach :meth:`Invites.on_response`
through the endpoint's stray-response hook and get the same ACK again.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from xueliang.domain.streams import DeviceRefusedError
from xueliang.protocol import manscdp
from xueliang.protocol.sdp import Sdp, SdpError
from xueliang.protocol.sip import (
    NameAddr,
    RemoteProtocolError,
    Request,
    Response,
    SipUri,
    Via,
    make_cancel,
    make_request,
    new_branch,
)
from xueliang.signaling.commands import USER_AGENT, Commands
from xueliang.signaling.endpoint import SipEndpoint, SipTimeoutError
from xueliang.signaling.presence import DeviceSession
from xueliang.signaling.transport import Peer

__all__ = ["SDP_TYPE", "Dialog", "DialogState", "Invites", "refusal_reason"]

log = logging.getLogger(__name__)

SDP_TYPE = "APPLICATION/SDP"
BYE_TIMEOUT = 5.0  # seconds to wait for the answer to our BYE: the stream is over for us either way
LATE_ANSWER_WAIT = 32.0  # after a CANCEL, how long a 2xx that crossed it may still come (64*T1)
DEVICE_ENDED = "设备结束了视频流 / device ended the stream"
MEDIA_END_REASON = "设备发送结束 / device reported end of media (MediaStatus 121)"
NO_ANSWER = "设备未应答 / device did not answer"
BAD_ANSWER = "设备应答的SDP无法解析 / device answered with an unreadable SDP"

_REFUSALS = {
    486: "设备忙 / device busy (486)",
    488: "设备不接受请求的媒体参数 / device refused the offered media (488 Not Acceptable Here)",
    403: "设备拒绝 / device refused (403 Forbidden)",
    404: "设备没有该通道 / device has no such channel (404)",
    480: "设备暂时不可用 / device temporarily unavailable (480)",
    503: "设备服务不可用 / device service unavailable (503)",
}

EndedCallback = Callable[[str], None]


def refusal_reason(response: Response) -> str:
    """A reason a person can act on for a 3xx-6xx answer to INVITE."""
    known = _REFUSALS.get(response.status_code)
    if known is not None:
        return known
    phrase = f" {response.reason}" if response.reason else ""
    return f"设备拒绝 / device refused ({response.status_code}{phrase})"


class DialogState(enum.Enum):
    ANSWERED = "answered"  # 2xx received, ACK not sent yet
    CONFIRMED = "confirmed"
    ENDED = "ended"


@dataclass(eq=False)
class Dialog:
    """One INVITE dialog with a device (we are the UAC)."""

    session: DeviceSession
    channel_id: str
    invite: Request
    response: Response
    answer: Sdp
    local: NameAddr  # our From, with our tag
    remote: NameAddr  # the device's To, with its tag
    remote_target: SipUri  # the device's Contact (Request-URI of in-dialog requests)
    on_ended: EndedCallback | None = None
    state: DialogState = DialogState.ANSWERED
    cseq: int = 0
    ack: Request | None = None
    ended_reason: str | None = None
    _bye: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.call_id, self.local.tag or "", self.remote.tag or "")

    @property
    def device_id(self) -> str:
        return self.session.device_id

    @property
    def peer(self) -> Peer:
        return self.session.peer


class Invites:
    """The platform's INVITE dialogs (see the module docstring)."""

    def __init__(self, endpoint: SipEndpoint, commands: Commands, *, timeout: float, metrics: Counter[str]) -> None:
        self.endpoint = endpoint
        self.commands = commands
        self.timeout = timeout
        self.metrics = metrics
        self.dialogs: dict[tuple[str, str, str], Dialog] = {}
        self._by_call_id: dict[str, Dialog] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- opening ---------------------------------------------------------------------------------------------
    async def invite(
        self,
        session: DeviceSession,
        channel_id: str,
        offer: Sdp,
        *,
        on_ended: EndedCallback | None = None,
        subject: str | None = None,
    ) -> Dialog:
        """INVITE ``channel_id`` of ``session``'s device with ``offer``; the dialog once a 2xx came (not ACKed:
        call :meth:`ack`). Raises :class:`DeviceRefusedError`."""
        subject = subject or f"{channel_id}:0,{self.commands.local_id}:0"
        request = self.commands.build(
            session, "INVITE", channel_id, body=bytes(offer), content_type=SDP_TYPE, headers=(("Subject", subject),)
        )
        self.metrics["invites"] += 1
        future = self.endpoint.send_invite(session.peer, request, self._provisional)
        try:
            response = await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            self.metrics["invite_timeouts"] += 1
            self._abandon(session, request, future)
            raise DeviceRefusedError(NO_ANSWER, 408) from None
        except SipTimeoutError as exc:
            self.metrics["invite_timeouts"] += 1
            raise DeviceRefusedError(NO_ANSWER, 408) from exc
        except asyncio.CancelledError:
            self.metrics["invites_cancelled"] += 1
            self._abandon(session, request, future)
            raise
        if not response.success:
            self.metrics["invites_refused"] += 1
            raise DeviceRefusedError(refusal_reason(response), response.status_code)
        try:
            dialog = self._dialog(session, channel_id, request, response, on_ended)
        except (SdpError, RemoteProtocolError) as exc:
            self.metrics["invite_bad_answer"] += 1
            log.warning("device %s answered INVITE with an unusable 2xx: %s", session.device_id, exc)
            self._end_unusable(session, request, response)
            raise DeviceRefusedError(BAD_ANSWER, response.status_code) from exc
        self.metrics["invites_answered"] += 1
        return dialog

    def _provisional(self, response: Response, peer: Peer) -> None:
        self.metrics[f"invite_{response.status_code}"] += 1

    def _dialog(
        self,
        session: DeviceSession,
        channel_id: str,
        request: Request,
        response: Response,
        on_ended: EndedCallback | None,
    ) -> Dialog:
        media_type = response.media_type
        if media_type not in (None, "application/sdp"):
            raise SdpError(f"answer body is {response.content_type}, not SDP")
        answer = Sdp.parse(response.body)
        contact = response.contact
        dialog = Dialog(
            session=session,
            channel_id=channel_id,
            invite=request,
            response=response,
            answer=answer,
            local=request.from_,
            remote=response.to,
            remote_target=contact.uri if contact is not None else request.uri,
            on_ended=on_ended,
            cseq=request.cseq.number,
        )
        self.dialogs[dialog.key] = dialog
        self._by_call_id[dialog.call_id] = dialog
        return dialog

    def ack(self, dialog: Dialog) -> None:
        """Confirm the dialog (ACK the 2xx); idempotent."""
        if dialog.state is not DialogState.ANSWERED:
            return
        dialog.ack = self._in_dialog(dialog, "ACK", cseq=dialog.invite.cseq.number)
        dialog.state = DialogState.CONFIRMED
        self.endpoint.send_direct(dialog.peer, dialog.ack)

    def on_response(self, response: Response, peer: Peer) -> None:
        """A response to INVITE no transaction claimed: a 2xx retransmitted because our ACK was lost."""
        try:
            key = (response.call_id, response.from_.tag or "", response.to.tag or "")
        except RemoteProtocolError:
            self.metrics["responses_unmatched"] += 1
            return
        dialog = self.dialogs.get(key)
        if dialog is None or not response.success:
            self.metrics["responses_unmatched"] += 1
            return
        self.metrics["invite_2xx_retransmitted"] += 1
        if dialog.ack is not None:
            self.endpoint.send_direct(dialog.peer, dialog.ack)

    # --- ending ----------------------------------------------------------------------------------------------
    async def bye(self, dialog: Dialog) -> None:
        """End the dialog from our side (ACKing it first if it was not); idempotent, never raises."""
        if dialog.state is DialogState.ENDED:
            if dialog._bye is not None:
                await asyncio.shield(dialog._bye)
            return
        self.ack(dialog)
        self._forget(dialog, "platform ended the stream")
        dialog._bye = asyncio.get_running_loop().create_task(self._send_bye(dialog))
        await asyncio.shield(dialog._bye)

    async def _send_bye(self, dialog: Dialog) -> None:
        dialog.cseq += 1
        request = self._in_dialog(dialog, "BYE", cseq=dialog.cseq)
        self.metrics["byes_out"] += 1
        try:
            response = await asyncio.wait_for(self.endpoint.request(dialog.peer, request), BYE_TIMEOUT)
        except (TimeoutError, SipTimeoutError):
            self.metrics["bye_timeouts"] += 1
            return
        if not response.success:
            self.metrics["bye_refused"] += 1

    def on_request(self, request: Request, peer: Peer) -> bool:
        """A BYE (or INFO) of the device in one of our dialogs: answered here; False when it is in none."""
        dialog = self.find(request)
        if dialog is None:
            return False
        if request.method == "BYE":
            self.metrics["byes_in"] += 1
            self.endpoint.respond(request, peer, 200)
            self._ended_by_device(dialog, DEVICE_ENDED)
        else:
            self.endpoint.respond(request, peer, 200)
        return True

    def on_media_status(self, request: Request, status: manscdp.MediaStatus) -> bool:
        """A MediaStatus MESSAGE (already answered 200): NotifyType 121 in a dialog ends it with our BYE."""
        dialog = self.find(request) or self._by_call_id.get(request.call_id)
        if dialog is None or not status.is_end:
            return False
        self.metrics["media_status_end"] += 1
        self._ended_by_device(dialog, MEDIA_END_REASON)
        self._spawn(self._send_bye(dialog))
        return True

    def _ended_by_device(self, dialog: Dialog, reason: str) -> None:
        if dialog.state is DialogState.ENDED:
            return
        self._forget(dialog, reason)
        if dialog.on_ended is not None:
            try:
                dialog.on_ended(reason)
            except Exception:  # the owner's bug must not cost the endpoint
                log.exception("ended callback of dialog %s failed", dialog.call_id)

    def _forget(self, dialog: Dialog, reason: str) -> None:
        dialog.state = DialogState.ENDED
        dialog.ended_reason = reason
        self.dialogs.pop(dialog.key, None)
        if self._by_call_id.get(dialog.call_id) is dialog:
            del self._by_call_id[dialog.call_id]

    def find(self, request: Request) -> Dialog | None:
        """The dialog an in-dialog request of a device belongs to (Call-ID, our tag in To, its tag in From)."""
        try:
            key = (request.call_id, request.to.tag or "", request.from_.tag or "")
        except RemoteProtocolError:
            return None
        return self.dialogs.get(key)

    # --- giving up -------------------------------------------------------------------------------------------
    def _abandon(self, session: DeviceSession, request: Request, future: asyncio.Future[Response]) -> None:
        """The caller stopped waiting: CANCEL, and end with BYE a 2xx that crossed the CANCEL."""
        self.metrics["cancels_out"] += 1
        self._spawn(self._cancel(session.peer, request))
        self._spawn(self._reap(session, request, future))

    async def _cancel(self, peer: Peer, invite: Request) -> None:
        with contextlib.suppress(SipTimeoutError, TimeoutError):
            await asyncio.wait_for(self.endpoint.request(peer, make_cancel(invite)), BYE_TIMEOUT)

    async def _reap(self, session: DeviceSession, request: Request, future: asyncio.Future[Response]) -> None:
        try:
            response = await asyncio.wait_for(future, LATE_ANSWER_WAIT)
        except (TimeoutError, SipTimeoutError):
            return
        if response.success:
            self.metrics["late_2xx_ended"] += 1
            self._end_unusable(session, request, response)

    def _end_unusable(self, session: DeviceSession, request: Request, response: Response) -> None:
        """ACK a 2xx we will not use and BYE it at once."""
        try:
            contact = response.contact
            dialog = Dialog(
                session=session,
                channel_id=request.uri.user or "",
                invite=request,
                response=response,
                answer=Sdp(origin_user="", origin_host="", connection_host="", port=0),
                local=request.from_,
                remote=response.to,
                remote_target=contact.uri if contact is not None else request.uri,
                cseq=request.cseq.number,
            )
        except RemoteProtocolError:
            return
        self.ack(dialog)
        self._forget(dialog, "not used")
        self._spawn(self._send_bye(dialog))

    # --- plumbing --------------------------------------------------------------------------------------------
    def _in_dialog(self, dialog: Dialog, method: str, *, cseq: int) -> Request:
        peer = dialog.peer
        port = self.endpoint.transport.address[1]
        via = Via(
            transport=peer.transport.upper(),
            host=self.commands.via_host(peer),
            port=port,
            params=(("rport", None), ("branch", new_branch())),
        )
        return make_request(
            method,
            dialog.remote_target,
            via=via,
            from_=dialog.local,
            to=dialog.remote,
            call_id=dialog.call_id,
            cseq=cseq,
            headers=(("User-Agent", USER_AGENT),),
        )

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """End every dialog with BYE (at shutdown) and wait for the pending work, briefly."""
        for dialog in list(self.dialogs.values()):
            self._spawn(self.bye(dialog))
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=BYE_TIMEOUT)
        for task in list(self._tasks):
            task.cancel()
