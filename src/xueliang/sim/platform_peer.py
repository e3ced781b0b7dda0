"""A minimal platform for tests and benchmarks of the device simulator, sans I/O; not the real endpoint.

It answers what devices send (REGISTER with a digest challenge checked by
:class:`~xueliang.protocol.sip.DigestChallenger`, or with 200 at once; MESSAGE and NOTIFY with 200, or a
scripted status for keepalives), records what arrived, answers an Alarm with a Response MESSAGE, and builds the
requests a platform sends to devices (queries, controls, SUBSCRIBE, INVITE). The signalling service
(``xueliang.signaling``) is the platform; this peer only lets the simulator be exercised without it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from xueliang.domain.ids import Edition
from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import AlarmNotify, CommandResponse, Keepalive, WireMessage, edition_from_header
from xueliang.protocol.sip import (
    BRANCH_MAGIC,
    DigestChallenger,
    Message,
    NameAddr,
    Request,
    Response,
    SipUri,
    Verdict,
    Via,
    credentials_in,
    format_gb_date,
    make_request,
    make_response,
)

__all__ = ["PeerDevice", "PlatformPeer", "Received"]

Address = tuple[str, int]


@dataclass(slots=True)
class PeerDevice:
    """A device registered with the peer, and where to reach it."""

    device_id: str
    source: Address | None  # UDP source of its REGISTER
    link: object  # the connection it registered on (TCP), opaque here
    expires: int
    edition: Edition
    registrations: int = 1


@dataclass(frozen=True, slots=True)
class Received:
    """A MESSAGE or NOTIFY that reached the peer, with its body read (None when it has none or is unreadable)."""

    request: Request
    body: manscdp.Parsed | None


@dataclass(slots=True)
class PlatformPeer:
    """The platform side, scripted. ``password`` None: REGISTER is answered 200 without a challenge."""

    server_id: str
    host: str = "127.0.0.1"
    port: int = 5060
    password: str | None = "12345678"  # noqa: S105 - the simulator's default device password
    keepalive_status: int = 200  # what keepalives of registered devices get (4xx: "register again")
    unknown_keepalive_status: int = 200  # what keepalives of devices not registered here get
    reject: set[str] = field(default_factory=set)  # device IDs refused with 403
    answer_alarms: bool = True  # send a Response MESSAGE for every Alarm
    keep_messages: bool = True
    date: Callable[[], dt.datetime] = dt.datetime.now
    registered: dict[str, PeerDevice] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    responses: dict[str, Response] = field(default_factory=dict)  # our requests' final answers, by branch
    counts: dict[str, int] = field(default_factory=dict)  # REGISTER, keepalive, MESSAGE, NOTIFY, ...
    _challenger: DigestChallenger | None = None
    _cseq: int = 0

    def __post_init__(self) -> None:
        if self.password is not None:
            self._challenger = DigestChallenger(self.server_id[:10], b"xueliang-sim-peer-secret")

    @property
    def domain(self) -> str:
        return self.server_id[:10]

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    # --------------------------------------------------------------------------------------- receiving

    def handle(self, message: Message, source: Address | None, link: object, now: float) -> list[Message]:
        """What to send back for ``message`` (responses, then requests such as an alarm's Response)."""
        if isinstance(message, Response):
            if message.status_code >= 200:
                self.responses[message.via.branch or ""] = message
            return []
        method = message.method
        if method == "REGISTER":
            return [self._register(message, source, link, now)]
        if method in ("MESSAGE", "NOTIFY"):
            return self._message(message)
        if method == "ACK":
            return []
        return [make_response(message, 405)]

    def _register(self, request: Request, source: Address | None, link: object, now: float) -> Response:
        self._count("REGISTER")
        device_id = request.from_.uri.user or ""
        if device_id in self.reject:
            return make_response(request, 403)
        challenger = self._challenger
        if challenger is not None:
            credentials = credentials_in(request)
            if credentials is None:
                return self._challenge(request, challenger, now)
            verdict = challenger.verify(credentials, method="REGISTER", password=self.password or "", now=now)
            if verdict is not Verdict.OK:
                if verdict.status_hint == 401:
                    return self._challenge(request, challenger, now)
                return make_response(request, verdict.status_hint)
        expires = request.expires if request.expires is not None else 3600
        if expires == 0:
            self.registered.pop(device_id, None)
        else:
            known = self.registered.get(device_id)
            edition = edition_from_header(request.headers.get("X-GB-Ver"))
            self.registered[device_id] = PeerDevice(
                device_id, source, link, expires, edition, (known.registrations + 1) if known else 1
            )
        return make_response(request, 200, headers=[("Date", format_gb_date(self.date())), ("Expires", str(expires))])

    def _challenge(self, request: Request, challenger: DigestChallenger, now: float) -> Response:
        return make_response(request, 401, headers=[("WWW-Authenticate", str(challenger.challenge(now)))])

    def _message(self, request: Request) -> list[Message]:
        self._count(request.method)
        body = None
        if request.body:
            try:
                body = manscdp.parse(request.body)
            except manscdp.RemoteError:
                body = None
        sender = request.from_.uri.user or ""
        if body is not None and isinstance(body.message, Keepalive):
            self._count("keepalive")
            status = self.keepalive_status if sender in self.registered else self.unknown_keepalive_status
            return [make_response(request, status)]
        if self.keep_messages:
            self.received.append(Received(request, body))
        out: list[Message] = [make_response(request, 200)]
        if body is not None and isinstance(body.message, AlarmNotify) and self.answer_alarms:
            answer = CommandResponse.answer(body.message)
            out.append(self.message(sender, answer, charset=body.charset))
        return out

    # ----------------------------------------------------------------------------------------- sending

    def request(
        self,
        method: str,
        device_id: str,
        *,
        transport: str = "UDP",
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        call_id: str | None = None,
        to_tag: str | None = None,
        cseq: int | None = None,
        target: str | None = None,
    ) -> Request:
        """A request to ``device_id`` (or to ``target``, a channel ID, in the Request-URI)."""
        self._cseq += 1
        ident = f"peer{self._cseq:x}{id(self) & 0xFFFF:x}"
        branch = BRANCH_MAGIC + ident
        to = NameAddr(uri=SipUri(user=device_id, host=self.domain))
        extra = list(headers)
        if body:
            extra.insert(0, ("Content-Type", "Application/MANSCDP+xml"))
        return make_request(
            method,
            SipUri(user=target or device_id, host=self.domain),
            via=Via(transport=transport, host=self.host, port=self.port, params=(("rport", None), ("branch", branch))),
            from_=NameAddr(uri=SipUri(user=self.server_id, host=self.domain)).with_tag(ident),
            to=to.with_tag(to_tag) if to_tag else to,
            call_id=call_id or f"{ident}@{self.host}",
            cseq=cseq if cseq is not None else self._cseq,
            contact=NameAddr(uri=SipUri(user=self.server_id, host=self.host, port=self.port)),
            headers=extra,
            body=body,
        )

    def message(
        self,
        device_id: str,
        body: WireMessage,
        *,
        transport: str = "UDP",
        charset: manscdp.Charset = manscdp.Charset.GB2312,
        target: str | None = None,
    ) -> Request:
        """A MESSAGE carrying a MANSCDP ``body`` in the edition the device registered with."""
        known = self.registered.get(device_id)
        edition = known.edition if known is not None else Edition.GB2016
        return self.request(
            "MESSAGE", device_id, transport=transport, body=body.encode(edition, charset), target=target
        )

    def bodies(self, cmd_type: str | None = None, *, sn: int | None = None) -> list[manscdp.Message]:
        """The MANSCDP messages received (MESSAGE and NOTIFY), optionally of one CmdType and SN."""
        found: list[manscdp.Message] = []
        for item in self.received:
            if item.body is None:
                continue
            message = item.body.message
            if cmd_type is not None and message.cmd_type.lower() != cmd_type.lower():
                continue
            if sn is not None and message.sn != sn:
                continue
            found.append(message)
        return found
