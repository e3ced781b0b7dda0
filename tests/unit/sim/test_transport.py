"""Transactions and links: retransmission with T1 doubling to T2 over UDP (none over TCP), the cached answer
to a retransmitted request, routing by device or channel ID over shared sockets, a lost TCP connection."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from xueliang.protocol.manscdp import CatalogQuery, Keepalive, parse
from xueliang.protocol.sip import Request, Response

Net = Any


def _is_keepalive(message: Any) -> bool:
    return isinstance(message, Request) and message.method == "MESSAGE" and b"Keepalive" in message.body


def test_udp_retransmits_t1_doubling_to_t2_then_gives_up(net: Callable[..., Net]) -> None:
    n = net(keepalive_interval=1000)
    n.start(1.0)
    n.drop = _is_keepalive
    device = n.fleet.devices[0]
    device.ka_gen += 1  # stop the scheduled keepalives; send one by hand
    n.fleet.scheduler.push(n.now, 0, 3, device.ka_gen)
    n.run(40.0, step=0.05)
    sent = [when for when, _, message in n.log if _is_keepalive(message)]
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(sent)]
    assert gaps[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert len(sent) == 11 and sent[-1] - sent[0] < 32.0  # 0.5 + 1 + 2 + 7 * 4 = 31.5 s, then timer F
    assert n.fleet.stats.keepalive_timeouts == 1 and n.fleet.pending == 0


def test_tcp_does_not_retransmit(net: Callable[..., Net]) -> None:
    n = net(transport="tcp", keepalive_interval=1000)
    n.start(1.0)
    n.drop = _is_keepalive
    device = n.fleet.devices[0]
    device.ka_gen += 1
    n.fleet.scheduler.push(n.now, 0, 3, device.ka_gen)
    n.run(40.0, step=0.1)
    assert len([m for _, _, m in n.log if _is_keepalive(m)]) == 1
    assert n.fleet.stats.keepalive_timeouts == 1 and n.fleet.stats.retransmissions == 0


def test_a_retransmitted_query_gets_the_same_200_and_one_answer(net: Callable[..., Net]) -> None:
    n = net(channels=2)
    n.start(1.0)
    device = n.fleet.devices[0]
    query = n.peer.message(device.device_id, CatalogQuery(90, device.device_id))
    first = n.ask(query)
    n.run(0.5)
    second = n.ask(query)
    assert bytes(first) == bytes(second)
    n.run(1.0)
    assert n.fleet.stats.queries_answered == 1
    answers = {r.via.branch for r in n.requests("MESSAGE") if b"<SN>90</SN>" in r.body}
    assert len(answers) == 2  # two fragments, each sent once


def test_requests_are_routed_by_device_or_channel_id(net: Callable[..., Net]) -> None:
    n = net(count=3, channels=2, sockets=2)
    n.start(1.0)
    third = n.fleet.devices[2]
    channel = third.channel_ids()[1]
    # a query addressed to a channel, reaching the "wrong" socket: still the third device answers
    answer = n.ask(n.peer.message(third.device_id, CatalogQuery(5, third.device_id), target=channel), link=1)
    assert answer.status_code == 200 and answer.to.uri.user == third.device_id
    n.run(1.0)
    fragments = [r for r in n.requests("MESSAGE") if b"<SN>5</SN>" in r.body]
    assert fragments and all(r.via.port == 5070 for r in fragments)  # device 2 lives on link 0
    assert all(parse(r.body).message.device_id == third.device_id for r in fragments)
    unknown = n.ask(n.peer.request("MESSAGE", "34150200001189999999", body=CatalogQuery(6, "x").encode()))
    assert unknown.status_code == 404


def test_devices_spread_over_sockets(net: Callable[..., Net]) -> None:
    n = net(count=6, sockets=3)
    n.start(1.0)
    ports = {r.from_.uri.user: r.via.port for r in n.requests("REGISTER")}
    assert [ports[d.device_id] for d in n.fleet.devices] == [5070, 5071, 5072, 5070, 5071, 5072]
    assert n.fleet.stats.registered == 6


def test_lost_tcp_connection_registers_again_on_the_new_one(net: Callable[..., Net]) -> None:
    n = net(count=4, sockets=2, transport="tcp", keepalive_interval=5)
    n.start(1.0)
    assert n.fleet.stats.registered == 4
    n.fleet.link_down(1, n.now)
    assert n.fleet.stats.registered == 2
    assert not n.fleet.devices[1].registered and not n.fleet.devices[3].registered
    mark = len(n.log)
    n.fleet.link_up(1, "127.0.0.1", 6001, n.now)
    n.links[1].port = 6001
    n.run(1.0)
    assert n.fleet.stats.registered == 4
    again = [m for _, _, m in n.log[mark:] if isinstance(m, Request) and m.method == "REGISTER"]
    assert {m.via.port for m in again} == {6001} and all(m.via.transport == "TCP" for m in again)
    n.run(6.0)
    keepalives = [m for _, _, m in n.log[mark:] if _is_keepalive(m)]
    assert {m.via.port for m in keepalives if m.from_.uri.user == n.fleet.devices[3].device_id} == {6001}


def test_a_keepalive_answer_is_settled_without_parsing(net: Callable[..., Net]) -> None:
    n = net(keepalive_interval=5)
    n.start(6.0)
    assert n.fleet.stats.keepalives_answered >= 1 and n.fleet.pending == 0
    keepalive = next(m for _, _, m in n.log if _is_keepalive(m))
    assert isinstance(parse(keepalive.body).message, Keepalive)
    late = n.peer.handle(keepalive, None, 0, 0.0)[0]
    assert isinstance(late, Response)
    n.deliver(late)  # a late duplicate answer is ignored
    assert n.fleet.stats.errors == 0
