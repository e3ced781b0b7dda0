"""One timer queue for every device, and the rate limiter of registrations; no clock of their own.

100,000 devices keeping alive every 60 s need about 1,700 timers a second: one heap of plain tuples costs a
push and a pop each (a few microseconds), where an asyncio timer handle or task per device costs far more
memory and time. Entries are never removed: whoever pops one checks that it still means something (the
device's registration generation, a transaction still pending), so cancelling is free.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from typing import NamedTuple

__all__ = ["RateLimiter", "Scheduler", "Wake"]


class Wake(NamedTuple):
    """A due timer: when it was due, the device (index), what to do (an action code), and a token (the
    device's generation, or a transaction's branch)."""

    when: float
    seq: int
    device: int
    action: int
    token: object


class Scheduler:
    """A min-heap of :class:`Wake` entries, driven by the caller's clock."""

    __slots__ = ("_counter", "_heap")

    def __init__(self) -> None:
        self._heap: list[Wake] = []
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, when: float, device: int, action: int, token: object = None) -> None:
        heapq.heappush(self._heap, Wake(when, next(self._counter), device, action, token))

    def next_deadline(self) -> float | None:
        return self._heap[0].when if self._heap else None

    def pop_due(self, now: float, limit: int | None = None) -> Iterator[Wake]:
        """Pop entries due at ``now``, earliest first, at most ``limit`` of them. Entries pushed while iterating
        are seen when due."""
        heap = self._heap
        done = 0
        while heap and heap[0].when <= now and (limit is None or done < limit):
            done += 1
            yield heapq.heappop(heap)


class RateLimiter:
    """At most ``rate`` starts per second: :meth:`slot` hands out start times ``1/rate`` apart, never before
    ``now``. Callers ask in time order (timers pop in order, messages arrive at the present)."""

    __slots__ = ("_next", "interval")

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = float("-inf")

    def slot(self, now: float) -> float:
        start = max(now, self._next)
        self._next = start + self.interval
        return start
