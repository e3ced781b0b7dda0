"""The landing page links the player for cameras of online devices, and says so when none is online."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from xueliang.app import Platform
from xueliang.catalog.device_catalog import merge_catalog
from xueliang.protocol.manscdp import CatalogItem
from xueliang.store.device_records import OnlineChange, Registration
from xueliang.store.devices import DeviceStore

IPC = "34150200001320000077"
T0 = dt.datetime(2026, 5, 1, 8, 0, 0)


def test_home_lists_playable_cameras_of_online_devices(client: TestClient, platform: Platform) -> None:
    assert "no camera online yet" in client.get("/").text
    store = DeviceStore(platform.sessions, platform.catalog.cipher())
    store.save_registration(Registration(IPC, "udp", "10.0.0.9", 5060, None, 3600, "2016", "IPC", T0))
    merge_catalog(
        platform.sessions, IPC, [CatalogItem(device_id=IPC, name="东门<1>", status="ON")], complete=True, at=T0
    )
    store.record_online_changes([OnlineChange(IPC, True, T0, "register")])
    page = client.get("/").text
    assert f'href="/play/{IPC}"' in page
    assert "东门&lt;1&gt;" in page  # names are escaped
    store.record_online_changes([OnlineChange(IPC, False, T0 + dt.timedelta(minutes=5), "keepalive-timeout")])
    assert f'href="/play/{IPC}"' not in client.get("/").text
