"""All simulated devices of a run, sans I/O: routing, client transactions, retransmissions, timers.

The runner (:mod:`xueliang.sim.devices`) feeds what arrives (:meth:`Fleet.receive_datagram` for UDP,
:meth:`Fleet.receive_message` for what a TCP stream framed), calls :meth:`Fleet.poll` when
:meth:`Fleet.next_deadline` is due, and carries the bytes the fleet hands to its ``transmit`` callable:
``transmit(link, data, address)`` (address None on a TCP link). Nothing here reads a clock: ``now`` is the
caller's monotonic seconds.

- Requests of the platform are routed by the user of the Request-URI (a device ID, or a channel ID whose
  device is found by arithmetic), then of To: all devices may share one socket, as behind a NAT. Over UDP
  the answer to a request is kept for 64*T1 and sent again when the request is retransmitted.
- Requests of a device are client transactions keyed by branch: over UDP sent again after T1, doubling up
  to T2, until an answer or 64*T1 (RFC 3261 17.1.2); over TCP only the timeout runs.
- Hot path (keepalive answers): a datagram that starts ``SIP/2.0 2`` and whose first ``branch=`` is a
  pending keepalive is settled without parsing; anything else is parsed in full (bench/bench_sim.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import OrderedDict
from collections.abc import Callable

from xueliang.protocol.manscdp import CatalogItem, ManscdpError
from xueliang.protocol.sip import (
    BRANCH_MAGIC,
    LocalProtocolError,
    Message,
    RemoteProtocolError,
    Request,
    Response,
    make_response,
    parse_datagram,
    response_target,
)
from xueliang.sim import channels
from xueliang.sim.config import SimConfig
from xueliang.sim.context import Context, Link, Stats
from xueliang.sim.device_core import Device
from xueliang.sim.effects import Action, AlarmRecord, Effect, KeyframeWanted, Later, Purpose, Reply, Send
from xueliang.sim.scheduler import RateLimiter, Scheduler

__all__ = ["Fleet", "Transmit"]

Address = tuple[str, int]
Transmit = Callable[[int, bytes, Address | None], None]

_REGISTER_NOW, _KEEPALIVE, _RETRANSMIT, _UNREGISTER = (
    int(Action.REGISTER_NOW),
    int(Action.KEEPALIVE),
    int(Action.RETRANSMIT),
    int(Action.UNREGISTER),
)
_BRANCH = re.compile(rb"branch=([^;,\s]+)")
log = logging.getLogger(__name__)


class Pending:
    """One client transaction of a device, until its final answer or its timeout."""

    __slots__ = ("alarm", "call_id", "data", "deadline", "device", "interval", "purpose", "rest", "token")

    def __init__(self, device: int, purpose: Purpose, data: bytes, deadline: float, interval: float) -> None:
        self.device = device
        self.purpose = purpose
        self.data = data
        self.deadline = deadline
        self.interval = interval
        self.token = 0
        self.rest: tuple[bytes, ...] = ()
        self.alarm: AlarmRecord | None = None
        self.call_id: str | None = None


class Fleet:
    """Every device of a :class:`SimConfig`, spread over ``links`` (device ``i`` uses link ``i % len(links)``)."""

    def __init__(
        self,
        config: SimConfig,
        links: list[Link],
        transmit: Transmit,
        *,
        server: Address,
        local_time: Callable[[], dt.datetime] = dt.datetime.now,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.ctx = Context(config, links, local_time=local_time, on_change=on_change)
        self.links = links
        self.server = server
        self.devices = [Device(self.ctx, index, index % len(links)) for index in range(config.count)]
        self.by_id = {device.device_id: device for device in self.devices}
        self.scheduler = Scheduler()
        self.limiter = RateLimiter(config.register_rate)
        self._transmit = transmit
        #: (device ID, channel ID) of a keyframe request; set by the runtime that owns the media senders
        self.on_keyframe_wanted: Callable[[str, str], None] | None = None
        self._pending: dict[str, Pending] = {}
        self._answered: OrderedDict[tuple[str, str], tuple[float, bytes, Address | None]] = OrderedDict()
        self._timeout = 64 * config.t1
        self._leaving = False  # unregister_all was called: no new registrations

    @property
    def stats(self) -> Stats:
        return self.ctx.stats

    @property
    def pending(self) -> int:
        """Client transactions awaiting their answer."""
        return len(self._pending)

    def next_deadline(self) -> float | None:
        return self.scheduler.next_deadline()

    def start(self, now: float) -> None:
        """Register every device, at most ``register_rate`` a second; keepalive phases count from ``now``."""
        self.ctx.epoch = now
        for device in self.devices:
            self._register_soon(device, now)

    def refresh_online(self) -> int:
        """Count the devices registered whose last keepalive was not lost (``stats.online``)."""
        online = sum(1 for device in self.devices if device.registered and not device.keepalive_misses)
        self.stats.online = online
        return online

    # ------------------------------------------------------------------------------------------ timers

    def poll(self, now: float, limit: int | None = None) -> bool:
        """Run the timers due at ``now`` (at most ``limit``); True when more are due already."""
        devices = self.devices
        for wake in self.scheduler.pop_due(now, limit):
            action = wake.action
            if action == _KEEPALIVE:
                self._keepalive(devices[wake.device], wake.when, wake.token, now)
            elif action == _RETRANSMIT:
                self._retransmit(str(wake.token), now)
            else:
                device = devices[wake.device]
                if wake.token != device.reg_gen or (self._leaving and action != _UNREGISTER):
                    continue
                if action == _REGISTER_NOW:
                    self._apply(device, device.begin_registration(now), now)
                elif action == _UNREGISTER:
                    self._apply(device, device.begin_registration(now, expires=0), now)
                else:  # REGISTER, REBOOTED
                    self._register_soon(device, now)
        deadline = self.scheduler.next_deadline()
        return deadline is not None and deadline <= now

    def _register_soon(self, device: Device, now: float) -> None:
        self.scheduler.push(self.limiter.slot(now), device.index, _REGISTER_NOW, device.reg_gen)

    def _keepalive(self, device: Device, due: float, token: object, now: float) -> None:
        if token != device.ka_gen:
            return
        if not device.registered:
            device.keepalive_running = False
            return
        ident = self.ctx.next_id()
        self._start(device, BRANCH_MAGIC + ident, device.keepalive(ident), Purpose.KEEPALIVE, now)
        self.stats.keepalives_sent += 1
        due += self.config.keepalive_interval
        if due <= now:  # fell behind by a whole interval: back on the phase
            due = device.next_keepalive_at(now)
        self.scheduler.push(due, device.index, _KEEPALIVE, token)

    # ----------------------------------------------------------------------------- client transactions

    def _start(self, device: Device, branch: str, data: bytes, purpose: Purpose, now: float) -> Pending:
        pending = Pending(device.index, purpose, data, now + self._timeout, self.config.t1)
        self._pending[branch] = pending
        reliable = self.links[device.link].reliable
        self._transmit(device.link, data, None if reliable else self.server)
        first = self._timeout if reliable else self.config.t1
        self.scheduler.push(now + first, device.index, _RETRANSMIT, branch)
        return pending

    def _retransmit(self, branch: str, now: float) -> None:
        pending = self._pending.get(branch)
        if pending is None:
            return
        if now >= pending.deadline:
            del self._pending[branch]
            self._settle(pending, None, now)
            return
        link = self.devices[pending.device].link
        if not self.links[link].reliable:
            self._transmit(link, pending.data, self.server)
            self.stats.retransmissions += 1
            pending.interval = min(2 * pending.interval, self.config.t2)
        self.scheduler.push(min(now + pending.interval, pending.deadline), pending.device, _RETRANSMIT, branch)

    def _settle(self, pending: Pending, response: Response | None, now: float) -> None:
        """A client transaction ended: its final ``response``, or None on timeout."""
        device = self.devices[pending.device]
        status = None if response is None else response.status_code
        purpose = pending.purpose
        effects: list[Effect] = []
        if purpose is Purpose.KEEPALIVE:
            effects = device.on_keepalive_answer(status, now)
        elif purpose is Purpose.REGISTER:
            if response is None:
                effects = device.on_register_timeout(pending.token, now)
            else:
                effects = device.on_register_response(response, pending.token, now)
                if self._leaving and device.registered and device.requested_expires:  # registered meanwhile
                    self.scheduler.push(self.limiter.slot(now), device.index, _UNREGISTER, device.reg_gen)
        elif purpose is Purpose.ANSWER:
            if status is not None and 200 <= status < 300:
                if pending.rest:
                    effects = [device.message(pending.rest[0], Purpose.ANSWER, rest=pending.rest[1:])]
            else:
                self.stats.answers_failed += 1
        elif purpose is Purpose.NOTIFY:
            device.on_notify_answer(pending.call_id, status)
        elif pending.alarm is not None:
            device.on_alarm_answer(pending.alarm, status)
        self._apply(device, effects, now)

    def _apply(self, device: Device, effects: list[Effect], now: float) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self._send(device, effect, now)
            elif isinstance(effect, Later):
                self.scheduler.push(effect.at, device.index, int(effect.action), effect.token)
            elif isinstance(effect, KeyframeWanted):
                if self.on_keyframe_wanted is not None:
                    self.on_keyframe_wanted(device.device_id, effect.channel_id)
            else:
                raise AssertionError(f"a reply outside a request: {effect!r}")

    def _send(self, device: Device, send: Send, now: float) -> None:
        pending = self._start(device, send.branch, bytes(send.request), send.purpose, now)
        pending.token, pending.rest, pending.alarm, pending.call_id = send.token, send.rest, send.alarm, send.call_id
        if send.purpose is Purpose.ANSWER:
            self.stats.answers_sent += 1
        elif send.purpose is Purpose.NOTIFY:
            self.stats.notifies_sent += 1

    # ------------------------------------------------------------------------------------------ input

    def receive_datagram(self, data: bytes, link: int, source: Address, now: float) -> None:
        """One UDP datagram from ``source`` on ``link``."""
        if data.startswith(b"SIP/2.0 2"):
            match = _BRANCH.search(data)
            if match is not None:
                branch = match.group(1).decode("ascii", "replace")
                pending = self._pending.get(branch)
                if pending is not None and pending.purpose is Purpose.KEEPALIVE:
                    del self._pending[branch]
                    self.devices[pending.device].on_keepalive_answer(200, now)
                    return
        try:
            message = parse_datagram(data)
        except RemoteProtocolError:
            self.stats.errors += 1
            return
        if message is not None:
            self.receive_message(message, link, source, now)

    def receive_message(self, message: Message, link: int, source: Address | None, now: float) -> None:
        """A parsed message from ``source`` (None on TCP) on ``link``."""
        try:
            if isinstance(message, Response):
                self._on_response(message, now)
            else:
                self._on_request(message, link, source, now)
        except RemoteProtocolError:  # a header the transaction needed was unreadable
            self.stats.errors += 1

    def _on_response(self, response: Response, now: float) -> None:
        if response.status_code < 200:
            return
        pending = self._pending.pop(response.via.branch or "", None)
        if pending is not None:  # else a late or retransmitted answer
            self._settle(pending, response, now)

    def _on_request(self, request: Request, link: int, source: Address | None, now: float) -> None:
        method = request.method
        key: tuple[str, str] | None = None
        if not self.links[link].reliable and method != "ACK":
            key = (request.via.branch or request.call_id, method)
            cached = self._answered.get(key)
            if cached is not None:  # a retransmission: the same answer again
                self._transmit(link, cached[1], cached[2])
                return
        device = self._route(request)
        if device is None:
            self.stats.errors += 1
            if method != "ACK":
                self._reply(request, make_response(request, 404), link, source, key, now)
            return
        try:
            effects = device.on_request(request, now)
        except (ManscdpError, LocalProtocolError) as exc:  # an answer we could not build: our bug, their 500
            log.warning("device %s could not answer %s: %s", device.device_id, method, exc)
            self.stats.errors += 1
            effects = [Reply(make_response(request, 500))]
        for effect in effects:
            if isinstance(effect, Reply):
                self._reply(request, effect.response, link, source, key, now)
            else:
                self._apply(device, [effect], now)

    def _route(self, request: Request) -> Device | None:
        users = [request.uri.user, request.to.uri.user]
        for user in users:
            if user and (device := self.by_id.get(user)) is not None:
                return device
        for user in users:
            if not user:
                continue
            channel = self.ctx.content.channel_of(user)
            index = channel.device_index if channel is not None else self.ctx.added_owner(user)
            if index is not None:
                return self.devices[index]
        return None

    def _reply(
        self,
        request: Request,
        response: Response,
        link: int,
        source: Address | None,
        key: tuple[str, str] | None,
        now: float,
    ) -> None:
        data = bytes(response)
        address = None
        if source is not None and not self.links[link].reliable:
            address = response_target(request.via, source)
            if key is not None:
                answered = self._answered
                answered[key] = (now + self._timeout, data, address)
                while answered:
                    first = next(iter(answered.values()))
                    if first[0] > now:
                        break
                    answered.popitem(last=False)
        self._transmit(link, data, address)

    # ---------------------------------------------------------------------------------------- links

    def link_down(self, link: int, now: float) -> None:
        """A TCP connection closed: its devices lose their registration; their requests fail now."""
        self.links[link].up = False
        for device in self.devices[link :: len(self.links)]:
            device.disconnected()
        for branch, pending in list(self._pending.items()):
            if self.devices[pending.device].link == link:
                del self._pending[branch]
                self._settle(pending, None, now)

    def link_up(self, link: int, host: str, port: int, now: float) -> None:
        """A TCP connection (re)opened from ``host:port``: its devices register (again)."""
        self.links[link].moved(host, port)
        self.links[link].up = True
        for device in self.devices[link :: len(self.links)]:
            if not device.registered:
                self._register_soon(device, now)

    # ------------------------------------------------------------------------------------------- API

    def device(self, device_id: str) -> Device:
        """A device of this run by ID; KeyError when unknown."""
        return self.by_id[device_id]

    def set_channel_online(self, device_id: str, channel_id: str, online: bool, now: float) -> int:
        """Mark a channel ON or OFF; returns the number of NOTIFYs sent to subscribers."""
        device = self.device(device_id)
        return self._sent(device, channels.set_online(device, channel_id, online, now), now)

    def update_channel(self, device_id: str, channel_id: str, now: float, **changes: object) -> int:
        device = self.device(device_id)
        return self._sent(device, channels.update(device, channel_id, now, **changes), now)

    def add_channel(self, device_id: str, now: float, item: CatalogItem | None = None) -> CatalogItem:
        device = self.device(device_id)
        added, effects = channels.add(device, now, item)
        self._sent(device, effects, now)
        return added

    def remove_channel(self, device_id: str, channel_id: str, now: float) -> int:
        device = self.device(device_id)
        return self._sent(device, channels.remove(device, channel_id, now), now)

    def send_alarm(
        self,
        device_id: str,
        now: float,
        source_id: str | None = None,
        *,
        priority: int = 1,
        method: int = 2,
        alarm_type: str | None = None,
        description: str | None = None,
    ) -> AlarmRecord:
        """Send an Alarm Notify from ``source_id`` (a channel; the device itself when None)."""
        device = self.device(device_id)
        record, send = device.alarm(
            source_id or device_id,
            now,
            priority=priority,
            method=method,
            alarm_type=alarm_type,
            description=description,
        )
        self._send(device, send, now)
        return record

    def reboot(self, device_id: str, now: float) -> None:
        device = self.device(device_id)
        self._apply(device, device.reboot(now), now)

    def unregister_all(self, now: float) -> int:
        """REGISTER with Expires 0 for every registered device (rate-limited), and for those whose registration is
        under way when it succeeds; no registration starts after this. Returns how many were registered."""
        self._leaving = True
        count = 0
        for device in self.devices:
            if device.registered:
                count += 1
                self.scheduler.push(self.limiter.slot(now), device.index, _UNREGISTER, device.reg_gen)
        return count

    def _sent(self, device: Device, effects: list[Effect], now: float) -> int:
        self._apply(device, effects, now)
        return sum(1 for effect in effects if isinstance(effect, Send))
