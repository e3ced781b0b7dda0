"""Registration, keepalive and bad input against the real endpoint over real UDP and TCP sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from xueliang.protocol import manscdp
from xueliang.protocol.sip import challenges_in, parse_gb_date
from xueliang.store.devices import DeviceStore
from xueliang.store.models import Device, DeviceRejection, OnlineEvent

from .conftest import PASSWORD, ScriptedDevice

pytestmark = pytest.mark.anyio

IPC = "34150200001320000001"
OTHER = "34150200001320000002"


async def settle(service: Any, seconds: float = 1.3) -> None:
    """Let the service's once-a-second tick write its batch."""
    await asyncio.sleep(seconds)


def rows(store: DeviceStore, model: Any, **where: Any) -> list[Any]:
    with store.sessions() as session:
        statement = select(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return list(session.scalars(statement))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_register_challenge_then_200_with_date_and_online(
    start_service: Callable[..., Any], devices: Callable[..., Any], device_store: DeviceStore, transport: str
) -> None:
    service = await start_service()
    device: ScriptedDevice = await devices(IPC, service.address, transport)
    first = await device.response_to(device.request("REGISTER", headers=(("Expires", "3600"),)))
    assert first.status_code == 401
    challenge = challenges_in(first)[0]
    assert challenge.realm == "3415000000" and "auth" in challenge.qop
    response = await device.register()
    assert response.status_code == 200
    assert response.header("Expires") == "3600"
    assert parse_gb_date(response.header("Date") or "")  # the GB time-sync Date
    assert service.is_online(IPC)
    assert service.presence.get(IPC).peer.transport == transport  # type: ignore[union-attr]
    keepalive = await device.keepalive()
    assert keepalive.status_code == 200
    # over UDP a well-formed keepalive takes the fast path (answered without the full parse)
    assert service.metrics["keepalives_fast"] == (1 if transport == "udp" else 0)
    assert service.metrics["keepalives"] == 1
    await settle(service)
    [row] = rows(device_store, Device, device_id=IPC)
    assert row.online is True and row.transport == transport and row.expires == 3600
    events = rows(device_store, OnlineEvent, device_id=IPC)
    assert [(e.online, e.reason) for e in events] == [(True, "register")]


async def test_wrong_password_is_403_and_recorded(
    start_service: Callable[..., Any], devices: Callable[..., Any], device_store: DeviceStore
) -> None:
    service = await start_service()
    device = await devices(IPC, service.address)
    response = await device.register("wrong-password")
    assert response.status_code == 403
    assert not service.is_online(IPC)
    await settle(service, 0.3)
    [rejection] = rows(device_store, DeviceRejection, device_id=IPC)
    assert rejection.reason == "bad_password"


async def test_unknown_device_refused_unless_in_archive(
    start_service: Callable[..., Any], devices: Callable[..., Any], device_store: DeviceStore
) -> None:
    service = await start_service(accept_unknown=False)
    stranger = await devices(OTHER, service.address)
    refused = await stranger.register()
    assert refused.status_code == 403 and "inventory" in refused.reason
    await settle(service, 0.3)
    [rejection] = rows(device_store, DeviceRejection, device_id=OTHER)
    assert rejection.reason == "not_in_inventory" and rejection.attempts == 1

    await asyncio.to_thread(device_store.add_device, IPC, name="南门", password="own-password-1")
    known = await devices(IPC, service.address)
    assert (await known.register(PASSWORD)).status_code == 403  # its own password wins over the global one
    assert (await known.register("own-password-1")).status_code == 200


async def test_expires_bounds_and_unregister(
    start_service: Callable[..., Any], devices: Callable[..., Any], device_store: DeviceStore
) -> None:
    service = await start_service(min_expires=60, max_expires=7200)
    device = await devices(IPC, service.address)
    too_short = await device.register(expires=10)
    assert too_short.status_code == 423 and too_short.header("Min-Expires") == "60"
    capped = await device.register(expires=86400)
    assert capped.status_code == 200 and capped.header("Expires") == "7200"
    gone = await device.register(expires=0)
    assert gone.status_code == 200
    assert not service.is_online(IPC)
    await settle(service)
    events = rows(device_store, OnlineEvent, device_id=IPC)
    assert [(e.online, e.reason) for e in events] == [(True, "register"), (False, "unregister")]


async def test_keepalive_from_unregistered_device_makes_it_register(
    start_service: Callable[..., Any], devices: Callable[..., Any]
) -> None:
    service = await start_service()
    device = await devices(IPC, service.address)
    response = await device.keepalive()
    assert response.status_code == 403
    assert service.metrics["message_unregistered"] == 1


async def test_missed_keepalives_take_a_device_offline_and_back(
    start_service: Callable[..., Any], devices: Callable[..., Any], device_store: DeviceStore
) -> None:
    service = await start_service(keepalive_interval=0.5, misses=2)
    device = await devices(IPC, service.address)
    assert (await device.register()).status_code == 200
    await asyncio.sleep(2.5)  # 2 x 0.5 s missed, then the once-a-second sweep
    assert not service.is_online(IPC)
    assert (await device.keepalive()).status_code == 200
    assert service.is_online(IPC)
    await settle(service)
    events = rows(device_store, OnlineEvent, device_id=IPC)
    assert [(e.online, e.reason) for e in events] == [
        (True, "register"),
        (False, "keepalive-timeout"),
        (True, "keepalive"),
    ]


async def test_bad_input_is_dropped_counted_and_harmless(
    start_service: Callable[..., Any], devices: Callable[..., Any]
) -> None:
    service = await start_service()
    good = await devices(IPC, service.address)
    bad = await devices(OTHER, service.address)
    bad.send_bytes(b"\x00\xffnot sip at all\r\n\r\n")
    bad.send_bytes(b"MESSAGE sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\n")
    bad.send_bytes(b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X-Pad: 1\r\n" * 150 + b"\r\n")  # over the header limit
    assert (await good.register()).status_code == 200
    broken_xml = good.request("MESSAGE", body=b"<?xml version='1.0'?><Notify><CmdType>Keepalive</CmdType><SN>x")
    answer = await good.response_to(broken_xml)
    assert answer.status_code == 400
    unknown = await good.response_to(good.request("PUBLISH"))
    assert unknown.status_code == 405
    assert service.metrics["dropped_malformed"] >= 3
    assert (await good.keepalive()).status_code == 200


async def test_tcp_framing_loss_closes_only_that_connection(
    start_service: Callable[..., Any], devices: Callable[..., Any]
) -> None:
    service = await start_service()
    good = await devices(IPC, service.address, "tcp")
    assert (await good.register()).status_code == 200
    bad = await devices(OTHER, service.address, "tcp")
    bad.send_bytes(b"GARBAGE" * 4000 + b"\r\n")  # a head over 16 KiB without an end: framing lost
    await asyncio.sleep(0.3)
    assert (await good.keepalive()).status_code == 200
    assert service.metrics["dropped_malformed"] >= 1


async def test_flood_from_one_address_is_dropped(
    start_service: Callable[..., Any], devices: Callable[..., Any]
) -> None:
    service = await start_service(flood_rate=50.0)
    device = await devices(IPC, service.address)
    for _ in range(300):
        device.send_bytes(bytes(device.request("OPTIONS", new_call=True)))
    await asyncio.sleep(0.5)
    assert service.metrics["dropped_flood"] > 100
    assert service.metrics["requests_in"] < 200


async def test_retransmitted_request_gets_the_same_answer_once_handled(
    start_service: Callable[..., Any], devices: Callable[..., Any]
) -> None:
    service = await start_service()
    device = await devices(IPC, service.address)
    assert (await device.register()).status_code == 200
    request = device.request(
        "MESSAGE",
        body=b'<?xml version="1.0"?><Notify><CmdType>Keepalive</CmdType>'
        b"<SN>7</SN><DeviceID>" + IPC.encode() + b"</DeviceID><Status>OK</Status></Notify>",
    )
    first = await device.response_to(request)
    again = await device.response_to(request)
    assert first.status_code == again.status_code == 200
    assert first.to.tag == again.to.tag
    assert service.metrics["keepalives"] == 1
    assert service.metrics["retransmissions_in"] == 1


async def test_catalog_that_stops_short_is_partial_never_silently(
    start_service: Callable[..., Any], devices: Callable[..., Any], device_store: DeviceStore
) -> None:
    service = await start_service(catalog_timeout=1.0, answer_timeout=1.0, catalog_rate=1000.0)
    device = await devices("34150200001180000001", service.address)
    assert (await device.register()).status_code == 200
    info_query = await device.next_request("MESSAGE")
    device.answer(info_query)  # 200 OK, but the DeviceInfo answer never comes: the sync goes on without it
    catalog_query = await device.next_request("MESSAGE", timeout=5.0)
    device.answer(catalog_query)
    sn = manscdp.parse(catalog_query.body).message.sn
    items = tuple(
        manscdp.CatalogItem(device_id=f"341502000013200{n:05d}", name=f"通道{n}", parental=0) for n in (1, 2, 3)
    )
    first = manscdp.CatalogResponse(sn=sn, device_id=device.device_id, sum_num=3, items=items[:1])
    assert (await device.response_to(device.request("MESSAGE", body=first.encode()))).status_code == 200
    await asyncio.sleep(2.5)  # no more fragments: the assembler hands it back partial after 1 s
    result = service.sync.results[device.device_id]
    assert (result.status, result.expected, result.received) == ("partial", 3, 1)
    detail = await asyncio.to_thread(device_store.get_device, device.device_id)
    assert detail is not None and detail.device.catalog_status == "partial"
    assert [channel.channel_id for channel in detail.channels] == ["34150200001320000001"]
