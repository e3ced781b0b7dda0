"""Registration of simulated devices, sans I/O: digest checked by the protocol layer's DigestChallenger,
refusals and backoff, refresh before expiry, Min-Expires, unregistration, re-registration on a refused keepalive."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from xueliang.protocol.manscdp import Charset, Keepalive, parse
from xueliang.protocol.sip import (
    DigestChallenger,
    Request,
    Verdict,
    credentials_in,
    format_gb_date,
    make_response,
)
from xueliang.sim.context import build_request
from xueliang.sim.platform_peer import PlatformPeer

REALM = "3415000000"
DATE = dt.datetime(2024, 5, 1, 8, 0, 0, 123000)

Net = Any


def test_register_answers_the_digest_challenge_and_keeps_the_date(net: Callable[..., Net]) -> None:
    n = net(peer=None, password="s3cret-pw")
    challenger = DigestChallenger(REALM, b"0123456789abcdef0123")
    n.start(0.0)
    first = n.requests("REGISTER")[-1]
    assert credentials_in(first) is None
    assert first.expires == 3600
    assert first.headers.get("X-GB-Ver") == "2.0"
    assert first.from_.uri.user == first.to.uri.user == n.fleet.devices[0].device_id
    n.deliver(make_response(first, 401, headers=[("WWW-Authenticate", str(challenger.challenge(1000.0)))]))
    n.pump()
    second = n.requests("REGISTER")[-1]
    credentials = credentials_in(second)
    assert credentials is not None and credentials.username == n.fleet.devices[0].device_id
    assert second.call_id == first.call_id and second.cseq.number == first.cseq.number + 1
    assert challenger.verify(credentials, method="REGISTER", password="s3cret-pw", now=1001.0) is Verdict.OK
    assert challenger.verify(credentials, method="REGISTER", password="wrong", now=1001.0) is Verdict.WRONG_PASSWORD
    n.deliver(make_response(second, 200, headers=[("Date", format_gb_date(DATE)), ("Expires", "600")]))
    n.pump()
    device = n.fleet.devices[0]
    assert device.registered and device.expires == 600
    assert device.server_date == DATE
    assert n.fleet.stats.registered == 1


def test_wrong_password_is_refused_and_retried_after_a_backoff(net: Callable[..., Net]) -> None:
    n = net(password="wrong", retry_backoff=10.0)
    n.start(1.0)
    device = n.fleet.devices[0]
    assert not device.registered and device.last_status == 403
    assert n.fleet.stats.registrations_rejected == 1
    sent = len(n.requests("REGISTER"))
    n.run(7.0)  # within 10 s * 0.8: no retry yet
    assert len(n.requests("REGISTER")) == sent
    n.run(6.0)
    assert len(n.requests("REGISTER")) > sent
    assert device.failures == 2  # refused again, the next wait doubles


def test_403_of_the_peer_then_accepted(net: Callable[..., Net]) -> None:
    peer = PlatformPeer("34150000002000000001")
    n = net(peer=peer, retry_backoff=2.0)
    peer.reject.add(n.fleet.devices[0].device_id)
    n.start(1.0)
    assert not n.fleet.devices[0].registered
    peer.reject.clear()
    n.run(5.0)
    assert n.fleet.devices[0].registered


def test_refresh_before_expiry_keeps_the_call_id(net: Callable[..., Net]) -> None:
    n = net(expires=100)
    n.start(1.0)
    first = n.requests("REGISTER")[0]
    n.run(90.0)
    registers = n.requests("REGISTER")
    assert len(registers) == 4  # 401 + 200, then again at 85 s
    assert {r.call_id for r in registers} == {first.call_id}
    assert n.fleet.devices[0].registered


def test_min_expires_is_honoured(net: Callable[..., Net]) -> None:
    n = net(peer=None, expires=30)
    n.start(0.0)
    first = n.requests("REGISTER")[-1]
    n.deliver(make_response(first, 423, headers=[("Min-Expires", "60")]))
    n.pump()
    assert n.requests("REGISTER")[-1].expires == 60


def test_a_refused_keepalive_means_register_again_at_once(net: Callable[..., Net]) -> None:
    peer = PlatformPeer("34150000002000000001")
    n = net(peer=peer, keepalive_interval=10)
    n.start(1.0)
    device = n.fleet.devices[0]
    assert device.registered
    peer.keepalive_status = 404  # the platform restarted and forgot the device
    before = len(n.requests("REGISTER"))
    n.run(10.0)
    assert n.fleet.stats.keepalives_rejected == 1
    assert len(n.requests("REGISTER")) == before + 2  # challenged and registered again at once
    assert device.registered
    peer.keepalive_status = 200
    n.run(10.0)
    assert n.fleet.stats.keepalives_answered >= 1


def test_three_lost_keepalives_mean_register_again(net: Callable[..., Net]) -> None:
    n = net(keepalive_interval=10)
    n.start(1.0)
    n.drop = lambda message: isinstance(message, Request) and message.method == "MESSAGE"
    before = len(n.requests("REGISTER"))
    n.run(45.0)  # keepalives at ~10, 20, 30 lost; each gives up after 32 s
    assert n.fleet.stats.keepalive_timeouts >= 1
    n.run(40.0)
    assert n.fleet.stats.keepalive_timeouts >= 3
    assert len(n.requests("REGISTER")) > before


def test_keepalive_bytes_are_what_the_builder_makes(net: Callable[..., Net]) -> None:
    n = net(edition="2022", charset=Charset.UTF8, keepalive_interval=5)
    n.start(6.0)
    keepalive = n.requests("MESSAGE")[-1]
    register = n.requests("REGISTER")[-1]
    assert keepalive.headers.get("X-GB-Ver") == "3.0" == register.headers.get("X-GB-Ver")
    assert keepalive.media_type == "application/manscdp+xml"
    assert keepalive.via.branch and keepalive.via.branch.startswith("z9hG4bK")
    assert keepalive.from_.tag and keepalive.via.rport_requested
    device = n.fleet.devices[0]
    built = build_request(
        n.fleet.ctx,
        n.links[0],
        "MESSAGE",
        device_id=device.device_id,
        edition=device.edition,
        ident=keepalive.from_.tag,
        cseq=keepalive.cseq.number,
        body=keepalive.body,
    )
    assert bytes(built) == bytes(keepalive)  # the template is the builder's output, byte for byte
    parsed = parse(keepalive.body)
    assert isinstance(parsed.message, Keepalive)
    assert parsed.message.device_id == n.fleet.devices[0].device_id
    assert parsed.charset is Charset.UTF8 and keepalive.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    n.run(5.0)
    later = n.requests("MESSAGE")[-1]
    later_sn = parse(later.body).message.sn
    assert later_sn == parsed.message.sn + 1 and later.cseq.number > keepalive.cseq.number
    assert later.call_id != keepalive.call_id and later.via.branch != keepalive.via.branch


def test_unregister_all_sends_expires_zero(net: Callable[..., Net]) -> None:
    n = net(count=3)
    n.start(1.0)
    assert n.fleet.stats.registered == 3
    assert n.fleet.unregister_all(n.now) == 3
    n.run(1.0)
    assert n.fleet.stats.registered == 0
    assert all(r.expires == 0 for r in n.requests("REGISTER")[-6:])
    assert not n.peer.registered
