"""What a simulated device asks the fleet to do, and the records it keeps of alarms and subscriptions.

Device methods (:mod:`xueliang.sim.device_core`) return :data:`Effect` lists: :class:`Reply` (the response to
the request being handled), :class:`Send` (a new request: one client transaction) and :class:`Later` (a timer
with the generation token that keeps it valid).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from xueliang.protocol.manscdp import Result
from xueliang.protocol.sip import NameAddr, Request, Response

__all__ = ["Action", "AlarmRecord", "Effect", "Later", "Purpose", "Reply", "Send", "Subscription"]


class Action(enum.IntEnum):
    """Timer actions (the fleet's scheduler stores these codes)."""

    REGISTER = 1  # start a registration (through the rate limiter)
    REGISTER_NOW = 2  # admitted by the limiter: send the REGISTER
    KEEPALIVE = 3
    REBOOTED = 4  # the TeleBoot delay is over
    RETRANSMIT = 5  # a client transaction's timer (token: its branch)
    UNREGISTER = 6  # send REGISTER with Expires 0 (admitted by the limiter)


class Purpose(enum.Enum):
    """What a request the device sends is for; decides what its answer means."""

    REGISTER = "register"
    KEEPALIVE = "keepalive"
    ANSWER = "answer"  # a fragment of an answer to the platform's query
    NOTIFY = "notify"
    ALARM = "alarm"


@dataclass(slots=True)
class AlarmRecord:
    """An alarm a device sent: the SIP status of its MESSAGE and, when the platform answered with a Response
    MESSAGE, its Result."""

    device_id: str
    source_id: str  # the DeviceID in the Alarm body: the channel (or the device)
    sn: int
    sent_at: float
    status: int | None = None  # SIP status of the MESSAGE's final answer; 408 when none came
    result: Result | None = None
    acknowledged_at: float | None = None

    @property
    def acknowledged(self) -> bool:
        return self.result is not None


@dataclass(slots=True)
class Subscription:
    """A subscription the platform holds on the device (RFC 6665 dialog, device side)."""

    event: str  # as received: Catalog, Alarm, ...
    event_id: str | None
    call_id: str
    local: NameAddr  # the SUBSCRIBE's To with our tag: From of our NOTIFYs
    remote: NameAddr  # the SUBSCRIBE's From: To of our NOTIFYs
    target: NameAddr  # the subscriber's Contact
    expires_at: float
    cseq: int = 0
    notifies: int = 0

    @property
    def is_catalog(self) -> bool:
        return self.event.lower() == "catalog"


@dataclass(frozen=True, slots=True)
class Reply:
    response: Response


@dataclass(frozen=True, slots=True)
class Send:
    request: Request
    branch: str
    purpose: Purpose
    rest: tuple[bytes, ...] = ()  # ANSWER: bodies of the fragments still to send, in order
    token: int = 0  # REGISTER: the registration generation it belongs to
    alarm: AlarmRecord | None = None
    call_id: str | None = None  # NOTIFY: the subscription


@dataclass(frozen=True, slots=True)
class Later:
    at: float
    action: Action
    token: int


@dataclass(frozen=True, slots=True)
class KeyframeWanted:
    """The platform asked a channel for a keyframe (DeviceControl IFameCmd): the runtime tells its streams."""

    channel_id: str


Effect = Reply | Send | Later | KeyframeWanted
