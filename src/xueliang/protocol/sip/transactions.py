"""RFC 3261 section 17 transactions as explicit state tables, driven by the caller.

Four kinds: INVITE client (17.1.1), non-INVITE client (17.1.2), INVITE server (17.2.1), non-INVITE server
(17.2.2). Every transition lives in :data:`~xueliang.protocol.sip.transaction_table.TABLE`:
``(kind, state, input) -> (next state, actions)``; this module only walks it. An input the table does not
list raises :class:`LocalProtocolError` (firing a timer that is not running, sending a response after the
final one, anything after Terminated). Remote inputs (a retransmitted request, a late
response) are listed in every live state, absorbed when they mean nothing there.

No clock, no I/O: each call takes ``now`` (the caller's monotonic seconds) and returns events:
:class:`Transmit` (bytes to send), :class:`Deliver` (a message for the transaction user), :class:`Timeout`,
:class:`TransportFailed`, :class:`Terminated`. :meth:`Transaction.next_deadline` says when to call
:meth:`Transaction.poll` (or :meth:`Transaction.timer_fired` for one timer).

Timers (T1 = 500 ms, T2 = 4 s, T4 = 5 s): A and E (request retransmits; A doubles, E doubles up to T2), B, F, H
and J (64*T1), G (response retransmits, doubling up to T2), D (32 s), I and K (T4). On a reliable transport A,
E and G never run and D, I, J, K are zero: the transaction moves on at once.

RFC 3261 as written: a 2xx ends an INVITE transaction (its retransmission and ACK belong to the dialog layer);
RFC 6026's Accepted state is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

from xueliang.protocol.sip.builders import make_ack
from xueliang.protocol.sip.errors import LocalProtocolError, RemoteProtocolError
from xueliang.protocol.sip.fields import BRANCH_MAGIC
from xueliang.protocol.sip.message import Message, Request, Response
from xueliang.protocol.sip.transaction_table import (
    STATE_TIMERS,
    TABLE,
    TIMER_INPUT,
    Action,
    Input,
    Kind,
    State,
    Timer,
)

__all__ = [
    "DEFAULT_TIMERS",
    "ClientTransaction",
    "Deliver",
    "Event",
    "ServerTransaction",
    "Terminated",
    "Timeout",
    "TimerValues",
    "Transaction",
    "TransactionKey",
    "Transmit",
    "TransportFailed",
    "client_key",
    "server_key",
]


@dataclass(frozen=True, slots=True)
class TimerValues:
    """RFC 3261 timer bases in seconds; B, F, H and J are 64*T1."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    d: float = 32.0


DEFAULT_TIMERS = TimerValues()


@dataclass(frozen=True, slots=True)
class Transmit:
    data: bytes
    message: Message


@dataclass(frozen=True, slots=True)
class Deliver:
    message: Message


@dataclass(frozen=True, slots=True)
class Timeout:
    timer: Timer


@dataclass(frozen=True, slots=True)
class TransportFailed:
    pass


@dataclass(frozen=True, slots=True)
class Terminated:
    pass


Event = Transmit | Deliver | Timeout | TransportFailed | Terminated


@dataclass(frozen=True, slots=True)
class TransactionKey:
    """What matches a message to its transaction (RFC 3261 17.1.3 and 17.2.3)."""

    branch: str
    sent_by: str
    method: str


def client_key(message: Message) -> TransactionKey:
    """Key of a client transaction: top Via branch and CSeq method (for the request sent or a response)."""
    return TransactionKey(message.via.branch or "", "", message.cseq.method)


def server_key(request: Request, *, method: str | None = None) -> TransactionKey:
    """Key of a server transaction: branch, sent-by and method, ACK counting as INVITE (``method`` overrides,
    e.g. ``"INVITE"`` to find what a CANCEL cancels). Branches without the RFC 3261 cookie fall back to the
    RFC 2543 identity: Call-ID, From tag, CSeq number, top Via, Request-URI."""
    via = request.via
    wanted = method or ("INVITE" if request.method == "ACK" else request.method)
    branch = via.branch
    sent_by = f"{via.host.lower()}:{via.port or 5060}"
    if branch and branch.startswith(BRANCH_MAGIC):
        return TransactionKey(branch, sent_by, wanted)
    # the top Via without what a server stamps on it (received, rport), so the ACK matches its INVITE
    top = f"{via.transport.upper()} {sent_by};branch={branch or ''}"
    legacy = f"rfc2543|{request.call_id}|{request.from_.tag}|{request.cseq.number}|{top}|{request.uri}"
    return TransactionKey(legacy, sent_by, wanted)


