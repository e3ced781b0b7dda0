"""The simulator against the real signaling service over real sockets: registration, catalog (both editions,
three charsets, UDP and TCP), DeviceInfo/DeviceStatus/RecordInfo, PTZ, TeleBoot, alarms with the Response and
ResetAlarm handshake, catalog subscriptions with NOTIFY events. Every storage assertion runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from xueliang.domain.ids import Edition
from xueliang.protocol import manscdp
from xueliang.protocol.manscdp import Charset, PtzCmd
from xueliang.sim.config import SimConfig, Transport
from xueliang.sim.devices import DeviceSimulator
from xueliang.store.devices import DeviceStore

from .conftest import PASSWORD, PLATFORM_ID

pytestmark = pytest.mark.anyio


@pytest.fixture
async def simulate() -> AsyncIterator[Callable[..., Any]]:
    """``await simulate(service, **SimConfig fields)`` -> a started simulator whose devices are registered."""
    running: list[DeviceSimulator] = []

    async def start(service: Any, **fields: Any) -> DeviceSimulator:
        host, port = service.address
        config = SimConfig(server_host=host, server_port=port, server_id=PLATFORM_ID, password=PASSWORD, **fields)
        simulator = DeviceSimulator(config)
        await simulator.start()
        running.append(simulator)
        await simulator.wait_registered(timeout=15)
        return simulator

    yield start
    for simulator in running:
        await simulator.stop()


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``check`` (sync, may hit the database) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await asyncio.to_thread(check)
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        await asyncio.sleep(0.1)


def synced(store: DeviceStore, device_id: str, channels: int) -> Callable[[], Any]:
    def check() -> Any:
        detail = store.get_device(device_id)
        if detail is None or detail.device.catalog_status != "complete" or not detail.device.online:
            return None  # (registrations and online changes are written in once-a-second batches)
        cameras = [c for c in detail.channels if c.kind == "camera"]
        return detail if len(cameras) >= channels else None

    return check


@pytest.mark.parametrize(
    ("transport", "edition", "charset"),
    [
        (Transport.UDP, Edition.GB2016, Charset.GB2312),
        (Transport.TCP, Edition.GB2022, Charset.GB18030),
        (Transport.UDP, Edition.GB2022, Charset.UTF8),
    ],
)
async def test_nvr_registers_and_its_catalog_lands_in_the_archive(
    start_service: Callable[..., Any],
    simulate: Callable[..., Any],
    device_store: DeviceStore,
    transport: Transport,
    edition: Edition,
    charset: Charset,
) -> None:
    service = await start_service(catalog_rate=1000.0)
    simulator = await simulate(service, count=2, channels=12, transport=transport, edition=edition, charset=charset)
    for device_id, device in simulator.devices.items():
        detail = await eventually(synced(device_store, device_id, 12))
        assert detail.device.online is True
        assert detail.device.transport == transport.value
        assert detail.device.charset.replace("-", "").upper() == charset.label.replace("-", "").upper()
        assert detail.device.edition == edition.value
        assert detail.device.manufacturer  # from DeviceInfo
        sent = {item.device_id: item for item in device.catalog_items() if item.device_id in device.channel_ids()}
        cameras = {c.channel_id: c for c in detail.channels if c.kind == "camera"}
        assert set(cameras) == set(sent)
        for channel_id, channel in cameras.items():
            assert channel.name == sent[channel_id].name  # Chinese names intact through the charset
            assert channel.camera_id == channel_id  # a new camera in the archive under the channel's ID
            assert channel.online
    assert service.presence.get(next(iter(simulator.devices))).peer.transport == transport.value


async def test_queries_ptz_teleboot_alarms_and_subscriptions(
    start_service: Callable[..., Any], simulate: Callable[..., Any], device_store: DeviceStore
) -> None:
    service = await start_service(catalog_rate=1000.0)
    simulator = await simulate(service, count=1, channels=4)
    [(device_id, device)] = simulator.devices.items()
    await eventually(synced(device_store, device_id, 4))
    channel_id = device.channel_ids()[1]

    info = await service.device_info(device_id)
    assert info.device_id == device_id and info.channel == 4
    status = await service.device_status(device_id)
    assert status.is_online

    start = dt.datetime(2026, 11, 20, 8, 0, 0)
    records = await service.records(device_id, channel_id, start, start + dt.timedelta(hours=5))
    assert records.complete and records.received == records.expected and records.received > 0
    assert all(item.device_id == channel_id for item in records.items)

    command = PtzCmd.for_action("left", speed=200)
    await service.control(device_id, channel_id, lambda sn: manscdp.DeviceControl(sn, channel_id, ptz=command))
    await eventually(lambda: device.last_ptz.get(channel_id) == command, 5)

    # alarm: Notify -> 200 -> stored -> our Response; then ResetAlarm answered with a Response
    record = await simulator.send_alarm(device_id, channel_id, priority=1, method=5, description="区域入侵")
    assert record.status == 200
    await eventually(lambda: record.acknowledged, 5)
    alarms = await asyncio.to_thread(device_store.list_alarms, _first_page(), device_id)
    assert [(a.channel_id, a.priority, a.method) for a in alarms.items] == [(channel_id, 1, 5)]
    reset = await service.control_with_response(
        device_id, channel_id, lambda sn: manscdp.DeviceControl(sn, channel_id, alarm_cmd="ResetAlarm")
    )
    assert reset.result is manscdp.Result.OK

    # catalog subscription: ON/OFF, DEL and ADD events reach the archive
    await eventually(lambda: device.subscriptions, 5)
    simulator.set_channel_online(device_id, channel_id, False)
    await eventually(lambda: _channel(device_store, device_id, channel_id).online is False)
    simulator.remove_channel(device_id, device.channel_ids()[0])
    added = simulator.add_channel(device_id)
    await eventually(lambda: _channel(device_store, device_id, added.device_id) is not None)

    # TeleBoot: the device goes quiet and registers again
    reboots = device.reboots
    await service.control(device_id, device_id, lambda sn: manscdp.DeviceControl(sn, device_id, tele_boot=True))
    await eventually(lambda: device.reboots > reboots and device.registered, 10)


async def test_platform_serves_the_devices_api(engine: Any, tmp_path: Any, simulate: Callable[..., Any]) -> None:
    """Through build_platform and the app lifespan: the worker-process catalog sink and GET /api/v1/devices."""
    from fastapi.testclient import TestClient

    from xueliang.api.app import create_app
    from xueliang.app import build_platform
    from xueliang.config import Settings

    settings = Settings(
        data_dir=tmp_path / "data",
        sip_host="127.0.0.1",
        sip_port=0,
        sip_password=PASSWORD,
        sip_accept_unknown_devices=True,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        argon2_parallelism=1,
    )
    platform = build_platform(settings, engine=engine, run_migrations=False)
    platform.accounts.create_user("ops", "Signal-Check-2026!", ["unit_admin"])
    # TestClient runs the app on its own loop in a thread; the simulator runs on ours
    with TestClient(create_app(platform)) as client:
        token = client.post("/api/v1/auth/token", data={"username": "ops", "password": "Signal-Check-2026!"})
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        assert platform.signaling is not None
        simulator = await simulate(platform.signaling, count=1, channels=3)
        [device_id] = list(simulator.devices)

        def listed() -> Any:
            detail = client.get(f"/api/v1/devices/{device_id}").json()
            if len(detail.get("channels", [])) != 3 or detail.get("online") is not True:
                return None
            return client.get("/api/v1/devices").json(), detail

        page, detail = await eventually(listed, 20)
        [item] = page["items"]
        assert item["id"] == device_id and item["online"] is True and item["transport"] == "udp"
        assert item["channel_count"] == 3 and item["charset"]
        assert {channel["name"] for channel in detail["channels"]} == {
            i.name for i in simulator.devices[device_id].catalog_items() if i.device_id != device_id
        }
        assert all(channel["online"] for channel in detail["channels"])
        metrics = client.get("/api/v1/sip/metrics").json()
        assert metrics["online"] == 1 and metrics["counters"]["registered"] >= 1
    platform.close()


def _first_page() -> Any:
    from xueliang.store.keyset import PageRequest

    return PageRequest(limit=50)


def _channel(store: DeviceStore, device_id: str, channel_id: str) -> Any:
    detail = store.get_device(device_id)
    assert detail is not None
    return next((c for c in detail.channels if c.channel_id == channel_id and not c.gone), None)
