"""Central SSRC allocation for GB/T 28181 media sessions (the ``y=`` line).

The checklist's rule: 10 decimal digits, ``0`` for live or ``1`` for history, then digits 4-8 of the platform's
domain ID, then 4 digits unique among the sessions of the domain. The SSRC is what a shared RTP port uses to tell
streams apart, so one allocator serves the whole SIP role and a value freed by a stream that just ended is held
back (``hold`` seconds) before it is handed out again: late packets of the old stream must not land in a new one.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SessionKind", "SsrcAllocator", "SsrcExhaustedError"]

UNIQUE_VALUES = 10_000  # the 4 unique digits
DEFAULT_HOLD = 60.0


class SessionKind(enum.IntEnum):
    """The first ``y=`` digit."""

    LIVE = 0
    HISTORY = 1


class SsrcExhaustedError(Exception):
    """Every SSRC of a kind is in use or held back."""


class SsrcAllocator:
    """Hands out SSRCs for one domain. Not thread-safe: used on the event loop."""

    def __init__(self, domain_id: str, *, hold: float = DEFAULT_HOLD, clock: Callable[[], float] = time.monotonic):
        if len(domain_id) < 8 or not domain_id[:8].isdigit():
            raise ValueError(f"domain ID must start with 8 digits: {domain_id!r}")
        self.middle = int(domain_id[3:8])  # digits 4-8
        self.hold = hold
        self.clock = clock
        self._in_use: set[int] = set()
        self._held: dict[int, float] = {}  # ssrc -> when it may be reused
        self._released: deque[int] = deque()  # held values in the order they were freed
        self._cursor = {kind: 0 for kind in SessionKind}

    def base(self, kind: SessionKind) -> int:
        """The smallest SSRC of ``kind``: the unique digits are added to it."""
        return int(kind) * 10**9 + self.middle * UNIQUE_VALUES

    def allocate(self, kind: SessionKind = SessionKind.LIVE) -> int:
        """A fresh SSRC of ``kind``; :class:`SsrcExhaustedError` when none is free."""
        self._expire(self.clock())
        base = self.base(kind)
        cursor = self._cursor[kind]
        for step in range(UNIQUE_VALUES):
            unique = (cursor + step) % UNIQUE_VALUES
            ssrc = base + unique
            if ssrc not in self._in_use and ssrc not in self._held:
                self._in_use.add(ssrc)
                self._cursor[kind] = (unique + 1) % UNIQUE_VALUES
                return ssrc
        raise SsrcExhaustedError(f"all {UNIQUE_VALUES} {kind.name.lower()} SSRCs are in use or held back")

    def release(self, ssrc: int) -> None:
        """The session of ``ssrc`` ended: the value is reusable after the hold (idempotent)."""
        if ssrc not in self._in_use:
            return
        self._in_use.discard(ssrc)
        self._held[ssrc] = self.clock() + self.hold
        self._released.append(ssrc)

    def in_use(self) -> int:
        return len(self._in_use)

    def held(self) -> int:
        self._expire(self.clock())
        return len(self._held)

    def _expire(self, now: float) -> None:
        released, held = self._released, self._held
        while released and held.get(released[0], now) <= now:
            held.pop(released.popleft(), None)
