"""The signaling service: GB/T 28181 devices register, stay online and hand over their catalogs.

It owns the :class:`~xueliang.signaling.endpoint.SipEndpoint` and routes what arrives:

==============  ===================================================================================
REGISTER        :class:`~xueliang.signaling.registrar.Registrar`
MESSAGE         MANSCDP: Keepalive (presence), answers to our queries (commands), Alarm, Catalog
                notifications, MediaStatus; a MESSAGE from a device that is not registered gets 403,
                which makes devices re-register (how they find out the platform restarted)
NOTIFY          catalog subscription events (signaling/subscriptions.py)
OPTIONS         200
BYE, INFO       in one of our INVITE dialogs (signaling/invite.py): answered there; else 481
INVITE          from an upper platform (cascade): its link; else 501 (we INVITE devices: :meth:`source_opener`)
==============  ===================================================================================

Requests from an upper platform we registered with (cascade, issue 6) go to :attr:`SignalingService.cascade`
first: the upper-platform links (signaling/upper.py) take every request whose sender is one of them. What changes
on this side that an upper platform subscribed to (device online changes, channel events from catalogs and
NOTIFYs) is told to :attr:`SignalingService.change_listeners`.

Background work, once a second on the event loop: presence deadlines, partial catalogs, batched writes of
online changes and registrations (through ``asyncio.to_thread``: the database never blocks the loop), and the
catalog synchronisation queue, throttled so that a city re-registering after a restart does not turn into
200,000 simultaneous catalog queries.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import Assembly, CatalogEvent, CatalogItem, RecordItem
from xueliang.protocol.sip import DEFAULT_LIMITS, DigestChallenger, Request, quick_keepalive
from xueliang.signaling.commands import Commands, DeviceUnavailableError
from xueliang.signaling.endpoint import SipEndpoint
from xueliang.signaling.invite import Invites
from xueliang.signaling.media_source import GbSourceOpener
from xueliang.signaling.presence import DeviceSession, Presence
from xueliang.signaling.registrar import Registrar, RegistrarPolicy
from xueliang.signaling.ssrc import SsrcAllocator
from xueliang.signaling.subscriptions import Subscriptions
from xueliang.signaling.sync import CatalogSync, SyncResult
from xueliang.signaling.transport import Peer, local_address_towards
from xueliang.store.device_records import OnlineChange
from xueliang.store.devices import DeviceStore
from xueliang.store.models import utcnow

log = logging.getLogger(__name__)

TOUCH_EVERY = 30.0
SUPPORTED = "REGISTER, MESSAGE, NOTIFY, OPTIONS, ACK, BYE, CANCEL, INFO, SUBSCRIBE, INVITE"


class CatalogSink(Protocol):
    """Where catalogs and catalog events go (the catalog service, through a worker process). A sink that is
    also a :class:`PartedCatalogSink` is handed large catalogs in parts while they arrive."""

    def merge(self, device_id: str, items: list[CatalogItem], complete: bool) -> Awaitable[object]: ...

    def apply_events(
        self, device_id: str, events: list[tuple[CatalogEvent | None, CatalogItem]]
    ) -> Awaitable[object]: ...


class CatalogIntake(Protocol):
    """One catalog handed over in parts while its fragments still arrive (signaling/sync.py): ``add`` every
    ``sync.CATALOG_PART_ITEMS`` new items, each item once, in arrival order; then ``finish`` once with the items
    not added yet and whether the catalog is complete. ``add`` returns at once and never raises (the merge of
    the parts runs elsewhere); ``finish`` waits for them all and returns what the whole merge did. Until
    ``finish`` returns, the device's catalog is ``partial``; only a complete finish marks channels gone."""

    def add(self, items: list[CatalogItem]) -> None: ...

    def finish(self, items: list[CatalogItem], complete: bool) -> Awaitable[object]: ...


