"""What every simulated device of a run shares: the links (local sockets or connections), fresh identifiers,
the request builder, the precomputed keepalive, the counters.

The keepalive is the hot path (100,000 devices at 60 s are 1,700 MESSAGEs a second): :meth:`Context.keepalive`
fills a byte template made once per (link, charset, edition) by the same builder every other request uses, so
the bytes are exactly what :func:`build_request` would give, at the cost of two ``%`` formats instead of
building and serialising a request (bench/bench_sim.py).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields

from xueliang.domain.ids import Edition
from xueliang.protocol.manscdp import Charset, Keepalive, header_for_edition
from xueliang.protocol.sip import BRANCH_MAGIC, NameAddr, Request, SipUri, Via, make_request
from xueliang.sim.catalog_gen import Content
from xueliang.sim.config import SimConfig

__all__ = ["MANSCDP", "Context", "Link", "Stats", "build_request"]

MANSCDP = "Application/MANSCDP+xml"


@dataclass(slots=True)
class Stats:
    """Counters of a run (``registered`` and ``online`` are current values, the rest totals)."""

    devices: int = 0
    registered: int = 0
    online: int = 0  # registered and the last keepalive answered (refreshed by the runner when read)
    registrations_sent: int = 0  # REGISTER transactions, challenges answered included
    registrations_ok: int = 0
    registrations_rejected: int = 0  # 403 and other final refusals
    registration_timeouts: int = 0
    keepalives_sent: int = 0
    keepalives_answered: int = 0
    keepalives_rejected: int = 0  # 4xx: the platform asks for a new registration
    keepalive_timeouts: int = 0
    queries_answered: int = 0  # MANSCDP requests of the platform answered
    answers_sent: int = 0  # MESSAGEs carrying answers (fragments count one each)
    answers_failed: int = 0
    ptz_commands: int = 0
    reboots: int = 0
    notifies_sent: int = 0
    alarms_sent: int = 0
    alarms_acknowledged: int = 0
    retransmissions: int = 0
    errors: int = 0  # unreadable input, unknown targets, failed sends

    def as_dict(self) -> dict[str, int]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass(slots=True)
class Link:
    """One local UDP socket or TCP connection; several devices share it. ``port`` is known once bound."""

    index: int
    transport: str  # "UDP" or "TCP", as in Via
    host: str
    port: int
    up: bool = True
    templates: dict[tuple[Charset, Edition], tuple[bytes, bytes]] = field(default_factory=dict)

    @property
    def reliable(self) -> bool:
        return self.transport == "TCP"

    def moved(self, host: str, port: int) -> None:
        """The socket was (re)bound: new address, templates rebuilt on next use."""
        self.host, self.port = host, port
        self.templates.clear()


class Context:
    """Shared by the devices of a run: configuration, content, links, clocks, identifiers, counters."""

    __slots__ = (
        "_added",
        "_counter",
        "_run",
        "config",
        "content",
        "domain",
        "epoch",
        "links",
        "local_time",
        "on_change",
        "rng",
        "server_uri",
        "stats",
    )

    def __init__(
        self,
        config: SimConfig,
        links: list[Link],
        *,
        local_time: Callable[[], dt.datetime] = dt.datetime.now,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.content = Content(config)
        self.links = links
        self.local_time = local_time
        self.on_change = on_change
        self.domain = config.sip_domain
        self.server_uri = SipUri(user=config.server_id, host=self.domain)
        self.stats = Stats(devices=config.count)
        self.rng = random.Random(config.seed)
        self.epoch = 0.0  # the fleet's start on the caller's clock; keepalive phases count from it
        self._run = secrets.token_hex(4)
        self._counter = itertools.count(1)
        self._added: dict[str, int] = {}  # channel ID -> device index, for channels added at run time

    def claim(self, channel_id: str, device_index: int) -> bool:
        """Take ``channel_id`` for a channel added to device ``device_index``; False when already taken."""
        if channel_id in self._added:
            return False
        self._added[channel_id] = device_index
        return True

    def added_owner(self, channel_id: str) -> int | None:
        """The device a channel added at run time belongs to."""
        return self._added.get(channel_id)

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def next_id(self) -> str:
        """Unique in this run and (with the random run prefix) across runs: branches, Call-IDs, tags."""
        return f"{self._run}{next(self._counter):x}"

    def address(self, user: str) -> NameAddr:
        return NameAddr(uri=SipUri(user=user, host=self.domain))

    # ----------------------------------------------------------------------------------------- keepalive

    def keepalive(
        self, link: Link, device_id: str, *, ident: str, cseq: int, sn: int, charset: Charset, edition: Edition
    ) -> bytes:
        """A keepalive MESSAGE of ``device_id``; ``ident`` makes its branch, Call-ID and From tag."""
        templates = link.templates.get((charset, edition))
        if templates is None:
            templates = link.templates[(charset, edition)] = self._keepalive_templates(link, charset, edition)
        head, body = templates
        device, ident_bytes = device_id.encode(), ident.encode()
        data = body % {b"dev": device, b"sn": sn}
        return head % {b"id": ident_bytes, b"dev": device, b"cseq": cseq, b"len": len(data)} + data

    def _keepalive_templates(self, link: Link, charset: Charset, edition: Edition) -> tuple[bytes, bytes]:
        """The keepalive as two ``%`` templates (head, body), made by the ordinary builders with placeholders."""
        body = Keepalive(_SN, _DEVICE).encode(edition, charset)
        request = build_request(
            self,
            link,
            "MESSAGE",
            device_id=_DEVICE,
            edition=edition,
            ident=_IDENT,
            cseq=_CSEQ,
            body=body,
        )
        raw = bytes(request)
        head = raw[: len(raw) - len(body)]
        head = head.replace(b"%", b"%%").replace(_IDENT.encode(), b"%(id)b").replace(_DEVICE.encode(), b"%(dev)b")
        head = head.replace(b"CSeq: %d " % _CSEQ, b"CSeq: %(cseq)d ")
        head = head.replace(b"Content-Length: %d\r\n" % len(body), b"Content-Length: %(len)d\r\n")
        body = body.replace(b"%", b"%%").replace(_DEVICE.encode(), b"%(dev)b").replace(b"%d" % _SN, b"%(sn)d")
        return head, body


# placeholders of the keepalive templates: tokens no real value contains
_DEVICE, _IDENT, _SN, _CSEQ = "DEVICEQXQ", "IDENTQXQ", 987654321, 876543219


def build_request(
    ctx: Context,
    link: Link,
    method: str,
    *,
    device_id: str,
    edition: Edition,
    ident: str | None = None,
    cseq: int,
    body: bytes = b"",
    uri: SipUri | None = None,
    from_: NameAddr | None = None,
    to: NameAddr | None = None,
    call_id: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    contact: bool = False,
) -> Request:
    """A request of ``device_id`` over ``link`` to the platform (or in a dialog, when ``uri``, ``from_``,
    ``to`` and ``call_id`` are given). ``ident`` (fresh when None) makes the branch, and the Call-ID and
    From tag when those are not given. Every request carries ``X-GB-Ver``; a body is MANSCDP."""
    ident = ident or ctx.next_id()
    via = Via(
        transport=link.transport,
        host=link.host,
        port=link.port,
        params=(("rport", None), ("branch", BRANCH_MAGIC + ident)),
    )
    extra: list[tuple[str, str]] = []
    if body:
        extra.append(("Content-Type", MANSCDP))
    extra.append(("User-Agent", ctx.config.user_agent))
    extra.append(("X-GB-Ver", header_for_edition(edition)))
    extra.extend(headers)
    return make_request(
        method,
        uri or ctx.server_uri,
        via=via,
        from_=from_ or ctx.address(device_id).with_tag(ident),
        to=to or ctx.address(ctx.config.server_id),
        call_id=call_id or f"{ident}@{link.host}",
        cseq=cseq,
        contact=NameAddr(uri=SipUri(user=device_id, host=link.host, port=link.port)) if contact else None,
        headers=extra,
        body=body,
    )
