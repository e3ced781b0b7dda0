"""A sans-IO network for the simulator's unit tests: a :class:`Fleet` and a :class:`PlatformPeer` joined by
queues, on a clock the test moves. Nothing touches a socket.

``net.run(seconds)`` moves the clock in steps, firing the fleet's timers and carrying every message both ways
until quiet. ``net.drop`` decides which messages of the fleet are lost (retransmission tests); ``net.ask``
sends a request of the platform to a device and returns its final answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from xueliang.protocol.sip import Message, Request, Response, parse_message
from xueliang.sim.config import SimConfig
from xueliang.sim.context import Link
from xueliang.sim.fleet import Fleet
from xueliang.sim.platform_peer import PlatformPeer

SERVER_ID = "34150000002000000001"
SERVER = ("127.0.0.1", 5060)
WALL = 1_700_000_000.0  # the peer's wall clock is this plus the test clock
LOCAL_TIME = dt.datetime(2024, 5, 1, 12, 30, 0)


class Net:
    def __init__(self, config: SimConfig, peer: PlatformPeer | None) -> None:
        self.now = 100.0
        transport = "TCP" if config.reliable else "UDP"
        self.links = [Link(index, transport, "127.0.0.1", 5070 + index) for index in range(config.sockets)]
        self.fleet = Fleet(config, self.links, self._transmit, server=SERVER, local_time=lambda: LOCAL_TIME)
        self.peer = peer
        self.queue: list[tuple[int, bytes, tuple[str, int] | None]] = []
        self.log: list[tuple[float, int, Message]] = []  # everything the fleet sent, parsed
        self.drop: Callable[[Message], bool] = lambda message: False

    def _transmit(self, link: int, data: bytes, address: tuple[str, int] | None) -> None:
        self.queue.append((link, data, address))

    @property
    def sent(self) -> list[Message]:
        return [message for _, _, message in self.log]

    def requests(self, method: str | None = None) -> list[Request]:
        return [m for m in self.sent if isinstance(m, Request) and (method is None or m.method == method)]

    def pump(self) -> None:
        """Carry queued messages until nothing moves."""
        while self.queue:
            link, data, _ = self.queue.pop(0)
            message = parse_message(data)
            self.log.append((self.now, link, message))
            if self.drop(message) or self.peer is None:
                continue
            source = (self.links[link].host, self.links[link].port)
            for answer in self.peer.handle(message, source, link, WALL + self.now):
                self.deliver(answer, link)

    def deliver(self, message: Message, link: int = 0) -> None:
        """A message of the platform reaches the fleet on ``link``."""
        if self.links[link].reliable:
            self.fleet.receive_message(parse_message(bytes(message)), link, None, self.now)
        else:
            self.fleet.receive_datagram(bytes(message), link, SERVER, self.now)

    def run(self, seconds: float = 0.0, step: float = 0.01) -> None:
        end = self.now + seconds
        while True:
            self.pump()
            while self.fleet.poll(self.now):
                self.pump()
            self.pump()
            if self.now >= end:
                return
            self.now = min(end, self.now + step)
            self.fleet.poll(self.now)

    def start(self, seconds: float = 1.0) -> None:
        self.fleet.start(self.now)
        self.run(seconds)

    def ask(self, request: Request, link: int = 0) -> Response:
        """Send a request of the platform to the fleet and return the device's final answer."""
        branch = request.via.branch or ""
        self.deliver(request, link)
        self.pump()
        assert self.peer is not None
        answer = next((m for _, _, m in reversed(self.log) if isinstance(m, Response) and m.via.branch == branch), None)
        assert answer is not None, "the device did not answer"
        return answer


def make_config(**changes: Any) -> SimConfig:
    base = SimConfig(server_host=SERVER[0], server_port=SERVER[1], server_id=SERVER_ID, keepalive_interval=60)
    return replace(base, **changes)


@pytest.fixture
def net() -> Callable[..., Net]:
    """``net(peer=..., **config changes)``: a network with a peer (a PlatformPeer with digest by default)."""

    def build(*, peer: PlatformPeer | str | None = "default", **changes: Any) -> Net:
        chosen = PlatformPeer(SERVER_ID) if peer == "default" else peer
        assert not isinstance(chosen, str)
        return Net(make_config(**changes), chosen)

    return build


@pytest.fixture
def config() -> Callable[..., SimConfig]:
    return make_config