@runtime_checkable
class PartedCatalogSink(Protocol):
    """A :class:`CatalogSink` that can take a catalog in parts (optional: others get catalogs whole)."""

    def open_catalog(self, device_id: str) -> CatalogIntake: ...


class CascadeRequests(Protocol):
    """The upper-platform links: ``handle`` takes a request when its sender is an upper platform (True)."""

    def handle(self, request: Request, peer: Peer) -> bool: ...


ChannelEvents = list[tuple[CatalogEvent | None, CatalogItem]]


class ChangeListener(Protocol):
    """Told of changes an upper platform may have subscribed to; called on the event loop, must not block."""

    def devices_changed(self, changes: Sequence[OnlineChange]) -> None: ...

    def channel_events(self, device_id: str, events: ChannelEvents) -> None: ...


@dataclass(frozen=True, slots=True)
class SignalingConfig:
    local_id: str
    domain: str
    host: str = "0.0.0.0"  # noqa: S104 - devices reach the platform from the network; digest guards it
    port: int = 5060
    advertise_host: str | None = None
    password: str | None = None
    accept_unknown: bool = False
    min_expires: int = 60
    max_expires: int = 86400
    keepalive_interval: float = 60.0
    misses: int = 3
    catalog_concurrency: int = 32
    catalog_rate: float = 100.0
    sync_on_register: bool = True  # query DeviceInfo and Catalog after a device's first registration
    catalog_timeout: float = 30.0  # seconds without a fragment before a catalog is handed back partial
    answer_timeout: float = 10.0  # seconds to wait for the answer to a DeviceInfo/DeviceStatus/... query
    invite_timeout: float = 10.0  # seconds a device has to answer an INVITE finally (then CANCEL)
    ssrc_hold: float = 60.0  # seconds a freed SSRC waits before it is handed out again
    subscription_expires: int = 3600
    flood_rate: float = 1000.0
    digest_algorithm: str = "MD5"
    nonce_secret: bytes = field(default=b"", repr=False)


