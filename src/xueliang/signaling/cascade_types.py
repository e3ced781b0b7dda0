"""The seams of the cascade (issue 6) inside signaling, and what the composition root plugs into them.

Signaling owns the SIP side of being a lower platform: the registration link to each upper platform
(:mod:`~xueliang.signaling.upper`), the answers to its queries and subscriptions
(:mod:`~xueliang.signaling.upper_answers`) and the INVITE dialogs it opens with us
(:mod:`~xueliang.signaling.upper_invite`). What it needs from elsewhere comes through two small interfaces,
implemented above it and passed in by the composition root:

- :class:`CascadeDirectory` (the store): the configured upper platforms and, per upper platform, the tree it
  is shared (nodes and channels) and the lookup of one channel it names. Blocking: call it through
  ``asyncio.to_thread``.
- :class:`CascadeMedia` (sharing + media): the policy's decision for the upper platform as a principal, the audit
  record, our stream of the camera and the RTP sender towards the upper platform.

:class:`UpperLinkView` is what the answer and INVITE handlers see of one link; :class:`UpperRequestHandler` is
what the link hands the requests of its upper platform to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from xueliang.domain.cascade import SharedChannel, SharedTree, UpperPlatform
from xueliang.domain.streams import MediaTransport
from xueliang.protocol.sip import Request, Response
from xueliang.signaling.transport import Peer

__all__ = [
    "CascadeDirectory",
    "CascadeMedia",
    "CascadeRefusedError",
    "CascadeStream",
    "MediaOffer",
    "UpperLinkView",
    "UpperRequestHandler",
]


class CascadeDirectory(Protocol):
    """The store's side of the cascade. Every method blocks (database): call it with ``asyncio.to_thread``."""

    def upper_platforms(self) -> list[UpperPlatform]:
        """Every configured upper platform, enabled or not, passwords decrypted."""
        ...

    def shared_tree(self, upper_id: str) -> SharedTree:
        """What ``upper_id`` is shared now."""
        ...

    def shared_channel(self, upper_id: str, channel_id: str) -> SharedChannel | None:
        """The channel ``upper_id`` names ``channel_id`` (its exported ID), None when it is not shared with it."""
        ...

    def shared_channels_of(self, upper_id: str, camera_ids: Iterable[str]) -> dict[str, SharedChannel]:
        """Of ``camera_ids`` (platform IDs), those shared with ``upper_id``, by camera ID."""
        ...

    def cameras_of_channels(self, device_id: str, channel_ids: Iterable[str] | None) -> dict[str, str]:
        """Camera platform IDs bound to ``device_id``'s channels (all of them when ``channel_ids`` is None),
        by device channel ID: how a device's catalog event or offline change becomes camera changes."""
        ...


class CascadeRefusedError(Exception):
    """An upper platform's INVITE refused: ``status`` is the SIP answer (403 not shared or not allowed, 404 no
    such channel, 486 busy, 488 offer not usable, 503 cannot serve now); ``zh`` and ``en`` say why."""

    def __init__(self, status: int, zh: str, en: str) -> None:
        super().__init__(en)
        self.status, self.zh, self.en = status, zh, en


@dataclass(frozen=True, slots=True)
class MediaOffer:
    """An upper platform's INVITE for one shared channel, read from its SDP offer: where to send PS over RTP.

    ``transport`` is named from the upper platform's side as it offered (``a=setup:passive``: it listens, we
    connect; ``active``: it connects to us). ``host``/``port`` are where to send (UDP) or connect (TCP, it
    listens). ``ssrc`` from its ``y=`` line (we send with it)."""

    upper_id: str
    channel: SharedChannel
    host: str
    port: int
    transport: MediaTransport
    ssrc: int
    source_address: str
    call_id: str


class CascadeStream(Protocol):
    """Our PS-over-RTP stream towards an upper platform, open (the camera's stream acquired, the sender bound)
    but not sending until :meth:`start` (after the ACK)."""

    @property
    def local_host(self) -> str: ...

    @property
    def local_port(self) -> int: ...

    on_end: Callable[[str], None] | None  # set by the dialog: the stream ended on its own (camera gone, peer closed)

    async def start(self) -> None: ...

    async def close(self, reason: str) -> None: ...


class CascadeMedia(Protocol):
    async def open(self, offer: MediaOffer) -> CascadeStream:
        """Decide (the policy, the upper platform as principal), record (audit), acquire the camera's stream and
        bind an RTP sender; CascadeRefusedError when it cannot."""
        ...


class UpperLinkView(Protocol):
    """One registration link to an upper platform, as the request handlers see it."""

    @property
    def config(self) -> UpperPlatform: ...

    @property
    def local_id(self) -> str:
        """The ID we speak as towards this upper platform."""
        ...

    @property
    def registered(self) -> bool: ...

    @property
    def peer(self) -> Peer:
        """Where requests to the upper platform go (its address; the TCP connection when the link is TCP)."""
        ...

    def build_request(
        self,
        method: str,
        *,
        body: bytes = b"",
        content_type: str | None = "Application/MANSCDP+xml",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Request:
        """A new out-of-dialog request from us to the upper platform (Via, From with a tag, To, Call-ID,
        CSeq, Max-Forwards, Contact, User-Agent)."""
        ...

    def send(self, request: Request) -> Awaitable[Response]:
        """Send ``request`` to the upper platform in a client transaction; its final response (or
        :class:`~xueliang.signaling.endpoint.SipTimeoutError`)."""
        ...

    def respond(
        self,
        request: Request,
        peer: Peer,
        status: int,
        *,
        reason: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
    ) -> None:
        """Answer a request of the upper platform."""
        ...


class UpperRequestHandler(Protocol):
    """Takes the requests one upper platform sends us (MESSAGE and SUBSCRIBE; or INVITE, ACK, BYE, CANCEL and
    INFO). Answers through ``link.respond``; never raises for bad input (answers 4xx instead)."""

    def on_request(self, link: UpperLinkView, request: Request, peer: Peer) -> None: ...
