"""The timer queue, the registration rate limit and the spreading of keepalives over the interval."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any

from xueliang.protocol.manscdp import Keepalive, parse
from xueliang.sim.scheduler import RateLimiter, Scheduler

Net = Any


def test_scheduler_pops_in_time_order_within_the_limit() -> None:
    scheduler = Scheduler()
    for when, device in ((3.0, 1), (1.0, 2), (2.0, 3), (1.0, 4)):
        scheduler.push(when, device, 7)
    assert scheduler.next_deadline() == 1.0
    assert [w.device for w in scheduler.pop_due(2.5, limit=2)] == [2, 4]  # equal times keep push order
    assert [w.device for w in scheduler.pop_due(2.5)] == [3]
    assert scheduler.next_deadline() == 3.0 and len(scheduler) == 1


def test_rate_limiter_spaces_starts() -> None:
    limiter = RateLimiter(100.0)
    slots = [limiter.slot(10.0) for _ in range(5)]
    assert slots == [10.0, 10.01, 10.02, 10.03, 10.04] or all(
        abs(a - b) < 1e-9 for a, b in zip(slots, [10.0, 10.01, 10.02, 10.03, 10.04], strict=True)
    )
    assert limiter.slot(20.0) == 20.0  # an idle limiter starts at once


def test_registrations_respect_the_rate(net: Callable[..., Net]) -> None:
    n = net(count=50, register_rate=100.0)
    n.fleet.start(n.now)
    n.run(0.2)
    assert 18 <= n.fleet.stats.registered <= 22  # 100/s for 0.2 s
    n.run(0.4)
    assert n.fleet.stats.registered == 50


def test_keepalives_spread_evenly_over_the_interval(net: Callable[..., Net]) -> None:
    """1,000 devices registered in the same instant: their keepalives cover the interval evenly, each device
    keeping its own phase."""
    n = net(count=1000, keepalive_interval=60, register_rate=1e6)
    n.start(0.5)
    assert n.fleet.stats.registered == 1000
    epoch = n.fleet.ctx.epoch
    n.run(120.0, step=0.05)
    times: dict[str, list[float]] = {}
    for when, _, message in n.log:
        if getattr(message, "method", None) == "MESSAGE":
            body = parse(message.body).message
            assert isinstance(body, Keepalive)
            times.setdefault(body.device_id, []).append(when)
    assert len(times) == 1000
    buckets = Counter(int((first[0] - epoch) % 60 // 6) for first in times.values())
    assert set(buckets) == set(range(10))
    assert all(80 <= count <= 120 for count in buckets.values()), buckets  # 100 per 6 s bucket
    for sent in times.values():
        assert len(sent) in (2, 3)
        assert all(abs(later - earlier - 60) < 0.06 for earlier, later in itertools.pairwise(sent))


def test_a_late_device_takes_its_phase(net: Callable[..., Net]) -> None:
    n = net(count=4, keepalive_interval=40)
    device = n.fleet.devices[2]
    n.fleet.ctx.epoch = 0.0
    assert device.next_keepalive_at(0.0) == 20.0  # device 2 of 4: phase 1/2 of the interval
    assert device.next_keepalive_at(20.0) == 60.0
    assert device.next_keepalive_at(1000.5) == 1020.0
