"""The device simulator on real UDP and TCP sockets on 127.0.0.1, against the minimal platform peer
(xueliang.sim.platform_peer: written with the protocol layer, digest checked by DigestChallenger). The real
platform endpoint runs against the simulator in the signaling integration tests."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from xueliang.protocol.manscdp import (
    CatalogEvent,
    CatalogNotify,
    CatalogQuery,
    CatalogResponse,
    Charset,
    DeviceControl,
    PtzCmd,
    RecordInfoQuery,
    RecordInfoResponse,
    Result,
)
from xueliang.sim.config import SimConfig
from xueliang.sim.devices import DeviceSimulator
from xueliang.sim.peer_server import PeerServer
from xueliang.sim.platform_peer import PlatformPeer

SERVER_ID = "34150000002000000001"
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def peer() -> AsyncIterator[PeerServer]:
    server = PeerServer(PlatformPeer(SERVER_ID, password="pw-4321"))
    await server.start()
    yield server
    await server.stop()


def _config(server: PeerServer, **changes: Any) -> SimConfig:
    fields: dict[str, Any] = {
        "server_host": server.peer.host,
        "server_port": server.peer.port,
        "server_id": SERVER_ID,
        "password": "pw-4321",
        "keepalive_interval": 0.5,
    }
    fields.update(changes)
    return SimConfig(**fields)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_register_keepalive_query_control_alarm(peer: PeerServer, transport: str) -> None:
    config = _config(peer, count=20, channels=4, sockets=2, transport=transport, charset=Charset.GB18030)
    wire = transport.upper()
    async with DeviceSimulator(config) as sim:
        await sim.wait_registered(timeout=10)
        assert set(peer.peer.registered) == set(sim.device_ids)
        assert all(device.server_date is not None for device in sim.devices.values())
        await sim.wait_until(lambda: sim.stats.keepalives_answered >= 40, timeout=5)
        assert sim.stats.online == 20 and sim.stats.keepalive_timeouts == 0
        if transport == "udp":
            assert len({peer.peer.registered[d].source for d in sim.device_ids}) == 2  # two shared sockets
        device_id = sim.device_ids[7]
        channels = sim.devices[device_id].channel_ids()

        answer = await peer.ask(device_id, peer.peer.message(device_id, CatalogQuery(501, device_id), transport=wire))
        assert answer.status_code == 200
        await peer.wait_for(lambda: sum(len(m.items) for m in peer.peer.bodies("Catalog", sn=501)) == 4)
        fragments = peer.peer.bodies("Catalog", sn=501)
        assert all(isinstance(f, CatalogResponse) and f.sum_num == 4 for f in fragments)
        assert len(fragments) == (1 if transport == "tcp" else len(fragments))
        received = [r for r in peer.peer.received if b"<SN>501</SN>" in r.request.body]
        assert all(r.body is not None and r.body.charset is Charset.GB18030 for r in received)
        if transport == "udp":
            assert all(len(bytes(r.request)) <= 1300 for r in received)

        command = PtzCmd.preset_call(3)
        control = peer.peer.message(device_id, DeviceControl.ptz_command(502, channels[2], command), transport=wire)
        assert (await peer.ask(device_id, control)).status_code == 200
        assert sim.devices[device_id].last_ptz[channels[2]] == command

        day = dt.datetime.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=6)
        query = RecordInfoQuery(503, channels[0], day, day + dt.timedelta(hours=3))
        await peer.ask(device_id, peer.peer.message(device_id, query, transport=wire))
        await peer.wait_for(lambda: sum(len(m.items) for m in peer.peer.bodies("RecordInfo", sn=503)) == 3)
        assert all(isinstance(m, RecordInfoResponse) for m in peer.peer.bodies("RecordInfo", sn=503))

        record = await sim.send_alarm(device_id, channels[1], priority=1, method=5)
        assert record.status == 200
        await sim.wait_for(lambda: record.acknowledged, timeout=5)
        assert record.result is Result.OK
    assert not peer.peer.registered  # unregistered on stop


async def test_catalog_subscription_notifies(peer: PeerServer) -> None:
    async with DeviceSimulator(_config(peer, count=3, channels=2)) as sim:
        await sim.wait_registered(timeout=10)
        device_id = sim.device_ids[1]
        channel = sim.devices[device_id].channel_ids()[0]
        subscribe = peer.peer.request(
            "SUBSCRIBE",
            device_id,
            body=CatalogQuery(600, device_id).encode(),
            headers=[("Event", "Catalog"), ("Expires", "600")],
        )
        answer = await peer.ask(device_id, subscribe)
        assert answer.status_code == 200 and answer.expires == 600
        assert sim.set_channel_online(device_id, channel, False) == 1
        await peer.wait_for(lambda: bool(peer.peer.bodies("Catalog")))
        (notify,) = peer.peer.bodies("Catalog")
        assert isinstance(notify, CatalogNotify)
        assert [(event, item.device_id) for event, item in notify.events()] == [(CatalogEvent.OFF, channel)]
        added = sim.add_channel(device_id)
        await peer.wait_for(lambda: len(peer.peer.bodies("Catalog")) == 2)
        event, item = peer.peer.bodies("Catalog")[1].events()[0]  # type: ignore[union-attr]
        assert event is CatalogEvent.ADD and item.device_id == added.device_id


async def test_refused_keepalive_makes_devices_register_again(peer: PeerServer) -> None:
    async with DeviceSimulator(_config(peer, count=5)) as sim:
        await sim.wait_registered(timeout=10)
        peer.peer.registered.clear()  # the platform restarted
        peer.peer.unknown_keepalive_status = 404
        await peer.wait_for(lambda: len(peer.peer.registered) == 5, timeout=5)
        assert sim.stats.keepalives_rejected >= 5
        assert all(d.registrations == 1 for d in peer.peer.registered.values())


async def test_wrong_password_stays_unregistered(peer: PeerServer) -> None:
    async with DeviceSimulator(_config(peer, count=2, password="wrong", retry_backoff=60)) as sim:
        await sim.wait_until(lambda: sim.stats.registrations_rejected >= 2, timeout=5)
        assert sim.stats.registered == 0 and not peer.peer.registered
        assert all(device.last_status == 403 for device in sim.devices.values())


async def test_tcp_connection_lost_then_devices_register_again(peer: PeerServer) -> None:
    async with DeviceSimulator(_config(peer, count=4, transport="tcp", sockets=2)) as sim:
        await sim.wait_registered(timeout=10)
        before = {d: r.registrations for d, r in peer.peer.registered.items()}
        victim = sim.device_ids[1]
        link = peer.peer.registered[victim].link
        assert isinstance(link, asyncio.Transport)
        link.close()  # the platform drops one connection (devices 1 and 3)
        await sim.wait_until(lambda: sim.stats.registered == 2, timeout=5)
        await sim.wait_registered(timeout=5)
        after = {d: r.registrations for d, r in peer.peer.registered.items()}
        assert after[victim] == before[victim] + 1 and after[sim.device_ids[0]] == before[sim.device_ids[0]]
        # requests of the platform reach the device over its new connection
        device_id = sim.device_ids[3]
        query = peer.peer.message(device_id, CatalogQuery(700, device_id), transport="TCP")
        assert (await peer.ask(device_id, query)).status_code == 200


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_sockets_spread_over_several_local_addresses(peer: PeerServer, transport: str) -> None:
    config = _config(peer, count=4, sockets=2, local_host="127.0.0.1,127.0.0.2", transport=transport)
    async with DeviceSimulator(config) as sim:
        await sim.wait_registered(timeout=10)
        assert [host for host, _ in sim.local_addresses] == ["127.0.0.1", "127.0.0.2"]
        if transport == "udp":
            sources = {peer.peer.registered[device_id].source for device_id in sim.device_ids}
            assert {source[0] for source in sources if source} == {"127.0.0.1", "127.0.0.2"}
