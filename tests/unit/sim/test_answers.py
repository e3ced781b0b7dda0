"""Answers to the platform's queries: 200 at once, then MESSAGEs with the query's SN; catalog and record
fragments within a datagram over UDP, by item count over TCP, each after the previous one's 200; the device's
charset and edition."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from xueliang.domain.ids import Edition
from xueliang.protocol.manscdp import (
    CatalogQuery,
    CatalogResponse,
    Charset,
    DeviceInfo,
    DeviceInfoQuery,
    DeviceStatus,
    DeviceStatusQuery,
    RecordInfoQuery,
    RecordInfoResponse,
    parse,
)
from xueliang.protocol.sip import Request, make_response
from xueliang.sim.platform_peer import PlatformPeer

Net = Any
CODECS = {Charset.GB2312: "gb2312", Charset.GB18030: "gb18030", Charset.UTF8: "utf-8"}


def _answers(n: Net, sn: int) -> list[Request]:
    found = []
    for request in n.requests("MESSAGE"):
        message = parse(request.body).message
        if message.sn == sn and not request.body.count(b"Keepalive"):
            found.append(request)
    return found


def _catalog(n: Net, sn: int) -> list[CatalogResponse]:
    fragments = [parse(r.body).message for r in _answers(n, sn)]
    assert all(isinstance(f, CatalogResponse) for f in fragments)
    return fragments  # type: ignore[return-value]


def test_catalog_over_udp_fits_datagrams_and_counts_right(net: Callable[..., Net]) -> None:
    n = net(channels=16)
    n.start(1.0)
    device = n.fleet.devices[0]
    answer = n.ask(n.peer.message(device.device_id, CatalogQuery(41, device.device_id)))
    assert answer.status_code == 200 and not answer.body
    n.run(1.0)
    requests = _answers(n, 41)
    assert len(requests) >= 8  # a few items at most per datagram
    assert all(len(bytes(request)) <= 1300 for request in requests)
    fragments = _catalog(n, 41)
    assert all(f.sum_num == 16 and f.num == len(f.items) and not f.num_mismatch for f in fragments)
    ids = [item.device_id for f in fragments for item in f.items]
    assert ids == device.channel_ids() and len(set(ids)) == 16
    assert n.fleet.stats.queries_answered == 1 and n.fleet.stats.answers_sent == len(requests)


def test_each_fragment_waits_for_the_previous_200(net: Callable[..., Net]) -> None:
    peer = PlatformPeer("34150000002000000001")
    n = net(peer=peer, channels=6)
    n.start(1.0)
    device = n.fleet.devices[0]
    n.peer = None  # nobody answers: only the first fragment may go (and be retransmitted)
    n.deliver(peer.message(device.device_id, CatalogQuery(5, device.device_id)))
    n.run(0.7)  # past T1: the first fragment again, nothing else
    assert len({r.via.branch for r in _answers(n, 5)}) == 1
    assert n.fleet.stats.retransmissions >= 1
    n.peer = peer  # answers come: the rest follows, one after another
    n.run(2.0)
    distinct = {r.via.branch: parse(r.body).message for r in _answers(n, 5)}
    assert sum(len(f.items) for f in distinct.values()) == 6  # type: ignore[union-attr]


def test_catalog_over_tcp_by_item_count(net: Callable[..., Net]) -> None:
    n = net(channels=250, transport="tcp", tcp_catalog_items=100)
    n.start(1.0)
    device = n.fleet.devices[0]
    n.ask(n.peer.message(device.device_id, CatalogQuery(9, device.device_id), transport="TCP"))
    n.run(1.0)
    fragments = _catalog(n, 9)
    assert [len(f.items) for f in fragments] == [100, 100, 50]
    assert all(f.sum_num == 250 for f in fragments)
    assert all(r.via.transport == "TCP" for r in _answers(n, 9))


@pytest.mark.parametrize("charset", [Charset.GB2312, Charset.GB18030, Charset.UTF8])
def test_answers_are_in_the_devices_charset(net: Callable[..., Net], charset: Charset) -> None:
    n = net(channels=3, charset=charset)
    n.start(1.0)
    device = n.fleet.devices[0]
    n.ask(n.peer.message(device.device_id, CatalogQuery(3, device.device_id)))
    n.run(1.0)
    for request in _answers(n, 3):
        body = request.body
        assert body.startswith(f'<?xml version="1.0" encoding="{charset.label}"?>'.encode())
        text = body.decode(CODECS[charset])  # strict: the bytes really are in that charset
        assert "金安区" in text and "&#" not in text
        assert parse(body).charset is charset
    names = [item.name or "" for f in _catalog(n, 3) for item in f.items]
    assert all(name.startswith("金安区") for name in names)


def test_edition_layouts(net: Callable[..., Net]) -> None:
    for edition, has_owner in ((Edition.GB2016, True), (Edition.GB2022, False)):
        n = net(edition=edition)
        n.start(1.0)
        device = n.fleet.devices[0]
        n.ask(n.peer.message(device.device_id, CatalogQuery(2, device.device_id)))
        n.run(1.0)
        request = _answers(n, 2)[0]
        assert request.headers.get("X-GB-Ver") == ("2.0" if edition is Edition.GB2016 else "3.0")
        assert (b"<Owner>" in request.body) is has_owner
        assert (b"<SafetyWay>" in request.body) is has_owner
        if edition is Edition.GB2022:
            assert b"<BusinessGroupID>" not in request.body  # an NVR channel has no group


def test_catalog_item_content(net: Callable[..., Net]) -> None:
    n = net(channels=2)
    n.start(1.0)
    device = n.fleet.devices[0]
    n.ask(n.peer.message(device.device_id, CatalogQuery(4, device.device_id)))
    n.run(1.0)
    item = _catalog(n, 4)[0].items[0]
    assert item.civil_code == "341502" and item.status == "ON" and item.parent_id == device.device_id
    assert item.manufacturer and item.model and item.address and item.address.startswith("安徽省六安市金安区")
    assert item.longitude is not None and item.latitude is not None
    assert 116.0 < item.longitude < 117.0 and 31.0 < item.latitude < 32.1
    assert item.is_video_channel and item.device_id[10:13] == "131"


def test_platform_catalog_is_a_tree(net: Callable[..., Net]) -> None:
    n = net(channels=6, kind="platform", transport="tcp")
    n.start(1.0)
    device = n.fleet.devices[0]
    assert device.device_id[10:13] == "200"
    n.ask(n.peer.message(device.device_id, CatalogQuery(8, device.device_id), transport="TCP"))
    n.run(1.0)
    items = [item for f in _catalog(n, 8) for item in f.items]
    by_type: dict[str, list[str]] = {}
    for item in items:
        key = item.device_id[10:13] if len(item.device_id) == 20 else f"region{len(item.device_id)}"
        by_type.setdefault(key, []).append(item.device_id)
    assert by_type["200"] == [device.device_id]
    assert by_type["region4"] == ["3415"] and by_type["region6"] == ["341502"]
    assert len(by_type["215"]) == 1 and len(by_type["216"]) == 4 and len(by_type["131"]) == 6
    parents = {item.device_id: item.parent_id for item in items}
    group = by_type["215"][0]
    assert parents[group] == device.device_id
    assert all(parents[org] == group for org in by_type["216"])
    assert all(parents[camera] in by_type["216"] for camera in by_type["131"])
    assert _catalog(n, 8)[0].sum_num == len(items) == 14  # itself, 2 regions, group, 4 organisations, 6 cameras


def test_device_info_and_status(net: Callable[..., Net]) -> None:
    n = net(channels=4)
    n.start(1.0)
    device = n.fleet.devices[0]
    n.ask(n.peer.message(device.device_id, DeviceInfoQuery(11, device.device_id)))
    n.ask(n.peer.message(device.device_id, DeviceStatusQuery(12, device.device_id)))
    n.run(1.0)
    info = parse(_answers(n, 11)[0].body).message
    status = parse(_answers(n, 12)[0].body).message
    assert isinstance(info, DeviceInfo) and isinstance(status, DeviceStatus)
    assert info.channel == 4 and info.manufacturer and info.model and info.firmware and info.device_name
    assert status.is_online and status.device_time == dt.datetime(2024, 5, 1, 12, 30)
    assert [item.device_id for item in status.alarm_status] == device.channel_ids()


def test_record_info_hourly_files_in_fragments(net: Callable[..., Net]) -> None:
    n = net(channels=2)
    n.start(1.0)
    device = n.fleet.devices[0]
    channel = device.channel_ids()[1]
    start, end = dt.datetime(2024, 5, 1, 3, 30), dt.datetime(2024, 5, 1, 9, 0)
    answer = n.ask(n.peer.message(device.device_id, RecordInfoQuery(21, channel, start, end)))
    assert answer.status_code == 200
    n.run(1.0)
    requests = _answers(n, 21)
    assert all(len(bytes(r)) <= 1300 for r in requests)
    fragments = [parse(r.body).message for r in requests]
    assert all(isinstance(f, RecordInfoResponse) and f.sum_num == 6 for f in fragments)
    items = [item for f in fragments for item in f.items]  # type: ignore[union-attr]
    assert [(i.start_time, i.end_time) for i in items][:2] == [
        (start, dt.datetime(2024, 5, 1, 4)),
        (dt.datetime(2024, 5, 1, 4), dt.datetime(2024, 5, 1, 5)),
    ]
    assert items[-1].end_time == end and all(i.device_id == channel and i.file_size for i in items)


def test_record_info_of_an_unknown_channel_is_empty(net: Callable[..., Net]) -> None:
    n = net()
    n.start(1.0)
    device = n.fleet.devices[0]
    day = dt.datetime(2024, 5, 1)
    n.ask(n.peer.message(device.device_id, RecordInfoQuery(22, "34150200001319999999", day, day.replace(hour=5))))
    n.run(1.0)
    (fragment,) = [parse(r.body).message for r in _answers(n, 22)]
    assert isinstance(fragment, RecordInfoResponse) and fragment.sum_num == 0 and fragment.items == ()


def test_a_catalog_is_encoded_fragment_by_fragment_as_it_is_sent(
    net: Callable[..., Net], monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[int] = []
    encode = CatalogResponse.encode

    def counted(self: CatalogResponse, *args: Any, **kwargs: Any) -> bytes:
        encoded.append(self.sn)
        return encode(self, *args, **kwargs)

    monkeypatch.setattr(CatalogResponse, "encode", counted)
    peer = PlatformPeer("34150000002000000001")
    n = net(peer=peer, channels=250, transport="tcp", tcp_catalog_items=10)
    n.start(1.0)
    device = n.fleet.devices[0]
    n.peer = None  # nobody answers the first fragment: the rest waits, not encoded
    n.deliver(peer.message(device.device_id, CatalogQuery(6, device.device_id), transport="TCP"))
    n.run(0.5)
    assert len(_answers(n, 6)) == 1
    assert encoded == [6, 6]  # the first fragment, and the next one ahead
    n.peer = peer
    n.deliver(make_response(_answers(n, 6)[0], 200))  # the first fragment answered late: the rest follows
    n.run(2.0)
    fragments = _catalog(n, 6)
    assert len(fragments) == 25 == len(encoded)
    assert [item.device_id for f in fragments for item in f.items] == [i.device_id for i in device.catalog_items()]