class Transaction:
    """The machine both sides share: the table walk, the timers, the events. Use the two subclasses."""

    __slots__ = (
        "_fired",
        "_last_response",
        "_queue",
        "_request_bytes",
        "_timers",
        "key",
        "kind",
        "reliable",
        "request",
        "state",
        "values",
    )

    def __init__(
        self, kind: Kind, request: Request, key: TransactionKey, *, reliable: bool, timers: TimerValues
    ) -> None:
        self.kind = kind
        self.request = request
        self.key = key
        self.reliable = reliable
        self.values = timers
        self.state = State.INITIAL
        self._timers: dict[Timer, tuple[float, float]] = {}  # timer -> (deadline, interval)
        self._fired: tuple[Timer, float] | None = None  # the timer being handled and its interval
        self._last_response: Response | None = None
        self._request_bytes: bytes | None = None
        self._queue: list[Input] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind.value} {self.state.value} {self.key.branch}>"

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def deadlines(self) -> dict[Timer, float]:
        """The running timers and when each fires."""
        return {timer: deadline for timer, (deadline, _) in self._timers.items()}

    def next_deadline(self) -> float | None:
        """When the earliest running timer fires (the caller's clock), or None."""
        return min((deadline for deadline, _ in self._timers.values()), default=None)

    def timer_fired(self, timer: Timer, now: float) -> list[Event]:
        """Timer ``timer`` expired; raises :class:`LocalProtocolError` when it is not running."""
        running = self._timers.pop(timer, None)
        if running is None:
            raise LocalProtocolError(f"{self._where()}: timer {timer.value} is not running")
        self._fired = (timer, running[1])
        return self._run(TIMER_INPUT[timer], now, None)

    def poll(self, now: float) -> list[Event]:
        """Fire every timer due at ``now``, earliest first."""
        events: list[Event] = []
        while self._timers:
            timer, (deadline, _) = min(self._timers.items(), key=lambda item: item[1][0])
            if deadline > now:
                break
            events.extend(self.timer_fired(timer, now))
        return events

    def transport_error(self, now: float) -> list[Event]:
        """The transport could not send (ICMP error, TCP connection gone)."""
        return self._run(Input.TRANSPORT_ERROR, now, None)

    def _where(self) -> str:
        return f"{self.kind.value} transaction ({self.state.value})"

    def _run(self, first: Input, now: float, message: Message | None) -> list[Event]:
        events: list[Event] = []
        queue = self._queue
        queue.append(first)
        while queue:
            current = queue.pop(0)
            entry = TABLE.get((self.kind, self.state, current))
            if entry is None:
                queue.clear()
                raise LocalProtocolError(f"{self._where()}: {current.value} is not allowed")
            if current is not first:
                self._fired = (_INPUT_TIMER[current], 0.0)  # a zero timer armed by the previous step
            next_state, actions = entry
            for action in actions:
                self._act(action, now, message, events)
            if next_state is not self.state:
                self._enter(next_state, events)
            message = None
        self._fired = None
        return events

    def _enter(self, state: State, events: list[Event]) -> None:
        self.state = state
        allowed = STATE_TIMERS.get((self.kind, state), frozenset())
        for timer in [timer for timer in self._timers if timer not in allowed]:
            del self._timers[timer]
        if state is State.TERMINATED:
            self._queue.clear()
            events.append(Terminated())

    def _arm(self, timer: Timer, interval: float, now: float) -> None:
        if interval <= 0:
            self._queue.append(TIMER_INPUT[timer])  # a zero timer fires at once
        else:
            self._timers[timer] = (now + interval, interval)

    def _fired_interval(self) -> float:
        assert self._fired is not None, "a backoff action runs only on a timer input"
        return self._fired[1]

    def _act(self, action: Action, now: float, message: Message | None, events: list[Event]) -> None:
        values = self.values
        reliable = self.reliable
        if action is Action.TRANSMIT_REQUEST:
            if self._request_bytes is None:
                self._request_bytes = bytes(self.request)
            events.append(Transmit(self._request_bytes, self.request))
        elif action is Action.DELIVER:
            events.append(Deliver(message if message is not None else self.request))
        elif action is Action.TRANSMIT_ACK or action is Action.RETRANSMIT_ACK:
            assert isinstance(message, Response)
            ack = make_ack(self.request, message)
            events.append(Transmit(bytes(ack), ack))
        elif action is Action.TRANSMIT_RESPONSE:
            assert isinstance(message, Response)
            self._last_response = message
            events.append(Transmit(bytes(message), message))
        elif action is Action.RETRANSMIT_RESPONSE:
            if self._last_response is not None:
                events.append(Transmit(bytes(self._last_response), self._last_response))
        elif action in _RETRANSMIT_TIMERS:
            if not reliable:
                self._arm(_RETRANSMIT_TIMERS[action], values.t1, now)
        elif action is Action.BACKOFF_A:
            self._arm(Timer.A, 2 * self._fired_interval(), now)
        elif action is Action.BACKOFF_E:
            self._arm(Timer.E, min(2 * self._fired_interval(), values.t2), now)
        elif action is Action.BACKOFF_G:
            self._arm(Timer.G, min(2 * self._fired_interval(), values.t2), now)
        elif action is Action.RESTART_E_T2:
            self._arm(Timer.E, values.t2, now)
        elif action in _TIMEOUT_TIMERS:
            self._arm(_TIMEOUT_TIMERS[action], 64 * values.t1, now)
        elif action is Action.START_D:
            self._arm(Timer.D, 0.0 if reliable else values.d, now)
        elif action is Action.START_J:
            self._arm(Timer.J, 0.0 if reliable else 64 * values.t1, now)
        elif action is Action.START_I:
            self._arm(Timer.I, 0.0 if reliable else values.t4, now)
        elif action is Action.START_K:
            self._arm(Timer.K, 0.0 if reliable else values.t4, now)
        elif action is Action.REPORT_TIMEOUT:
            assert self._fired is not None
            events.append(Timeout(self._fired[0]))
        else:
            assert action is Action.REPORT_TRANSPORT_ERROR
            events.append(TransportFailed())


