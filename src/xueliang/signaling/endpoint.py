"""The SIP endpoint: parses what the transport hands up, keeps the transactions, and hands requests to the
service. Everything here runs on the event loop and never waits on the database.

Server side. Requests go to the ``handler`` (the service) with the :class:`Peer` they came from; the service
answers through :meth:`SipEndpoint.respond`, at once or later. Retransmissions of a request already answered
(non-INVITE, RFC 3261 17.2.2) get the same answer again from a small cache that keeps each answer for Timer J
(32 s) as (status, To-tag) only, so 200,000 devices keeping alive cost a few megabytes; a retransmission of a
request still being handled is absorbed. Every handler is idempotent, so a retransmission that outlives the
cache is harmless.

Client side. :meth:`SipEndpoint.request` sends a request in an RFC 3261 client transaction (retransmitted over
UDP on the T1 doubling, Timer F at 32 s) and returns its final response; provisional answers are skipped.
:meth:`SipEndpoint.send_invite` starts an INVITE client transaction (Timer A/B) that lives on after its caller
stops waiting, so a late 3xx-6xx is still ACKed by the transaction; provisional answers go to a callback, and
responses no transaction claims (2xx retransmissions: the dialog layer ACKs them again) go to
:attr:`SipEndpoint.stray_response`. :meth:`SipEndpoint.send_direct` sends what has no transaction (the ACK of a
2xx).

Bad input (malformed messages, oversized datagrams, floods from one address) is dropped, counted in
:attr:`SipEndpoint.metrics` and logged once per source address and kind, never raised.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from xueliang.protocol.sip import (
    ClientTransaction,
    Deliver,
    Event,
    Limits,
    Message,
    QuickKeepalive,
    RemoteProtocolError,
    Request,
    Response,
    SipError,
    Terminated,
    Timeout,
    TransactionKey,
    Transmit,
    TransportFailed,
    client_key,
    make_response,
    new_tag,
    parse_datagram,
    quick_answer,
    response_target,
    server_key,
    stamp_source,
)
from xueliang.signaling.transport import UDP, Peer, SipTransport

log = logging.getLogger(__name__)

RequestHandler = Callable[[Request, Peer], None]
ResponseHandler = Callable[[Response, Peer], None]
FastPath = Callable[[bytes, Peer], bool]  # True when the datagram was handled without the full parse
ANSWER_CACHE_SECONDS = 32.0
_NOT_YET = (0, "")


class SipTimeoutError(Exception):
    """A request we sent got no final answer (Timer F / B) or its connection went away."""


@dataclass
class FloodGuard:
    """Per-source token buckets: ``rate`` messages per second with a burst of ``rate`` (one second's worth).
    A source is an address and port: the devices of a site behind one NAT address each have their own port."""

    rate: float
    buckets: dict[tuple[str, int], tuple[float, float]] = field(default_factory=dict)  # -> (tokens, last refill)
    swept_at: float = 0.0

    def allow(self, host: tuple[str, int], now: float) -> bool:
        tokens, last = self.buckets.get(host, (self.rate, now))
        tokens = min(self.rate, tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self.buckets[host] = (tokens, now)
            return False
        self.buckets[host] = (tokens - 1.0, now)
        if now - self.swept_at > 60.0:  # forget idle sources
            self.swept_at = now
            self.buckets = {h: b for h, b in self.buckets.items() if now - b[1] < 60.0}
        return True


class _AnswerCache:
    """Answers to non-INVITE requests by server transaction key, for retransmissions: two generations."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.current: dict[TransactionKey, tuple[int, str]] = {}
        self.previous: dict[TransactionKey, tuple[int, str]] = {}
        self.rotated_at = time.monotonic()

    def get(self, key: TransactionKey) -> tuple[int, str] | None:
        found = self.current.get(key)
        return found if found is not None else self.previous.get(key)

    def put(self, key: TransactionKey, value: tuple[int, str], now: float) -> None:
        if now - self.rotated_at > self.lifetime:
            self.previous, self.current = self.current, {}
            self.rotated_at = now
        self.current[key] = value

    def __len__(self) -> int:
        return len(self.current) + len(self.previous)


class SipEndpoint:
    """Transactions over one :class:`SipTransport`."""

    def __init__(
        self, handler: RequestHandler, *, limits: Limits, flood_rate: float, fast_path: FastPath | None = None
    ) -> None:
        self.handler = handler
        self.fast_path = fast_path
        self.limits = limits
        self.transport = SipTransport(self._on_datagram, self._on_message, self._on_frame_error, limits)
        self.metrics: Counter[str] = Counter()
        self.flood = FloodGuard(flood_rate)
        self._answers = _AnswerCache(ANSWER_CACHE_SECONDS / 2)
        self._clients: dict[TransactionKey, tuple[ClientTransaction, Peer, asyncio.Future[Response]]] = {}
        self._timers: dict[TransactionKey, asyncio.TimerHandle] = {}
        self._provisional: dict[TransactionKey, ResponseHandler] = {}
        self.stray_response: ResponseHandler | None = None
        self._logged: set[tuple[str, str]] = set()

    # --- lifecycle -------------------------------------------------------------------------------------------
    async def start(self, host: str, port: int) -> tuple[str, int]:
        return await self.transport.start(host, port)

    async def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for _txn, _peer, future in self._clients.values():
            if not future.done():
                future.set_exception(SipTimeoutError("endpoint closed"))
        self._clients.clear()
        await self.transport.close()

    # --- input -----------------------------------------------------------------------------------------------
    def _on_datagram(self, data: bytes, peer: Peer) -> None:
        if not self.flood.allow((peer.host, peer.port), time.monotonic()):
            self._drop("flood", peer, f"over {self.flood.rate:g} messages/s")
            return
        if self.fast_path is not None and self.fast_path(data, peer):
            return
        try:
            message = parse_datagram(data, self.limits)
        except RemoteProtocolError as exc:
            self._drop("malformed", peer, exc.message)
            return
        if message is not None:
            self._dispatch(message, peer)

    def _on_message(self, message: Message, peer: Peer) -> None:
        if not self.flood.allow((peer.host, peer.port), time.monotonic()):
            self._drop("flood", peer, f"over {self.flood.rate:g} messages/s")
            return
        self._dispatch(message, peer)

    def _on_frame_error(self, exc: RemoteProtocolError, peer: Peer) -> None:
        self._drop("malformed", peer, exc.message)

    def _drop(self, kind: str, peer: Peer, detail: str) -> None:
        self.metrics[f"dropped_{kind}"] += 1
        if (kind, peer.host) not in self._logged and len(self._logged) < 10_000:
            self._logged.add((kind, peer.host))
            log.warning("SIP %s from %s dropped (logged once per source): %s", kind, peer, detail)

    def _dispatch(self, message: Message, peer: Peer) -> None:
        if isinstance(message, Response):
            self.metrics["responses_in"] += 1
            self._on_response(message, peer)
            return
        self.metrics["requests_in"] += 1
        if message.method == "ACK":
            return  # ACKs of our non-2xx INVITE answers; dialogs come with media (next issue)
        if peer.transport == UDP:
            try:
                message = stamp_source(message, peer.host, peer.port)
            except SipError as exc:
                self._drop("malformed", peer, exc.message)
                return
        key = server_key(message)
        if message.method != "INVITE":
            cached = self._answers.get(key)
            if cached is not None:
                self.metrics["retransmissions_in"] += 1
                if cached is not _NOT_YET:
                    self._send(peer, make_response(message, cached[0], to_tag=cached[1] or None), message)
                return
            self._answers.put(key, _NOT_YET, time.monotonic())
        try:
            self.handler(message, peer)
        except SipError as exc:
            self.metrics["handler_errors"] += 1
            self.respond(message, peer, exc.status_hint if exc.status_hint >= 400 else 400, reason=None)
        except Exception:  # a bug must cost one request, never the endpoint
            self.metrics["handler_errors"] += 1
            log.exception("SIP handler failed on %s from %s", message.method, peer)
            self.respond(message, peer, 500)

    # --- answering -------------------------------------------------------------------------------------------
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
        """Answer ``request`` (received from ``peer``) with ``status``."""
        tag = request.to.tag or new_tag()
        response = make_response(request, status, reason, to_tag=tag, headers=headers, body=body)
        if request.method != "INVITE" and status >= 200:
            self._answers.put(server_key(request), (status, tag), time.monotonic())
        self._send(peer, response, request)

    def answer_keepalive(self, keepalive: QuickKeepalive, peer: Peer, status: int = 200) -> bool:
        """Answer a keepalive read by the fast path (a UDP datagram), exactly as :meth:`respond` would; False
        when it was a retransmission of one already answered (the same answer went out again)."""
        self.metrics["requests_in"] += 1
        cached = self._answers.get(keepalive.key)
        fresh = cached is None
        if cached is None or cached is _NOT_YET:
            cached = (status, keepalive.to_tag or new_tag())
            self._answers.put(keepalive.key, cached, time.monotonic())
        else:
            self.metrics["retransmissions_in"] += 1
        source = (peer.host, peer.port)
        data = quick_answer(keepalive, cached[0], to_tag=cached[1], source=source)
        target = keepalive.response_target(source)
        self.metrics["responses_out"] += 1
        if not self.transport.send(Peer(UDP, *target), data):
            self.metrics["send_failed"] += 1
        return fresh

    def _send(self, peer: Peer, response: Response, request: Request) -> None:
        if peer.transport == UDP:
            host, port = response_target(request.via, (peer.host, peer.port))
            target = Peer(UDP, host, port)
        else:
            target = peer
        self.metrics["responses_out"] += 1
        if not self.transport.send(target, bytes(response)):
            self.metrics["send_failed"] += 1

    # --- requesting ------------------------------------------------------------------------------------------
    async def request(self, peer: Peer, request: Request) -> Response:
        """Send ``request`` to ``peer`` in a client transaction; its final response, or SipTimeoutError."""
        loop = asyncio.get_running_loop()
        txn = ClientTransaction(request, reliable=peer.reliable)
        key = client_key(request)
        future: asyncio.Future[Response] = loop.create_future()
        self._clients[key] = (txn, peer, future)
        self.metrics["requests_out"] += 1
        self._handle_events(key, txn.start(time.monotonic()))
        try:
            return await future
        finally:
            self._forget(key)

    def send_invite(
        self, peer: Peer, request: Request, on_provisional: ResponseHandler | None = None
    ) -> asyncio.Future[Response]:
        """Start an INVITE client transaction; the future gets its final response (or SipTimeoutError at Timer B).
        The transaction outlives the future: cancelling the wait does not stop it (use CANCEL)."""
        loop = asyncio.get_running_loop()
        txn = ClientTransaction(request, reliable=peer.reliable)
        key = client_key(request)
        future: asyncio.Future[Response] = loop.create_future()
        self._clients[key] = (txn, peer, future)
        if on_provisional is not None:
            self._provisional[key] = on_provisional
        self.metrics["requests_out"] += 1
        self.metrics["invites_out"] += 1
        self._handle_events(key, txn.start(time.monotonic()))
        return future

    def send_direct(self, peer: Peer, request: Request) -> bool:
        """Send a request outside any transaction (the ACK of a 2xx); False when it could not be sent."""
        self.metrics["requests_out"] += 1
        sent = self.transport.send(peer, bytes(request))
        if not sent:
            self.metrics["send_failed"] += 1
        return sent

    def _on_response(self, response: Response, peer: Peer) -> None:
        key = client_key(response)
        entry = self._clients.get(key)
        if entry is None:
            if self.stray_response is not None and response.cseq.method == "INVITE":
                self.stray_response(response, peer)
                return
            self.metrics["responses_unmatched"] += 1
            return
        self._handle_events(key, entry[0].receive(response, time.monotonic()))

    def _handle_events(self, key: TransactionKey, events: list[Event]) -> None:
        entry = self._clients.get(key)
        if entry is None:
            return
        txn, peer, future = entry
        for event in events:
            if isinstance(event, Transmit):
                if not self.transport.send(peer, event.data):
                    self._handle_events(key, txn.transport_error(time.monotonic()))
                    return
            elif isinstance(event, Deliver):
                message = event.message
                if not isinstance(message, Response):
                    continue
                if message.status_code >= 200:
                    if not future.done():
                        future.set_result(message)
                elif (provisional := self._provisional.get(key)) is not None:
                    provisional(message, peer)
            elif isinstance(event, Timeout | TransportFailed):
                if not future.done():
                    future.set_exception(SipTimeoutError(f"no answer from {peer}"))
            elif isinstance(event, Terminated):
                if not future.done():
                    future.set_exception(SipTimeoutError(f"transaction to {peer} ended without an answer"))
                self._forget(key)
                return
        self._arm(key, txn)

    def _arm(self, key: TransactionKey, txn: ClientTransaction) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()
        deadline = txn.next_deadline()
        if deadline is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, deadline - time.monotonic())
        self._timers[key] = loop.call_later(delay, self._fire, key)

    def _fire(self, key: TransactionKey) -> None:
        self._timers.pop(key, None)
        entry = self._clients.get(key)
        if entry is not None:
            self._handle_events(key, entry[0].poll(time.monotonic()))

    def _forget(self, key: TransactionKey) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()
        self._clients.pop(key, None)
        self._provisional.pop(key, None)
