"""Catalog subscriptions held on simulated devices and the NOTIFY events of channel changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xueliang.protocol.manscdp import CatalogEvent, CatalogNotify, CatalogQuery, parse
from xueliang.protocol.sip import Request

Net = Any


def _subscribe(n: Net, device_id: str, expires: int, *, call_id: str | None = None, to_tag: str | None = None) -> Any:
    body = CatalogQuery(70, device_id).encode()
    request = n.peer.request(
        "SUBSCRIBE",
        device_id,
        body=body,
        headers=[("Event", "Catalog;id=7"), ("Expires", str(expires))],
        call_id=call_id,
        to_tag=to_tag,
    )
    return request, n.ask(request)


def _notifies(n: Net) -> list[tuple[Request, CatalogNotify]]:
    found = []
    for request in n.requests("NOTIFY"):
        message = parse(request.body).message
        assert isinstance(message, CatalogNotify)
        found.append((request, message))
    return found


def test_subscribe_then_notify_on_off(net: Callable[..., Net]) -> None:
    n = net(channels=2)
    n.start(1.0)
    device = n.fleet.devices[0]
    channel = device.channel_ids()[1]
    request, answer = _subscribe(n, device.device_id, 600)
    assert answer.status_code == 200 and answer.expires == 600 and answer.to.tag
    assert answer.contact is not None and answer.contact.uri.user == device.device_id
    assert parse(answer.body).message.sn == 70
    assert n.fleet.set_channel_online(device.device_id, channel, False, n.now) == 1
    n.run(0.5)
    ((notify_request, notify),) = _notifies(n)
    assert notify_request.call_id == request.call_id
    assert notify_request.from_.tag == answer.to.tag and notify_request.to.tag == request.from_.tag
    assert notify_request.headers.get("Event") == "Catalog;id=7"
    assert (notify_request.headers.get("Subscription-State") or "").startswith("active;expires=")
    assert [(event, item.device_id) for event, item in notify.events()] == [(CatalogEvent.OFF, channel)]
    assert notify.sum_num == 1
    # the catalog now says OFF
    n.ask(n.peer.message(device.device_id, CatalogQuery(71, device.device_id)))
    n.run(1.0)
    statuses = {
        item.device_id: item.status
        for r in n.requests("MESSAGE")
        if b"<SN>71</SN>" in r.body
        for item in parse(r.body).message.items  # type: ignore[union-attr]
    }
    assert statuses[channel] == "OFF" and statuses[device.channel_ids()[0]] == "ON"
    n.fleet.set_channel_online(device.device_id, channel, True, n.now)
    n.run(0.5)
    assert _notifies(n)[-1][1].events()[0][0] is CatalogEvent.ON


def test_add_update_and_delete_events(net: Callable[..., Net]) -> None:
    n = net(channels=2)
    n.start(1.0)
    device = n.fleet.devices[0]
    _subscribe(n, device.device_id, 600)
    added = n.fleet.add_channel(device.device_id, n.now)
    assert added.device_id not in n.fleet.devices[0].channel_ids()[:2]
    assert added.device_id in device.channel_ids() and added.name and added.name.endswith("新增")
    n.fleet.update_channel(device.device_id, added.device_id, n.now, name="金安区新名字")
    n.fleet.remove_channel(device.device_id, device.channel_ids()[0], n.now)
    n.run(0.5)
    events = [notify.events()[0] for _, notify in _notifies(n)]
    assert [event for event, _ in events] == [CatalogEvent.ADD, CatalogEvent.UPDATE, CatalogEvent.DEL]
    assert events[0][1].name == added.name and events[1][1].name == "金安区新名字"
    assert events[2][1].name is None  # DEL carries the ID only
    assert len(device.channel_ids()) == 2
    # a request for the added channel reaches its device
    assert n.ask(n.peer.request("OPTIONS", device.device_id, target=added.device_id)).status_code == 200


def test_refresh_unsubscribe_and_unknown_dialog(net: Callable[..., Net]) -> None:
    n = net()
    n.start(1.0)
    device = n.fleet.devices[0]
    channel = device.channel_ids()[0]
    request, answer = _subscribe(n, device.device_id, 60)
    tag = answer.to.tag
    _, refreshed = _subscribe(n, device.device_id, 3600, call_id=request.call_id, to_tag=tag)
    assert refreshed.status_code == 200 and refreshed.expires == 3600
    _, ended = _subscribe(n, device.device_id, 0, call_id=request.call_id, to_tag=tag)
    assert ended.status_code == 200 and ended.expires == 0 and not device.subscriptions
    n.fleet.set_channel_online(device.device_id, channel, False, n.now)
    n.run(0.5)
    assert not _notifies(n)
    _, unknown = _subscribe(n, device.device_id, 60, call_id="nobody@x", to_tag="nope")
    assert unknown.status_code == 481


def test_expired_subscription_gets_no_notify(net: Callable[..., Net]) -> None:
    n = net()
    n.start(1.0)
    device = n.fleet.devices[0]
    _subscribe(n, device.device_id, 5)
    n.run(6.0)
    assert n.fleet.set_channel_online(device.device_id, device.channel_ids()[0], False, n.now) == 0
    assert not device.subscriptions


def test_unknown_event_is_489(net: Callable[..., Net]) -> None:
    n = net()
    n.start(1.0)
    device_id = n.fleet.devices[0].device_id
    request = n.peer.request("SUBSCRIBE", device_id, headers=[("Event", "presence"), ("Expires", "60")])
    assert n.ask(request).status_code == 489
