"""Who is registered and online, in memory: one :class:`DeviceSession` per registered device.

A keepalive costs a dictionary lookup and two assignments: the session's ``last_seen`` moves, nothing else.
Deadlines live in a wheel of one-second buckets, checked lazily: when a bucket comes due, each session in it is
offline only if its real deadline (the last keepalive plus ``misses`` intervals, or the registration's expiry,
whichever is first) has passed; otherwise it moves to the bucket of its real deadline. So the wheel work per
device is one move per ``misses`` intervals, whatever the keepalive rate.

Changes (online, offline) are queued as :class:`~xueliang.store.device_records.OnlineChange` for the service to write
in batches; last-seen times are collected for a periodic batch update. Nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field

from xueliang.protocol.manscdp import Charset, Edition
from xueliang.signaling.transport import Peer
from xueliang.store.device_records import OnlineChange
from xueliang.store.models import utcnow


@dataclass(slots=True, eq=False)
class DeviceSession:
    """A registered device as the endpoint knows it."""

    device_id: str
    peer: Peer  # where it was last heard from: our requests go there (NAT), over its TCP connection if TCP
    edition: Edition
    expires_at: float  # monotonic
    last_seen: float  # monotonic
    interval: float  # keepalive interval assumed (s)
    charset: Charset = Charset.GB2312  # what it last sent in; we answer in kind
    online: bool = True
    contact: str | None = None
    cseq: int = 1
    subscription: object | None = None  # the catalog subscription dialog (signaling/subscriptions.py)
    faulty: tuple[str, ...] = field(default_factory=tuple)

    def next_cseq(self) -> int:
        self.cseq += 1
        return self.cseq


class Presence:
    """Registered devices, their deadlines and the changes not yet written."""

    def __init__(self, *, misses: int) -> None:
        self.misses = misses
        self.sessions: dict[str, DeviceSession] = {}
        self._wheel: dict[int, set[str]] = defaultdict(set)
        self._checked_to = math.floor(time.monotonic())
        self.changes: list[OnlineChange] = []
        self.seen: dict[str, dt.datetime] = {}
        self.awaiting: dict[str, float] = {}  # online before a restart: device -> when to give up on it

    def __len__(self) -> int:
        return len(self.sessions)

    def online_count(self) -> int:
        return sum(1 for session in self.sessions.values() if session.online)

    def get(self, device_id: str) -> DeviceSession | None:
        return self.sessions.get(device_id)

    def deadline(self, session: DeviceSession) -> float:
        return min(session.last_seen + self.misses * session.interval, session.expires_at)

    def _schedule(self, session: DeviceSession) -> None:
        self._wheel[math.ceil(self.deadline(session))].add(session.device_id)

    def register(self, session: DeviceSession, reason: str = "register") -> bool:
        """A device registered (or refreshed); True when it came online with this registration."""
        previous = self.sessions.get(session.device_id)
        self.sessions[session.device_id] = session
        came_online = previous is None or not previous.online
        restored = self.awaiting.pop(session.device_id, None) is not None
        if came_online and not restored:
            self._change(session.device_id, True, reason)
        if previous is not None:
            session.cseq = previous.cseq
            session.subscription = previous.subscription
        self._schedule(session)
        return came_online

    def unregister(self, device_id: str, reason: str = "unregister") -> DeviceSession | None:
        session = self.sessions.pop(device_id, None)
        if session is not None and session.online:
            self._change(device_id, False, reason)
        return session

    def heard(self, session: DeviceSession, peer: Peer, now: float) -> None:
        """A keepalive (or any message) from a registered device."""
        session.last_seen = now
        session.peer = peer
        self.seen[session.device_id] = utcnow()
        if not session.online:
            session.online = True
            self._change(session.device_id, True, "keepalive")
            self._schedule(session)

    def expect_back(self, device_ids: list[str], grace: float, now: float) -> None:
        """Devices online before a restart: they keep their state until ``grace`` seconds pass unregistered."""
        for device_id in device_ids:
            self.awaiting[device_id] = now + grace

    def sweep(self, now: float) -> list[str]:
        """Take every device past its deadline offline; returns their IDs."""
        went_offline: list[str] = []
        second = math.floor(now)
        for tick in range(self._checked_to + 1, second + 1):
            for device_id in self._wheel.pop(tick, ()):
                session = self.sessions.get(device_id)
                if session is None or not session.online:
                    continue
                deadline = self.deadline(session)
                if deadline > now:
                    self._wheel[math.ceil(deadline)].add(device_id)
                    continue
                session.online = False
                expired = session.expires_at <= now
                self._change(device_id, False, "expired" if expired else "keepalive-timeout")
                if expired:
                    del self.sessions[device_id]
                went_offline.append(device_id)
        self._checked_to = max(self._checked_to, second)
        gone = [device_id for device_id, until in self.awaiting.items() if until <= now]
        for device_id in gone:
            del self.awaiting[device_id]
            self._change(device_id, False, "restart")
            went_offline.append(device_id)
        return went_offline

    def _change(self, device_id: str, online: bool, reason: str) -> None:
        self.changes.append(OnlineChange(device_id=device_id, online=online, at=utcnow(), reason=reason))

    def take_changes(self) -> list[OnlineChange]:
        changes, self.changes = self.changes, []
        return changes

    def take_seen(self) -> dict[str, dt.datetime]:
        seen, self.seen = self.seen, {}
        return seen