class SignalingService:
    """The SIP role of one process."""

    def __init__(self, config: SignalingConfig, store: DeviceStore, sink: CatalogSink) -> None:
        self.config = config
        self.store = store
        self.sink = sink
        self.endpoint = SipEndpoint(
            self.handle_request, limits=DEFAULT_LIMITS, flood_rate=config.flood_rate, fast_path=self._fast_keepalive
        )
        self.metrics = self.endpoint.metrics
        self.presence = Presence(misses=config.misses)
        challenger = DigestChallenger(config.domain, config.nonce_secret, algorithm=config.digest_algorithm, qop=True)
        policy = RegistrarPolicy(
            password=config.password,
            accept_unknown=config.accept_unknown,
            min_expires=config.min_expires,
            max_expires=config.max_expires,
            keepalive_interval=config.keepalive_interval,
        )
        self.registrar = Registrar(self.endpoint, self.presence, store, challenger, policy, self._registered)
        self.commands = Commands(
            self.endpoint,
            local_id=config.local_id,
            domain=config.domain,
            via_host=self._via_host,
            assembly_timeout=config.catalog_timeout,
            answer_timeout=config.answer_timeout,
        )
        self.subscriptions = Subscriptions(self.commands, expires=config.subscription_expires)
        self.invites = Invites(self.endpoint, self.commands, timeout=config.invite_timeout, metrics=self.metrics)
        self.endpoint.stray_response = self.invites.on_response
        # y= digits 4-8 come from the domain ID; a domain that is not a GB ID falls back to the platform's ID
        domain_id = config.domain if config.domain[:8].isdigit() and len(config.domain) >= 8 else config.local_id
        self.ssrcs = SsrcAllocator(domain_id, hold=config.ssrc_hold)
        self._opener = GbSourceOpener(
            self.invites,
            self.ssrcs,
            self._online_session,
            local_id=config.local_id,
            metrics=self.metrics,
            request_keyframe=self.request_keyframe,
        )
        self.sync = CatalogSync(
            self,
            concurrency=config.catalog_concurrency,
            rate=config.catalog_rate,
        )
        self.cascade: CascadeRequests | None = None
        self.change_listeners: list[ChangeListener] = []
        self._via_hosts: dict[str, str] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._touched_at = 0.0
        self.address: tuple[str, int] = ("", 0)

    # --- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> tuple[str, int]:
        """Listen, restore who was online before a restart, start the background work."""
        self.address = await self.endpoint.start(self.config.host, self.config.port)
        previously = await asyncio.to_thread(self.store.online_device_ids)
        grace = self.config.misses * self.config.keepalive_interval
        self.presence.expect_back(previously, grace, time.monotonic())
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())
        self.sync.start()
        log.info(
            "SIP endpoint %s listening on %s:%d (UDP+TCP), realm %s; %d devices expected back",
            self.config.local_id,
            *self.address,
            self.config.domain,
            len(previously),
        )
        return self.address

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await self.sync.stop()
        await self.subscriptions.close()
        await self.invites.close()
        for task in list(self._tasks):
            task.cancel()
        await self.endpoint.close()
        await self._flush(touch=True)

    def spawn(self, coro: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("signaling task failed", exc_info=task.exception())

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                now = time.monotonic()
                for device_id in self.presence.sweep(now):
                    self.subscriptions.drop(device_id)
                self.commands.expire(now)
                self.subscriptions.refresh_due(now)
                touch = now - self._touched_at >= TOUCH_EVERY
                if touch:
                    self._touched_at = now
                await self._flush(touch=touch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("signaling tick failed")

    async def _flush(self, *, touch: bool) -> None:
        """Write what changed since the last tick: registrations, online changes, (every 30 s) last-seen."""
        registrations = self.registrar.take_registrations()
        changes = self.presence.take_changes()
        seen = self.presence.take_seen() if touch else {}
        if not (registrations or changes or seen):
            return

        if changes:
            for listener in self.change_listeners:
                self._tell(listener.devices_changed, changes)

        def write() -> None:
            for registration in registrations:
                self.store.save_registration(registration)
            if changes:
                self.store.record_online_changes(changes)
            if seen:
                self.store.touch(seen)

        await asyncio.to_thread(write)

    def _via_host(self, peer: Peer) -> str:
        if self.config.advertise_host:
            return self.config.advertise_host
        if self.config.host not in ("0.0.0.0", "::", ""):  # noqa: S104 - a wildcard bind, not a bind
            return self.config.host
        host = self._via_hosts.get(peer.host)
        if host is None:
            host = self._via_hosts[peer.host] = local_address_towards(peer.host, peer.port)
        return host

    # --- requests in -----------------------------------------------------------------------------------------
    def handle_request(self, request: Request, peer: Peer) -> None:
        if self.cascade is not None and self.cascade.handle(request, peer):
            return
        method = request.method
        if method == "MESSAGE":
            self._on_message(request, peer)
        elif method == "REGISTER":
            self.registrar.handle(request, peer)
        elif method == "NOTIFY":
            self._on_notify(request, peer)
        elif method == "OPTIONS":
            self.endpoint.respond(request, peer, 200, headers=(("Allow", SUPPORTED),))
        elif method in ("INVITE", "SUBSCRIBE"):
            self.endpoint.respond(request, peer, 501)  # only upper platforms INVITE or SUBSCRIBE us
        elif method in ("BYE", "INFO") and self.invites.on_request(request, peer):
            return
        elif method in ("BYE", "CANCEL", "INFO"):
            self.endpoint.respond(request, peer, 481)
        else:
            self.metrics["unknown_method"] += 1
            self.endpoint.respond(request, peer, 405, headers=(("Allow", SUPPORTED),))

    def _fast_keepalive(self, data: bytes, peer: Peer) -> bool:
        """The hot path: a well-formed keepalive datagram from a registered device, answered without the full
        parse (protocol/sip/fastpath.py proves the answer is byte for byte the full path's). Anything else, and
        keepalives of unknown devices (they get the full path's 403), go the normal way."""
        keepalive = quick_keepalive(data)
        if keepalive is None:
            return False
        session = self.presence.get(keepalive.device_id)
        if session is None:
            return False
        if self.endpoint.answer_keepalive(keepalive, peer):
            self.metrics["keepalives"] += 1
            self.metrics["keepalives_fast"] += 1
            self.presence.heard(session, peer, time.monotonic())
            session.faulty = ()
            # as the full path reads it: the declared charset, UTF-8 when the body declares none
            session.charset = manscdp.charset_from_label(keepalive.declared) or manscdp.Charset.UTF8
        return True

    def _parse_body(self, request: Request, peer: Peer) -> manscdp.Parsed | None:
        try:
            return manscdp.parse(request.body)
        except manscdp.RemoteError as exc:
            self.metrics["manscdp_malformed"] += 1
            self.endpoint._drop("manscdp", peer, str(exc))
            self.endpoint.respond(request, peer, 400, reason="Bad Request (MANSCDP body)")
            return None

    def _on_message(self, request: Request, peer: Peer) -> None:
        sender = request.from_.uri.user or ""
        session = self.presence.get(sender)
        if session is None and (dialog := self.invites.find(request)) is not None:
            session = dialog.session  # in a video dialog an NVR speaks as the channel (MediaStatus)
        if session is None:
            self.metrics["message_unregistered"] += 1
            self.endpoint.respond(request, peer, 403, reason="Forbidden (not registered)")
            return
        parsed = self._parse_body(request, peer)
        if parsed is None:
            return
        now = time.monotonic()
        self.presence.heard(session, peer, now)
        session.charset = parsed.charset
        message = parsed.message
        if isinstance(message, manscdp.Keepalive):
            self.metrics["keepalives"] += 1
            session.faulty = message.faulty
            self.endpoint.respond(request, peer, 200)
            return
        self.endpoint.respond(request, peer, 200)
        if isinstance(message, manscdp.AlarmNotify):
            self.spawn(self._on_alarm(session, message))
        elif isinstance(message, manscdp.CatalogNotify):
            self._catalog_events(session.device_id, message)
        elif isinstance(message, manscdp.MediaStatus):
            self.metrics["media_status"] += 1  # ends of playback/download: 121 in a dialog ends it with BYE
            self.invites.on_media_status(request, message)
        elif not self.commands.on_answer(message):
            self.metrics["manscdp_unexpected"] += 1

    def _on_notify(self, request: Request, peer: Peer) -> None:
        sender = request.from_.uri.user or ""
        session = self.presence.get(sender)
        if session is None:
            self.endpoint.respond(request, peer, 481)
            return
        parsed = self._parse_body(request, peer)
        if parsed is None:
            return
        self.presence.heard(session, peer, time.monotonic())
        self.endpoint.respond(request, peer, 200)
        if isinstance(parsed.message, manscdp.CatalogNotify):
            self._catalog_events(session.device_id, parsed.message)
        elif isinstance(parsed.message, manscdp.AlarmNotify):
            self.spawn(self._on_alarm(session, parsed.message))

    def _catalog_events(self, device_id: str, notify: manscdp.CatalogNotify) -> None:
        self.metrics["catalog_notifies"] += 1
        events = notify.events()
        if events:
            self.spawn(self.sink.apply_events(device_id, events))
            for listener in self.change_listeners:
                self._tell(listener.channel_events, device_id, events)

    def _tell(self, call: Callable[..., None], *args: object) -> None:
        try:
            call(*args)
        except Exception:  # a listener's bug must not cost devices their presence
            log.exception("change listener failed")

    async def _on_alarm(self, session: DeviceSession, alarm: manscdp.AlarmNotify) -> None:
        self.metrics["alarms"] += 1
        await asyncio.to_thread(self.store.record_alarm, session.device_id, alarm, utcnow())
        answer = manscdp.CommandResponse(cmd_type="Alarm", sn=alarm.sn, device_id=alarm.device_id)
        try:
            await self.commands.message(session, alarm.device_id, answer)
        except DeviceUnavailableError:
            self.metrics["alarm_response_failed"] += 1

    def _registered(self, session: DeviceSession, first: bool) -> None:
        if first and self.config.sync_on_register:
            self.sync.enqueue(session.device_id)

    # --- operations (API) ------------------------------------------------------------------------------------
    def session(self, device_id: str) -> DeviceSession:
        session = self.presence.get(device_id)
        if session is None or not session.online:
            raise DeviceUnavailableError(device_id, "not_registered")
        return session

    def _online_session(self, device_id: str) -> DeviceSession | None:
        session = self.presence.get(device_id)
        return session if session is not None and session.online else None

    def source_opener(self) -> GbSourceOpener:
        """The GB/T 28181 ``SourceOpener`` for the media node's stream manager (INVITE, ACK, BYE)."""
        return self._opener

    def is_online(self, device_id: str) -> bool:
        session = self.presence.get(device_id)
        return session is not None and session.online

    async def catalog_sync(self, device_id: str) -> SyncResult:
        """Query DeviceInfo and the catalog now and merge it (not throttled: an operator asked)."""
        return await self.sync.run(device_id)

    def catalog_intake(self, device_id: str) -> CatalogIntake | None:
        """Where ``device_id``'s next catalog goes in parts while it arrives; None: the sink takes it whole."""
        sink = self.sink
        return sink.open_catalog(device_id) if isinstance(sink, PartedCatalogSink) else None

    async def device_info(self, device_id: str) -> manscdp.DeviceInfo:
        session = self.session(device_id)
        query = manscdp.DeviceInfoQuery(sn=self.commands.next_sn(), device_id=device_id)
        return await self.commands.query(session, device_id, query, manscdp.DeviceInfo)

    async def device_status(self, device_id: str) -> manscdp.DeviceStatus:
        session = self.session(device_id)
        query = manscdp.DeviceStatusQuery(sn=self.commands.next_sn(), device_id=device_id)
        return await self.commands.query(session, device_id, query, manscdp.DeviceStatus)

    async def records(
        self, device_id: str, channel_id: str, start: dt.datetime, end: dt.datetime, record_type: str = "all"
    ) -> Assembly[RecordItem]:
        session = self.session(device_id)
        query = manscdp.RecordInfoQuery(
            sn=self.commands.next_sn(), device_id=channel_id, start_time=start, end_time=end, type=record_type
        )
        return await self.commands.record_info(session, query)

    async def control(self, device_id: str, channel_id: str, build: Callable[[int], manscdp.DeviceControl]) -> None:
        """Send a DeviceControl (PTZ, TeleBoot, ...) to ``channel_id`` of ``device_id``; the 200 OK is the answer."""
        session = self.session(device_id)
        await self.commands.message(session, channel_id, build(self.commands.next_sn()))
        self.metrics["controls"] += 1

    async def request_keyframe(self, device_id: str, channel_id: str) -> None:
        """DeviceControl IFameCmd (IFrameCmd in 2022): the channel starts a new GOP now."""
        await self.control(device_id, channel_id, lambda sn: manscdp.DeviceControl(sn, channel_id, iframe=True))

    async def control_with_response(
        self, device_id: str, channel_id: str, build: Callable[[int], manscdp.DeviceControl]
    ) -> manscdp.CommandResponse:
        """A DeviceControl the device answers with a Response (AlarmCmd, GuardCmd, RecordCmd)."""
        session = self.session(device_id)
        command = build(self.commands.next_sn())
        return await self.commands.query(session, channel_id, command, manscdp.CommandResponse)

    def online_ids(self) -> Sequence[str]:
        return [device_id for device_id, session in self.presence.sessions.items() if session.online]