_INPUT_TIMER = {value: key for key, value in TIMER_INPUT.items()}
_RETRANSMIT_TIMERS = {Action.START_A: Timer.A, Action.START_E: Timer.E, Action.START_G: Timer.G}
_TIMEOUT_TIMERS = {Action.START_B: Timer.B, Action.START_F: Timer.F, Action.START_H: Timer.H}


class ClientTransaction(Transaction):
    """We send ``request`` and wait for its responses. ``reliable``: the request goes over TCP."""

    __slots__ = ()

    def __init__(self, request: Request, *, reliable: bool, timers: TimerValues = DEFAULT_TIMERS) -> None:
        if request.method == "ACK":
            raise LocalProtocolError("an ACK has no client transaction; send it directly")
        kind = Kind.INVITE_CLIENT if request.method == "INVITE" else Kind.NON_INVITE_CLIENT
        super().__init__(kind, request, client_key(request), reliable=reliable, timers=timers)

    def start(self, now: float) -> list[Event]:
        """Send the request (the first :class:`Transmit`) and start the timers."""
        return self._run(Input.START, now, None)

    def receive(self, response: Response, now: float) -> list[Event]:
        """A response whose :func:`client_key` is this transaction's key."""
        try:
            key = client_key(response)
        except RemoteProtocolError as exc:
            raise LocalProtocolError(f"response cannot be matched: {exc.message}") from exc
        if key != self.key:
            raise LocalProtocolError(f"{self._where()}: response for another transaction {key}")
        if response.status_code < 200:
            signal = Input.RESPONSE_1XX
        elif response.status_code < 300:
            signal = Input.RESPONSE_2XX
        else:
            signal = Input.RESPONSE_FINAL
        return self._run(signal, now, response)


class ServerTransaction(Transaction):
    """A request reached us; the transaction user answers it through :meth:`send`."""

    __slots__ = ()

    def __init__(self, request: Request, *, reliable: bool, timers: TimerValues = DEFAULT_TIMERS) -> None:
        if request.method == "ACK":
            raise LocalProtocolError("an ACK creates no server transaction (it belongs to its INVITE's)")
        kind = Kind.INVITE_SERVER if request.method == "INVITE" else Kind.NON_INVITE_SERVER
        super().__init__(kind, request, server_key(request), reliable=reliable, timers=timers)

    def start(self, now: float) -> list[Event]:
        """Take the request that created the transaction: it is delivered to the transaction user."""
        return self._run(Input.START, now, None)

    def receive(self, request: Request, now: float) -> list[Event]:
        """The request again (a retransmission) or, for INVITE, the ACK of a 3xx-6xx answer."""
        if server_key(request) != self.key:
            raise LocalProtocolError(f"{self._where()}: request for another transaction")
        return self._run(Input.ACK if request.method == "ACK" else Input.REQUEST, now, request)

    def send(self, response: Response, now: float) -> list[Event]:
        """Send the transaction user's ``response`` (1xx any number of times, then one final)."""
        if response.status_code < 200:
            signal = Input.SEND_1XX
        elif response.status_code < 300:
            signal = Input.SEND_2XX
        else:
            signal = Input.SEND_FINAL
        return self._run(signal, now, response)
